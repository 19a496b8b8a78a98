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
