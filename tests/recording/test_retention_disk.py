"""A really full disk: a 20 MB tmpfs as the data directory, segments written into it like the
recorder writes them, retention on the real free space. Writes never fail, evidence-locked
segments survive, and the store and the index stay consistent."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from heldar.cameras.models import CameraCreate
from heldar.cameras.registry import CameraRegistry
from heldar.check import check_files_indexed, check_no_overlap, check_segment_files, run_checks
from heldar.events.log import EventLog
from heldar.ffmpeg.args import SEGMENT_NAME
from heldar.recording.eviction import GB, RetentionSettings
from heldar.recording.evidence import Evidence
from heldar.recording.indexer import Indexer
from heldar.recording.retention import Retention
from heldar.secretbox import SecretBox
from heldar.settings import Settings
from heldar.store import segments as segment_sql
from heldar.store.engine import Store
from tests.support.clock import FakeClock
from tests.support.recordings import T0, record_run

TMPFS_BYTES = 20 * 1024 * 1024
FLOOR_BYTES = 6 * 1024 * 1024


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0700", "tmpfs", str(mount)],
            check=True,
            capture_output=True,
            timeout=10,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, timeout=10)


async def test_retention_keeps_a_full_disk_writable(tmp_path: Path, tmpfs: Path) -> None:
    sources = record_run(tmp_path / "src", start=T0, count=6, size="640x360").segments
    data = tmpfs / "data"
    recordings = data / "recordings" / "cam"
    recordings.mkdir(parents=True)
    url = f"sqlite:///{data / 'heldar.db'}"
    store = Store(url)
    await store.migrate()
    clock = FakeClock(T0)
    events = EventLog(store, clock)
    indexer = Indexer(store, events, clock, data)
    evidence = Evidence(store)
    await CameraRegistry(store, SecretBox(None)).create(
        CameraCreate(id="cam", name="cam", main_stream_url="rtsp://127.0.0.1:9/x")
    )
    retention = Retention(
        store,
        events,
        clock,
        data,
        defaults=RetentionSettings(
            max_recordings_gb=None,
            min_free_disk_gb=FLOOR_BYTES / GB,
            guard_max_share=0.5,
            interval_s=60,
        ),
    )
    written = 0
    free_after_tick = []
    locked: list[Path] = []
    try:
        for i in range(150):  # ≈ 45 MB through a 20 MB disk
            start = T0 + timedelta(seconds=2 * i)
            path = recordings / f"{start.strftime(SEGMENT_NAME)}.mp4"
            payload = sources[i % len(sources)].path.read_bytes()
            try:
                path.write_bytes(payload)  # what ffmpeg does; ENOSPC would fail the recording
            except OSError as exc:
                pytest.fail(f"segment {i} could not be written ({exc}); {written} bytes in")
            written += len(payload)
            row_id = await indexer.index("cam", path, start=start, duration_s=2.0)
            assert row_id is not None
            if i in (3, 7):  # evidence of an incident, early in the recording
                await evidence.lock(row_id, "inc-1")
                locked.append(path)
            clock.advance(2)
            await retention.tick()
            free_after_tick.append(shutil.disk_usage(data).free)
        assert written > 2 * TMPFS_BYTES  # the disk would have been full twice over
        assert min(free_after_tick) >= FLOOR_BYTES  # every tick restored the floor
        assert all(path.is_file() for path in locked)  # evidence survived
        async with store.read() as conn:
            rows = await segment_sql.all_rows(conn)
        assert [r.locked for r in rows[:2]] == [True, True]
        assert 20 < len(rows) < 150
        assert rows[2].path.endswith(  # the oldest unlocked left is the one after the last pruned
            min((p for p in recordings.glob("*.mp4") if p not in locked), key=lambda p: p.name).name
        )
        pruned = await events.list(event_type="retention_pruned", limit=1000)
        assert pruned and all(e.payload["reasons"] == ["disk"] for e in pruned)
        assert not await events.list(event_type="retention_guard")
        settings = Settings(data_dir=data, database_url=url)
        for result in await run_checks(
            settings, (check_segment_files, check_files_indexed, check_no_overlap)
        ):
            assert result.ok, result
    finally:
        await store.close()
    with sqlite3.connect(data / "heldar.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
