"""app.log: a rotating file with one line per event, each carrying the request id of the request it belongs to.

The request id comes from the `X-Request-ID` header (when it is a sane token) or is made up; it is kept in a
context variable that the request-id middleware sets, so every logger under "heartbeat.server" stamps it.
Never pass a password, password hash or token to these loggers.

Log lines cannot be forged: SafeFormatter escapes every control, formatting and separator character of the
message (server/core/text.escape: a CR/LF in a URL path, a login name or a JSON key becomes a visible `\n`), and
indents a traceback's lines behind `  | `, so every line that starts at the margin is one the server wrote.
"""
from __future__ import annotations

import contextvars
import logging
import os
import re
import uuid
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from server.core.files import open_private, private_dir
from server.core.text import escape

LOGGER_NAME = "heartbeat.server"
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def get_logger(name: str | None = None) -> logging.Logger:
    return logging.getLogger(LOGGER_NAME if not name else f"{LOGGER_NAME}.{name}")


def new_request_id(incoming: str | None = None) -> str:
    if incoming and _REQUEST_ID_OK.match(incoming):
        return incoming
    return uuid.uuid4().hex


class SafeFormatter(logging.Formatter):
    """One line per record whatever the message holds; a traceback follows on lines indented behind `  | `."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        extra = [record.exc_text] if record.exc_text else []
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info))
        for block in extra:
            line += "".join(f"\n  | {escape(part)}" for part in block.splitlines())
        return line


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A RotatingFileHandler whose files are 0600 whatever the umask (rotated files keep the mode), and that fails
    safe: each line goes out in one write of its own, a write that fails (a full disk) is undone to the last
    whole line and the line counted as lost, never raised into the request that logged it; once writing works
    again a WARNING line says how many lines were lost."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lost = 0
        self._lost_reason = ""

    def _open(self) -> Any:
        return open_private(Path(self.baseFilename), self.mode, encoding=self.encoding, errors=self.errors)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        try:
            if self.shouldRollover(record):
                self.doRollover()
            if self.lost:
                note = logging.makeLogRecord({"name": LOGGER_NAME, "levelno": logging.WARNING,
                                              "levelname": "WARNING", "msg": "%d log lines were lost (%s)",
                                              "args": (self.lost, self._lost_reason)})
                note.request_id = "-"
                self._write_line(self.format(note) + self.terminator)
                self.lost = 0
            self._write_line(line)
        except OSError as exc:
            self.lost += 1
            self._lost_reason = exc.strerror or exc.__class__.__name__

    def _write_line(self, line: str) -> None:
        """All of `line` or none of it: a short or failed write is cut back to where the file ended."""
        if self.stream is None:
            self.stream = self._open()
        fd = self.stream.fileno()
        data = line.encode(self.encoding or "utf-8", "backslashreplace")
        end = os.fstat(fd).st_size
        written = 0
        try:
            while written < len(data):
                written += self._write(fd, data[written:])
        except OSError:
            if written:
                os.ftruncate(fd, end)
            raise

    @staticmethod
    def _write(fd: int, data: bytes) -> int:
        return os.write(fd, data)


def private_log_handler(path: Path, max_bytes: int, backup_count: int) -> RotatingFileHandler:
    """A rotating log file (0600 in a 0700 folder) with the safe one-line format; app.log and worker.log."""
    private_dir(path.parent)
    return PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")


def add_file_handler(log_dir: Path, max_bytes: int, backup_count: int) -> RotatingFileHandler:
    """Attach a rotating <log_dir>/app.log handler to the server's logger; return it (to remove at shutdown)."""
    handler = private_log_handler(log_dir / "app.log", max_bytes, backup_count)
    handler.setFormatter(SafeFormatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


def remove_handler(handler: logging.Handler) -> None:
    logging.getLogger(LOGGER_NAME).removeHandler(handler)
    handler.close()
