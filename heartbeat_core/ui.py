"""Progress reporting shared by every long step: a Rich progress bar on a terminal, silence elsewhere.

Library code calls `track(...)`; only the CLI turns bars on (`enable(True)`), so tests and the server's worker
stay quiet.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")
console = Console(stderr=True)
_enabled = False


def enable(on: bool = True) -> None:
    global _enabled
    _enabled = on


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    if not _enabled:
        yield from items
        return
    if total is None and isinstance(items, Sized):
        total = len(items)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


def info(message: str) -> None:
    if _enabled:
        console.print(message)


@contextlib.contextmanager
def captured_native_output() -> Iterator[list[str]]:
    """Capture what native libraries (the TF Lite converter, TFLM) print on fds 1 and 2.

    Yields a list that holds the captured text afterwards; callers attach it to an error when the step fails, so
    a successful step keeps the terminal clean and a failed one still shows the converter's own words.
    """
    import ctypes
    import os
    import sys
    import tempfile

    sink: list[str] = []
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield sink
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            libc.fflush(None)
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            tmp.seek(0)
            sink.append(tmp.read().decode(errors="replace"))


def configure_logging(level: int = logging.WARNING) -> None:
    """The command line's log lines on stderr: `LEVEL logger: message` (library modules only log)."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
