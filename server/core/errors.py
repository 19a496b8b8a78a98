"""Domain errors: what services raise when a request cannot be served. They know nothing of HTTP; the app
factory maps them to status codes (server/main.py): NotFound 404, Conflict 409, Forbidden 403, Invalid 422,
TooLarge 413. `detail` is a message (str) or, for item-by-item reports, a dict with a "message" key."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str | dict[str, Any]):
        self.detail = detail
        super().__init__(detail if isinstance(detail, str) else detail.get("message", str(detail)))


class NotFoundError(DomainError):
    status_code = 404


class ConflictError(DomainError):
    status_code = 409


class ForbiddenError(DomainError):
    status_code = 403


class InvalidError(DomainError):
    status_code = 422


class TooLargeError(DomainError):
    status_code = 413


def field_error(field: str, message: str) -> dict[str, Any]:
    """The detail of an InvalidError about one body field, in the shape of a request validation 422."""
    return {"message": f"request is invalid: body.{field}: {message}",
            "errors": [{"loc": ["body", field], "field": field, "message": message, "type": "value_error"}]}


def body_parse_problem(exc: Exception) -> str | None:
    """What was wrong with a body FastAPI could not parse (its 400 "There was an error parsing the body", raised
    from the parser's error), or None for any other error. Such a body is the client's input: a 422."""
    from starlette.exceptions import HTTPException

    if not isinstance(exc, HTTPException) or exc.status_code != 400 or \
            exc.detail != "There was an error parsing the body":
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return "the body is not UTF-8 text"
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "a number in the JSON body has too many digits (at most 4300)"
    return "the body cannot be parsed"


# ------------------------------------------------------------------------------ the database cannot take writes now
RETRY_AFTER_BUSY_S = 5  # a lock held past the busy timeout, a connection lost: soon
RETRY_AFTER_FULL_S = 30  # a full disk needs someone to free space


def unavailable_reason(exc: BaseException) -> tuple[str, int] | None:
    """(what is wrong, seconds to wait) when `exc` says the database or its disk cannot take a write now (a lock
    held past the busy timeout, a full or read-only disk, the database going away): a 503 with Retry-After, not
    a fault of the server or of the request. None for anything else."""
    import errno
    import sqlite3

    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, OSError) and not isinstance(exc, DBAPIError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return "the disk is full", RETRY_AFTER_FULL_S
        if exc.errno == errno.EROFS:
            return "the disk is read-only", RETRY_AFTER_FULL_S
        return None
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    first_line = (str(orig).strip().splitlines() or ["unavailable"])[0][:200]
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", 0) & 0xFF  # the primary result code
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return f"the database is locked by another writer ({first_line})", RETRY_AFTER_BUSY_S
        if code == sqlite3.SQLITE_FULL:
            return f"the database's disk is full ({first_line})", RETRY_AFTER_FULL_S
        if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
            return f"the database file cannot be written ({first_line})", RETRY_AFTER_FULL_S
        return None
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is None:
        # psycopg's connection failures (server gone, refused) carry no SQLSTATE
        return (f"the database cannot be reached ({first_line})", RETRY_AFTER_BUSY_S) \
            if type(orig).__name__ == "OperationalError" else None
    if sqlstate == "55P03":
        return f"the database is locked by another transaction ({first_line})", RETRY_AFTER_BUSY_S
    if sqlstate.startswith("53"):  # insufficient resources: disk full, out of memory, too many connections
        return f"the database is out of resources ({first_line})", RETRY_AFTER_FULL_S
    if sqlstate.startswith(("08", "57P")) or sqlstate in ("40001", "40P01", "25006"):
        return f"the database is unavailable ({first_line})", RETRY_AFTER_BUSY_S
    return None
