"""`ZoneService`: zones CRUD, the zone engine as a detection consumer, and what its events cause.

For every committed detection batch (delivered by the consumer hub, in order, at least once) the
engine emits enter/exit/dwell/crossing events. Each batch's events are stored in one transaction
with the camera's engine state (`zone_state`, tagged with the batch id) and `zone_<type>` rows in
the event log; a batch at or below the saved batch id is a replay and is skipped, so a restart
never emits a second `enter` (docs/design/zones.md §Restart). Enter and crossing events save the
frame they came from as evidence under `snapshots/<camera>/`; every event triggers the camera's
recorder (event cameras record it, with pre-roll).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.atomicfile import write_atomically
from heldar.clock import Clock
from heldar.errors import HeldarError, InvalidInput, NotFound
from heldar.events.log import EventDraft, EventLog
from heldar.events.models import Event, Severity
from heldar.perception.frames import Frame
from heldar.perception.models import DetectionBatch
from heldar.store import segments as segment_sql
from heldar.store import zones as sql
from heldar.store.cameras import get_camera, require_camera
from heldar.store.engine import Store
from heldar.zones.engine import ZoneEngine, ZoneEvent
from heldar.zones.models import Zone, ZoneCreate, ZoneUpdate
from heldar.zones.views import Aggregates, Bucket, ZoneEventOut

log = logging.getLogger(__name__)

MAX_ZONES_PER_CAMERA = 64
EXPIRE_EVERY_S = 5.0
TRIGGER_EVERY_S = 1.0
MAX_PENDING = 1
"""Results waiting for the flusher beyond which `consume` stores them itself (back-pressure).
1: each batch's events are stored before `consume` returns. Measured with bench/ingest.py
--zones: letting results pile up for one bigger transaction halved ingest throughput (the long
transactions hold the store's single writer away from ingest), so the flusher only carries
expiry events and whatever a failed write left behind."""
EVIDENCE_EVENTS = frozenset({"enter", "cross_ab", "cross_ba"})
MAX_AGGREGATE_ROWS = 500_000

FrameLookup = Callable[[DetectionBatch], Frame | None]
Trigger = Callable[[str, str], Awaitable[object]]
"""`RecorderManager.trigger(camera_id, reason)`: event cameras record the event (pre-roll)."""


@dataclass(frozen=True)
class _Emitted:
    """The events one batch (or an expiry pass: no batch) emitted for one camera."""

    camera_id: str
    events: list[ZoneEvent]
    batch: DetectionBatch | None


class ZoneService:
    """Zones CRUD and the `zones` detection consumer; `run()` expires silent tracks."""

    name = "zones"

    def __init__(
        self,
        store: Store,
        clock: Clock,
        events: EventLog,
        data_dir: Path,
        *,
        trigger: Trigger,
        frame_of: FrameLookup,
        track_timeout_s: float = 120.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._events = events
        self._data_dir = data_dir
        self._trigger = trigger
        self._frame_of = frame_of
        self.engine = ZoneEngine(track_timeout_s=track_timeout_s)
        self._applied: dict[str, int] = {}  # camera -> last batch id in the engine's state
        self._saved: dict[str, int] = {}  # camera -> the batch id its saved state is tagged with
        self._last_seen: dict[str, tuple[datetime, float]] = {}  # newest time, when it came
        self._severities: dict[int, Severity] = {}
        self._pending: builtins.list[_Emitted] = []  # emitted, not yet stored
        self._flush_wanted = asyncio.Event()
        self._flushing = asyncio.Lock()  # one write of pending results at a time, in order
        self._in_flight: builtins.list[_Emitted] = []  # taken by the flush being written
        self._triggered: dict[str, float] = {}  # camera -> when its recorder was last triggered
        self._segments: dict[str, tuple[int, datetime, datetime]] = {}  # the last segment seen
        self._lock = asyncio.Lock()
        self.events_total: Counter[str] = Counter()

    # -- start-up --------------------------------------------------------------------------------

    async def load(self) -> None:
        """Zones from the store into the engine, then each camera's saved track state."""
        async with self._store.read() as conn:
            zones = await sql.list_zones(conn)
            states = await sql.load_states(conn)
        by_camera: dict[str, list[Zone]] = {}
        for zone in zones:
            by_camera.setdefault(zone.camera_id, []).append(zone)
        for camera_id, camera_zones in by_camera.items():
            self.engine.update_zones(camera_id, [z for z in camera_zones if z.enabled])
        self._severities = {z.id: z.severity for z in zones}
        for camera_id, (state, last_batch_id) in states.items():
            try:
                self.engine.restore(state)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("zone state of %s not restored (%s): starting empty", camera_id, exc)
                continue
            self._applied[camera_id] = self._saved[camera_id] = last_batch_id

    # -- zones (CRUD) ----------------------------------------------------------------------------

    async def list(self, camera_id: str) -> builtins.list[Zone]:
        async with self._store.read() as conn:
            await require_camera(conn, camera_id)
            return await sql.list_zones(conn, camera_id)

    async def get(self, zone_id: int) -> Zone:
        async with self._store.read() as conn:
            zone = await sql.get_zone(conn, zone_id)
        if zone is None:
            raise NotFound(f"zone {zone_id} not found", code="zone_not_found")
        return zone

    async def create(self, camera_id: str, body: ZoneCreate) -> Zone:
        now = self._clock.now()
        async with self._store.write() as conn:
            await require_camera(conn, camera_id)
            if await sql.count_zones(conn, camera_id) >= MAX_ZONES_PER_CAMERA:
                raise InvalidInput(
                    f"a camera has at most {MAX_ZONES_PER_CAMERA} zones", code="too_many_zones"
                )
            zone = await sql.insert_zone(
                conn,
                {"camera_id": camera_id, **body.model_dump(), "created_at": now, "updated_at": now},
            )
        await self._reload(camera_id)
        return zone

    async def update(self, zone_id: int, body: ZoneUpdate) -> Zone:
        if any(v is None for v in body.model_dump(exclude_unset=True).values()):
            raise InvalidInput("zone fields may not be null", code="invalid_field")
        current = await self.get(zone_id)
        merged = body.merged(current)
        async with self._store.write() as conn:
            zone = await sql.update_zone(
                conn, zone_id, {**merged.model_dump(), "updated_at": self._clock.now()}
            )
        if zone is None:
            raise NotFound(f"zone {zone_id} not found", code="zone_not_found")
        await self._reload(zone.camera_id)
        return zone

    async def delete(self, zone_id: int) -> None:
        zone = await self.get(zone_id)
        async with self._store.write() as conn:
            if not await sql.delete_zone(conn, zone_id):
                raise NotFound(f"zone {zone_id} not found", code="zone_not_found")
        await self._reload(zone.camera_id)

    async def camera_changed(self, camera_id: str) -> None:
        """`CameraRegistry.subscribe` listener: a deleted camera's state goes with it."""
        async with self._store.read() as conn:
            gone = await get_camera(conn, camera_id) is None
        if gone:
            async with self._lock:
                self.engine.remove_camera(camera_id)
                self._applied.pop(camera_id, None)
                self._saved.pop(camera_id, None)
                self._last_seen.pop(camera_id, None)
                async with self._store.write() as conn:
                    await sql.forget_state(conn, camera_id)

    async def _reload(self, camera_id: str) -> None:
        async with self._store.read() as conn:
            zones = await sql.list_zones(conn, camera_id)
        async with self._lock:
            self.engine.update_zones(camera_id, [z for z in zones if z.enabled])
            for zone in zones:
                self._severities[zone.id] = zone.severity

    # -- reading ---------------------------------------------------------------------------------

    def occupancy(self, camera_id: str) -> dict[int, dict[str, int]]:
        return self.engine.occupancy(camera_id)

    async def zone_events(
        self,
        camera_id: str,
        start: datetime,
        end: datetime,
        *,
        zone_id: int | None,
        event_type: str | None,
        track_id: str | None,
        limit: int,
    ) -> builtins.list[ZoneEventOut]:
        async with self._store.read() as conn:
            rows = await sql.list_events(
                conn,
                camera_id,
                start,
                end,
                zone_id=zone_id,
                event_type=event_type,
                track_id=track_id,
                limit=limit,
            )
        return [ZoneEventOut.from_row(row) for row in rows]

    async def aggregates(
        self, camera_id: str, start: datetime, end: datetime, bucket_minutes: int
    ) -> Aggregates:
        """Counts per bucket and event type over [start, end)."""
        async with self._store.read() as conn:
            times = await sql.event_times(conn, camera_id, start, end, MAX_AGGREGATE_ROWS)
        width = timedelta(minutes=bucket_minutes)
        counts: dict[datetime, Counter[str]] = {}
        for moment, event_type, _zone in times:
            slot = start + width * ((moment - start) // width)
            counts.setdefault(slot, Counter())[event_type] += 1
        buckets = [
            Bucket(start=slot, end=slot + width, counts=dict(sorted(counted.items())))
            for slot, counted in sorted(counts.items())
        ]
        totals: Counter[str] = Counter()
        for bucket in buckets:
            totals.update(bucket.counts)
        return Aggregates(
            camera_id=camera_id,
            from_=start,
            to=end,
            bucket_minutes=bucket_minutes,
            buckets=buckets,
            totals=dict(sorted(totals.items())),
            truncated=len(times) >= MAX_AGGREGATE_ROWS,
        )

    # -- the detection consumer ------------------------------------------------------------------

    def interested_in(self, task_type: str) -> bool:
        return True  # zones filter by label, not by task

    async def consume(self, batch: DetectionBatch) -> None:
        """Apply a batch; what it emits is stored by the flusher (`run`), which writes every
        result pending at that moment in one transaction — group commit, as for ingest. The
        hub persists its cursor no further than `durable()`, so a crash before the flush
        replays the batch (docs/design/zones.md §In the kernel)."""
        async with self._lock:
            if batch.id > self._applied.get(batch.camera_id, 0):
                seen = self._last_seen.get(batch.camera_id)
                if seen is None or batch.timestamp > seen[0]:
                    self._last_seen[batch.camera_id] = (batch.timestamp, self._clock.monotonic())
                emitted = self.engine.process(batch.camera_id, batch.timestamp, batch.detections)
                self._applied[batch.camera_id] = batch.id
                if emitted:
                    self._pending.append(_Emitted(batch.camera_id, emitted, batch))
            backlog = len(self._pending) >= MAX_PENDING
            if self._pending and not backlog:
                self._flush_wanted.set()
        if backlog:
            await self.flush()  # this batch waits for the store (the flusher need not wake)

    def durable(self) -> int | None:
        """The newest batch id up to which every delivered batch's zone events are stored
        (None: all of them are); the hub saves its cursor no further."""
        waiting = [r.batch.id for r in [*self._in_flight, *self._pending] if r.batch is not None]
        return min(waiting) - 1 if waiting else None

    async def flush(self) -> int:
        """Store every pending result now; how many results were written. The engine keeps
        taking batches meanwhile: the results and the state snapshot are taken together under
        the lock, the write happens outside it."""
        async with self._flushing:
            async with self._lock:
                results, states = self._take_pending()
            if not results:
                return 0
            try:
                await self._record(results, states)
            except BaseException:
                async with self._lock:  # nothing was stored: all of it waits for the next try
                    self._pending[:0] = results
                raise
            finally:
                self._in_flight = []
            return len(results)

    def _take_pending(self) -> tuple[builtins.list[_Emitted], dict[str, tuple[Any, int]]]:
        results, self._pending = self._pending, []
        self._in_flight = results
        cameras = sorted({r.camera_id for r in results})
        states = {c: (self.engine.snapshot([c]), self._applied.get(c, 0)) for c in cameras}
        return results, states

    async def run(self) -> None:
        """The flusher, and every few seconds: expire tracks of quiet cameras and save the
        state of the others; flush and save once more on the way out."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._flusher())
                group.create_task(self._housekeeping())
        finally:
            with contextlib.suppress(HeldarError, OSError):
                await asyncio.shield(self.save_state())

    async def _flusher(self) -> None:
        while True:
            await self._flush_wanted.wait()
            self._flush_wanted.clear()
            await self.flush()

    async def _housekeeping(self) -> None:
        while True:
            await self._clock.sleep(EXPIRE_EVERY_S)
            await self.expire_quiet()
            await self.save_state()

    async def save_state(self) -> int:
        """Flush, then save the track state of every camera that processed batches since its
        last save (enters being confirmed, line sides, dwell timers survive a restart too). A
        camera with results still pending is left to their flush, which saves it with them."""
        await self.flush()
        async with self._lock:
            waiting = {r.camera_id for r in [*self._in_flight, *self._pending]}
            dirty = [
                c
                for c, batch_id in self._applied.items()
                if self._saved.get(c) != batch_id and c not in waiting
            ]
            if not dirty:
                return 0
            async with self._store.write() as conn:
                for camera_id in dirty:
                    state = self.engine.snapshot([camera_id])
                    batch_id = self._applied[camera_id]
                    await sql.save_state(conn, camera_id, state, batch_id, self._clock.now())
            for camera_id in dirty:
                self._saved[camera_id] = self._applied[camera_id]
        return len(dirty)

    async def expire_quiet(self) -> int:
        """Synthetic exits for tracks unseen for the timeout, judged on the detections' clock:
        the camera's newest detection time plus the wall time since it arrived — so a camera
        whose worker stopped still lets its tracks go, and worker clock skew does not matter."""
        now = self._clock.monotonic()
        emitted = 0
        async with self._lock:
            for camera_id, (newest, arrived) in builtins.list(self._last_seen.items()):
                moment = newest + timedelta(seconds=max(0.0, now - arrived))
                events = self.engine.expire(camera_id, moment)
                if events:
                    self._pending.append(_Emitted(camera_id, events, None))
                    emitted += len(events)
        await self.flush()
        return emitted

    async def _record(
        self, results: builtins.list[_Emitted], states: dict[str, tuple[Any, int]]
    ) -> None:
        """Store the events of one or more batches, their event-log rows and the state of
        every camera they touched (as it was when they were taken), in one transaction; then
        publish and trigger."""
        cameras = sorted(states)
        committed: builtins.list[Event] = []
        async with self._store.write() as conn:
            for result in results:
                committed += await self._store_events(conn, result)
            for camera_id, (state, applied) in states.items():
                await sql.save_state(conn, camera_id, state, applied, self._clock.now())
        self._events.committed(committed)
        for camera_id, (_, applied) in states.items():
            self._saved[camera_id] = applied
        now = self._clock.monotonic()
        for camera_id in cameras:
            if now - self._triggered.get(camera_id, -TRIGGER_EVERY_S) < TRIGGER_EVERY_S:
                continue  # the window it opened is still as good (it extends to now + post-roll)
            self._triggered[camera_id] = now
            first = next(r for r in results if r.camera_id == camera_id).events[0]
            with contextlib.suppress(HeldarError):  # a camera deleted meanwhile
                await self._trigger(camera_id, f"zone_{first.event_type}")

    async def _store_events(self, conn: AsyncConnection, result: _Emitted) -> builtins.list[Event]:
        camera_id, emitted, batch = result.camera_id, result.events, result.batch
        frame = self._frame_of(batch) if batch is not None else None
        segment_id = await self._segment_at(conn, camera_id, emitted[0].timestamp)
        rows = [
            {
                "camera_id": camera_id,
                "zone_id": e.zone_id,
                "event_type": e.event_type,
                "track_id": str(e.track_id),
                "label": e.label,
                "dwell_seconds": e.dwell_seconds,
                "timestamp": e.timestamp,
                "segment_id": segment_id,
                "evidence": None,
                "batch_id": batch.id if batch is not None else None,
            }
            for e in emitted
        ]
        ids = await sql.insert_events(conn, rows)
        drafts = []
        for event_id, event in zip(ids, emitted, strict=True):
            evidence = None
            if frame is not None and event.event_type in EVIDENCE_EVENTS:
                evidence = await self._save_evidence(camera_id, event_id, event, frame)
                await sql.set_evidence(conn, event_id, evidence)
            drafts.append(
                EventDraft(
                    f"zone_{event.event_type}",
                    camera_id=camera_id,
                    severity=self._severity(event.zone_id),
                    timestamp=event.timestamp,
                    payload={
                        "zone_event_id": event_id,
                        "zone_id": event.zone_id,
                        "track_id": str(event.track_id),
                        "label": event.label,
                        "dwell_seconds": event.dwell_seconds,
                        "synthetic": event.synthetic,
                        "evidence": None if evidence is None else f"/media/{evidence}",
                    },
                )
            )
            self.events_total[event.event_type] += 1
        return await self._events.append_many_in(conn, drafts)

    async def _segment_at(self, conn: AsyncConnection, camera_id: str, at: datetime) -> int | None:
        """The id of the recorded segment covering `at`, remembered per camera (most events of
        a camera fall in the segment its previous one did)."""
        known = self._segments.get(camera_id)
        if known is not None and known[1] <= at <= known[2]:
            return known[0]
        segment = await segment_sql.previous_segment(conn, camera_id, at)
        if segment is None or segment.end_time < at:
            return None
        self._segments[camera_id] = (segment.id, segment.start_time, segment.end_time)
        return segment.id

    def _severity(self, zone_id: int) -> Severity:
        return self._severities.get(zone_id, "info")

    async def _save_evidence(
        self, camera_id: str, event_id: int, event: ZoneEvent, frame: Frame
    ) -> str:
        relative = f"snapshots/{camera_id}/{event.timestamp:%Y%m%d_%H%M%S}_z{event_id}.jpg"
        await asyncio.to_thread(write_atomically, self._data_dir / relative, frame.jpeg)
        return relative
