"""Password hashing: argon2id at or above OWASP's minimum, off the event loop, bounded.

Hashing runs in worker threads (`asyncio.to_thread`; argon2 releases the GIL) behind a semaphore
sized to the core count, so a login storm queues instead of starving the loop. Verifying against
an unknown user hashes a dummy with the same parameters: same answer, same time.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


class PasswordHasher:
    """argon2id hash/verify with bounded concurrency."""

    def __init__(
        self, *, memory_kib: int, time_cost: int, concurrency: int, parallelism: int = 1
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._argon2.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches `stored`; with `stored=None`, spend the time and fail."""
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            await self._verify(self._dummy, password)
            return False
        return await self._verify(stored, password)

    async def _verify(self, stored: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._check, stored, password)

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._argon2.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True when `stored` was made with other (older, weaker) parameters."""
        try:
            return self._argon2.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    async def warm_up(self) -> None:
        """Compute the dummy hash now, so the first unknown-user login is not cheaper or dearer."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
