"""The retention service on real files (real ffmpeg segments, real SQLite/PostgreSQL, a fake
clock): age, quota, size cap and disk floor; locks and protected ids survive; the guard holds;
deletion survives a kill between its phases; camera deletion; settings survive a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from heldar.cameras.models import CameraCreate
from heldar.cameras.registry import CameraRegistry
from heldar.check import check_files_indexed, check_no_overlap, check_segment_files, run_checks
from heldar.errors import Conflict, NotFound
from heldar.events.log import EventLog
from heldar.recording.eviction import GB, RetentionSettings
from heldar.recording.evidence import Evidence
from heldar.recording.indexer import Indexer
from heldar.recording.models import SegmentRow
from heldar.recording.retention import GUARD_REPEAT, Retention, delete_segments, unlink_files
from heldar.secretbox import SecretBox
from heldar.settings import Settings
from heldar.store import retention as retention_sql
from heldar.store import segments as segment_sql
from heldar.store.engine import Store
from heldar.store.tables import cameras, segments
from tests.support.clock import FakeClock
from tests.support.recordings import T0, record_run

DEFAULTS = RetentionSettings(
    max_recordings_gb=None, min_free_disk_gb=0, guard_max_share=0.5, interval_s=60
)


@dataclass
class SimulatedDisk:
    """A filesystem of `capacity` bytes holding only what lies under the recordings."""

    capacity: int
    calls: list[Path] = field(default_factory=list)

    def __call__(self, recordings: Path) -> int:
        self.calls.append(recordings)
        used = sum(p.stat().st_size for p in recordings.rglob("*.mp4"))
        return self.capacity - used


@dataclass
class Parts:
    data: Path
    store: Store
    store_url: str
    clock: FakeClock
    events: EventLog
    indexer: Indexer
    cameras: CameraRegistry
    evidence: Evidence
    protected: set[int] = field(default_factory=set)

    def retention(self, defaults: RetentionSettings = DEFAULTS, **options: object) -> Retention:
        return Retention(
            self.store,
            self.events,
            self.clock,
            self.data,
            defaults=defaults,
            protected=lambda: self.protected,
            **options,  # type: ignore[arg-type]
        )

    async def camera(self, camera_id: str, *, hours: int = 1) -> Path:
        body = CameraCreate(
            id=camera_id,
            name=camera_id,
            main_stream_url="rtsp://127.0.0.1:9/x",
            retention_hours=hours,
        )
        await self.cameras.create(body)
        return self.data / "recordings" / camera_id

    async def set_quota(self, camera_id: str, quota_bytes: int) -> None:
        """The camera's `retention_quota_gb` (migration 0005), in bytes."""
        async with self.store.write() as conn:
            await conn.execute(
                update(cameras)
                .where(cameras.c.id == camera_id)
                .values(retention_quota_gb=quota_bytes / GB)
            )

    async def rows(self, camera_id: str | None = None) -> list[SegmentRow]:
        async with self.store.read() as conn:
            rows = await segment_sql.all_rows(conn)
        return [r for r in rows if camera_id is None or r.camera_id == camera_id]

    async def consistent(self) -> None:
        """`heldar check`'s recording invariants 1, 2 and 4 hold."""
        settings = Settings(data_dir=self.data, database_url=self.store_url)
        checks = (check_segment_files, check_files_indexed, check_no_overlap)
        for result in await run_checks(settings, checks):
            assert result.ok, result


async def _parts(tmp_path: Path, url: str) -> AsyncIterator[Parts]:
    data = tmp_path / "data"
    (data / "recordings").mkdir(parents=True)
    store = Store(url)
    await store.migrate()
    clock = FakeClock(T0 + timedelta(minutes=10))
    events = EventLog(store, clock)
    try:
        yield Parts(
            data=data,
            store=store,
            store_url=url,
            clock=clock,
            events=events,
            indexer=Indexer(store, events, clock, data),
            cameras=CameraRegistry(store, SecretBox(None)),
            evidence=Evidence(store),
        )
    finally:
        await store.close()


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    async for p in _parts(tmp_path, f"sqlite:///{tmp_path / 'heldar.db'}"):
        yield p


