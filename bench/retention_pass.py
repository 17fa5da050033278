"""Cost of one retention pass over a large index: ~1,000,000 segments (24 cameras x 30 days of
60 s) in SQLite, with the files absent (unlinking a missing file costs a failed syscall).

Times `Retention.prune()` when nothing is due, when one minute of every camera ages out, and
when the disk floor wants ~1 GB back, next to a baseline measured in the same run: the one
GROUP BY over every row that any pass must at least make, with the plain `sqlite3` module.

    .venv/bin/python bench/retention_pass.py [--cameras 24] [--days 30] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from heldar.cameras.models import CameraCreate
from heldar.cameras.registry import CameraRegistry
from heldar.events.log import EventLog
from heldar.recording.eviction import GB, RetentionSettings
from heldar.recording.retention import Retention
from heldar.secretbox import SecretBox
from heldar.store.engine import Store

T0 = datetime(2026, 10, 1, tzinfo=UTC)
SEGMENT_BYTES = 4_000_000


class SteppedClock:
    """Wall time the bench sets; monotonic follows it."""

    def __init__(self, now: datetime) -> None:
        self.wall = now

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.wall.timestamp()

    async def sleep(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)


def fill(path: Path, cameras: int, days: int) -> int:
    db = sqlite3.connect(path)
    stamp = "%Y-%m-%d %H:%M:%S.%f"
    created = T0.strftime(stamp)
    rows = 0
    for c in range(cameras):
        batch = []
        for i in range(days * 24 * 60):
            start = T0 + timedelta(seconds=60 * i)
            batch.append(
                (
                    f"cam{c:02d}",
                    f"recordings/cam{c:02d}/{start:%Y%m%d_%H%M%S}.mp4",
                    start.strftime(stamp),
                    (start + timedelta(seconds=60)).strftime(stamp),
                    60.0,
                    "h264",
                    1920,
                    1080,
                    SEGMENT_BYTES,
                    False,
                    None,
                    False,
                    created,
                )
            )
        db.executemany(
            "INSERT INTO segments (camera_id, path, start_time, end_time, duration_s, codec, "
            "width, height, size_bytes, locked, incident_id, deleting, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            batch,
        )
        rows += len(batch)
    db.commit()
    db.close()
    return rows


def baseline(path: Path) -> float:
    db = sqlite3.connect(path)
    started = time.perf_counter()
    db.execute(
        "SELECT camera_id, COUNT(*), SUM(size_bytes), MAX(start_time) FROM segments "
        "WHERE deleting = 0 GROUP BY camera_id"
    ).fetchall()
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


async def main(cameras: int, days: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        (data / "recordings").mkdir()
        db_path = data / "heldar.db"
        store = Store(f"sqlite:///{db_path}")
        await store.migrate()
        registry = CameraRegistry(store, SecretBox(None))
        for c in range(cameras):
            await registry.create(
                CameraCreate(
                    id=f"cam{c:02d}",
                    name=f"cam{c:02d}",
                    main_stream_url="rtsp://127.0.0.1:9/x",
                    retention_hours=days * 24 - 1,
                )
            )
        started = time.perf_counter()
        rows = fill(db_path, cameras, days)
        print(f"indexed {rows:,} rows in {time.perf_counter() - started:.1f} s")
        end = T0 + timedelta(days=days)
        clock = SteppedClock(end)  # the newest hour is not yet past retention
        free = {"bytes": 10**15}
        defaults = RetentionSettings(
            max_recordings_gb=None, min_free_disk_gb=0, guard_max_share=0.5, interval_s=60
        )
        retention = Retention(
            store,
            EventLog(store, clock),
            clock,
            data,
            defaults=defaults,
            free_bytes=lambda _path: free["bytes"],
        )
        await retention.prune()  # warm the page cache
        base = statistics.median(baseline(db_path) for _ in range(runs))
        print(f"baseline GROUP BY (sqlite3): {base * 1000:.0f} ms")

        async def timed(label: str, step: timedelta | None) -> None:
            times, deleted = [], 0
            for _ in range(runs):
                if step is not None:
                    clock.wall += step
                t = time.perf_counter()
                report = await retention.prune()
                times.append(time.perf_counter() - t)
                deleted += report.deleted
            median = statistics.median(times)
            print(
                f"{label:<34} median {median * 1000:7.0f} ms  max {max(times) * 1000:7.0f} ms  "
                f"{median / base:5.1f}x baseline  ({deleted / runs:.0f} deleted/pass)"
            )

        await timed("nothing due", None)
        await timed("1 min of every camera aged out", timedelta(minutes=1))
        await retention.update_settings(defaults.model_copy(update={"min_free_disk_gb": 100.0}))
        # every pass finds the disk 6 GB (1,500 segments) short of the floor plus its headroom
        free["bytes"] = 99 * GB
        await timed("disk floor ~6 GB short", None)
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=24)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.cameras, args.days, args.runs))
