"""`EventStream`: the live fan-out of committed events to server-sent-event subscribers.

One shared ring of the newest events (each with its SSE frame rendered once) and one wake-up per
publish; every subscriber keeps its own cursor into the ring. Publishing is O(1) whatever the number
of subscribers, memory is bounded by the ring, and a subscriber that falls a whole ring behind
(a slow client) is dropped instead of buffered: it reconnects with `Last-Event-ID` and catches up
from the store (`follow`), so dropping loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

from heldar.errors import TooManyRequests
from heldar.events.log import EventLog
from heldar.events.models import Event, Severity

RING_SIZE = 4096
MAX_SUBSCRIBERS = 4096
REPLAY_PAGE = 500
RETRY_MS = 2000
# After a wake-up a subscriber waits a little before reading, so a burst leaves in one write: the
# cost is per write, not per event. The wait grows with the number of subscribers so that all of
# them together make at most ~10,000 writes a second (1,000 subscribers: 100 ms; one: 0.1 ms),
# capped at 250 ms (measured: bench/event_fanout.py).
COALESCE_PER_SUBSCRIBER_S = 0.0001
MAX_COALESCE_S = 0.25


class Lagged(Exception):
    """The subscriber fell further behind than the ring holds."""


@dataclass(frozen=True)
class StreamFilter:
    """What one subscriber may and wants to see: its camera scope, then optional filters."""

    camera_scope: frozenset[str] | None = None
    camera_id: str | None = None
    event_type: str | None = None
    severity: Severity | None = None

    def admits(self, event: Event) -> bool:
        scope = self.camera_scope
        if event.camera_id is not None and scope is not None and event.camera_id not in scope:
            return False
        if self.camera_id is not None and event.camera_id != self.camera_id:
            return False
        if self.event_type is not None and event.event_type != self.event_type:
            return False
        return self.severity is None or event.severity == self.severity


def sse_frame(event: Event) -> bytes:
    """`id:` + one `data:` line of the event's JSON (no `event:` field: `onmessage` gets all)."""
    data = json.dumps(event.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.id}\ndata: {data}\n\n".encode()


HEARTBEAT = b": keep-alive\n\n"


@dataclass(frozen=True)
class _Entry:
    event: Event
    frame: bytes


class EventStream:
    """The hub. `publish` is an `EventLog` listener; `follow` is what one SSE response iterates."""

    def __init__(
        self,
        events: EventLog,
        *,
        ring_size: int = RING_SIZE,
        max_subscribers: int = MAX_SUBSCRIBERS,
    ) -> None:
        self._events = events
        self._ring: list[_Entry | None] = [None] * ring_size  # entry of seq s at s % ring_size
        self._size = ring_size
        self._next_seq = 0  # sequence number the next published event gets
        self._wake = asyncio.Event()
        self._max_subscribers = max_subscribers
        self.subscribers = 0
        self.dropped_total = 0
        self.published_total = 0

    # -- publishing ------------------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        self._ring[self._next_seq % self._size] = _Entry(event, sse_frame(event))
        self._next_seq += 1
        self.published_total += 1
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    # -- reading ---------------------------------------------------------------------------------

    @property
    def head(self) -> int:
        return self._next_seq

    def _read(self, cursor: int) -> tuple[list[_Entry], int]:
        """The entries from `cursor` on (O(new entries)), and the cursor after them."""
        end = self._next_seq
        if cursor < end - self._size:
            raise Lagged
        ring, size = self._ring, self._size
        return [e for s in range(cursor, end) if (e := ring[s % size]) is not None], end

    async def _wait(self, cursor: int, within_s: float, coalesce_s: float) -> None:
        if cursor >= self._next_seq:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within_s):
                    await self._wake.wait()
        if cursor < self._next_seq and coalesce_s > 0:
            await asyncio.sleep(coalesce_s)

    def admit(self) -> None:
        """Raise `TooManyRequests` when no further subscriber fits (ask before answering 200)."""
        if self.subscribers >= self._max_subscribers:
            raise TooManyRequests(
                "too many event stream subscribers; retry later",
                retry_after_s=5,
                code="too_many_streams",
            )

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        self.admit()
        self.subscribers += 1
        try:
            yield
        finally:
            self.subscribers -= 1

    async def follow(
        self,
        selector: StreamFilter,
        *,
        since_id: int | None,
        heartbeat_s: float,
        still_allowed: Callable[[], Awaitable[StreamFilter | None]] | None = None,
        revalidate_s: float = 0.0,
        coalesce_s: float | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> AsyncIterator[bytes]:
        """SSE bytes: the events after `since_id` from the store, then live ones, heartbeats
        when idle. `still_allowed()` is asked again before sending live events (at most every
        `revalidate_s`; 0: before every batch) and at each heartbeat; None from it (credential
        revoked) ends the stream, a filter replaces the current one (the caller's scope changed).
        Ends on `Lagged` (a slow client)."""
        loop = asyncio.get_running_loop()
        now = monotonic or loop.time
        with self._slot():
            cursor = self.head  # before the replay: nothing committed from here on is missed
            checked = now()
            yield f"retry: {RETRY_MS}\n\n".encode()
            replayed = since_id or 0
            if since_id is not None:
                while True:
                    page = await self._events.list(
                        since_id=replayed,
                        camera_id=selector.camera_id,
                        event_type=selector.event_type,
                        severity=selector.severity,
                        camera_scope=selector.camera_scope,
                        limit=REPLAY_PAGE,
                    )
                    for event in page:
                        yield sse_frame(event)
                        replayed = event.id
                    if len(page) < REPLAY_PAGE:
                        break
            sent = now()
            while True:
                window = coalesce_s
                if window is None:
                    window = min(MAX_COALESCE_S, self.subscribers * COALESCE_PER_SUBSCRIBER_S)
                await self._wait(cursor, max(0.0, heartbeat_s - (now() - sent)), window)
                try:
                    entries, cursor = self._read(cursor)
                except Lagged:
                    self.dropped_total += 1
                    return
                idle = now() - sent >= heartbeat_s
                due = idle or (entries and now() - checked >= revalidate_s)
                if still_allowed is not None and due:
                    fresh = await still_allowed()
                    checked = now()
                    if fresh is None:
                        return
                    selector = fresh
                chunk = b"".join(
                    e.frame for e in entries if e.event.id > replayed and selector.admits(e.event)
                )
                if chunk:
                    yield chunk
                    sent = now()
                elif idle:
                    yield HEARTBEAT
                    sent = now()
