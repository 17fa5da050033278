"""Login sessions: opened by a password login, ended by logout, expiry, or a password change.

A session token is random, shown once, and stored only as its SHA-256. Every request looks the
session up together with its user, so logout, disabling the user or changing the role take effect
on the very next request. Sessions end after an absolute lifetime and after idling too long;
`last_seen_at` is written at most once a minute so reads do not turn into writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.auth.models import AuthMethod, Principal, SessionRecord, UserRecord
from heldar.auth.rbac import capabilities_of
from heldar.auth.tokens import TokenKind, new_token, token_hash
from heldar.clock import Clock
from heldar.store import auth as sql
from heldar.store.engine import Store


@dataclass(frozen=True)
class SessionPolicy:
    ttl: timedelta = timedelta(hours=12)
    idle: timedelta = timedelta(hours=2)
    touch_every: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class NewSession:
    token: str
    expires_at: datetime


def user_principal(
    user: UserRecord,
    *,
    auth_method: AuthMethod,
    session_hash: str | None = None,
    client_addr: str | None = None,
) -> Principal:
    """The principal of a user, with its role's capabilities and its camera scope."""
    return Principal(
        username=user.username,
        role=user.role,
        capabilities=capabilities_of(user.role),
        camera_scope=frozenset(user.camera_ids) if user.camera_ids is not None else None,
        auth_method=auth_method,
        user_id=user.id,
        session_hash=session_hash,
        client_addr=client_addr,
    )


class SessionService:
    def __init__(self, store: Store, clock: Clock, policy: SessionPolicy) -> None:
        self._store = store
        self._clock = clock
        self.policy = policy

    async def open_in(
        self, conn: AsyncConnection, user_id: int, client_addr: str | None
    ) -> NewSession:
        """Create a session inside the caller's transaction; returns the token (shown once)."""
        now = self._clock.now()
        token = new_token(TokenKind.SESSION)
        record = SessionRecord(
            token_hash=token_hash(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.policy.ttl,
            client_addr=client_addr,
        )
        await sql.delete_expired_sessions(conn, now)
        await sql.insert_session(conn, record)
        return NewSession(token=token, expires_at=record.expires_at)

    async def resolve(
        self, token: str, *, auth_method: AuthMethod, client_addr: str | None
    ) -> Principal | None:
        """The principal of a live session, or None (unknown, expired, idle, user disabled)."""
        digest = token_hash(token)
        async with self._store.read() as conn:
            found = await sql.get_session(conn, digest)
        if found is None:
            return None
        session, user = found
        now = self._clock.now()
        if (
            not user.enabled
            or session.expires_at <= now
            or session.last_seen_at + self.policy.idle <= now
        ):
            return None
        if now - session.last_seen_at >= self.policy.touch_every:
            async with self._store.write() as conn:
                await sql.touch_session(conn, digest, now)
        return user_principal(
            user, auth_method=auth_method, session_hash=digest, client_addr=client_addr
        )

    async def end_in(self, conn: AsyncConnection, session_hash: str) -> bool:
        return await sql.delete_session(conn, session_hash)

    async def end_user_sessions_in(
        self, conn: AsyncConnection, user_id: int, *, keep: str | None = None
    ) -> int:
        return await sql.delete_user_sessions(conn, user_id, keep=keep)

    async def purge_expired(self) -> int:
        async with self._store.write() as conn:
            return await sql.delete_expired_sessions(conn, self._clock.now())
