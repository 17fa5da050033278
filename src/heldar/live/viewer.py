"""One viewer's bounded mailbox: the pull offers, the transport takes; a full one is dropped.

The pull never waits on a viewer. `offer` refuses once the viewer holds more than its byte
budget or its oldest queued chunk is older than `max_lag_s` (a live view that far behind is
useless); the pull then ends that viewer ("too slow"), so one stalled browser can neither slow
the others nor grow the kernel's memory.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

MAX_QUEUED_BYTES = 8 * 1024 * 1024
MAX_LAG_S = 4.0


@dataclass(frozen=True)
class Chunk:
    """An init segment (ftyp+moov) or a fragment (moof+mdat)."""

    kind: Literal["init", "fragment"]
    data: bytes


@dataclass(frozen=True)
class End:
    """The stream ended for this viewer, and why (shown to the user)."""

    reason: str


class Viewer:
    def __init__(self, *, max_bytes: int = MAX_QUEUED_BYTES, max_lag_s: float = MAX_LAG_S) -> None:
        self._items: deque[tuple[float, Chunk]] = deque()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._max_lag_s = max_lag_s
        self._wake = asyncio.Event()
        self.ended: End | None = None
        self.has_init = False
        self.started = False
        """True once it was handed a keyframe: fragments before that are useless to a decoder."""
        self.sent_bytes = 0

    def offer(self, chunk: Chunk) -> bool:
        """Queue `chunk`; False when the viewer is over budget (the caller drops it)."""
        if self.ended is not None:
            return True
        now = time.monotonic()
        if self._bytes + len(chunk.data) > self._max_bytes or (
            self._items and now - self._items[0][0] > self._max_lag_s
        ):
            return False
        self._items.append((now, chunk))
        self._bytes += len(chunk.data)
        self._wake.set()
        return True

    def end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = End(reason)
        self._wake.set()

    async def next(self, within_s: float) -> Chunk | End | None:
        """The next chunk, the end, or None when nothing came within `within_s` seconds."""
        if not self._items and self.ended is None:
            self._wake.clear()
            try:
                async with asyncio.timeout(within_s):
                    await self._wake.wait()
            except TimeoutError:
                return None
        if self._items:
            chunk = self._items.popleft()[1]
            self._bytes -= len(chunk.data)
            self.sent_bytes += len(chunk.data)
            return chunk
        return self.ended
