"""The recordings index: idempotent indexing, gaps, no overlaps, crash reconciliation."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from heldar.check import CHECKS, repair, run_checks
from heldar.clock import SystemClock
from heldar.events.log import EventLog
from heldar.recording.catalog import Catalog
from heldar.recording.indexer import Indexer
from heldar.settings import Settings
from heldar.store import segments as sql
from heldar.store.engine import Store
from tests.support.recordings import T0, record_run


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[Path, Store, Indexer, Catalog, EventLog]]:
    data = tmp_path / "data"
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    await store.migrate()
    events = EventLog(store, SystemClock())
    try:
        yield data, store, Indexer(store, events, SystemClock(), data), Catalog(store), events
    finally:
        await store.close()


async def test_reconcile_indexes_finds_gaps_and_is_idempotent(
    parts: tuple[Path, Store, Indexer, Catalog, EventLog],
) -> None:
    data, _store, indexer, catalog, events = parts
    cam = data / "recordings" / "cam"
    first = record_run(cam, start=T0, count=4)
    second = record_run(cam, start=first.end + timedelta(seconds=30), count=2)
    report = await indexer.reconcile()
    assert report.indexed == 6
    assert (await indexer.reconcile()).indexed == 0  # the path is the idempotency key
    window = (T0 - timedelta(minutes=1), second.end + timedelta(minutes=1))
    rows = await catalog.segments("cam", *window, limit=100)
    assert len(rows) == 6
    assert rows[0].codec == "h264"
    assert (rows[0].width, rows[0].height) == (320, 180)
    assert abs(rows[0].duration_s - 2.0) < 0.2
    assert rows[0].url == f"/media/recordings/cam/{first.segments[0].path.name}"
    for a, b in itertools.pairwise(rows):
        assert a.end_time <= b.start_time  # invariant 4: no overlap
    timeline = await catalog.timeline("cam", *window)
    assert len(timeline.ranges) == 2
    assert timeline.segment_count == 6
    assert abs(timeline.recorded_seconds - 12.0) < 1.0
    gaps = await catalog.gaps("cam", *window)
    assert gaps.gap_count == 1
    assert abs(gaps.gaps[0].seconds - 30.0) < 1.0
    logged = await events.list(event_type="recording_gap")
    assert len(logged) == 1


async def test_crash_leftovers_are_reconciled(
    parts: tuple[Path, Store, Indexer, Catalog, EventLog],
) -> None:
    data, store, indexer, _catalog, events = parts
    cam = data / "recordings" / "cam"
    run = record_run(cam, start=T0, count=3)
    await indexer.reconcile()
    # a torn file (ffmpeg killed mid-fragment) and a file with no video at all
    whole = run.segments[-1].path.read_bytes()
    torn = cam / f"{(run.end + timedelta(seconds=1)):%Y%m%d_%H%M%S}.mp4"
    torn.write_bytes(whole[: len(whole) * 2 // 3])
    junk = cam / f"{(run.end + timedelta(seconds=9)):%Y%m%d_%H%M%S}.mp4"
    junk.write_bytes(b"\x00" * 1000)
    # a row whose file vanished, and a deletion interrupted after its row was marked
    run.segments[0].path.unlink()
    async with store.read() as conn:
        known = await sql.all_paths(conn)
    marked = known[str(run.segments[1].path.relative_to(data))][0]
    async with store.write() as conn:
        await sql.mark_deleting(conn, [marked])
    report = await indexer.reconcile()
    assert report.indexed == 1  # the torn file, with its readable duration
    assert report.quarantined == 1
    assert report.rows_removed == 1
    assert report.deletions_finished == 1
    assert not run.segments[1].path.exists()
    assert (data / "quarantine" / "cam" / junk.name).exists()
    async with store.read() as conn:
        rows = {Path(r.path).name: r for r in await sql.all_rows(conn)}
    assert set(rows) == {run.segments[2].path.name, torn.name}
    assert 0 < rows[torn.name].duration_s < 2.0
    assert (await events.list(event_type="segment_quarantined"))[0].payload["file"] == junk.name


async def test_a_vanished_disk_does_not_empty_the_index(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    await store.migrate()
    events = EventLog(store, SystemClock())
    try:
        indexer = Indexer(store, events, SystemClock(), data, guard_min_rows=2)
        run = record_run(data / "recordings" / "cam", start=T0, count=4)
        assert (await indexer.reconcile()).indexed == 4
        moved = tmp_path / "unmounted"
        (data / "recordings").rename(moved)  # the disk is not mounted at start-up
        report = await indexer.reconcile()
        assert report.rows_removed == 0
        assert report.rows_kept_by_guard == 4
        async with store.read() as conn:
            assert len(await sql.all_rows(conn)) == 4
        [guard] = await events.list(event_type="index_guard")
        assert guard.severity == "critical"
        assert guard.payload["missing"] == 4
        moved.rename(data / "recordings")  # mounted again: nothing was lost
        assert (await indexer.reconcile()).rows_removed == 0
        assert all(s.path.exists() for s in run.segments)
        # one file really gone is a crash leftover, below the guard: its row goes
        run.segments[0].path.unlink()
        assert (await indexer.reconcile()).rows_removed == 1
    finally:
        await store.close()


async def test_repair_removes_rows_the_start_up_guard_kept(settings: Settings) -> None:
    data = settings.data_dir
    store = Store(settings.store_url)
    await store.migrate()
    events = EventLog(store, SystemClock())
    try:
        indexer = Indexer(store, events, SystemClock(), data, guard_min_rows=2)
        record_run(data / "recordings" / "cam", start=T0, count=4)
        await indexer.reconcile()
        shutil.rmtree(data / "recordings")  # really gone, and the operator says so
        assert (await indexer.reconcile()).rows_kept_by_guard == 4
    finally:
        await store.close()
    summary = await repair(settings)
    assert "removed 4 rows without files" in summary
    assert [r.ok for r in await run_checks(settings)] == [True] * len(CHECKS)
