"""Shapes shared by every route: error bodies and simple messages."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from server.core.text import describe_character, unsafe_character

MAX_ID = 2**31 - 1  # ids and offsets fit a 32-bit signed INTEGER on every database (else: a clear 422, not a 500)


def as_utc_time(value: datetime) -> datetime:
    """The time in UTC (a time without a zone is taken as UTC). A time whose offset moves it outside the years
    1..9999 (`0001-01-01T00:00:00+01:00`) is refused: Python cannot represent it in UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside the years 1..9999 in UTC") from None


UtcDateTime = Annotated[datetime, AfterValidator(as_utc_time)]


def plain_text(value: str) -> str:
    """Names and e-mail addresses are shown to people: no control characters (NUL, ESC, line breaks), no invisible
    formatting (bidirectional overrides such as U+202E, zero-width characters), no separators or surrogates."""
    ch = unsafe_character(value)
    if ch is not None:
        raise ValueError(f"must not contain {describe_character(ch)}: control and invisible formatting "
                         "characters are not allowed")
    return value


PlainText = Annotated[str, AfterValidator(plain_text)]


class ErrorMessage(BaseModel):
    """Every 4xx/5xx answer except request validation: `{"detail": "<what was wrong>"}`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "user 42 not found"}]})
    detail: str | dict[str, Any] = Field(description="What was wrong (a message, or a report with a 'message').")


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where: 'body', 'query', 'path' or 'header' and the field path.")
    field: str = Field(description="The field path as one dotted string.")
    message: str
    type: str


class ValidationReport(BaseModel):
    message: str = Field(description="One line naming every problem.")
    errors: list[ValidationIssue]


class ValidationErrorBody(BaseModel):
    """422: the request did not match its schema (malformed JSON, wrong types, missing fields)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": {
        "message": "request is invalid: body.email: String should match pattern",
        "errors": [{"loc": ["body", "email"], "field": "email", "message": "String should match pattern",
                    "type": "string_pattern_mismatch"}]}}]})
    detail: ValidationReport


class Message(BaseModel):
    message: str


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the listed 4xx codes with the error body and a description."""
    descriptions = {
        400: "Bad request",
        401: "Not authenticated: missing, expired or invalid token",
        403: "Authenticated, but this role or token may not do this",
        404: "Not found",
        409: "Conflict with the current state",
        413: "Request too large",
        422: "Invalid input",
        429: "Too many requests",
        503: "Service unavailable",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": ValidationErrorBody if code == 422 else ErrorMessage,
                     "description": descriptions.get(code, "Error")}
    return out


AUTH_ERRORS = error_responses(401, 403)
