"""Login throttling: failed logins counted per user name and per client address, in the store.

A name (existing or not, so locks reveal nothing) is locked after `max_failures` failures within
the lockout window, and an address after `max_failures_per_address`. Locks end by themselves after
the lockout time, and an admin (`POST /users/{id}/unlock`, `heldar user unlock`) can end them
sooner, so an attacker can slow the owner down but never lock them out for good. Counters live in
the store, so they survive restarts and are shared by every node.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.clock import Clock
from heldar.store import auth as sql

_USER = "user:"
_ADDR = "addr:"


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    max_failures_per_address: int = 20
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class FailureOutcome:
    """What one more failure did: whether the name and/or the address are now locked."""

    user_locked: bool
    address_locked: bool


def user_key(username: str) -> str:
    """The counter of a name, hashed: people type passwords into the name field."""
    return _USER + hashlib.sha256(username.lower().encode()).hexdigest()[:32]


def address_key(client_addr: str | None) -> str:
    return _ADDR + (client_addr or "unknown")


class LoginThrottle:
    """Counts failures and answers whether a login may be tried now (inside a transaction)."""

    def __init__(self, policy: ThrottlePolicy, clock: Clock) -> None:
        self.policy = policy
        self._clock = clock

    async def retry_after(
        self, conn: AsyncConnection, username: str, client_addr: str | None
    ) -> int | None:
        """Seconds until a login for `username` from `client_addr` may be tried, or None."""
        now = self._clock.now()
        rows = await sql.throttle_rows(conn, [user_key(username), address_key(client_addr)])
        ends = [locked for _, _, locked in rows.values() if locked is not None and locked > now]
        if not ends:
            return None
        return max(1, math.ceil((max(ends) - now).total_seconds()))

    async def failure(
        self, conn: AsyncConnection, username: str, client_addr: str | None
    ) -> FailureOutcome:
        now = self._clock.now()
        until = now + self.policy.lockout
        window_s = self.policy.lockout.total_seconds()
        user_failures, _ = await sql.record_failure(
            conn,
            user_key(username),
            now=now,
            window_s=window_s,
            max_failures=self.policy.max_failures,
            locked_until=until,
        )
        addr_failures, _ = await sql.record_failure(
            conn,
            address_key(client_addr),
            now=now,
            window_s=window_s,
            max_failures=self.policy.max_failures_per_address,
            locked_until=until,
        )
        return FailureOutcome(
            user_locked=user_failures >= self.policy.max_failures,
            address_locked=addr_failures >= self.policy.max_failures_per_address,
        )

    async def success(self, conn: AsyncConnection, username: str) -> None:
        """A correct password ends the name's count (not the address's: an attacker with one
        valid account must not reset the counter it sprays other names with)."""
        await sql.clear_throttle(conn, user_key(username))

    async def unlock(self, conn: AsyncConnection, username: str) -> None:
        await sql.clear_throttle(conn, user_key(username))

    async def locked_users(self, conn: AsyncConnection) -> dict[str, datetime]:
        """`user_key(name) → locked_until` for every name locked now."""
        locked = await sql.locked_keys(conn, self._clock.now())
        return {key: until for key, until in locked.items() if key.startswith(_USER)}

    async def purge(self, conn: AsyncConnection) -> int:
        """Forget counters whose window and lock are both over."""
        now = self._clock.now()
        cutoff = now - self.policy.lockout
        return await sql.purge_throttle(conn, window_start_before=cutoff, now=now)
