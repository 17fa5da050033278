"""`RecorderManager`: one `CameraRecorder` per camera, kept in line with the registry, the
schedules and the trigger windows. It is the supervisor-owned service named `recorder`.

Reconcile is idempotent and cheap: it computes each camera's target and hands it over; a recorder
restarts its ffmpeg only when the target really differs. It runs at start, on every camera change
(`reconcile(id)`), and every `schedule_check_interval_s` (the schedule watcher).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from heldar.cameras.models import CameraRecord
from heldar.cameras.registry import CameraRegistry
from heldar.clock import Clock
from heldar.errors import HeldarError, NotFound
from heldar.events.log import EventLog
from heldar.events.models import Severity
from heldar.ffmpeg.process import stop_stale
from heldar.recording.indexer import Indexed, Indexer
from heldar.recording.models import (
    BUFFER_SEGMENT_SECONDS,
    CameraStatus,
    RecorderState,
    Schedule,
    SegmentClosed,
    Target,
    TriggerResult,
)
from heldar.recording.preroll import START_MARGIN, PreRollBuffer
from heldar.recording.recorder import CameraRecorder
from heldar.recording.schedules import is_active
from heldar.store import recording as sql
from heldar.store.engine import Store
from heldar.supervisor import Backoff

log = logging.getLogger(__name__)

STALE_WINDOW = timedelta(minutes=5)
"""An event window whose camera sent no segment past it is forgotten this long after its end
(normally the first buffer segment that closes past the window retires it)."""

EVENT_MODES = ("event", "scheduled_event")
MAX_POST_ROLL_S = 3600


@dataclass(frozen=True)
class RecorderConfig:
    data_dir: Path
    ffmpeg: str
    schedule_check_interval_s: float = 30.0
    stall_floor_s: float = 30.0
    stop_grace_s: float = 8.0
    backoff: Backoff = field(default_factory=Backoff)
    local_tz: tzinfo | None = None  # None: the server's local time zone
    mirror_dir: Path | None = None  # HELDAR_MIRROR_RECORDINGS_DIR


class RecorderManager:
    name = "recorder"

    def __init__(
        self,
        config: RecorderConfig,
        *,
        store: Store,
        cameras: CameraRegistry,
        events: EventLog,
        clock: Clock,
        indexer: Indexer | None = None,
    ) -> None:
        self._config = config
        self._indexer = indexer
        self._store = store
        self._cameras = cameras
        self._events = events
        self._clock = clock
        self._recorders: dict[str, CameraRecorder] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._windows: dict[str, datetime] = {}
        self._prerolls: dict[str, PreRollBuffer] = {}
        self._statuses: dict[str, CameraStatus] = {}
        self._mirrors: dict[str, Path] = {}
        self._group: asyncio.TaskGroup | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    # -- service ---------------------------------------------------------------------------------

    async def run(self) -> None:
        async with self._store.read() as conn:
            self._statuses = await sql.load_statuses(conn)
        await self._stop_stale_processes()
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                while True:
                    await self.reconcile_all()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), self._config.schedule_check_interval_s
                        )
                    self._wake.clear()
        finally:
            self._group = None
            self._recorders.clear()
            self._tasks.clear()

    # -- control ---------------------------------------------------------------------------------

    async def reconcile_all(self) -> None:
        async with self._lock:
            records = await self._cameras.list()
            async with self._store.read() as conn:
                schedules = await sql.list_schedules(conn)
            by_camera: dict[str, list[Schedule]] = {}
            for schedule in schedules:
                by_camera.setdefault(schedule.camera_id, []).append(schedule)
            seen = set()
            for record in records:
                seen.add(record.id)
                self._apply(record, by_camera.get(record.id, []))
            for camera_id in set(self._recorders) - seen:
                await self._remove(camera_id)
            now = self._clock.now()
            for camera_id, end in list(self._windows.items()):
                if end < now - STALE_WINDOW:  # its camera stopped sending segments
                    del self._windows[camera_id]

    async def reconcile(self, camera_id: str) -> None:
        """Bring one camera's recorder in line now (after create, update or delete)."""
        async with self._lock:
            try:
                record = await self._cameras.get(camera_id)
            except NotFound:
                await self._remove(camera_id)
                return
            async with self._store.read() as conn:
                schedules = await sql.list_schedules(conn, camera_id)
            self._apply(record, schedules)

    def wake(self) -> None:
        """Re-evaluate every camera soon (e.g. after a schedule change)."""
        self._wake.set()

    async def trigger(self, camera_id: str, reason: str = "api") -> TriggerResult:
        """Open or extend the camera's event window to now + post_roll; never shortens it."""
        record = await self._cameras.get(camera_id)
        active = record.enabled and record.record_enabled and record.record_mode in EVENT_MODES
        if not active:
            return TriggerResult(
                camera_id=camera_id,
                triggered=False,
                window_end=self._windows.get(camera_id),
                pre_roll_seconds=record.pre_roll_seconds,
                post_roll_seconds=record.post_roll_seconds,
            )
        now = self._clock.now()
        post = min(max(record.post_roll_seconds, 0), MAX_POST_ROLL_S)
        previous = self._windows.get(camera_id)
        end = (
            max(previous, now + timedelta(seconds=post))
            if previous
            else now + timedelta(seconds=post)
        )
        self._windows[camera_id] = end
        preroll = self._prerolls.get(camera_id)
        if preroll is not None:
            promoted = preroll.promote(since=now - timedelta(seconds=record.pre_roll_seconds))
            await self._promoted(camera_id, promoted)
        if previous is None or previous < now:
            await self._events.append(
                "trigger",
                camera_id=camera_id,
                payload={"reason": reason[:200], "window_end": end.isoformat()},
            )
        return TriggerResult(
            camera_id=camera_id,
            triggered=True,
            window_end=end,
            pre_roll_seconds=record.pre_roll_seconds,
            post_roll_seconds=post,
        )

    def status(self, camera_id: str) -> CameraStatus:
        recorder = self._recorders.get(camera_id)
        if recorder is not None:
            return recorder.status
        return self._statuses.get(camera_id, CameraStatus())

    def recorder(self, camera_id: str) -> CameraRecorder | None:
        return self._recorders.get(camera_id)

    async def segment_indexed(self, indexed: Indexed) -> None:
        """`Indexer.subscribe` listener: the frame rate a closed segment really holds."""
        recorder = self._recorders.get(indexed.camera_id)
        fps = indexed.info.fps
        if recorder is not None and fps is not None:
            await recorder.observed(fps=fps)

    # -- RecorderHooks ---------------------------------------------------------------------------

    async def status_changed(self, camera_id: str, status: CameraStatus) -> None:
        self._statuses[camera_id] = status
        try:
            async with self._store.write() as conn:
                await sql.save_status(conn, camera_id, status, self._clock.now())
        except HeldarError as exc:  # a busy store must not stop a recorder
            log.warning("camera %s: status not saved: %s", camera_id, exc.detail)

    async def event(
        self, camera_id: str, event_type: str, severity: Severity, payload: dict[str, object]
    ) -> None:
        try:
            await self._events.append(
                event_type, camera_id=camera_id, severity=severity, payload=payload
            )
        except HeldarError as exc:
            log.warning("camera %s: event %s not saved: %s", camera_id, event_type, exc.detail)

    async def segment_closed(self, segment: SegmentClosed) -> None:
        if segment.kind != "buffer":
            if self._indexer is not None:
                await self._indexer.index(
                    segment.camera_id,
                    segment.path,
                    start=segment.start,
                    duration_s=segment.duration_s,
                )
            return
        preroll = self._prerolls.get(segment.camera_id)
        if preroll is None:
            return
        window_end = self._windows.get(segment.camera_id)
        promoted = preroll.closed(segment, window_end=window_end)
        if window_end is not None and segment.start >= window_end + START_MARGIN:
            # The first segment past the window has closed: nothing later belongs to it. (Not
            # retired by wall time alone: under load this close can arrive seconds late, and
            # the segment holding the window's end must still find the window.)
            del self._windows[segment.camera_id]
        await self._promoted(segment.camera_id, promoted)

    # -- internals -------------------------------------------------------------------------------

    def _apply(self, record: CameraRecord, schedules: list[Schedule]) -> None:
        try:
            target, idle_state = self._desired(record, schedules)
        except HeldarError as exc:  # e.g. a sealed password without HELDAR_SECRET_KEY
            log.error(  # noqa: TRY400 - expected, the detail says it all
                "camera %s cannot record: %s", record.id, exc.detail
            )
            target, idle_state = None, "error"
        recorder = self._recorders.get(record.id)
        if recorder is None:
            if self._group is None:
                return
            recorder = CameraRecorder(
                record.id,
                ffmpeg=self._config.ffmpeg,
                hooks=self,
                clock=self._clock,
                pid_file=self._run_dir() / f"{record.id}.pid",
                backoff=self._config.backoff,
                stall_floor_s=self._config.stall_floor_s,
                stop_grace_s=self._config.stop_grace_s,
                initial=self._statuses.get(record.id),
            )
            self._recorders[record.id] = recorder
            self._tasks[record.id] = self._group.create_task(
                recorder.run(), name=f"recorder-{record.id}"
            )
        self._sync_preroll(record, target)
        mirror = self._mirror_dir(record)
        if mirror is None:
            self._mirrors.pop(record.id, None)
        else:
            self._mirrors[record.id] = mirror
        recorder.set_target(target, idle_state=idle_state)

    def _desired(
        self, record: CameraRecord, schedules: list[Schedule]
    ) -> tuple[Target | None, RecorderState]:
        if not (record.enabled and record.record_enabled):
            return None, "disabled"
        mode = record.record_mode
        in_window = False
        if mode in ("scheduled", "scheduled_event"):
            local = self._clock.now().astimezone(self._config.local_tz)
            in_window = is_active(schedules, local)
        if mode == "continuous" or in_window:
            return self._target(record, "record"), "idle"
        if mode == "scheduled":
            return None, "idle"
        return self._target(record, "buffer"), "idle"

    def _target(self, record: CameraRecord, kind: str) -> Target:
        profile = record.record_stream
        if kind == "record":
            out_dir = self._config.data_dir / "recordings" / record.id
            seconds = record.segment_seconds
        else:
            out_dir = self._config.data_dir / "buffer" / record.id
            seconds = BUFFER_SEGMENT_SECONDS
        return Target(
            kind="record" if kind == "record" else "buffer",
            out_dir=out_dir,
            segment_seconds=seconds,
            record_audio=record.record_audio,
            profile=profile,
            url=self._cameras.spawn_url(record, profile),
            mirror_dir=self._mirror_dir(record) if kind == "record" else None,
        )

    def _mirror_dir(self, record: CameraRecord) -> Path | None:
        if self._config.mirror_dir is None or not record.mirror_enabled:
            return None
        return self._config.mirror_dir / record.id

    async def _promoted(self, camera_id: str, paths: list[Path]) -> None:
        """Pre-roll files just moved into recordings/: index and mirror them."""
        for path in paths:
            log.info("camera %s: promoted %s", camera_id, path.name)
            if self._indexer is not None:
                await self._indexer.index(camera_id, path)
        await self._mirror(camera_id, paths)

    async def _mirror(self, camera_id: str, paths: list[Path]) -> None:
        """Copy promoted pre-roll segments to the mirror (ffmpeg mirrors only what it records)."""
        mirror = self._mirrors.get(camera_id)
        if mirror is None or not paths:
            return
        for path in paths:
            try:
                await asyncio.to_thread(_copy_into, path, mirror)
            except OSError as exc:  # a failing mirror volume never affects the primary
                log.warning("camera %s: mirror copy of %s failed: %s", camera_id, path.name, exc)

    def _sync_preroll(self, record: CameraRecord, target: Target | None) -> None:
        if target is None or target.kind != "buffer":
            return
        current = self._prerolls.get(record.id)
        wanted = record.pre_roll_seconds
        if current is not None and current.pre_roll == timedelta(seconds=wanted):
            return
        buffer = PreRollBuffer(
            target.out_dir, self._config.data_dir / "recordings" / record.id, wanted
        )
        target.out_dir.mkdir(parents=True, exist_ok=True)
        deleted = buffer.recover(self._clock.now())
        if deleted:
            log.info("camera %s: dropped %d stale buffer segments", record.id, deleted)
        self._prerolls[record.id] = buffer

    async def _remove(self, camera_id: str) -> None:
        """Stop the camera's recorder and wait until its ffmpeg has been reaped."""
        task = self._tasks.pop(camera_id, None)
        self._recorders.pop(camera_id, None)
        self._prerolls.pop(camera_id, None)
        self._windows.pop(camera_id, None)
        self._statuses.pop(camera_id, None)
        self._mirrors.pop(camera_id, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _run_dir(self) -> Path:
        path = self._config.data_dir / "run"
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def _stop_stale_processes(self) -> None:
        for pid_file in self._run_dir().glob("*.pid"):
            camera_id = pid_file.stem
            try:
                pid = int(pid_file.read_text().strip())
            except ValueError:
                pid_file.unlink(missing_ok=True)
                continue
            marker = f"/{camera_id}/%Y%m%d_%H%M%S"
            if await stop_stale(pid, must_contain=marker, grace_s=self._config.stop_grace_s):
                await self.event(camera_id, "recorder_stale_stopped", "warning", {"pid": pid})
            pid_file.unlink(missing_ok=True)


def _copy_into(path: Path, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{path.name}.partial"
    shutil.copyfile(path, partial)
    os.replace(partial, directory / path.name)
