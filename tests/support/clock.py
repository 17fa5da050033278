"""A fake clock for tests: time moves only when a test says so.

`advance(s)` jumps time and wakes every `sleep` whose deadline has passed, so a periodic service
under a fake clock runs exactly as often as the test advances time — never in a busy loop. With
`autojump=True` a `sleep` jumps time itself (for code whose only waiting is its backoff).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None, *, autojump: bool = False) -> None:
        self._now = start or datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        self._mono = 1000.0
        self._autojump = autojump
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._mono += seconds
        self._now += timedelta(seconds=seconds)
        due = [(d, f) for d, f in self._waiters if d <= self._mono]
        self._waiters = [(d, f) for d, f in self._waiters if d > self._mono]
        for _, future in due:
            if not future.done():
                future.set_result(None)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self._autojump:
            self.advance(seconds)
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._mono + seconds, future))
        await future
