"""Shapes shared by every route: error bodies and simple messages."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from server.core.text import NAME_FORBIDDEN_CLASS, describe_character, unsafe_character

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


ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def iso_text(value: Any) -> Any:
    """Only ISO 8601 text is a time (pydantic would also take a number, or a numeric string, as unix time)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not ISO_DATE_TIME.match(value):
        raise ValueError("must be an ISO 8601 date-time string, e.g. 2026-11-24T20:15:03.120Z")
    return value


UtcDateTime = Annotated[datetime, BeforeValidator(iso_text), AfterValidator(as_utc_time)]


def json_integer(value: Any) -> Any:
    """A JSON integer as JSON Schema means it: an int, or a number with no fraction (-117.0); not a string or a
    boolean (pydantic's lax mode would take "10" and true)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"must be an integer, got {value!r}")
        return int(value)
    return value


def json_number(value: Any) -> Any:
    """A JSON number: an int or a float; not a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    return value


JsonInt = Annotated[int, BeforeValidator(json_integer)]
JsonFloat = Annotated[float, BeforeValidator(json_number)]


def plain_text(value: str) -> str:
    """Names and e-mail addresses are shown to people: no control characters (NUL, ESC, line breaks), no invisible
    formatting (bidirectional overrides such as U+202E, zero-width characters), no line/paragraph separators or
    lone surrogates (server/core/text.NAME_FORBIDDEN)."""
    ch = unsafe_character(value)
    if ch is not None:
        raise ValueError(f"must not contain {describe_character(ch)}: control and invisible formatting "
                         "characters are not allowed")
    return value


# the schema's pattern says the same as plain_text (one list of characters, server/core/text.NAME_FORBIDDEN)
NAME_PATTERN = f"^[^{NAME_FORBIDDEN_CLASS}]*$"
PlainText = Annotated[str, AfterValidator(plain_text), Field(json_schema_extra={"pattern": NAME_PATTERN})]


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
