"""`CameraRecorder`: the supervisor of one camera's ffmpeg — the only code that spawns for it.

It runs the current `Target` (record into recordings/ or buffer into buffer/), judges health by
closed segments, restarts with capped backoff on every exit (status 0 included), kills a stalled
process, and stops politely on a target change or cancellation. Invariant: it never spawns before
the previous process has been reaped, so one camera never has two ffmpeg.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from heldar.clock import Clock
from heldar.events.models import Severity
from heldar.ffmpeg.args import record_argv
from heldar.ffmpeg.process import Exit, FfmpegProcess
from heldar.recording.models import CameraStatus, RecorderState, SegmentClosed, Target
from heldar.recording.naming import newest_segment_start, segment_start
from heldar.supervisor import Backoff

log = logging.getLogger(__name__)

Outcome = Literal["changed", "exited", "stalled"]
POLL_S = 0.5


class RecorderHooks(Protocol):
    """What a recorder reports to its manager."""

    async def status_changed(self, camera_id: str, status: CameraStatus) -> None: ...

    async def event(
        self, camera_id: str, event_type: str, severity: Severity, payload: dict[str, object]
    ) -> None: ...

    async def segment_closed(self, segment: SegmentClosed) -> None: ...


class CameraRecorder:
    """Owns one camera's ffmpeg for as long as `run()` runs."""

    def __init__(
        self,
        camera_id: str,
        *,
        ffmpeg: str,
        hooks: RecorderHooks,
        clock: Clock,
        pid_file: Path,
        backoff: Backoff | None = None,
        stall_floor_s: float = 30.0,
        stop_grace_s: float = 8.0,
        initial: CameraStatus | None = None,
    ) -> None:
        self.camera_id = camera_id
        self._ffmpeg = ffmpeg
        self._hooks = hooks
        self._clock = clock
        self._pid_file = pid_file
        self._backoff = backoff or Backoff()
        self._stall_floor_s = stall_floor_s
        self._stop_grace_s = stop_grace_s
        self.status = (initial or CameraStatus()).model_copy(
            update={"state": "unknown", "pid": None}
        )
        self._target: Target | None = None
        self._idle_state: RecorderState = "disabled"
        self._changed = asyncio.Event()
        self._proc: FfmpegProcess | None = None
        self._last_progress = 0.0
        self._run_origin: datetime | None = None
        self._reported: set[str] = set()  # names this run's ffmpeg reported closed
        self.spawns = 0

    # -- control (called by the manager) ---------------------------------------------------------

    @property
    def target(self) -> Target | None:
        return self._target

    def set_target(self, target: Target | None, *, idle_state: RecorderState = "disabled") -> None:
        """Ask for a new target; a running ffmpeg is restarted only if the target differs."""
        self._idle_state = idle_state
        if target != self._target:
            self._target = target
            self._changed.set()
        elif target is None and self.status.state != idle_state:
            self._changed.set()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    # -- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        delays = self._backoff.delays()
        try:
            while True:
                self._changed.clear()
                target = self._target
                if target is None:
                    await self._update(state=self._idle_state, pid=None)
                    await self._changed.wait()
                    continue
                started = self._clock.monotonic()
                outcome = await self._run_once(target)
                if outcome == "changed":
                    continue
                delay = delays.after_run(self._clock.monotonic() - started)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), delay)
        finally:
            await self._stop_current()

    async def _run_once(self, target: Target) -> Outcome:
        target.out_dir.mkdir(parents=True, exist_ok=True)
        if target.mirror_dir is not None:
            try:
                target.mirror_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # ffmpeg ignores a failing mirror; say why it is missing
                log.warning(
                    "camera %s: mirror %s unavailable: %s", self.camera_id, target.mirror_dir, exc
                )
        suffix = ""
        newest = newest_segment_start(target.out_dir)
        if newest is not None and newest >= self._clock.now().replace(microsecond=0):
            # The wall clock is behind an existing name: a suffix makes overwriting impossible.
            suffix = "-" + secrets.token_hex(4)
            await self._event(
                "clock_went_backwards", "warning", {"newest_segment": newest.isoformat()}
            )
        argv = record_argv(
            self._ffmpeg,
            url=target.url,
            out_dir=target.out_dir,
            segment_seconds=target.segment_seconds,
            record_audio=target.record_audio,
            name_suffix=suffix,
            mirror_dir=target.mirror_dir,
        )
        spawned_at = self._clock.now()
        before = {p.name for p in target.out_dir.glob("*.mp4")}
        try:
            proc = await FfmpegProcess.spawn(
                argv,
                env={"TZ": "UTC"},
                on_stdout_line=lambda line: self._segment_line(target, line),
            )
        except OSError as exc:
            await self._update(state="error", pid=None, last_error=f"cannot start ffmpeg: {exc}")
            await self._event(
                "recorder_error", "critical", {"error": f"cannot start ffmpeg: {exc}"}
            )
            return "exited"
        self._proc = proc
        self._run_origin = None
        self._reported = set()
        self.spawns += 1
        self._pid_file.write_text(f"{proc.pid}\n")
        self._last_progress = self._clock.monotonic()
        await self._update(state="connecting", pid=proc.pid)
        stall_limit = max(3 * target.segment_seconds, self._stall_floor_s)
        exited = asyncio.ensure_future(proc.wait())
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            while True:
                # Poll while connecting (waiting for the first file); afterwards wake only
                # when the stall deadline could have passed: idle cameras cost no CPU.
                quiet_for = self._clock.monotonic() - self._last_progress
                timeout = (
                    POLL_S
                    if self.status.state == "connecting"
                    else stall_limit - quiet_for + POLL_S
                )
                done, _ = await asyncio.wait(
                    {exited, changed}, timeout=max(POLL_S, timeout), return_when="FIRST_COMPLETED"
                )
                if exited in done:
                    await self._exited(exited.result())
                    return "exited"
                if changed in done:
                    await proc.stop(grace_s=self._stop_grace_s)
                    return "changed"
                if self.status.state == "connecting" and self._has_new_file(target, before):
                    await self._recording(target)
                if self._clock.monotonic() - self._last_progress > stall_limit:
                    proc.kill()
                    await proc.wait()
                    message = f"no new segment for {stall_limit:.0f} s; ffmpeg killed"
                    await self._update(state="error", pid=None, last_error=message)
                    await self._event("recorder_stalled", "warning", {"stall_seconds": stall_limit})
                    return "stalled"
        finally:
            changed.cancel()
            if not exited.done():
                await proc.stop(grace_s=self._stop_grace_s)
            await asyncio.gather(exited, changed, return_exceptions=True)
            self._proc = None
            self._pid_file.unlink(missing_ok=True)
            await self._hand_over_leftovers(target, before)
            log.debug("camera %s: ffmpeg run started at %s ended", self.camera_id, spawned_at)

    async def _exited(self, result: Exit) -> None:
        reconnects = self.status.reconnects + 1
        reason = result.stderr_tail[-2000:] or f"ffmpeg exited with status {result.returncode}"
        await self._update(state="offline", pid=None, last_error=reason, reconnects=reconnects)
        await self._event(
            "camera_offline",
            "warning",
            {"returncode": result.returncode, "last_error": reason, "reconnects": reconnects},
        )

    async def _stop_current(self) -> None:
        proc = self._proc
        if proc is not None:
            await asyncio.shield(proc.stop(grace_s=self._stop_grace_s))

    # -- progress --------------------------------------------------------------------------------

    async def _segment_line(self, target: Target, line: str) -> None:
        """`name,start,end` from `-segment_list pipe:1`: a segment is closed."""
        parts = line.rsplit(",", 2)
        if len(parts) != 3:
            return
        name, start_s, end_s = parts
        try:
            duration = max(0.0, float(end_s) - float(start_s))
        except ValueError:
            return
        path = target.out_dir / Path(name).name
        self._reported.add(path.name)
        offset = float(start_s)
        if self._run_origin is None:
            # The first name of a run anchors it; ffmpeg's offsets are continuous within a run,
            # so segment starts never drift or overlap (names only have 1 s resolution).
            named = segment_start(path.name) or self._clock.now()
            self._run_origin = named - timedelta(seconds=offset)
        start = self._run_origin + timedelta(seconds=offset)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        self._last_progress = self._clock.monotonic()
        if self.status.state == "connecting":
            await self._recording(target)
        bitrate = round(size * 8 / duration / 1000, 1) if duration > 0 else None
        await self._update(
            last_segment_at=self._clock.now(),
            segments_written=self.status.segments_written + 1,
            bitrate_kbps=bitrate,
        )
        await self._hooks.segment_closed(
            SegmentClosed(self.camera_id, path, target.kind, start, duration, size)
        )

    async def _hand_over_leftovers(self, target: Target, before: set[str]) -> None:
        """Files this run created but never reported closed (ffmpeg ended before its first
        fragment, or was killed): the manager still gets them, so the indexer can index or
        quarantine them — invariant 2 leaves no file unaccounted for."""
        for path in sorted(target.out_dir.glob("*.mp4")):
            if path.name in before or path.name in self._reported:
                continue
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            start = segment_start(path.name) or self._clock.now()
            await self._hooks.segment_closed(
                SegmentClosed(self.camera_id, path, target.kind, start, 0.0, size)
            )

    async def _recording(self, target: Target) -> None:
        """connecting -> recording, once per run: media is flowing into a file."""
        await self._update(state="recording", last_error=None)
        await self._event("recording_started", "info", {"kind": target.kind})

    @staticmethod
    def _has_new_file(target: Target, before: set[str]) -> bool:
        return any(p.name not in before for p in target.out_dir.glob("*.mp4"))

    # -- reporting -------------------------------------------------------------------------------

    async def observed(self, *, fps: float) -> None:
        """The frame rate the indexer measured in this camera's newest closed segment."""
        await self._update(fps_observed=fps)

    async def _update(self, **changes: object) -> None:
        new = self.status.model_copy(update=changes)
        if new != self.status:
            self.status = new
            await self._hooks.status_changed(self.camera_id, new)

    async def _event(self, event_type: str, severity: Severity, payload: dict[str, object]) -> None:
        await self._hooks.event(self.camera_id, event_type, severity, payload)
