"""Password login and logout.

One answer and one cost for every failure: an unknown name verifies against a dummy hash, a
disabled user or a wrong password both say `invalid_credentials`, and a throttled name or address
is refused before any hashing, whether the name exists or not. Every attempt is audited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from heldar.auth.audit import AuditLog
from heldar.auth.models import AuditEvent, Principal, User
from heldar.auth.passwords import PasswordHasher
from heldar.auth.sessions import SessionService
from heldar.auth.throttle import LoginThrottle
from heldar.auth.users import public_user
from heldar.clock import Clock
from heldar.errors import TooManyRequests, Unauthorized
from heldar.store import auth as sql
from heldar.store.engine import Store


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


UNKNOWN_USER = "(unknown user)"


def _attempt(name: str, *, known: bool, client_addr: str | None) -> AuditEvent:
    """The audit event of a login attempt. A name that is no user is recorded only as a hash
    prefix: people type passwords into the name field, and the audit log must not keep them."""
    if known:
        return AuditEvent(actor=name, action="auth.login", client_addr=client_addr)
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return AuditEvent(
        actor=UNKNOWN_USER,
        action="auth.login",
        client_addr=client_addr,
        detail={"name_sha256": digest},
    )


class LoginService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
        sessions: SessionService,
        audit: AuditLog,
    ) -> None:
        self._store = store
        self._clock = clock
        self._hasher = hasher
        self._throttle = throttle
        self._sessions = sessions
        self._audit = audit

    async def login(self, username: str, password: str, *, client_addr: str | None) -> LoginResult:
        name = username.lower()
        async with self._store.read() as conn:
            retry_after = await self._throttle.retry_after(conn, name, client_addr)
            user = await sql.get_user_by_name(conn, name)
        attempt = _attempt(name, known=user is not None, client_addr=client_addr)
        if retry_after is not None:
            await self._audit.record(attempt.model_copy(update={"outcome": "throttled"}))
            raise TooManyRequests(
                "too many failed logins; try again later",
                code="login_throttled",
                retry_after_s=retry_after,
            )
        matches = await self._hasher.verify(user.password_hash if user else None, password)
        if user is None or not matches or not user.enabled:
            await self._fail(attempt, name, client_addr)
        assert user is not None
        if self._hasher.needs_rehash(user.password_hash):
            new_hash = await self._hasher.hash(password)
        else:
            new_hash = None
        async with self._store.write() as conn:
            await self._throttle.success(conn, name)
            session = await self._sessions.open_in(conn, user.id, client_addr)
            now = self._clock.now()
            changes: dict[str, object] = {"last_login_at": now}
            if new_hash is not None:
                changes["password_hash"] = new_hash
            await sql.update_user(conn, user.id, changes)
            await self._audit.record_in(conn, attempt)
            record = await sql.get_user(conn, user.id)
        assert record is not None
        return LoginResult(
            token=session.token, expires_at=session.expires_at, user=public_user(record)
        )

    async def _fail(self, attempt: AuditEvent, name: str, client_addr: str | None) -> None:
        async with self._store.write() as conn:
            outcome = await self._throttle.failure(conn, name, client_addr)
            await self._audit.record_in(conn, attempt.model_copy(update={"outcome": "failed"}))
            locked = [
                what
                for what, now_locked in (
                    ("user", outcome.user_locked),
                    ("address", outcome.address_locked),
                )
                if now_locked
            ]
            if locked:
                lockout = {"action": "auth.lockout", "outcome": "denied"}
                detail = (attempt.detail or {}) | {"locked": locked}
                event = attempt.model_copy(update=lockout | {"detail": detail})
                await self._audit.record_in(conn, event)
        raise Unauthorized("invalid username or password", code="invalid_credentials")

    async def logout(self, principal: Principal) -> None:
        async with self._store.write() as conn:
            if principal.session_hash is not None:
                await self._sessions.end_in(conn, principal.session_hash)
            await self._audit.record_in(conn, principal.audit_event("auth.logout"))
