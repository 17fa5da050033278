"""The consumer seam: committed detection batches fanned out to `DetectionConsumer`s.

Invariants (docs/design/perception.md §Consumer fan-out): a consumer only sees committed batches,
in batch-id order, at least once; its persisted cursor says how far it got, so a crash between
commit and delivery is replayed on start; a full queue switches it to catch-up from the store
instead of blocking ingest; a failing consumer is retried with backoff and reported, alone.

Apps register consumers with `ConsumerHub.register`, or ship them as entry points in the
`heldar.consumers` group: a callable `factory(kernel) -> DetectionConsumer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from heldar.clock import Clock
from heldar.events.log import EventLog
from heldar.perception.models import DetectionBatch
from heldar.store import perception as sql
from heldar.store.engine import Store
from heldar.supervisor import Backoff

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
CATCH_UP_PAGE = 200
CURSOR_EVERY_S = 1.0
ENTRY_POINT_GROUP = "heldar.consumers"


@runtime_checkable
class DetectionConsumer(Protocol):
    name: str

    def interested_in(self, task_type: str) -> bool: ...

    async def consume(self, batch: DetectionBatch) -> None: ...


def _durable(consumer: DetectionConsumer, delivered: int) -> int:
    """How far the cursor may be saved: a consumer that stores its results later says with an
    optional `durable()` method up to which batch they are stored (None: all delivered)."""
    durable = getattr(consumer, "durable", None)
    upto = durable() if callable(durable) else None
    return delivered if upto is None else min(delivered, int(upto))


@dataclass
class ConsumerStats:
    name: str
    delivered: int = 0
    failures: int = 0
    cursor: int = 0
    lag: int = 0
    catching_up: bool = False
    last_error: str | None = None


class _Lane:
    """One consumer's queue, cursor and loop."""

    def __init__(self, consumer: DetectionConsumer) -> None:
        self.consumer = consumer
        self.queue: asyncio.Queue[DetectionBatch] = asyncio.Queue(QUEUE_SIZE)
        self.stats = ConsumerStats(consumer.name)
        self.overflowed = False
        self.wake = asyncio.Event()


