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
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.atomicfile import write_atomically
from heldar.clock import Clock
from heldar.errors import HeldarError, InvalidInput, NotFound
from heldar.events.log import EventDraft, EventLog
from heldar.events.models import Severity
from heldar.perception.frames import Frame
from heldar.perception.models import DetectionBatch
from heldar.recording.indexer import Indexed
from heldar.recording.models import SegmentRow
from heldar.store import segments as segment_sql
from heldar.store import zones as sql
from heldar.store.cameras import get_camera, require_camera
from heldar.store.engine import Store
from heldar.zones.engine import ZoneEngine, ZoneEvent, warm_up
from heldar.zones.models import Zone, ZoneCreate, ZoneUpdate
from heldar.zones.views import Aggregates, Bucket, ZoneEventOut

log = logging.getLogger(__name__)

MAX_ZONES_PER_CAMERA = 64
EXPIRE_EVERY_S = 5.0
TRIGGER_EVERY_S = 1.0
MAX_PENDING = 256
"""Results waiting for the flusher beyond which `consume` stores them itself (back-pressure).
The flusher writes everything pending at once in one short transaction of a fixed handful of
statements (all zone-event rows with their evidence paths, all event-log rows, all camera
states), so the store's single writer is taken about as often as ingest's group commit takes
it, not once per batch."""
FLUSH_EVERY_S = 0.25
"""The flusher writes at most this often (back-pressure at `MAX_PENDING` still applies), so a
busy camera's zone events cost one transaction and one state snapshot per interval, not per
batch; events reach the store, the event log and webhooks within about this much."""
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
        self._segments: dict[str, SegmentRow | None] = {}  # camera -> its newest segment
        self._lock = asyncio.Lock()
        self.events_total: Counter[str] = Counter()

    # -- start-up --------------------------------------------------------------------------------

    async def load(self) -> None:
        """Zones from the store into the engine, then each camera's saved track state. The
        engine's kernel is compiled (or loaded from its disk cache) first, off the event loop."""
        await asyncio.to_thread(warm_up)
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
        return results, self._states(sorted({r.camera_id for r in results}))

    def _states(self, cameras: Iterable[str]) -> dict[str, tuple[Any, int]]:
        """Each camera's engine state now, with the newest batch id it reflects."""
        return {c: (self.engine.snapshot([c]), self._applied.get(c, 0)) for c in cameras}

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
            started = time.monotonic()
            self._flush_wanted.clear()
            await self.flush()
            # Results arriving meanwhile wait for the rest of the interval: one transaction
            # (and one state snapshot per camera) covers them all. A wall-clock throttle, not
            # kernel time: it changes when results are written, never what is written.
            await asyncio.sleep(max(0.0, FLUSH_EVERY_S - (time.monotonic() - started)))

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
            states = self._states(dirty)
            async with self._store.write() as conn:
                await sql.save_states(conn, states, self._clock.now())
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
        every camera they touched (as it was when they were taken), in one transaction of a
        fixed number of statements; then publish and trigger. Evidence frames are written
        first (one file per frame), so the transaction never waits on the disk."""
        evidence = [await self._save_evidence(r) for r in results]
        async with self._store.write() as conn:
            segments = [
                await self._segment_at(conn, r.camera_id, r.events[0].timestamp) for r in results
            ]
            emitted = [
                (result, event, segment, frame if event.event_type in EVIDENCE_EVENTS else None)
                for result, segment, frame in zip(results, segments, evidence, strict=True)
                for event in result.events
            ]
            rows = [self._row(*item) for item in emitted]
            ids = await sql.insert_events(conn, rows)
            drafts = [
                self._draft(result.camera_id, event_id, event, path)
                for event_id, (result, event, _, path) in zip(ids, emitted, strict=True)
            ]
            committed = await self._events.append_many_in(conn, drafts)
            await sql.save_states(conn, states, self._clock.now())
        self._events.committed(committed)
        self.events_total.update(event.event_type for _, event, _, _ in emitted)
        for camera_id, (_, applied) in states.items():
            self._saved[camera_id] = applied
        first: dict[str, ZoneEvent] = {}
        for result in results:
            first.setdefault(result.camera_id, result.events[0])
        now = self._clock.monotonic()
        for camera_id, event in sorted(first.items()):
            if now - self._triggered.get(camera_id, -TRIGGER_EVERY_S) < TRIGGER_EVERY_S:
                continue  # the window it opened is still as good (it extends to now + post-roll)
            self._triggered[camera_id] = now
            with contextlib.suppress(HeldarError):  # a camera deleted meanwhile
                await self._trigger(camera_id, f"zone_{event.event_type}")

    @staticmethod
    def _row(
        result: _Emitted, event: ZoneEvent, segment_id: int | None, evidence: str | None
    ) -> dict[str, Any]:
        return {
            "camera_id": result.camera_id,
            "zone_id": event.zone_id,
            "event_type": event.event_type,
            "track_id": str(event.track_id),
            "label": event.label,
            "dwell_seconds": event.dwell_seconds,
            "timestamp": event.timestamp,
            "segment_id": segment_id,
            "evidence": evidence,
            "batch_id": result.batch.id if result.batch is not None else None,
        }

    def _draft(
        self, camera_id: str, event_id: int, event: ZoneEvent, evidence: str | None
    ) -> EventDraft:
        return EventDraft(
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

    async def segment_indexed(self, indexed: Indexed) -> None:
        """`Indexer.subscribe` listener: a camera's newest segment changed."""
        self._segments.pop(indexed.camera_id, None)

    async def _segment_at(self, conn: AsyncConnection, camera_id: str, at: datetime) -> int | None:
        """The id of the recorded segment covering `at`. The camera's newest segment is
        remembered until the indexer adds another: a live event falls in it or after it (then
        no indexed segment covers it yet); only an older event asks the store."""
        if camera_id not in self._segments:
            newest = await segment_sql.newest_segments(conn, camera_id, 1)
            self._segments[camera_id] = newest[0] if newest else None
        segment = self._segments[camera_id]
        if segment is None or at > segment.end_time:
            return None
        if at < segment.start_time:
            segment = await segment_sql.previous_segment(conn, camera_id, at)
            if segment is None or segment.end_time < at:
                return None
        return segment.id

    def _severity(self, zone_id: int) -> Severity:
        return self._severities.get(zone_id, "info")

    async def _save_evidence(self, result: _Emitted) -> str | None:
        """Write the frame a batch's enter/crossing events came from (one file per frame, named
        by batch so a replay rewrites the same file); its path under the data dir, or None."""
        if result.batch is None or not any(e.event_type in EVIDENCE_EVENTS for e in result.events):
            return None
        frame = self._frame_of(result.batch)
        if frame is None:
            return None
        stamp = result.events[0].timestamp
        relative = f"snapshots/{result.camera_id}/{stamp:%Y%m%d_%H%M%S}_b{result.batch.id}.jpg"
        await asyncio.to_thread(write_atomically, self._data_dir / relative, frame.jpeg)
        return relative
