"""`/api/v1/api-keys`: credentials for AI workers and machine clients (`users:manage`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from heldar.api.deps import AuthDep, UsersManage
from heldar.auth.models import ApiKey, ApiKeyCreate, ApiKeyCreated

router = APIRouter(prefix="/api-keys", tags=["auth"])

KeyIdPath = Annotated[int, Path(ge=1, le=2**62)]


@router.get("", response_model=list[ApiKey])
async def list_api_keys(auth: AuthDep, _: UsersManage) -> list[ApiKey]:
    return await auth.api_keys.list()


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyCreate, auth: AuthDep, principal: UsersManage, response: Response
) -> ApiKeyCreated:
    """Create a key; its secret (`token`) is in this answer and never again."""
    created = await auth.api_keys.create(body, creator=principal)
    response.headers["Location"] = f"/api/v1/api-keys/{created.id}"
    return created


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: KeyIdPath, auth: AuthDep, principal: UsersManage) -> Response:
    """Revoke a key; the next request with it fails."""
    await auth.api_keys.revoke(key_id, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