@pytest.fixture
async def parts_any(tmp_path: Path, store_url: str) -> AsyncIterator[Parts]:
    """The same parts on each store backend (SQLite and PostgreSQL)."""
    async for p in _parts(tmp_path, store_url):
        yield p


async def test_age_deletes_expired_segments_but_never_locked_or_protected(
    parts_any: Parts,
) -> None:
    parts = parts_any
    directory = await parts.camera("cam", hours=1)
    run = record_run(directory, start=T0, count=6)
    assert (await parts.indexer.reconcile()).indexed == 6
    rows = await parts.rows()
    locked, protected = rows[1], rows[3]
    await parts.evidence.lock(locked.id, "inc-1")
    parts.protected.add(protected.id)
    retention = parts.retention()
    assert (await retention.prune()).deleted == 0  # nothing has expired yet
    parts.clock.advance(3600)  # T0 + 1 h 10 min: every segment ended more than an hour ago
    report = await retention.prune()
    assert report.deleted == 4
    assert report.by_reason["age"].segments == 4
    assert (
        report.bytes == sum(r.size_bytes for r in rows) - locked.size_bytes - protected.size_bytes
    )
    left = await parts.rows()
    assert [r.id for r in left] == [locked.id, protected.id]
    survivors = {run.segments[1].path, run.segments[3].path}
    assert {p for p in directory.glob("*.mp4")} == survivors
    await parts.consistent()
    pruned = await parts.events.list(event_type="retention_pruned")
    assert len(pruned) == 1  # one event per pass, not one per file
    assert pruned[0].payload["segments"] == 4
    assert pruned[0].payload["reasons"] == ["age"]
    assert pruned[0].payload["cameras"] == {"cam": 4}
    # the session ends: its segment goes at the next pass; the locked one stays for good
    parts.protected.clear()
    assert (await retention.prune()).deleted == 1
    assert [r.id for r in await parts.rows()] == [locked.id]
    assert len(await parts.events.list(event_type="retention_pruned")) == 2


async def test_gap_rows_go_with_their_footage(parts: Parts) -> None:
    directory = await parts.camera("cam", hours=1)
    first = record_run(directory, start=T0, count=2)
    second = record_run(directory, start=first.end + timedelta(seconds=30), count=2)
    third = record_run(directory, start=second.end + timedelta(hours=2), count=1)
    await parts.indexer.reconcile()
    window = (T0 - timedelta(hours=1), T0 + timedelta(hours=4))
    async with parts.store.read() as conn:
        assert len(await segment_sql.list_gaps(conn, "cam", *window)) == 2
    parts.clock.advance(2 * 3600)  # the first two runs are past retention, the third is not
    assert (await parts.retention().prune()).deleted == 4
    async with parts.store.read() as conn:
        left = await segment_sql.list_gaps(conn, "cam", *window)
    assert len(left) == 1  # the gap before the third run ends after the cutoff: it stays
    assert left[0].end_time == third.segments[0].start


async def test_a_held_job_protects_its_segments(parts: Parts) -> None:
    directory = await parts.camera("cam", hours=1)
    record_run(directory, start=T0, count=3)
    await parts.indexer.reconcile()
    rows = await parts.rows()
    retention = parts.retention()
    parts.clock.advance(3600)
    with retention.hold([rows[0].id, rows[0].id, rows[2].id]):
        with retention.hold([rows[0].id]):
            pass
        assert retention.protected_ids() == {rows[0].id, rows[2].id}
        assert (await retention.prune()).deleted == 1
    assert retention.protected_ids() == frozenset()
    assert (await retention.prune()).deleted == 2


