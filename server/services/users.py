"""Users: create, find, update, disable, authenticate."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.core import security
from server.core.errors import ConflictError, NotFoundError
from server.models.identity import Role, User
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
    if get_user_by_email(session, data.email) is not None:
        raise ConflictError(f"a user with email {data.email} already exists")
    user = User(email=data.email, full_name=data.full_name, role=data.role,
                password_hash=security.hash_password(data.password), is_active=True)
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


def update_user(session: Session, user: User, data: UserUpdate, acting_user: User | None = None) -> User:
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
        user.is_active = changes["is_active"]
    if changes.get("password"):
        user.password_hash = security.hash_password(changes["password"])
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError("the change conflicts with another user (email already taken)") from None
    return user


def disable_user(session: Session, user: User, acting_user: User | None = None) -> User:
    return update_user(session, user, UserUpdate(is_active=False), acting_user)


def change_password(session: Session, user: User, current_password: str, new_password: str) -> None:
    from server.core.errors import InvalidError

    if not security.verify_password(current_password, user.password_hash):
        raise InvalidError("current password is wrong")
    user.password_hash = security.hash_password(new_password)
    session.commit()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same answer and timing for every failure)."""
    user = get_user_by_email(session, email)
    ok = security.verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active:
        return None
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
        session.commit()
    return user
