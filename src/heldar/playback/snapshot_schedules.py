"""`SnapshotScheduler`: periodic stills of a camera, taken from its newest recording.

A schedule says "every `interval_seconds`, keep each still `keep_hours`". The service wakes when
the earliest schedule is due (or when schedules change), decodes the newest recorded frame
in-process (`PlaybackService.still`), writes it atomically (temporary name, then rename) under
`snapshots/<camera_id>/` and indexes it. A camera with no fresh footage gets no stale duplicate:
the schedule's `last_error` says why instead. Expired stills lose their row first and their file
second, so a crash in between leaves at most an unlisted file, never a listed one that is gone.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from datetime import datetime, timedelta
from pathlib import Path

from heldar.atomicfile import write_atomically
from heldar.clock import Clock
from heldar.errors import HeldarError, InvalidInput, NotFound
from heldar.playback.service import PlaybackService
from heldar.playback.snapshot_models import (
    SnapshotOut,
    SnapshotSchedule,
    SnapshotScheduleCreate,
    SnapshotScheduleUpdate,
)
from heldar.store import snapshots as sql
from heldar.store.cameras import get_camera, require_camera
from heldar.store.engine import Store

log = logging.getLogger(__name__)

MAX_SCHEDULES_PER_CAMERA = 16
EXPIRY_BATCH = 500
IDLE_WAKE_S = 60.0
"""Longest sleep: expiry runs at least this often even with nothing due."""
STALE_AFTER = timedelta(seconds=60)
"""A newest frame older than max(interval, this) is not fresh footage."""


class SnapshotScheduler:
    name = "snapshot-schedules"

    def __init__(
        self, store: Store, clock: Clock, data_dir: Path, playback: PlaybackService
    ) -> None:
        self._store = store
        self._clock = clock
        self._data_dir = data_dir
        self._root = data_dir / "snapshots"
        self._playback = playback
        self._woken = asyncio.Event()

    # -- schedules (CRUD) ------------------------------------------------------------------------

    async def list(self, camera_id: str) -> list[SnapshotSchedule]:
        async with self._store.read() as conn:
            await require_camera(conn, camera_id)
            return await sql.list_schedules(conn, camera_id)

    async def get(self, schedule_id: int) -> SnapshotSchedule:
        async with self._store.read() as conn:
            schedule = await sql.get_schedule(conn, schedule_id)
        if schedule is None:
            raise NotFound(
                f"snapshot schedule {schedule_id} not found", code="snapshot_schedule_not_found"
            )
        return schedule

    async def create(self, camera_id: str, body: SnapshotScheduleCreate) -> SnapshotSchedule:
        async with self._store.write() as conn:
            await require_camera(conn, camera_id)
            if len(await sql.list_schedules(conn, camera_id)) >= MAX_SCHEDULES_PER_CAMERA:
                raise InvalidInput(
                    f"a camera has at most {MAX_SCHEDULES_PER_CAMERA} snapshot schedules",
                    code="too_many_schedules",
                )
            schedule = await sql.insert_schedule(
                conn, camera_id, body.model_dump(), self._clock.now()
            )
        self._woken.set()
        return schedule

    async def update(self, schedule_id: int, body: SnapshotScheduleUpdate) -> SnapshotSchedule:
        changes = body.model_dump(exclude_unset=True)
        if any(v is None for v in changes.values()):
            raise InvalidInput("snapshot schedule fields may not be null", code="invalid_field")
        async with self._store.write() as conn:
            updated = await sql.update_schedule(
                conn, schedule_id, {**changes, "updated_at": self._clock.now()}
            )
        if updated is None:
            raise NotFound(
                f"snapshot schedule {schedule_id} not found", code="snapshot_schedule_not_found"
            )
        self._woken.set()
        return updated

    async def delete(self, schedule_id: int) -> None:
        """Delete the schedule; its stills stay until the orphan keep time expires them."""
        async with self._store.write() as conn:
            if not await sql.delete_schedule(conn, schedule_id):
                raise NotFound(
                    f"snapshot schedule {schedule_id} not found",
                    code="snapshot_schedule_not_found",
                )
        self._woken.set()

    # -- stills ----------------------------------------------------------------------------------

    async def snapshots(
        self, camera_id: str, start: datetime, end: datetime, limit: int
    ) -> builtins.list[SnapshotOut]:
        """Stored stills of a camera taken in [start, end], newest first."""
        async with self._store.read() as conn:
            await require_camera(conn, camera_id)
            rows = await sql.list_snapshots(conn, camera_id, start, end, limit)
        return [
            SnapshotOut(
                **{k: v for k, v in row.items() if k != "path"},
                url="/media/" + row["path"],
            )
            for row in rows
        ]

    async def take(self, schedule: SnapshotSchedule) -> SnapshotOut | None:
        """Take one still for `schedule` now; None (and `last_error` set) when it cannot."""
        now = self._clock.now()
        error: str | None = None
        out: SnapshotOut | None = None
        try:
            still = await self._playback.still(schedule.camera_id, None)
            fresh_after = now - max(STALE_AFTER, timedelta(seconds=schedule.interval_seconds))
            if still.frame_at < fresh_after:
                error = f"no recent footage (newest frame {still.frame_at.isoformat()})"
            else:
                name = f"{now:%Y%m%d_%H%M%S}_{schedule.id}.jpg"
                relative = f"snapshots/{schedule.camera_id}/{name}"
                await asyncio.to_thread(write_atomically, self._data_dir / relative, still.jpeg)
                values = {
                    "camera_id": schedule.camera_id,
                    "schedule_id": schedule.id,
                    "path": relative,
                    "taken_at": now,
                    "frame_at": still.frame_at,
                    "width": still.width,
                    "height": still.height,
                    "size_bytes": len(still.jpeg),
                }
                async with self._store.write() as conn:
                    snapshot_id = await sql.insert_snapshot(conn, values)
                out = SnapshotOut(
                    id=snapshot_id,
                    camera_id=schedule.camera_id,
                    schedule_id=schedule.id,
                    taken_at=now,
                    frame_at=still.frame_at,
                    width=still.width,
                    height=still.height,
                    size_bytes=len(still.jpeg),
                    url=f"/media/{relative}",
                )
        except HeldarError as exc:
            error = exc.detail
        async with self._store.write() as conn:
            await sql.update_schedule(
                conn,
                schedule.id,
                {"last_taken_at": now, "last_error": None if error is None else error[:300]},
            )
        if error is not None:
            log.info("snapshot schedule %d of %s: %s", schedule.id, schedule.camera_id, error)
        return out

    async def expire(self) -> int:
        """Delete stills past their keep time: rows first, then files. Returns how many."""
        removed = 0
        while True:
            async with self._store.write() as conn:
                paths = await sql.take_expired(conn, self._clock.now(), EXPIRY_BATCH)
            await asyncio.to_thread(self._unlink, paths)
            removed += len(paths)
            if len(paths) < EXPIRY_BATCH:
                return removed

    def _unlink(self, paths: builtins.list[str]) -> None:
        for relative in paths:
            path = self._data_dir / relative
            if path.parent.parent == self._root:
                path.unlink(missing_ok=True)

    async def camera_changed(self, camera_id: str) -> None:
        """`CameraRegistry.subscribe` listener: a deleted camera's stills go with it."""
        async with self._store.read() as conn:
            exists = await get_camera(conn, camera_id) is not None
        if not exists:
            await asyncio.to_thread(self._remove_camera_dir, camera_id)
        self._woken.set()

    def _remove_camera_dir(self, camera_id: str) -> None:
        directory = self._root / camera_id
        if directory.is_symlink() or not directory.is_dir():
            return
        for path in directory.iterdir():
            if path.suffix in (".jpg", ".tmp") and path.is_file():
                path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            directory.rmdir()

    # -- the service loop ------------------------------------------------------------------------

    async def tick(self) -> float:
        """Take every due still and expire old ones; seconds until the next one is due."""
        now = self._clock.now()
        async with self._store.read() as conn:
            schedules = [s for s in await sql.list_schedules(conn) if s.enabled]
        wait = IDLE_WAKE_S
        for schedule in schedules:
            due = _next_due(schedule)
            if due <= now:
                await self.take(schedule)
                due = now + timedelta(seconds=schedule.interval_seconds)
            wait = min(wait, (due - now).total_seconds())
        await self.expire()
        return max(wait, 0.0)

    async def run(self) -> None:
        while True:
            self._woken.clear()
            wait = await self.tick()
            sleeper = asyncio.ensure_future(self._clock.sleep(wait))
            woken = asyncio.ensure_future(self._woken.wait())
            try:
                await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                woken.cancel()
                await asyncio.gather(sleeper, woken, return_exceptions=True)


def _next_due(schedule: SnapshotSchedule) -> datetime:
    if schedule.last_taken_at is None:
        return schedule.created_at
    return schedule.last_taken_at + timedelta(seconds=schedule.interval_seconds)
