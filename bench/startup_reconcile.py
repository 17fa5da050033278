"""Start-up reconciliation of 100,000 indexed segments (target: under 10 s).

Creates N indexed segment files (empty files: everything is already indexed, so nothing is
probed — the common case after a clean restart) across 40 cameras, then times
`Indexer.reconcile()`. Baseline from the same run: the least any reconciliation must do — list
every file with `os.scandir` and read every indexed path with plain `sqlite3` — and the ratio.

    .venv/bin/python bench/startup_reconcile.py [--segments 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from heldar.clock import SystemClock
from heldar.events.log import EventLog
from heldar.recording.indexer import Indexer
from heldar.store.engine import Store

CAMERAS = 40
T0 = datetime(2026, 10, 1, tzinfo=UTC)
FMT = "%Y-%m-%d %H:%M:%S.%f"


def populate(data: Path, db_path: Path, total: int) -> None:
    per_camera = total // CAMERAS
    now = datetime.now(UTC).strftime(FMT)
    rows = []
    for c in range(CAMERAS):
        directory = data / "recordings" / f"cam{c:02d}"
        directory.mkdir(parents=True)
        for i in range(per_camera):
            start = T0 + timedelta(seconds=60 * i)
            name = f"{start:%Y%m%d_%H%M%S}.mp4"
            (directory / name).touch()
            rows.append(
                (
                    f"cam{c:02d}",
                    f"recordings/cam{c:02d}/{name}",
                    start.strftime(FMT),
                    (start + timedelta(seconds=60)).strftime(FMT),
                    60.0,
                    "h264",
                    1920,
                    1080,
                    0,
                    False,
                    None,
                    False,
                    now,
                )
            )
    db = sqlite3.connect(db_path)
    db.executemany(
        "INSERT INTO segments (camera_id, path, start_time, end_time, duration_s, codec, width, "
        "height, size_bytes, locked, incident_id, deleting, created_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.commit()
    db.close()


def baseline(data: Path, db_path: Path) -> float:
    started = time.perf_counter()
    names = [e.name for d in os.scandir(data / "recordings") for e in os.scandir(d.path)]
    db = sqlite3.connect(db_path)
    paths = {row[0] for row in db.execute("SELECT path FROM segments")}
    db.close()
    assert len(names) == len(paths)
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heldar-bench-") as tmp:
        data = Path(tmp) / "data"
        db_path = Path(tmp) / "heldar.db"
        store = Store(f"sqlite:///{db_path}")
        await store.migrate()
        populate(data, db_path, args.segments)
        base = baseline(data, db_path)
        indexer = Indexer(store, EventLog(store, SystemClock()), SystemClock(), data)
        started = time.perf_counter()
        report = await indexer.reconcile()
        took = time.perf_counter() - started
        await store.close()
        assert report.indexed == report.rows_removed == 0, report
        print(f"reconcile {args.segments:,} indexed segments: {took:.2f} s (target < 10 s)")
        print(f"baseline (scandir + SELECT path): {base:.2f} s; ratio {took / base:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
