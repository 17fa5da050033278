"""The auth services wired together from settings, and the one `authenticate()` entry point.

`AuthServices.build` is called once by `Kernel.open`; the HTTP layer asks it to turn a presented
token into a `Principal`. `AuthHousekeeping` is the background service that forgets expired
sessions and stale throttle counters and prunes the audit log when retention is configured.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from heldar.auth.api_keys import ApiKeyService
from heldar.auth.audit import AuditLog
from heldar.auth.login import LoginService
from heldar.auth.models import AuthMethod, Principal
from heldar.auth.passwords import PasswordHasher
from heldar.auth.rbac import Capability, Role
from heldar.auth.sessions import SessionPolicy, SessionService
from heldar.auth.throttle import LoginThrottle, ThrottlePolicy
from heldar.auth.tokens import TokenKind, token_kind
from heldar.auth.users import UserService
from heldar.clock import Clock
from heldar.settings import Settings
from heldar.store.engine import Store

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY_S = 600.0


def unauthenticated_admin(client_addr: str | None) -> Principal:
    """The principal of every request when auth is off (loopback binds only)."""
    return Principal(
        username="anonymous",
        role=Role.ADMIN,
        capabilities=frozenset(Capability),
        camera_scope=None,
        auth_method="disabled",
        client_addr=client_addr,
    )


@dataclass
class AuthServices:
    enabled: bool
    hasher: PasswordHasher
    throttle: LoginThrottle
    sessions: SessionService
    users: UserService
    api_keys: ApiKeyService
    login: LoginService

    @classmethod
    def build(cls, settings: Settings, store: Store, clock: Clock, audit: AuditLog) -> AuthServices:
        hasher = PasswordHasher(
            memory_kib=settings.password_hash_memory_kib,
            time_cost=settings.password_hash_time_cost,
            concurrency=settings.hash_concurrency,
        )
        throttle = LoginThrottle(
            ThrottlePolicy(
                max_failures=settings.login_max_failures,
                max_failures_per_address=settings.login_max_failures_per_address,
                lockout=timedelta(minutes=settings.login_lockout_min),
            ),
            clock,
        )
        sessions = SessionService(
            store,
            clock,
            SessionPolicy(
                ttl=timedelta(hours=settings.auth_session_ttl_h),
                idle=timedelta(minutes=settings.auth_session_idle_min),
            ),
        )
        users = UserService(
            store,
            clock,
            hasher=hasher,
            audit=audit,
            sessions=sessions,
            throttle=throttle,
            data_dir=settings.data_dir,
            initial_admin=settings.bootstrap_admin_user,
        )
        return cls(
            enabled=settings.auth_enabled,
            hasher=hasher,
            throttle=throttle,
            sessions=sessions,
            users=users,
            api_keys=ApiKeyService(
                store, clock, audit, default_ttl=timedelta(days=settings.api_key_ttl_days)
            ),
            login=LoginService(
                store, clock, hasher=hasher, throttle=throttle, sessions=sessions, audit=audit
            ),
        )

    async def authenticate(
        self, token: str, *, auth_method: AuthMethod, client_addr: str | None
    ) -> Principal | None:
        """The principal a presented token stands for, or None when it stands for nothing."""
        kind = token_kind(token)
        if kind is TokenKind.SESSION:
            return await self.sessions.resolve(
                token, auth_method=auth_method, client_addr=client_addr
            )
        if kind is TokenKind.API_KEY and auth_method != "cookie":
            # Keys travel in headers only; a key in a cookie was put there by someone else.
            return await self.api_keys.resolve(token, client_addr=client_addr)
        return None


class AuthHousekeeping:
    """Forgets expired sessions and stale throttle counters; prunes the audit log if asked."""

    name = "auth-housekeeping"

    def __init__(
        self,
        store: Store,
        clock: Clock,
        auth: AuthServices,
        audit: AuditLog,
        *,
        audit_retention_days: int,
    ) -> None:
        self._store = store
        self._clock = clock
        self._auth = auth
        self._audit = audit
        self._retention_days = audit_retention_days

    async def run_once(self) -> None:
        await self._auth.sessions.purge_expired()
        async with self._store.write() as conn:
            await self._auth.throttle.purge(conn)
        if self._retention_days > 0:
            await self._audit.prune_older_than_days(self._retention_days)

    async def run(self) -> None:
        while True:
            await self.run_once()
            # A real-time period on purpose: what expires is decided by the injected clock in
            # run_once(), and a fake clock's sleep (which jumps time) must not drive the loop.
            await asyncio.sleep(HOUSEKEEPING_EVERY_S)