async def test_size_cap_evicts_oldest_from_the_camera_furthest_over_its_share(
    parts_any: Parts,
) -> None:
    parts = parts_any
    a = await parts.camera("a", hours=1000)
    b = await parts.camera("b", hours=1000)
    record_run(a, start=T0, count=8, size="640x360")
    record_run(b, start=T0, count=3, size="640x360")
    await parts.indexer.reconcile()
    rows_a = await parts.rows("a")
    total = sum(r.size_bytes for r in await parts.rows())
    three_oldest = sum(r.size_bytes for r in rows_a[:3])
    cap = RetentionSettings(
        max_recordings_gb=(total - three_oldest + 0.5) / GB,
        min_free_disk_gb=0,
        guard_max_share=0.5,
        interval_s=60,
    )
    report = await parts.retention(cap).prune()
    assert report.by_reason["size"].segments == 3
    assert report.by_camera == {"a": 3}
    assert [r.id for r in await parts.rows("a")] == [r.id for r in rows_a[3:]]
    assert len(await parts.rows("b")) == 3
    await parts.consistent()


async def test_a_camera_quota_is_kept(parts: Parts) -> None:
    a = await parts.camera("a", hours=1000)
    record_run(a, start=T0, count=5)
    await parts.indexer.reconcile()
    rows = await parts.rows("a")
    await parts.set_quota("a", sum(r.size_bytes for r in rows[2:]) + 1)
    report = await parts.retention().prune()
    assert set(report.by_reason) == {"quota"}
    assert report.deleted == 2
    assert [r.id for r in await parts.rows("a")] == [r.id for r in rows[2:]]


async def test_disk_floor_frees_space_between_passes(parts: Parts) -> None:
    a = await parts.camera("a", hours=1000)
    b = await parts.camera("b", hours=1000)
    run_a = record_run(a, start=T0, count=6)
    record_run(b, start=T0, count=2)
    await parts.indexer.reconcile()
    files = sorted(parts.data.glob("recordings/*/*.mp4"))
    used = sum(p.stat().st_size for p in files)
    biggest = max(p.stat().st_size for p in files)
    disk = SimulatedDisk(capacity=used + 3 * biggest)
    floor = RetentionSettings(
        max_recordings_gb=None,
        min_free_disk_gb=5 * biggest / GB,
        guard_max_share=0.5,
        interval_s=60,
    )
    retention = parts.retention(floor, free_bytes=disk)
    first = await retention.tick()  # the first tick always runs a pass
    assert first is not None
    assert first.by_reason["disk"].segments >= 2
    assert set(first.by_camera) == {"a"}  # the camera with 6 of 8 segments pays
    assert disk(parts.data / "recordings") >= 5 * biggest
    oldest_left = (await parts.rows("a"))[0]
    assert oldest_left.path.endswith(run_a.segments[first.deleted].path.name)  # oldest first
    assert await retention.tick() is None  # above the floor, interval not over
    # a new segment arrives and takes the free space under the floor: the next tick acts
    record_run(a, start=T0 + timedelta(minutes=5), count=2)
    await parts.indexer.scan(include_newest=True)
    parts.clock.advance(5)
    second = await retention.tick()
    assert second is not None and second.by_reason["disk"].segments >= 1
    assert disk(parts.data / "recordings") >= 5 * biggest
    assert disk.calls and all(c == parts.data / "recordings" for c in disk.calls)
    await parts.consistent()


async def test_tick_runs_passes_on_interval_and_when_woken(parts: Parts) -> None:
    retention = parts.retention()
    assert await retention.tick() is not None
    assert await retention.tick() is None
    parts.clock.advance(59)
    assert await retention.tick() is None
    parts.clock.advance(1)
    assert await retention.tick() is not None
    retention.wake()
    assert await retention.tick() is not None


