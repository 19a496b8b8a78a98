"""Users: create, find, update, disable, authenticate.

Passwords are checked and hashed (argon2, a good part of a second with the production profile) outside any
database transaction: on SQLite every transaction holds the one write lock (BEGIN IMMEDIATE), so a password
check inside one made every writer - ingest above all - queue behind each login.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.core import security
from server.core.db import read_only
from server.core.errors import ConflictError, InvalidError, NotFoundError, field_error
from server.core.passwords import password_problem
from server.models.identity import LoginAttempt, LoginOutcome, Role, User
from server.schemas.user import UserCreate, UserUpdate


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return user


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def list_users(session: Session, offset: int = 0, limit: int = 100, role: Role | None = None,
               is_active: bool | None = None) -> tuple[list[User], int]:
    query = select(User)
    if role is not None:
        query = query.where(User.role == role)
    if is_active is not None:
        query = query.where(User.is_active == is_active)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    users = list(session.scalars(query.order_by(User.id).offset(offset).limit(limit)))
    return users, count


def create_user(session: Session, data: UserCreate) -> User:
    password_hash = security.hash_password(data.password)  # before the transaction starts
    if get_user_by_email(session, data.email) is not None:
        raise ConflictError(f"a user with email {data.email} already exists")
    user = User(email=data.email, full_name=data.full_name, role=data.role, password_hash=password_hash,
                is_active=True)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # a concurrent create with the same email
        session.rollback()
        raise ConflictError(f"a user with email {data.email} already exists") from None
    return user


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.role == Role.admin,
                                                                         User.is_active.is_(True))) or 0


def update_user(session: Session, user: User, data: UserUpdate, acting_user: User | None = None,
                password_hash: str | None = None) -> User:
    """`password_hash`: the new password's hash, made by the caller before its transaction began (the route
    does); without it a new password is hashed here."""
    changes = data.model_dump(exclude_unset=True)
    for key in ("email", "full_name", "role", "is_active"):  # null means "leave as is" for these
        if key in changes and changes[key] is None:
            del changes[key]
    losing_admin = user.role == Role.admin and user.is_active and (
        changes.get("role", Role.admin) != Role.admin or changes.get("is_active", True) is False)
    if losing_admin and _active_admins(session) <= 1:
        raise ConflictError("this is the last active administrator; make another one first")
    if acting_user is not None and acting_user.id == user.id and changes.get("is_active") is False:
        raise ConflictError("administrators cannot disable themselves")
    if "email" in changes and changes["email"] != user.email:
        if get_user_by_email(session, changes["email"]) is not None:
            raise ConflictError(f"a user with email {changes['email']} already exists")
        user.email = changes["email"]
    if "full_name" in changes:
        user.full_name = changes["full_name"]
    if "role" in changes:
        user.role = changes["role"]
    if "is_active" in changes:
        if user.is_active and not changes["is_active"]:
            user.token_version += 1  # the tokens issued so far stay dead, also once the user is enabled again
        user.is_active = changes["is_active"]
    if changes.get("password"):
        problem = password_problem(changes["password"], [user.email, user.full_name])
        if problem:
            session.rollback()
            raise InvalidError(field_error("password", problem))
        user.password_hash = password_hash or security.hash_password(changes["password"])
        user.token_version += 1
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError("the change conflicts with another user (email already taken)") from None
    return user


def disable_user(session: Session, user: User, acting_user: User | None = None) -> User:
    return update_user(session, user, UserUpdate(is_active=False), acting_user)


def change_password(session: Session, user: User, current_password: str, new_password: str) -> None:
    """`user` was loaded by the request's authentication, which ended its transaction: both argon2 steps run
    before the short write."""
    if session.in_transaction():
        session.commit()
    if not security.verify_password(current_password, user.password_hash):
        raise InvalidError(field_error("current_password", "current password is wrong"))
    problem = password_problem(new_password, [user.email, user.full_name])
    if problem:
        raise InvalidError(field_error("new_password", problem))
    new_hash = security.hash_password(new_password)
    user.password_hash = new_hash
    user.token_version = User.token_version + 1  # in SQL: a concurrent change moves it on too
    session.commit()


@dataclass(frozen=True)
class LoginUser:
    """Who logged in (the answer of `authenticate`)."""

    id: int
    role: Role
    token_version: int


def authenticate(sessionmaker: Callable[[], Session], email: str, password: str) -> LoginUser | None:
    """The active user with this email and password, or None (same answer and timing for every failure).

    The user is read in a read-only transaction that ends before the password is checked; a hash made with old
    argon2 parameters is replaced afterwards in a short transaction of its own (unless the password changed
    meanwhile)."""
    with sessionmaker() as session:
        read_only(session)
        # a name no user can have (PostgreSQL refuses a NUL in a query) is an unknown user, checked the same way
        user = None if "\x00" in email or len(email) > 254 else get_user_by_email(session, email)
        found = None if user is None else (user.id, user.role, user.password_hash, user.is_active,
                                           user.token_version)
    ok = security.verify_password(password, found[2] if found else None)
    if not ok or found is None or not found[3]:
        return None
    user_id, role, old_hash, _active, token_version = found
    if security.password_needs_rehash(old_hash):
        new_hash = security.hash_password(password)
        with sessionmaker() as session:
            session.execute(update(User).where(User.id == user_id, User.password_hash == old_hash)
                            .values(password_hash=new_hash))
            session.commit()
    return LoginUser(id=user_id, role=role, token_version=token_version)


def record_login(sessionmaker: Callable[[], Session], email: str, address: str, user_id: int | None) -> None:
    """One login_attempts row for a login whose password was checked (user_id set: it succeeded)."""
    with sessionmaker() as session:
        session.add(LoginAttempt(email=email[:254], address=address[:64], user_id=user_id,
                                 outcome=LoginOutcome.success if user_id is not None else LoginOutcome.failure))
        session.commit()
