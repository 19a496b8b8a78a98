"""Users: the administrator manages accounts; everyone reads (and re-passwords) their own."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from server.api.deps import AdminUser, CurrentUser, SessionDep
from server.core import security
from server.core.logging import get_logger
from server.models.identity import Role
from server.schemas.common import AUTH_ERRORS, MAX_ID, Message, error_responses
from server.schemas.user import PasswordChange, UserCreate, UserPublic, UsersPublic, UserUpdate
from server.services import users as user_service

router = APIRouter(prefix="/users", tags=["users"])
log = get_logger("users")
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The user's id.")]


@router.get("/me", response_model=UserPublic, summary="The signed-in user", responses=AUTH_ERRORS)
def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.post("/me/password", response_model=Message, summary="Change one's own password",
             responses={**AUTH_ERRORS, **error_responses(422)})
def change_my_password(session: SessionDep, user: CurrentUser, body: PasswordChange) -> Message:
    user_service.change_password(session, user, body.current_password, body.new_password)
    log.info("user_id=%s changed their password", user.id)
    return Message(message="password changed")


@router.get("", response_model=UsersPublic, summary="List users (admin)",
            responses={**AUTH_ERRORS, **error_responses(422)})
def list_users(session: SessionDep, _admin: AdminUser,
               offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
               limit: Annotated[int, Query(ge=1, le=500)] = 100,
               role: Role | None = None,
               is_active: bool | None = None) -> UsersPublic:
    users, count = user_service.list_users(session, offset, limit, role, is_active)
    return UsersPublic(data=[UserPublic.model_validate(u) for u in users], count=count)


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED, summary="Create a user (admin)",
             responses={**AUTH_ERRORS, **error_responses(409, 422)})
def create_user(session: SessionDep, admin: AdminUser, body: UserCreate) -> UserPublic:
    user = user_service.create_user(session, body)
    log.info("admin user_id=%s created user_id=%s role=%s", admin.id, user.id, user.role.value)
    return UserPublic.model_validate(user)


@router.get("/{user_id}", response_model=UserPublic, summary="Read a user (admin)",
            responses={**AUTH_ERRORS, **error_responses(404, 422)})
def read_user(session: SessionDep, _admin: AdminUser, user_id: UserId) -> UserPublic:
    return UserPublic.model_validate(user_service.get_user(session, user_id))


@router.patch("/{user_id}", response_model=UserPublic, summary="Update a user (admin)",
              responses={**AUTH_ERRORS, **error_responses(404, 409, 422)})
def update_user(session: SessionDep, admin: AdminUser, user_id: UserId, body: UserUpdate) -> UserPublic:
    """Change email, name, role, active flag or password. The last active administrator cannot be demoted or
    disabled, and administrators cannot disable themselves."""
    # a new password is hashed before the transaction starts (argon2 would hold the write lock)
    new_hash = security.hash_password(body.password) if body.password else None
    user = user_service.update_user(session, user_service.get_user(session, user_id), body, acting_user=admin,
                                    password_hash=new_hash)
    log.info("admin user_id=%s updated user_id=%s fields=%s", admin.id, user.id,
             ",".join(sorted(body.model_dump(exclude_unset=True))))
    return UserPublic.model_validate(user)


@router.post("/{user_id}/disable", response_model=UserPublic, summary="Disable a user (admin)",
             responses={**AUTH_ERRORS, **error_responses(404, 409, 422)})
def disable_user(session: SessionDep, admin: AdminUser, user_id: UserId) -> UserPublic:
    """The user can no longer log in, and their existing access tokens stop working at once. Their records
    (feedback, jobs) stay."""
    user = user_service.disable_user(session, user_service.get_user(session, user_id), acting_user=admin)
    log.info("admin user_id=%s disabled user_id=%s", admin.id, user.id)
    return UserPublic.model_validate(user)