async def test_the_guard_holds_a_clock_jump_and_reports_it_once(parts: Parts) -> None:
    directory = await parts.camera("cam", hours=1)
    record_run(directory, start=T0, count=24)
    await parts.indexer.reconcile()
    retention = parts.retention()
    parts.clock.advance(366 * 86400)  # the wall clock jumps a year ahead
    report = await retention.prune()
    assert report.deleted == 0
    assert [t.rule for t in report.trips] == ["camera_share"]
    assert len(await parts.rows()) == 24
    guard = await parts.events.list(event_type="retention_guard")
    assert len(guard) == 1
    assert guard[0].severity == "warning"
    assert guard[0].camera_id == "cam"
    assert guard[0].payload["rule"] == "camera_share"
    await retention.prune()
    assert len(await parts.events.list(event_type="retention_guard")) == 1  # no spam
    parts.clock.advance(GUARD_REPEAT.total_seconds())
    await retention.prune()
    assert len(await parts.events.list(event_type="retention_guard")) == 2  # still holding
    # the operator looks, and lets it through once (guard_max_share = 1 turns it off)
    await retention.update_settings(DEFAULTS.model_copy(update={"guard_max_share": 1.0}))
    assert (await retention.prune()).deleted == 24


async def test_the_guard_holds_when_the_clock_goes_back(parts: Parts) -> None:
    directory = await parts.camera("cam", hours=1)
    record_run(directory, start=T0 + timedelta(hours=3), count=2)  # written before the jump
    record_run(directory, start=T0 - timedelta(hours=5), count=2)
    await parts.indexer.reconcile()
    report = await parts.retention().prune()  # now = T0 + 10 min, hours behind the newest file
    assert report.deleted == 0
    assert [t.rule for t in report.trips] == ["clock"]
    assert len(await parts.rows()) == 4


async def test_the_guard_refuses_to_empty_a_full_foreign_disk(parts: Parts) -> None:
    directory = await parts.camera("cam", hours=1000)
    record_run(directory, start=T0, count=24)
    await parts.indexer.reconcile()
    floor = DEFAULTS.model_copy(update={"min_free_disk_gb": 1.0})
    retention = parts.retention(floor, free_bytes=lambda _path: 0)  # e.g. the mount is gone
    report = await retention.prune()
    assert report.held_all and report.deleted == 0
    assert [t.rule for t in report.trips] == ["total_share"]
    assert len(await parts.rows()) == 24
    assert len(await parts.events.list(event_type="retention_guard")) == 1
    # the floor keeps failing, but it is retried at the interval, not at every tick
    parts.clock.advance(5)
    assert await retention.tick() is not None  # first tick
    parts.clock.advance(5)
    assert await retention.tick() is None


@pytest.mark.parametrize("stop_after", ["mark", "half_unlinked", "unlinked"])
async def test_a_kill_between_deletion_phases_is_finished_by_reconcile(
    parts: Parts, stop_after: str
) -> None:
    directory = await parts.camera("cam", hours=1)
    run = record_run(directory, start=T0, count=6)
    await parts.indexer.reconcile()
    rows = await parts.rows()
    await parts.evidence.lock(rows[2].id)
    doomed = [r.id for r in rows[:4]]
    # phase 1 as retention runs it; a locked row is not marked
    async with parts.store.write() as conn:
        marked = await retention_sql.mark_unlocked(conn, doomed)
    assert sorted(m.id for m in marked) == [rows[0].id, rows[1].id, rows[3].id]
    if stop_after == "half_unlinked":
        unlink_files(parts.data, marked[:1])
    elif stop_after == "unlinked":
        unlink_files(parts.data, marked)
    # the kernel dies here; nothing lists a segment that is being deleted meanwhile
    window = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    async with parts.store.read() as conn:
        listed = await segment_sql.list_segments(conn, "cam", *window, limit=100)
    assert [r.id for r in listed] == [rows[2].id, rows[4].id, rows[5].id]
    report = await parts.indexer.reconcile()  # the next start
    assert report.deletions_finished == 3
    assert report.indexed == 0  # no unlinked file comes back
    assert [r.id for r in await parts.rows()] == [rows[2].id, rows[4].id, rows[5].id]
    assert sorted(directory.glob("*.mp4")) == [run.segments[i].path for i in (2, 4, 5)]
    await parts.consistent()


