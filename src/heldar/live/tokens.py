"""Live-view tokens: HMAC-signed, short-lived, bound to one camera, one profile and one principal.

A token names an in-memory *grant*: who asked (the credential they presented, kept in memory only
so the grant can be re-checked), for which camera and profile, and until when. Every playlist,
part and WebSocket presents the token; `check` verifies the signature and expiry and
re-authenticates the principal through the auth service (an open WebSocket again every
`RECHECK_S`), so a logout, a revoked API key, a disabled user or a narrowed camera scope ends live
view at once (HTTP) or within seconds (WebSocket). Use extends the grant (renewable while
watching). The key is random per kernel process: a restart voids all tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from heldar.auth.models import AuthMethod, Principal
from heldar.auth.rbac import Capability
from heldar.auth.service import AuthServices, unauthenticated_admin
from heldar.cameras.vendors import StreamProfile
from heldar.clock import Clock
from heldar.errors import Forbidden, Unauthorized

RECHECK_S = 5.0
MAX_GRANTS = 10_000


@dataclass
class Grant:
    """One issued live-view permission. `credential` never leaves the process."""

    grant_id: str
    camera_id: str
    profile: StreamProfile
    principal: Principal
    credential: tuple[str, AuthMethod] | None
    expires_at: datetime
    checked_at: float = field(default=0.0)


class LiveTokens:
    def __init__(self, clock: Clock, auth: AuthServices, *, ttl_s: float) -> None:
        self._clock = clock
        self._auth = auth
        self._ttl = timedelta(seconds=ttl_s)
        self._key = secrets.token_bytes(32)
        self._grants: dict[str, Grant] = {}

    def issue(
        self,
        camera_id: str,
        profile: StreamProfile,
        principal: Principal,
        credential: tuple[str, AuthMethod] | None,
    ) -> tuple[str, Grant]:
        """A new token and its grant; the caller has already checked capability and scope."""
        self._forget_expired()
        grant = Grant(
            grant_id=secrets.token_urlsafe(12),
            camera_id=camera_id,
            profile=profile,
            principal=principal,
            credential=credential,
            expires_at=self._clock.now() + self._ttl,
            checked_at=self._clock.monotonic(),
        )
        self._grants[grant.grant_id] = grant
        return self._sign(grant), grant

    def _sign(self, grant: Grant) -> str:
        body = f"{grant.grant_id}.{grant.camera_id}.{grant.profile}"
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18]
        return f"{body}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    async def check(self, token: str | None, camera_id: str) -> Grant:
        """The live grant `token` stands for on `camera_id`; 401 (none, bad, expired) or 403."""
        if not token:
            raise Unauthorized("a live token is required (?token=…)", code="live_token_missing")
        grant_id = token.partition(".")[0]
        grant = self._grants.get(grant_id)
        if grant is None or not hmac.compare_digest(self._sign(grant), token):
            raise Unauthorized("invalid or expired live token", code="live_token_invalid")
        if grant.expires_at <= self._clock.now():
            self._grants.pop(grant_id, None)
            raise Unauthorized("invalid or expired live token", code="live_token_invalid")
        if grant.camera_id != camera_id:
            raise Forbidden("this live token is for another camera", code="live_token_camera")
        await self.renew(grant, force=True)
        return grant

    async def renew(self, grant: Grant, *, force: bool = False) -> None:
        """Re-check the principal (every `RECHECK_S` unless `force`) and extend the grant: it
        lives while used. HTTP requests force it, so a logout takes effect on the next request."""
        await self.recheck(grant, force=force)
        grant.expires_at = self._clock.now() + self._ttl
        self._grants[grant.grant_id] = grant

    async def recheck(self, grant: Grant, *, force: bool = False) -> None:
        """Re-authenticate the grant's principal (rate-limited); revoke the grant if it lapsed."""
        now = self._clock.monotonic()
        if not force and now - grant.checked_at < RECHECK_S:
            return
        grant.checked_at = now
        principal = await self._current_principal(grant)
        if (
            principal is None
            or not principal.can(Capability.VIDEO_LIVE)
            or not principal.sees_camera(grant.camera_id)
        ):
            self._grants.pop(grant.grant_id, None)
            raise Unauthorized("the live token's credential was revoked", code="live_token_revoked")
        grant.principal = principal

    async def _current_principal(self, grant: Grant) -> Principal | None:
        if grant.credential is None:
            if self._auth.enabled:
                return None
            return unauthenticated_admin(grant.principal.client_addr)
        token, method = grant.credential
        return await self._auth.authenticate(
            token, auth_method=method, client_addr=grant.principal.client_addr
        )

    def revoke(self, grant: Grant) -> None:
        self._grants.pop(grant.grant_id, None)

    def _forget_expired(self) -> None:
        now = self._clock.now()
        for grant_id in [g.grant_id for g in self._grants.values() if g.expires_at <= now]:
            del self._grants[grant_id]
        while len(self._grants) >= MAX_GRANTS:
            self._grants.pop(next(iter(self._grants)))


_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"']+")


class TokenQueryFilter(logging.Filter):
    """Masks `token=` query values in a record (uvicorn logs each WebSocket path with its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _TOKEN_IN_QUERY.sub(r"\1***", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
