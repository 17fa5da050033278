"""The zone service on a real SQLite store: events stored with their state, replays skipped, and
a restart (a new service on the same store) never emits a second enter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from heldar.cameras.models import CameraCreate
from heldar.cameras.registry import CameraRegistry
from heldar.errors import NotFound
from heldar.events.log import EventLog
from heldar.perception.models import Detection, DetectionBatch
from heldar.recording.indexer import Indexed
from heldar.recording.media import SegmentInfo
from heldar.secretbox import SecretBox
from heldar.store import segments as segment_sql
from heldar.store import zones as sql
from heldar.store.engine import Store
from heldar.zones.models import ZoneCreate
from heldar.zones.service import ZoneService
from tests.support.clock import FakeClock

SQUARE = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]
INFO = SegmentInfo(codec="h264", width=640, height=360, duration_s=10.0, frames=150)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    await store.migrate()
    registry = CameraRegistry(store, SecretBox("k"))
    await registry.create(
        CameraCreate.model_validate(
            {"id": "cam", "name": "cam", "main_stream_url": "rtsp://127.0.0.1:9/x"}
        )
    )
    try:
        yield store
    finally:
        await store.close()


class Triggers:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, camera_id: str, reason: str) -> None:
        self.calls.append((camera_id, reason))


def _service(store: Store, clock: FakeClock, tmp_path: Path, triggers: Triggers) -> ZoneService:
    return ZoneService(
        store,
        clock,
        EventLog(store, clock),
        tmp_path / "data",
        trigger=triggers,
        frame_of=lambda _batch: None,
        track_timeout_s=60,
    )


def _batch(batch_id: int, clock: FakeClock, x: float) -> DetectionBatch:
    box = (x - 0.05, 0.5, 0.1, 0.3)
    return DetectionBatch(
        id=batch_id,
        camera_id="cam",
        task_type="person",
        frame_id=str(batch_id),
        timestamp=clock.now() + timedelta(seconds=batch_id),
        detections=(Detection("person", 0.9, box, "t1", {}),),
        event=None,
        provenance={},
    )


async def test_a_restart_keeps_the_visit_and_skips_replays(store: Store, tmp_path: Path) -> None:
    clock = FakeClock()
    triggers = Triggers()
    first = _service(store, clock, tmp_path, triggers)
    await first.load()
    zone = await first.create("cam", ZoneCreate(name="left", polygon=SQUARE))  # type: ignore[arg-type]
    for batch_id in (1, 2, 3):  # inside from the start: enter on the 2nd frame
        await first.consume(_batch(batch_id, clock, 0.2))
    assert first.durable() == 1  # batch 2's enter awaits the flusher: the hub's cursor stays at 1
    assert await first.flush() == 1
    assert first.durable() is None  # every batch's events are stored: the hub may move on
    async with store.read() as conn:
        stored = await sql.list_events(
            conn, "cam", clock.now(), clock.now() + timedelta(hours=1), limit=10
        )
    assert [e["event_type"] for e in stored] == ["enter"]
    assert triggers.calls == [("cam", "zone_enter")]
    assert await first.save_state() == 0  # the flush stored the state as of batch 3 with it

    second = _service(store, clock, tmp_path, triggers)  # the kernel restarted
    await second.load()
    for batch_id in (2, 3, 4, 5):  # the hub replays 2..3 (at least once), then 4, 5 are new
        await second.consume(_batch(batch_id, clock, 0.2))
    await second.consume(_batch(6, clock, 0.9))
    await second.consume(_batch(7, clock, 0.9))
    await second.flush()
    async with store.read() as conn:
        stored = await sql.list_events(
            conn, "cam", clock.now(), clock.now() + timedelta(hours=1), limit=10
        )
    kinds = [e["event_type"] for e in reversed(stored)]
    assert kinds == ["enter", "exit"]  # no second enter after the restart
    assert stored[0]["zone_id"] == zone.id and stored[0]["dwell_seconds"] >= 4
    assert second.occupancy("cam") == {}


async def test_deleting_a_zone_or_camera_forgets_its_state(store: Store, tmp_path: Path) -> None:
    clock = FakeClock()
    service = _service(store, clock, tmp_path, Triggers())
    await service.load()
    zone = await service.create("cam", ZoneCreate(name="left", polygon=SQUARE))  # type: ignore[arg-type]
    await service.consume(_batch(1, clock, 0.2))
    await service.consume(_batch(2, clock, 0.2))
    await service.delete(zone.id)
    await service.consume(_batch(3, clock, 0.9))  # no zone left: nothing happens
    assert service.engine.snapshot()["cameras"] == {}
    with pytest.raises(NotFound):
        await service.get(zone.id)


async def _segment(store: Store, clock: FakeClock, start_s: float, end_s: float) -> int:
    start, end = clock.now() + timedelta(seconds=start_s), clock.now() + timedelta(seconds=end_s)
    async with store.write() as conn:
        segment_id = await segment_sql.insert_segment(
            conn,
            {
                "camera_id": "cam",
                "path": f"recordings/cam/{start_s:.0f}.mp4",
                "start_time": start,
                "end_time": end,
                "duration_s": end_s - start_s,
                "size_bytes": 1000,
                "created_at": end,
            },
        )
    assert segment_id is not None
    return segment_id


async def test_zone_events_name_the_segment_they_fall_in(store: Store, tmp_path: Path) -> None:
    """The newest segment is remembered until the indexer reports another; an event after it
    has none yet, an older event is looked up."""
    clock = FakeClock()
    service = _service(store, clock, tmp_path, Triggers())
    await service.load()
    await service.create("cam", ZoneCreate(name="left", polygon=SQUARE))  # type: ignore[arg-type]
    early = await _segment(store, clock, 0, 10)
    late = await _segment(store, clock, 20, 30)
    walk = {1: 0.2, 2: 0.2, 3: 0.9, 4: 0.9, 22: 0.2, 23: 0.2, 24: 0.9, 25: 0.9}
    walk |= {41: 0.2, 42: 0.2}  # batch id = seconds after the clock's start
    for batch_id, x in walk.items():
        await service.consume(_batch(batch_id, clock, x))
    await service.flush()
    third = await _segment(store, clock, 40, 50)
    await service.segment_indexed(Indexed("cam", Path("third.mp4"), third, INFO))
    for batch_id, x in {43: 0.9, 44: 0.9}.items():
        await service.consume(_batch(batch_id, clock, x))
    await service.flush()
    async with store.read() as conn:
        stored = await sql.list_events(
            conn, "cam", clock.now(), clock.now() + timedelta(hours=1), limit=10
        )
    found = [(e["event_type"], e["segment_id"]) for e in reversed(stored)]
    assert found == [
        ("enter", early),  # older than the newest segment: looked up
        ("exit", early),
        ("enter", late),
        ("exit", late),
        ("enter", None),  # after the newest indexed segment
        ("exit", third),  # the indexer reported the segment it falls in
    ]