async def test_the_next_pass_finishes_an_interrupted_deletion(parts: Parts) -> None:
    directory = await parts.camera("cam", hours=1000)
    record_run(directory, start=T0, count=3)
    await parts.indexer.reconcile()
    rows = await parts.rows()
    async with parts.store.write() as conn:
        marked = await retention_sql.mark_unlocked(conn, [rows[0].id])
    unlink_files(parts.data, marked)
    report = await parts.retention().prune()
    assert report.deleted == 0  # nothing new was chosen …
    assert [r.id for r in await parts.rows()] == [rows[1].id, rows[2].id]  # … but it finished
    await parts.consistent()


async def test_a_lock_taken_during_a_deletion_wins_or_fails_cleanly(parts: Parts) -> None:
    directory = await parts.camera("cam", hours=1000)
    record_run(directory, start=T0, count=2)
    await parts.indexer.reconcile()
    first, second = await parts.rows()
    await parts.evidence.lock(first.id)
    deleted = await delete_segments(parts.store, parts.data, [first.id, second.id])
    assert [m.id for m in deleted] == [second.id]  # the lock came first: it wins
    assert [r.id for r in await parts.rows()] == [first.id]
    async with parts.store.write() as conn:  # a deletion marks first: a later lock fails
        await conn.execute(
            update(segments).where(segments.c.id == first.id).values(locked=False, deleting=True)
        )
    with pytest.raises(NotFound):
        await parts.evidence.lock(first.id)


async def test_delete_camera_recordings(parts_any: Parts) -> None:
    parts = parts_any
    directory = await parts.camera("cam", hours=1000)
    other = await parts.camera("other", hours=1000)
    record_run(directory, start=T0, count=4)
    record_run(other, start=T0, count=2)
    await parts.indexer.reconcile()
    unfinished = directory / "20261125_120100.mp4"  # a segment the recorder left unindexed
    unfinished.write_bytes(b"\x00" * 10)
    rows = await parts.rows("cam")
    await parts.evidence.lock(rows[1].id)
    retention = parts.retention()
    with pytest.raises(Conflict) as refused:
        await retention.ensure_deletable("cam")
    assert refused.value.code == "segments_locked"
    with pytest.raises(Conflict):
        await retention.delete_camera_recordings("cam")
    assert len(await parts.rows("cam")) == 4  # nothing deleted
    await parts.evidence.unlock(rows[1].id)
    await retention.ensure_deletable("cam")
    report = await retention.delete_camera_recordings("cam")
    assert (report.segments, report.files_removed) == (4, 1)
    assert report.bytes == sum(r.size_bytes for r in rows)
    assert await parts.rows("cam") == []
    assert not directory.exists()
    assert len(await parts.rows("other")) == 2
    await parts.consistent()


async def test_settings_are_stored_and_survive_a_restart(parts_any: Parts) -> None:
    parts = parts_any
    first = parts.retention()
    assert await first.settings() == DEFAULTS
    wanted = RetentionSettings(
        max_recordings_gb=12.5, min_free_disk_gb=3, guard_max_share=0.25, interval_s=120
    )
    assert await first.update_settings(wanted) == wanted
    other_defaults = DEFAULTS.model_copy(update={"interval_s": 999})
    assert await parts.retention(other_defaults).settings() == wanted  # a new kernel
    changed = wanted.model_copy(update={"max_recordings_gb": None})
    await first.update_settings(changed)
    assert await parts.retention().settings() == changed


async def test_the_service_loop_prunes_on_its_own(parts: Parts) -> None:
    directory = await parts.camera("cam", hours=1)
    record_run(directory, start=T0, count=3)
    await parts.indexer.reconcile()
    parts.clock.advance(3600)
    retention = parts.retention()
    task = asyncio.create_task(retention.run())
    try:
        for _ in range(200):
            if not await parts.rows() and parts.clock.sleeps:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await parts.rows() == []
    assert all(s == 5.0 for s in parts.clock.sleeps)  # woke every 5 s (fake), never slept
