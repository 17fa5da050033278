"""Consumer fan-out on a real SQLite store: commit first, in order, at least once, never blocking
ingest, replayed after a crash, failures retried and reported."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from heldar.clock import SystemClock
from heldar.events.log import EventLog
from heldar.perception.consumers import QUEUE_SIZE, ConsumerHub
from heldar.perception.ingest import IngestWriter, Prepared
from heldar.perception.models import Detection, DetectionBatch
from heldar.store import perception as sql
from heldar.store.engine import Store
from heldar.supervisor import Backoff, Supervisor
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

CLOCK = SystemClock()


@dataclass
class Recorder:
    """A consumer that remembers what it got; `gate` holds it, `fail` makes it raise."""

    name: str
    store: Store | None = None
    task_types: frozenset[str] = frozenset({"person"})
    seen: list[int] = field(default_factory=list)
    committed_when_seen: list[bool] = field(default_factory=list)
    gate: asyncio.Event | None = None
    fail: int = 0

    def interested_in(self, task_type: str) -> bool:
        return task_type in self.task_types

    async def consume(self, batch: DetectionBatch) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            self.fail -= 1
            raise RuntimeError("consumer bug")
        if self.store is not None:
            async with self.store.read() as conn:
                stored = await sql.batches_after(conn, batch.id - 1, 1)
            self.committed_when_seen.append(bool(stored) and stored[0].id == batch.id)
        self.seen.append(batch.id)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    await store.migrate()
    try:
        yield store
    finally:
        await store.close()


def _prepared(frame: int, task_type: str = "person") -> Prepared:
    detection = Detection("person", 0.9, (0.1, 0.1, 0.2, 0.2), f"t{frame}", {})
    return Prepared(
        camera_id="cam",
        task_type=task_type,
        frame_id=str(frame),
        body_hash=f"h{frame}",
        timestamp=CLOCK.now(),
        detections=(detection,),
        event=None,
        provenance={"source": "test"},
        done=asyncio.get_running_loop().create_future(),
    )


@dataclass
class Pipeline:
    writer: IngestWriter
    hub: ConsumerHub
    events: EventLog

    async def ingest(self, *frames: int, task_type: str = "person") -> list[int]:
        answers = await asyncio.gather(
            *(self.writer.submit(_prepared(f, task_type)) for f in frames)
        )
        return [a.batch_id for a in answers if a.batch_id is not None]


async def _run(store: Store, *consumers: Recorder) -> tuple[Supervisor, Pipeline]:
    events = EventLog(store, CLOCK)
    hub = ConsumerHub(store, events, CLOCK, backoff=Backoff(0.01, 0.05, float("inf")))
    for consumer in consumers:
        hub.register(consumer)
    await hub.prepare()
    writer = IngestWriter(store, CLOCK, events, on_committed=hub.offer)
    supervisor = Supervisor(clock=CLOCK)
    await supervisor.__aenter__()
    supervisor.start(writer)
    supervisor.start(hub)
    return supervisor, Pipeline(writer, hub, events)


async def test_batches_arrive_committed_in_order_and_only_where_wanted(store: Store) -> None:
    persons = Recorder("persons", store=store)
    cars = Recorder("cars", task_types=frozenset({"car"}))
    supervisor, pipe = await _run(store, persons, cars)
    try:
        ids = await pipe.ingest(*range(20))
        await pipe.ingest(100, task_type="car")
        await eventually(lambda: len(persons.seen) == 20, timeout=10, what="all batches")
        assert persons.seen == sorted(ids)
        assert all(persons.committed_when_seen)
        await eventually(lambda: len(cars.seen) == 1, timeout=10, what="the car batch")
    finally:
        await supervisor.__aexit__(None, None, None)


async def test_a_stuck_consumer_never_blocks_ingest_and_catches_up(store: Store) -> None:
    gate = asyncio.Event()
    slow = Recorder("slow", gate=gate)
    quick = Recorder("quick")
    supervisor, pipe = await _run(store, slow, quick)
    try:
        total = QUEUE_SIZE + 100
        ids = await asyncio.wait_for(pipe.ingest(*range(total)), timeout=30)
        assert len(ids) == total  # every request answered while `slow` is stuck
        await eventually(lambda: len(quick.seen) == total, timeout=20, what="quick consumer")
        [stats] = [s for s in pipe.hub.stats() if s.name == "slow"]
        assert stats.lag >= total - 1
        gate.set()
        await eventually(lambda: len(slow.seen) == total, timeout=30, what="catch-up")
        assert slow.seen == sorted(ids)  # in order, each once, across queue and store
    finally:
        await supervisor.__aexit__(None, None, None)


async def test_undelivered_batches_are_replayed_after_a_restart(store: Store) -> None:
    first = Recorder("app")
    supervisor, pipe = await _run(store, first)
    try:
        early = await pipe.ingest(1, 2, 3)
        await eventually(lambda: first.seen == early, timeout=10, what="delivery")
        await eventually(
            lambda: _cursor(store, "app", early[-1]), timeout=10, what="the cursor saved"
        )
    finally:
        await supervisor.__aexit__(None, None, None)
    # committed while no consumer ran (a crash between commit and fan-out looks the same)
    writer_only = Supervisor(clock=CLOCK)
    async with writer_only:
        writer = IngestWriter(store, CLOCK, EventLog(store, CLOCK), on_committed=lambda _b: None)
        writer_only.start(writer)
        lost = [
            a.batch_id for a in await asyncio.gather(*(writer.submit(_prepared(f)) for f in (4, 5)))
        ]
    again = Recorder("app")
    newcomer = Recorder("newcomer")
    supervisor, pipe = await _run(store, again, newcomer)
    try:
        await eventually(lambda: again.seen == lost, timeout=10, what="replay")
        later = await pipe.ingest(6)
        await eventually(lambda: again.seen == lost + later, timeout=10, what="live again")
        await eventually(lambda: newcomer.seen == later, timeout=10, what="newcomer")
    finally:
        await supervisor.__aexit__(None, None, None)


async def _cursor(store: Store, consumer: str, expected: int) -> bool:
    async with store.read() as conn:
        return await sql.get_cursor(conn, consumer) == expected


async def test_a_failing_consumer_is_retried_and_reported_once(store: Store) -> None:
    flaky = Recorder("flaky", fail=3)
    steady = Recorder("steady")
    supervisor, pipe = await _run(store, flaky, steady)
    try:
        ids = await pipe.ingest(1, 2)
        await eventually(lambda: flaky.seen == ids, timeout=10, what="retries succeed")
        assert steady.seen == ids
        [stats] = [s for s in pipe.hub.stats() if s.name == "flaky"]
        assert stats.failures == 3 and stats.last_error is None
        failed = await pipe.events.list(event_type="consumer_failed")
        assert len(failed) == 1  # one event per failing streak, not per attempt
        assert failed[0].payload["consumer"] == "flaky"
    finally:
        await supervisor.__aexit__(None, None, None)


def test_registration_rules(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    hub = ConsumerHub(store, EventLog(store, CLOCK), CLOCK)
    hub.register(Recorder("a"))
    with pytest.raises(ValueError, match="already registered"):
        hub.register(Recorder("a"))


async def test_old_batches_are_pruned_with_their_detections(store: Store) -> None:
    clock = FakeClock()
    async with Supervisor(clock=CLOCK) as supervisor:
        writer = IngestWriter(store, clock, EventLog(store, clock), on_committed=lambda _b: None)
        supervisor.start(writer)
        old = [(await writer.submit(_prepared(f))).batch_id for f in (1, 2)]
        clock.advance(8 * 86_400)
        new = (await writer.submit(_prepared(3))).batch_id
    async with store.write() as conn:
        removed = await sql.prune_before(conn, clock.now() - timedelta(days=7), limit=1000)
    assert removed == 2
    async with store.read() as conn:
        left = await sql.batches_after(conn, 0, 100)
    assert [b.id for b in left] == [new] and old[0] is not None
    assert len(left[0].detections) == 1
