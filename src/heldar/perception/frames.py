"""`FrameStore`: the newest JPEG frames of every sampled stream, with sequence numbers.

Per stream it keeps a small ring (the newest last) and a counter that only grows while the store
lives — decoder restarts and a stream removed and added again continue the count — so a worker
that remembers the last `seq` it processed never processes a frame twice. `wait_newer` long-polls
without polling: each publish wakes the waiters of that stream only.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from heldar.perception.budget import StreamKey

DEFAULT_RING_SIZE = 8


@dataclass(frozen=True)
class Frame:
    """One delivered frame: JPEG bytes and what a worker needs to know about them."""

    key: StreamKey
    seq: int
    captured_at: datetime
    width: int
    height: int
    jpeg: bytes = field(repr=False)
    keyframe: bool = False

    @property
    def camera_id(self) -> str:
        return self.key.camera_id


class _Slot:
    """The frames and the waiters of one stream."""

    def __init__(self, ring_size: int, seq_origin: int) -> None:
        self.ring: deque[Frame] = deque(maxlen=ring_size)
        self.last_seq = seq_origin
        self.changed = asyncio.Event()

    def wake(self) -> None:
        # Waiters hold the old event; a fresh one is ready for the next wait.
        self.changed.set()
        self.changed = asyncio.Event()


class FrameStore:
    """In-memory frames for every stream; used from the event loop only."""

    def __init__(self, ring_size: int = DEFAULT_RING_SIZE, *, seq_origin: int = 0) -> None:
        """`seq_origin`: the seq before a stream's first frame. The kernel passes the start time
        in epoch milliseconds, so sequence numbers never repeat across restarts (a frame id
        derived from one stays unique in the store); at under 1000 fps a restart always starts
        above where the previous run ended."""
        if ring_size < 1:
            raise ValueError("ring_size must be ≥ 1")
        self._ring_size = ring_size
        self._seq_origin = seq_origin
        self._slots: dict[StreamKey, _Slot] = {}

    def publish(
        self,
        key: StreamKey,
        jpeg: bytes,
        *,
        captured_at: datetime,
        width: int,
        height: int,
        keyframe: bool = False,
    ) -> Frame:
        """Store a new frame under the next sequence number and wake its waiters."""
        if captured_at.tzinfo is None:
            raise ValueError("captured_at must be timezone-aware")
        slot = self._slot(key)
        slot.last_seq += 1
        frame = Frame(key, slot.last_seq, captured_at, width, height, jpeg, keyframe)
        slot.ring.append(frame)
        slot.wake()
        return frame

    def latest(self, key: StreamKey) -> Frame | None:
        """The newest frame of `key`, or None before the first one (or after `drop`)."""
        slot = self._slots.get(key)
        return slot.ring[-1] if slot is not None and slot.ring else None

    def get(self, key: StreamKey, after_seq: int | None = None) -> Frame | None:
        """The newest frame of `key` whose seq is greater than `after_seq` (None: the newest)."""
        frame = self.latest(key)
        if frame is None or (after_seq is not None and frame.seq <= after_seq):
            return None
        return frame

    def frame(self, key: StreamKey, seq: int) -> Frame | None:
        """The frame with exactly this `seq`, while it is still in the ring."""
        slot = self._slots.get(key)
        if slot is None:
            return None
        return next((f for f in reversed(slot.ring) if f.seq == seq), None)

    def recent(self, key: StreamKey) -> list[Frame]:
        """The ring of `key`, oldest first."""
        slot = self._slots.get(key)
        return list(slot.ring) if slot is not None else []

    def last_seq(self, key: StreamKey) -> int:
        """The sequence number of the last frame ever published for `key` (the origin: none)."""
        slot = self._slots.get(key)
        return slot.last_seq if slot is not None else self._seq_origin

    async def wait_newer(
        self, key: StreamKey, after_seq: int | None, timeout_s: float
    ) -> Frame | None:
        """The newest frame with seq > `after_seq`, waiting up to `timeout_s` for one; None if
        none arrived in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout_s)
        while (frame := self.get(key, after_seq)) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            changed = self._slot(key).changed
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                return None
        return frame

    def drop(self, key: StreamKey) -> None:
        """Forget the frames of `key` (its sampler was removed); the counter is kept."""
        slot = self._slots.get(key)
        if slot is not None:
            slot.ring.clear()
            slot.wake()

    def keys(self) -> list[StreamKey]:
        return sorted(k for k, slot in self._slots.items() if slot.ring)

    def _slot(self, key: StreamKey) -> _Slot:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(self._ring_size, self._seq_origin)
        return slot
