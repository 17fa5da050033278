"""Camera health judged by progress, and the readiness quorum.

A camera's health is the recorder's status plus one judgement the recorder does not make for the
API: a camera that says `recording` but has written no new segment for
max(3 × segment_seconds, 30 s) is *stale* and shown as `error` (issue 8). `HealthWatch` (a
supervised service) evaluates every camera once a second on the injected clock and tells its
listeners (MQTT availability) when a camera goes online or offline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from heldar.cameras.models import CameraRecord
from heldar.cameras.registry import CameraRegistry
from heldar.clock import Clock
from heldar.errors import NotFound
from heldar.logs import redact
from heldar.recording.manager import RecorderManager
from heldar.recording.models import CameraStatus, RecorderState

log = logging.getLogger(__name__)

STALE_FLOOR_S = 30.0
POLL_S = 1.0

AvailabilityListener = Callable[[str, bool | None], None]


def stale_after_s(segment_seconds: int) -> float:
    return max(3.0 * segment_seconds, STALE_FLOOR_S)


class CameraHealth(BaseModel):
    """`GET /health/cameras` row and `GET /cameras/{id}/health`."""

    camera_id: str
    name: str
    enabled: bool
    record_enabled: bool
    record_mode: str
    state: RecorderState = Field(description="The recorder's state; `error` when stale.")
    online: bool = Field(description="Recording and not stale.")
    stale: bool = Field(description="`recording` without a new segment for stale_after_s.")
    stale_after_s: float
    expected_to_record: bool = Field(description="Counts toward the /readyz quorum.")
    last_segment_at: datetime | None
    last_segment_age_s: float | None
    segments_written: int
    reconnects: int
    bitrate_kbps: float | None
    fps_observed: float | None
    last_error: str | None = Field(description="Redacted: never a credential.")


def judge(
    record: CameraRecord,
    status: CameraStatus,
    now: datetime,
    recording_since: datetime | None,
) -> CameraHealth:
    """The health of one camera at `now` (pure)."""
    limit = stale_after_s(record.segment_seconds)
    progress = status.last_segment_at
    if recording_since is not None and (progress is None or recording_since > progress):
        progress = recording_since
    stale = (
        status.state == "recording"
        and progress is not None
        and (now - progress).total_seconds() > limit
    )
    state: RecorderState = "error" if stale else status.state
    last_error = status.last_error
    if stale and not last_error:
        last_error = f"no new segment for more than {limit:.0f} s"
    age = (
        max(0.0, (now - status.last_segment_at).total_seconds())
        if status.last_segment_at is not None
        else None
    )
    expected = (
        record.enabled
        and record.record_enabled
        and not (record.record_mode == "scheduled" and status.state in ("idle", "unknown"))
        and status.state not in ("disabled", "idle")
    )
    return CameraHealth(
        camera_id=record.id,
        name=record.name,
        enabled=record.enabled,
        record_enabled=record.record_enabled,
        record_mode=record.record_mode,
        state=state,
        online=state == "recording",
        stale=stale,
        stale_after_s=limit,
        expected_to_record=expected,
        last_segment_at=status.last_segment_at,
        last_segment_age_s=age,
        segments_written=status.segments_written,
        reconnects=status.reconnects,
        bitrate_kbps=status.bitrate_kbps,
        fps_observed=status.fps_observed,
        last_error=redact(last_error) if last_error else None,
    )


class Readiness(BaseModel):
    """The quorum part of `/readyz`."""

    ready: bool
    reason: str | None
    recording_pct: float | None
    required_pct: float | None


def quorum(healths: list[CameraHealth], required_pct: float | None) -> Readiness:
    """Ready unless `required_pct` is set and fewer of the cameras expected to record do."""
    expected = [h for h in healths if h.expected_to_record]
    pct = 100.0 * sum(h.online for h in expected) / len(expected) if expected else 100.0
    pct = round(pct, 1)
    if required_pct is not None and pct < required_pct:
        return Readiness(
            ready=False,
            reason=f"{pct:g} % of the cameras expected to record are recording",
            recording_pct=pct,
            required_pct=required_pct,
        )
    return Readiness(ready=True, reason=None, recording_pct=pct, required_pct=required_pct)


class HealthWatch:
    """Camera health on demand, and a 1 s watch that reports availability changes."""

    name = "camera-health"

    def __init__(
        self,
        cameras: CameraRegistry,
        recorder: RecorderManager,
        clock: Clock,
        *,
        poll_s: float = POLL_S,
    ) -> None:
        self._cameras = cameras
        self._recorder = recorder
        self._clock = clock
        self._poll_s = poll_s
        self._records: dict[str, CameraRecord] | None = None
        self._recording_since: dict[str, datetime] = {}
        self._online: dict[str, bool] = {}
        self._listeners: list[AvailabilityListener] = []

    def subscribe(self, listener: AvailabilityListener) -> None:
        """`listener(camera_id, online)` on every change; online=None when a camera is gone."""
        self._listeners.append(listener)

    async def camera_changed(self, camera_id: str) -> None:
        """`CameraRegistry.subscribe` listener: re-read the camera list on the next look."""
        self._records = None

    async def records(self) -> dict[str, CameraRecord]:
        if self._records is None:
            self._records = {r.id: r for r in await self._cameras.list()}
        return self._records

    def _health(self, record: CameraRecord, now: datetime) -> CameraHealth:
        status = self._recorder.status(record.id)
        if status.state == "recording":
            since = self._recording_since.setdefault(record.id, now)
        else:
            self._recording_since.pop(record.id, None)
            since = None
        return judge(record, status, now, since)

    async def all(self, scope: frozenset[str] | None = None) -> list[CameraHealth]:
        now = self._clock.now()
        records = await self.records()
        return [
            self._health(r, now)
            for camera_id, r in sorted(records.items())
            if scope is None or camera_id in scope
        ]

    async def camera(self, camera_id: str) -> CameraHealth:
        record = (await self.records()).get(camera_id)
        if record is None:
            raise NotFound(f"camera {camera_id!r} not found", code="camera_not_found")
        return self._health(record, self._clock.now())

    async def run(self) -> None:
        while True:
            await self.look()
            await self._clock.sleep(self._poll_s)

    async def look(self) -> None:
        """Evaluate every camera once; tell listeners what changed."""
        healths = {h.camera_id: h for h in await self.all()}
        for camera_id in set(self._online) - set(healths):
            del self._online[camera_id]
            self._notify(camera_id, None)
        for camera_id, health in healths.items():
            if self._online.get(camera_id) != health.online:
                self._online[camera_id] = health.online
                self._notify(camera_id, health.online)

    def _notify(self, camera_id: str, online: bool | None) -> None:
        for listener in self._listeners:
            try:
                listener(camera_id, online)
            except Exception:  # one listener's bug must not stop the watch
                log.exception("availability listener %r failed", listener)