class ConsumerHub:
    name = "consumer-hub"

    def __init__(
        self,
        store: Store,
        events: EventLog,
        clock: Clock,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._backoff = backoff or Backoff(initial_s=1.0, cap_s=60.0, healthy_after_s=float("inf"))
        self._lanes: dict[str, _Lane] = {}
        self._started = False
        self._head = 0
        self._start_head: int | None = None

    # -- registration ----------------------------------------------------------------------------

    def register(self, consumer: DetectionConsumer) -> None:
        """Add a consumer; must happen before the hub starts (the kernel composes them)."""
        if self._started:
            raise RuntimeError("register consumers before the kernel starts")
        if consumer.name in self._lanes:
            raise ValueError(f"a consumer named {consumer.name!r} is already registered")
        self._lanes[consumer.name] = _Lane(consumer)

    def load_entry_points(self, kernel: Any) -> list[str]:
        """Register every `heldar.consumers` entry point; a broken one is logged and skipped."""
        loaded = []
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                factory: Callable[[Any], DetectionConsumer] = point.load()
                self.register(factory(kernel))
            except Exception:
                log.exception("consumer entry point %s failed to load", point.name)
                continue
            loaded.append(point.name)
        return loaded

    def stats(self) -> list[ConsumerStats]:
        for lane in self._lanes.values():
            lane.stats.lag = max(0, self._head - lane.stats.cursor)
        return [lane.stats for lane in self._lanes.values()]

    # -- fan-out ---------------------------------------------------------------------------------

    def offer(self, batches: list[DetectionBatch]) -> None:
        """Called by the ingest writer after commit: never blocks, never raises."""
        if batches:
            self._head = max(self._head, batches[-1].id)
        for lane in self._lanes.values():
            for batch in batches:
                if lane.overflowed:
                    break
                try:
                    lane.queue.put_nowait(batch)
                except asyncio.QueueFull:
                    lane.overflowed = True  # the lane reads the rest from the store
            lane.wake.set()

    # -- the service -----------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Note the outbox head before ingest starts: a consumer never seen before starts there
        (it gets every batch committed from now on, and no history)."""
        async with self._store.read() as conn:
            self._start_head = await sql.head_batch_id(conn)
        self._head = max(self._head, self._start_head)

    async def run(self) -> None:
        self._started = True
        if self._start_head is None:
            await self.prepare()
        async with asyncio.TaskGroup() as group:
            for lane in self._lanes.values():
                group.create_task(self._serve(lane), name=f"consumer:{lane.consumer.name}")

    async def _serve(self, lane: _Lane) -> None:
        async with self._store.read() as conn:
            cursor = await sql.get_cursor(conn, lane.consumer.name)
        if cursor is None:  # a new consumer starts at the head, it does not replay history
            assert self._start_head is not None
            cursor = self._start_head
            await self._save_cursor(lane, cursor)
        lane.stats.cursor = saved = cursor
        lane.overflowed = True  # first catch up from the cursor: replays what a crash lost
        saved_at = self._clock.monotonic()
        while True:
            durable = _durable(lane.consumer, lane.stats.cursor)
            if durable != saved and self._clock.monotonic() - saved_at >= CURSOR_EVERY_S:
                saved = durable
                await self._save_cursor(lane, saved)
                saved_at = self._clock.monotonic()
            if lane.overflowed:
                lane.stats.catching_up = True
                page = await self._page(lane.stats.cursor)
                if not page:
                    self._drain_queue(lane)
                    lane.overflowed = False
                    lane.stats.catching_up = False
                    continue
            elif lane.queue.empty():
                lane.wake.clear()
                # idle: wake for new batches, or after a while to persist the cursor
                with contextlib.suppress(TimeoutError):
                    pending = _durable(lane.consumer, lane.stats.cursor) != saved
                    async with asyncio.timeout(1.0 if pending else None):
                        await lane.wake.wait()
                continue
            else:
                page = [lane.queue.get_nowait()]
            for batch in page:
                if batch.id <= lane.stats.cursor:
                    continue  # already delivered (seen in both the store and the queue)
                if lane.consumer.interested_in(batch.task_type):
                    await self._deliver(lane, batch)
                lane.stats.cursor = batch.id

    def _drain_queue(self, lane: _Lane) -> None:
        """Level with the store: what is queued up to the cursor is stale, the rest stays."""
        kept = []
        while not lane.queue.empty():
            batch = lane.queue.get_nowait()
            if batch.id > lane.stats.cursor:
                kept.append(batch)
        for batch in kept:
            lane.queue.put_nowait(batch)

    async def _page(self, after: int) -> list[DetectionBatch]:
        async with self._store.read() as conn:
            return await sql.batches_after(conn, after, CATCH_UP_PAGE)

    async def _deliver(self, lane: _Lane, batch: DetectionBatch) -> None:
        """Hand `batch` over, retrying with backoff until the consumer takes it. One at a
        time, by design: a consumer's work per batch (its own transaction) stays short, so it
        never holds the store's one writer long enough to stall ingest."""
        consumer = lane.consumer
        delays = self._backoff.delays()
        failing = False
        while True:
            try:
                await consumer.consume(batch)
            except Exception as exc:
                lane.stats.failures += 1
                lane.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("consumer %s failed on batch %d", consumer.name, batch.id)
                if not failing:
                    failing = True
                    await self._events.append(
                        "consumer_failed",
                        camera_id=batch.camera_id,
                        severity="warning",
                        payload={
                            "consumer": consumer.name,
                            "batch_id": batch.id,
                            "error": lane.stats.last_error,
                        },
                    )
                await self._clock.sleep(delays.after_run(0.0))
                continue
            lane.stats.delivered += 1
            lane.stats.last_error = None
            return

    async def _save_cursor(self, lane: _Lane, cursor: int) -> None:
        async with self._store.write() as conn:
            await sql.set_cursor(conn, lane.consumer.name, cursor, self._clock.now())
