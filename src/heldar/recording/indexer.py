"""`Indexer`: recorded files become `segments` rows; start-up reconciliation keeps disk and index
in agreement after any crash (docs/design/recording.md §Invariants 1, 2, 4).

- A closed file (the recorder's segment-closed signal, a promoted pre-roll file, or found by the
  scan) is probed with PyAV and inserted once (the path is the idempotency key). Its start comes
  from the recorder (run origin + ffmpeg's offset) or the file name; a start that would overlap
  the camera's previous segment is moved to that segment's end (invariant 4).
- A hole ≥ 2 s after the previous segment becomes a `gaps` row (the timeline is the complement
  of these rows, so it never reads every segment); a hole > 3 s is also a `recording_gap` event
  and is what `/gaps` reports.
- Reconciliation (before the recorder starts): files without rows are indexed, or moved to
  `quarantine/<camera>/` when they hold no readable video (reason logged and evented); rows
  without files are removed; rows marked `deleting` finish their deletion.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from heldar.clock import Clock
from heldar.events.log import EventLog
from heldar.recording import timeline
from heldar.recording.media import SegmentInfo, UnreadableSegment, probe_segment
from heldar.recording.naming import segment_start
from heldar.store import segments as sql
from heldar.store.engine import Store

log = logging.getLogger(__name__)

SCAN_INTERVAL_S = 60.0
GUARD_MIN_ROWS = 20
GUARD_MAX_SHARE = 0.5
"""Reconciliation keeps rows whose files are missing when more than this share of the index (and
more than `GUARD_MIN_ROWS` rows) would go at once: an unmounted or swapped disk, not a crash."""


@dataclass(frozen=True)
class ReconcileReport:
    indexed: int
    quarantined: int
    rows_removed: int
    deletions_finished: int
    rows_kept_by_guard: int = 0


@dataclass(frozen=True)
class Indexed:
    """A file that just became a `segments` row (told to `Indexer.subscribe` listeners)."""

    camera_id: str
    path: Path
    row_id: int
    info: SegmentInfo


IndexListener = Callable[[Indexed], Awaitable[None]]


class Indexer:
    name = "indexer"

    def __init__(
        self,
        store: Store,
        events: EventLog,
        clock: Clock,
        data_dir: Path,
        *,
        guard_min_rows: int = GUARD_MIN_ROWS,
    ) -> None:
        self._guard_min_rows = guard_min_rows
        self._store = store
        self._events = events
        self._clock = clock
        self._data_dir = data_dir
        self._recordings = data_dir / "recordings"
        self._lock = asyncio.Lock()
        self._listeners: list[IndexListener] = []

    def subscribe(self, listener: IndexListener) -> None:
        """Call `listener` after each new row (observed fps, warming the playback cache). A
        listener that fails is logged; indexing goes on."""
        self._listeners.append(listener)

    async def _tell(self, indexed: Indexed) -> None:
        for listener in self._listeners:
            try:
                await listener(indexed)
            except Exception:
                log.exception("index listener failed for %s", indexed.path.name)

    # -- service: the periodic safety net --------------------------------------------------------

    async def run(self) -> None:
        while True:
            await self._clock.sleep(SCAN_INTERVAL_S)
            await self.scan(include_newest=False)

    # -- indexing --------------------------------------------------------------------------------

    async def index(
        self,
        camera_id: str,
        path: Path,
        *,
        start: datetime | None = None,
        duration_s: float | None = None,
    ) -> int | None:
        """Index one closed file; returns the new row id, or None (already indexed/quarantined)."""
        try:
            info = await asyncio.to_thread(probe_segment, path)
        except UnreadableSegment as exc:
            await self._quarantine(camera_id, path, str(exc))
            return None
        except FileNotFoundError:
            return None
        async with self._lock:
            row_id = await self._insert(camera_id, path, info, start, duration_s)
        if row_id is not None:
            await self._tell(Indexed(camera_id, path, row_id, info))
        return row_id

    async def _insert(
        self,
        camera_id: str,
        path: Path,
        info: SegmentInfo,
        start: datetime | None,
        duration_s: float | None,
    ) -> int | None:
        start = start or segment_start(path.name) or self._clock.now()
        duration = info.duration_s if duration_s is None or duration_s <= 0 else duration_s
        relative = str(path.relative_to(self._data_dir))
        gap: timeline.Interval | None = None
        async with self._store.write() as conn:
            previous = await sql.previous_segment(conn, camera_id, start)
            if previous is not None and previous.path != relative:
                if previous.end_time > start:
                    start = previous.end_time  # never overlap the previous segment
                elif start - previous.end_time >= timeline.MERGE_TOLERANCE:
                    gap = timeline.Interval(previous.end_time, start)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                return None
            row_id = await sql.insert_segment(
                conn,
                {
                    "camera_id": camera_id,
                    "path": relative,
                    "start_time": start,
                    "end_time": start + timedelta(seconds=duration),
                    "duration_s": duration,
                    "codec": info.codec,
                    "width": info.width,
                    "height": info.height,
                    "size_bytes": size,
                    "locked": False,
                    "incident_id": None,
                    "deleting": False,
                    "created_at": self._clock.now(),
                },
            )
            if row_id is not None and gap is not None:
                await sql.insert_gap(conn, camera_id, gap.start, gap.end)
        if row_id is not None and gap is not None and gap.end - gap.start > timeline.GAP_THRESHOLD:
            await self._events.append(
                "recording_gap",
                camera_id=camera_id,
                severity="warning",
                payload={
                    "from": gap.start.isoformat(),
                    "to": gap.end.isoformat(),
                    "seconds": round(gap.seconds, 1),
                },
            )
        return row_id

    async def _quarantine(self, camera_id: str, path: Path, reason: str) -> None:
        target_dir = self._data_dir / "quarantine" / camera_id
        target_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, target_dir / path.name)
        except FileNotFoundError:
            return
        log.warning("quarantined %s/%s: %s", camera_id, path.name, reason)
        await self._events.append(
            "segment_quarantined",
            camera_id=camera_id,
            severity="warning",
            payload={"file": path.name, "reason": reason},
        )

    # -- reconciliation --------------------------------------------------------------------------

    async def reconcile(self) -> ReconcileReport:
        """Make disk and index agree. Run before the recorder starts (no file is being written)."""
        async with self._store.read() as conn:
            known = await sql.all_paths(conn)
        on_disk = await asyncio.to_thread(self._files_on_disk)  # one listing, not a stat per row
        rows_missing, finished = [], []
        for relative, (row_id, _size, deleting) in known.items():
            if deleting:
                (self._data_dir / relative).unlink(missing_ok=True)
                finished.append(row_id)
            elif relative not in on_disk:
                rows_missing.append((row_id, relative))
        kept = 0
        if self._implausible(len(rows_missing), len(known)):
            kept = len(rows_missing)
            await self._report_guard(kept, len(known))
            rows_missing = []
        for row_id, relative in rows_missing:
            log.warning("index row %d points at missing %s: removed", row_id, relative)
        async with self._store.write() as conn:
            await sql.delete_rows(conn, [row_id for row_id, _ in rows_missing] + finished)
        before = await self._quarantined_count()
        indexed = await self.scan(include_newest=True, known=set(known))
        report = ReconcileReport(
            indexed=indexed,
            quarantined=await self._quarantined_count() - before,
            rows_removed=len(rows_missing),
            deletions_finished=len(finished),
            rows_kept_by_guard=kept,
        )
        log.info("reconciled recordings: %s", report)
        return report

    def _implausible(self, missing: int, total: int) -> bool:
        return missing > self._guard_min_rows and missing > total * GUARD_MAX_SHARE

    async def _report_guard(self, missing: int, total: int) -> None:
        detail = (
            f"{missing} of {total} indexed segments have no file: is the recordings disk "
            f"mounted? Rows kept; `heldar check --repair` removes them once that is confirmed"
        )
        log.error("index guard: %s", detail)
        await self._events.append(
            "index_guard",
            severity="critical",
            payload={"missing": missing, "indexed": total, "detail": detail},
        )

    async def scan(self, *, include_newest: bool, known: set[str] | None = None) -> int:
        """Index every unindexed file (the newest per camera only with `include_newest`)."""
        if known is None:
            async with self._store.read() as conn:
                known = set(await sql.all_paths(conn))
        indexed = 0
        if not self._recordings.is_dir():
            return 0
        for camera_dir in sorted(p for p in self._recordings.iterdir() if p.is_dir()):
            files = sorted(camera_dir.glob("*.mp4"))
            if not include_newest:
                files = files[:-1]
            for path in files:
                if str(path.relative_to(self._data_dir)) in known:
                    continue
                if await self.index(camera_dir.name, path) is not None:
                    indexed += 1
        return indexed

    def _files_on_disk(self) -> set[str]:
        """Relative paths of every file under recordings/<camera>/ (blocking)."""
        found: set[str] = set()
        if not self._recordings.is_dir():
            return found
        for camera in os.scandir(self._recordings):
            if camera.is_dir():
                found.update(f"recordings/{camera.name}/{e.name}" for e in os.scandir(camera.path))
        return found

    async def _quarantined_count(self) -> int:
        root = self._data_dir / "quarantine"
        return sum(1 for _ in root.glob("*/*.mp4")) if root.is_dir() else 0
