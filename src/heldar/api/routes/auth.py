"""`/api/v1/auth`: password login (the one public API route), logout, who am I, own password.

Login answers the token once in the body and sets it as the `heldar_session` cookie (HttpOnly,
SameSite=Strict, Secure over TLS or with HELDAR_AUTH_COOKIE_SECURE) for browsers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from heldar.api.deps import SESSION_COOKIE, AccountSelf, AuthDep, KernelDep, client_addr
from heldar.auth.models import LoginRequest, LoginResponse, Me, PasswordChange

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=LoginResponse)
async def login(
    body: LoginRequest, request: Request, response: Response, kernel: KernelDep
) -> LoginResponse:
    """Exchange a user name and password for a session token. Public; throttled; audited."""
    result = await kernel.auth.login.login(
        body.username, body.password.get_secret_value(), client_addr=client_addr(request)
    )
    secure = request.url.scheme == "https" or kernel.settings.auth_cookie_secure
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=int((result.expires_at - kernel.clock.now()).total_seconds()),
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return LoginResponse(token=result.token, expires_at=result.expires_at, user=result.user)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: AccountSelf, auth: AuthDep) -> Response:
    """End the session this request came with (effective on the next request)."""
    await auth.login.logout(principal)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me", response_model=Me)
async def me(principal: AccountSelf) -> Me:
    scope = sorted(principal.camera_scope) if principal.camera_scope is not None else None
    return Me(
        username=principal.username,
        role=principal.role,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        auth_method=principal.auth_method,
        capabilities=sorted(principal.capabilities),
        camera_ids=scope,
    )


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChange, principal: AccountSelf, auth: AuthDep) -> Response:
    """Change your own password (needs the current one); your other sessions end."""
    await auth.users.change_own_password(
        principal,
        body.current_password.get_secret_value(),
        body.new_password.get_secret_value(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
