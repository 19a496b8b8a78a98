"""Users: Create / Update / Public. No schema here has a password hash field, so none can leak one."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from pydantic.config import JsonDict

from server.core.passwords import PASSWORD_MAX, PASSWORD_MIN, password_problem
from server.core.text import NAME_FORBIDDEN_CLASS
from server.models.identity import Role
from server.schemas.common import PlainText

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# what the schema states for an e-mail address: EMAIL_PATTERN and plain_text's refusals together
_E = f"[^@\\s{NAME_FORBIDDEN_CLASS}]+"
EMAIL_SCHEMA: JsonDict = {"pattern": f"^{_E}@{_E}\\.{_E}$"}


def _check_password(password: str | None, info: ValidationInfo, *inputs: str) -> str | None:
    """The password policy (server/core/passwords.py), with the e-mail and name sent beside it."""
    if password is None:
        return None
    problem = password_problem(password, [info.data.get(name) for name in inputs])
    if problem:
        raise ValueError(problem)
    return password


def _email(value: str) -> str:
    return value.strip().lower()


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "email": "dr.meyer@hospital.example", "full_name": "Dr. Anna Meyer", "role": "clinician",
        "password": "correct horse battery staple"}]})
    email: PlainText = Field(max_length=254, pattern=EMAIL_PATTERN, description="Login name; stored lower-case.",
                             json_schema_extra=EMAIL_SCHEMA)
    full_name: PlainText = Field(default="", max_length=200)
    role: Role
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX,
                          description="12..128 characters, not easy to guess (zxcvbn strength 3 of 4 or more), not "
                                      "the e-mail address or name, no control characters.")

    @field_validator("email")
    @classmethod
    def _norm(cls, v: str) -> str:
        return _email(v)

    @field_validator("password")
    @classmethod
    def _strong(cls, v: str, info: ValidationInfo) -> str:
        _check_password(v, info, "email", "full_name")
        return v


class UserUpdate(BaseModel):
    """Admin changes; every field optional, only the ones sent change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"role": "engineer"}, {"is_active": False}, {"password": "a new long passphrase"}]})
    email: PlainText | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN, json_schema_extra=EMAIL_SCHEMA)
    full_name: PlainText | None = Field(default=None, max_length=200)
    role: Role | None = None
    is_active: StrictBool | None = None
    password: str | None = Field(default=None, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX,
                                 description="As for a new user; refused if it is the user's e-mail address or "
                                             "name.")

    @field_validator("email")
    @classmethod
    def _norm(cls, v: str | None) -> str | None:
        return None if v is None else _email(v)

    @field_validator("password")
    @classmethod
    def _strong(cls, v: str | None, info: ValidationInfo) -> str | None:
        return _check_password(v, info, "email", "full_name")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "current_password": "correct horse battery staple", "new_password": "another long passphrase"}]})
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX)
    new_password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX,
                              description="As for a new user; refused if it is one's e-mail address or name.")

    @field_validator("new_password")
    @classmethod
    def _strong(cls, v: str, info: ValidationInfo) -> str:
        _check_password(v, info)
        return v


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 3, "email": "dr.meyer@hospital.example", "full_name": "Dr. Anna Meyer", "role": "clinician",
        "is_active": True, "created_at": "2026-11-24T20:00:00Z"}]})
    id: int
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime


class UsersPublic(BaseModel):
    data: list[UserPublic]
    count: int = Field(description="Users matching, before offset/limit.")
