"""`/api/v1/users`: accounts, for holders of `users:manage` (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from heldar.api.deps import AuthDep, UsersManage
from heldar.auth.models import User, UserCreate, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])

UserIdPath = Annotated[int, Path(ge=1, le=2**62)]


@router.get("", response_model=list[User])
async def list_users(auth: AuthDep, _: UsersManage) -> list[User]:
    return await auth.users.list()


@router.post("", response_model=User, status_code=status.HTTP_201_CREATED)
async def create_user(
    body: UserCreate, auth: AuthDep, principal: UsersManage, response: Response
) -> User:
    user = await auth.users.create(body, actor=principal)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return user


@router.get("/{user_id}", response_model=User)
async def get_user(user_id: UserIdPath, auth: AuthDep, _: UsersManage) -> User:
    return await auth.users.get(user_id)


@router.patch("/{user_id}", response_model=User)
async def update_user(
    user_id: UserIdPath, body: UserUpdate, auth: AuthDep, principal: UsersManage
) -> User:
    """Change role, scope, enabled or password. A new password (or disabling) ends the user's
    sessions; changing your own password needs `current_password` and keeps this session."""
    return await auth.users.update(user_id, body, actor=principal)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: UserIdPath, auth: AuthDep, principal: UsersManage) -> Response:
    await auth.users.delete(user_id, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{user_id}/unlock", response_model=User)
async def unlock_user(user_id: UserIdPath, auth: AuthDep, principal: UsersManage) -> User:
    """End a lock set by failed logins."""
    return await auth.users.unlock(user_id, actor=principal)
