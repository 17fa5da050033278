"""Timeline at scale: 1,000,000+ indexed segments (24 cameras x 30 days of 60 s) in SQLite.

Prints p50/p99 of `timeline` over 24 h and 30 days for one camera and of a `segments` page
(500 rows), each next to a baseline measured in the same run: reading every segment row of the
range with the plain `sqlite3` module (what a timeline built from segments must at least do),
and the ratio. Target: 30-day timeline for one camera under 50 ms p99.

    .venv/bin/python bench/timeline_scale.py [--cameras 24] [--days 30] [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from heldar.recording.catalog import Catalog
from heldar.store.engine import Store

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def fill(path: Path, cameras: int, days: int) -> int:
    """Insert the synthetic index with plain sqlite3 (the bench measures reads, not inserts)."""
    db = sqlite3.connect(path)
    per_camera = days * 24 * 60
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = 0
    for c in range(cameras):
        batch = []
        holes = []
        for i in range(per_camera):
            start = T0 + timedelta(seconds=60 * i)
            end = start + timedelta(seconds=60)
            if i % 1440 in range(700, 705):  # one 5-minute outage a day: the indexer's gap row
                if i % 1440 == 700:
                    holes.append(
                        (
                            f"cam{c:02d}",
                            start.strftime("%Y-%m-%d %H:%M:%S.%f"),
                            (start + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                            300.0,
                        )
                    )
                continue
            batch.append(
                (
                    f"cam{c:02d}",
                    f"recordings/cam{c:02d}/{start:%Y%m%d_%H%M%S}.mp4",
                    start.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    end.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    60.0,
                    "h264",
                    1920,
                    1080,
                    4_000_000,
                    False,
                    None,
                    False,
                    now,
                )
            )
        db.executemany(
            "INSERT INTO segments (camera_id, path, start_time, end_time, duration_s, codec, "
            "width, height, size_bytes, locked, incident_id, deleting, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            batch,
        )
        db.executemany(
            "INSERT INTO gaps (camera_id, start_time, end_time, seconds) VALUES (?,?,?,?)", holes
        )
        rows += len(batch)
    db.commit()
    db.close()
    return rows


async def timed(runs: int, job: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await job()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def raw(
    path: Path, start: datetime, end: datetime, limit: int | None = None
) -> list[tuple[str, str]]:
    db = sqlite3.connect(path)
    query = (
        "SELECT start_time, end_time FROM segments WHERE camera_id = ? AND end_time > ? "
        "AND start_time < ? AND deleting = 0 ORDER BY start_time"
    )
    if limit:
        query += f" LIMIT {int(limit)}"
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    rows = db.execute(query, ("cam00", start.strftime(fmt), end.strftime(fmt))).fetchall()
    db.close()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=24)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heldar-bench-") as tmp:
        path = Path(tmp) / "heldar.db"
        store = Store(f"sqlite:///{path}")
        await store.migrate()
        started = time.perf_counter()
        rows = fill(path, args.cameras, args.days)
        print(f"indexed {rows:,} segments in {time.perf_counter() - started:.1f} s")
        catalog = Catalog(store)
        day = (T0 + timedelta(days=args.days - 1), T0 + timedelta(days=args.days))
        month = (T0, T0 + timedelta(days=args.days))
        print(f"{'query':<28}{'p50 ms':>9}{'p99 ms':>9}{'baseline p99':>14}{'ratio':>7}")
        cases = [
            ("timeline 24 h", lambda: catalog.timeline("cam00", *day), lambda: raw(path, *day)),
            (
                "timeline 30 days",
                lambda: catalog.timeline("cam00", *month),
                lambda: raw(path, *month),
            ),
            (
                "segments page (500)",
                lambda: catalog.segments("cam00", *month, limit=500),
                lambda: raw(path, *month, limit=500),
            ),
        ]
        for name, ours, base in cases:
            p50, p99 = await timed(args.runs, ours)
            _b50, b99 = await timed(args.runs, lambda base=base: asyncio.to_thread(base))
            print(f"{name:<28}{p50:>9.1f}{p99:>9.1f}{b99:>14.1f}{p99 / b99:>7.2f}")
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
