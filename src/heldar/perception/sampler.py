"""`Sampler`: the supervisor of one stream's decoder child — the only code that spawns for it.

It runs the child for its current assignment (URL + budgeted fps and width), publishes every frame
into the `FrameStore`, judges health by frames (a silent child is killed), restarts with capped
backoff on every exit, and reports `sampler_offline` / `sampler_online` through an event sink.
Invariant: it never spawns before the previous child has been reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict

from heldar.cameras.vendors import StreamProfile
from heldar.clock import Clock, SystemClock
from heldar.logs import redact, register_secret
from heldar.perception.budget import Allocation, StreamKey
from heldar.perception.frames import FrameStore
from heldar.perception.process import DecoderOptions, DecoderProcess, Ended
from heldar.perception.records import FrameRecord
from heldar.supervisor import Backoff

log = logging.getLogger(__name__)

SamplerState = Literal["connecting", "sampling", "offline", "error", "stopped", "budget_exhausted"]
Outcome = Literal["changed", "exited"]
ERROR_REASONS = frozenset({"auth_failed", "bad_stream", "usage", "protocol_error", "spawn_failed"})


class SamplerStatus(BaseModel):
    """One row of `GET /api/v1/ai/samplers`."""

    model_config = ConfigDict(frozen=True)

    camera_id: str
    stream_profile: StreamProfile
    state: SamplerState
    fps: float
    width: int
    frames_total: int
    last_frame_at: datetime | None


class EventSink(Protocol):
    """Receives `sampler_offline` (warning) and `sampler_online` (info); `detail` is redacted."""

    async def __call__(self, kind: str, camera_id: str, detail: dict[str, object]) -> None: ...


@dataclass(frozen=True)
class SamplerConfig:
    """How samplers run their children (tests shorten the times)."""

    python: str = sys.executable
    mode: str = "auto"
    quality: int = 85
    stall_floor_s: float = 20.0
    stop_grace_s: float = 3.0
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class _Target:
    url: str = field(repr=False)
    fps: float
    width: int


class Sampler:
    """Owns one stream's decoder for as long as `run()` runs."""

    def __init__(
        self,
        key: StreamKey,
        *,
        frames: FrameStore,
        on_event: EventSink | None = None,
        config: SamplerConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.key = key
        self._frames = frames
        self._on_event = on_event
        self._config = config or SamplerConfig()
        self._clock = clock or SystemClock()
        self._allocation = Allocation(0.0, 0, "budget_exhausted")
        self._target: _Target | None = None
        self._state: SamplerState = "stopped"
        self._changed = asyncio.Event()
        self._first_frame = asyncio.Event()
        self._closing = False
        self._proc: DecoderProcess | None = None
        self._last_progress = 0.0
        self._reported_offline = False
        self.frames_total = 0
        self.last_frame_at: datetime | None = None
        self.last_error: str | None = None
        self.keyframes_only: bool | None = None
        self.gop_s: float | None = None
        self.spawns = 0

    # -- control (called by the manager) ---------------------------------------------------------

    def assign(self, url: str, allocation: Allocation) -> None:
        """Decode `url` as allocated; the child restarts only if URL, fps or width changed."""
        password = urlsplit(url).password
        if password:
            register_secret(unquote(password))
        self._allocation = allocation
        target = (
            _Target(url, allocation.fps, allocation.width) if allocation.state == "ok" else None
        )
        if target != self._target:
            self._target = target
            self._changed.set()

    def close(self) -> None:
        """Ask `run()` to stop its child and return."""
        self._closing = True
        self._changed.set()

    @property
    def state(self) -> SamplerState:
        return self._state

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def status(self) -> SamplerStatus:
        return SamplerStatus(
            camera_id=self.key.camera_id,
            stream_profile=self.key.stream_profile,
            state=self._state,
            fps=self._allocation.fps,
            width=self._allocation.width,
            frames_total=self.frames_total,
            last_frame_at=self.last_frame_at,
        )

    # -- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        delays = self._config.backoff.delays()
        try:
            while not self._closing:
                self._changed.clear()
                target = self._target
                if target is None:
                    self._state = "budget_exhausted"
                    await self._changed.wait()
                    continue
                started = self._clock.monotonic()
                try:
                    outcome = await self._run_once(target)
                except Exception:  # sampler boundary: never let one stream take the others down
                    log.exception("sampler %s failed", self.key)
                    self._state = "error"
                    outcome = "exited"
                if outcome == "changed":
                    continue
                delay = delays.after_run(self._clock.monotonic() - started)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), delay)
        finally:
            self._state = "stopped"

    async def _run_once(self, target: _Target) -> Outcome:
        options = DecoderOptions(
            target.fps, target.width, mode=self._config.mode, quality=self._config.quality
        )
        self._first_frame.clear()
        try:
            proc = await DecoderProcess.spawn(
                target.url,
                options,
                on_record=self._record,
                label=str(self.key),
                python=self._config.python,
            )
        except OSError as exc:
            await self._down("error", "spawn_failed", f"cannot start the decoder: {exc}", None)
            return "exited"
        self._proc = proc
        self.spawns += 1
        self._state = "connecting"
        self._last_progress = self._clock.monotonic()
        stall_limit = max(self._config.stall_floor_s, 3.0 / target.fps)
        exited = asyncio.ensure_future(proc.wait())
        changed = asyncio.ensure_future(self._changed.wait())
        first = asyncio.ensure_future(self._first_frame.wait())
        try:
            while True:
                wait_s = stall_limit - (self._clock.monotonic() - self._last_progress)
                pending = {exited, changed} | ({first} if not first.done() else set())
                done, _ = await asyncio.wait(
                    pending, timeout=max(0.1, wait_s), return_when="FIRST_COMPLETED"
                )
                if first in done and self._reported_offline:
                    self._reported_offline = False
                    await self._event("sampler_online", {"pid": proc.pid})
                if exited in done:
                    ended = exited.result()
                    await self._down_after(ended, ended.reason)
                    return "exited"
                if changed in done:
                    await proc.stop(grace_s=self._config.stop_grace_s)
                    return "changed"
                if self._clock.monotonic() - self._last_progress >= stall_limit:
                    proc.kill()
                    await self._down_after(await proc.wait(), "stalled")
                    return "exited"
        finally:
            changed.cancel()
            first.cancel()
            if proc.returncode is None:  # cancelled: the kernel is stopping
                await asyncio.shield(proc.stop(grace_s=self._config.stop_grace_s))
            await asyncio.shield(exited)
            self._proc = None

    def _record(self, record: FrameRecord) -> None:
        captured_at = datetime.fromtimestamp(record.captured_at, UTC)
        self._frames.publish(
            self.key,
            record.jpeg,
            captured_at=captured_at,
            width=record.width,
            height=record.height,
            keyframe=record.keyframe,
        )
        self.frames_total += 1
        self.last_frame_at = captured_at
        self.keyframes_only = record.keyframes_only
        self.gop_s = record.gop_s
        self._last_progress = self._clock.monotonic()
        if self._state != "sampling":
            self._state = "sampling"
            self.last_error = None
            self._first_frame.set()

    async def _down_after(self, ended: Ended, reason: str) -> None:
        error = f"no frame for {max(0.0, self._clock.monotonic() - self._last_progress):.0f} s"
        if reason != "stalled":
            error = ended.last_error
        state: SamplerState = "error" if reason in ERROR_REASONS else "offline"
        await self._down(state, reason, error, ended.returncode)

    async def _down(self, state: SamplerState, reason: str, error: str, code: int | None) -> None:
        self._state = state
        self.last_error = redact(error)
        log.warning("sampler %s: decoder ended (%s): %s", self.key, reason, self.last_error)
        if not self._reported_offline:
            self._reported_offline = True
            detail: dict[str, object] = {"reason": reason, "error": self.last_error}
            if code is not None:
                detail["exit_code"] = code
            await self._event("sampler_offline", detail)

    async def _event(self, kind: str, detail: dict[str, object]) -> None:
        if self._on_event is None:
            return
        payload: dict[str, object] = {"stream_profile": self.key.stream_profile}
        payload |= {k: redact(v) if isinstance(v, str) else v for k, v in detail.items()}
        try:
            await self._on_event(kind, self.key.camera_id, payload)
        except Exception:  # the sink is someone else's code: log it, keep sampling
            log.exception("event sink failed for %s %s", kind, self.key)
