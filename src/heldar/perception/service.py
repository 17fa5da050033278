"""`Perception`: AI tasks, samplers, leases, tickets, ingest and consumer fan-out, wired together.

The kernel builds one and starts its services (`services()`) under the supervisor. Every change
of tasks or cameras recomputes the sampler demands from the store and applies them as one set,
so there is never a second decoder for a (camera, profile).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from heldar.cameras.registry import CameraRegistry
from heldar.cameras.vendors import StreamProfile
from heldar.clock import Clock
from heldar.errors import HeldarError
from heldar.events.log import EventLog
from heldar.events.models import Severity
from heldar.perception.budget import StreamKey
from heldar.perception.consumers import ConsumerHub
from heldar.perception.frames import Frame, FrameStore
from heldar.perception.ingest import Ingest, IngestWriter, Provenance
from heldar.perception.leases import Leases
from heldar.perception.manager import Demand, SamplerManager
from heldar.perception.models import AiTask, DetectionBatch, DetectionOut, DiscoveredTask
from heldar.perception.sampler import SamplerConfig
from heldar.perception.tasks import AiTaskBook
from heldar.perception.tickets import TicketSigner
from heldar.store import perception as sql
from heldar.store.engine import Store
from heldar.supervisor import Service

log = logging.getLogger(__name__)

PRUNE_INTERVAL_S = 600.0
PRUNE_BATCH = 5000
NEAR_FRAME = timedelta(seconds=2)


@dataclass(frozen=True)
class PerceptionOptions:
    max_total_fps: float = 40.0
    provenance: Provenance = "warn"
    worker_timeout_s: float = 30.0
    detection_retention_days: float = 7.0
    ticket_secret: str | None = None
    sampler: SamplerConfig | None = None


def frame_url(task: AiTask) -> str:
    return f"/api/v1/cameras/{task.camera_id}/frame?profile={task.stream_profile}&task={task.id}"


def discovered(task: AiTask) -> DiscoveredTask:
    return DiscoveredTask(**task.model_dump(), frame_url=frame_url(task))


class Perception:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        events: EventLog,
        cameras: CameraRegistry,
        options: PerceptionOptions,
    ) -> None:
        self._store = store
        self._clock = clock
        self._events = events
        self._cameras = cameras
        self._options = options
        # seqs never repeat across restarts: frame ids derived from them stay unique in the store
        self.frames = FrameStore(seq_origin=int(clock.now().timestamp() * 1000))
        self.samplers = SamplerManager(
            self.frames,
            max_total_fps=options.max_total_fps,
            on_event=self._sampler_event,
            config=options.sampler,
            clock=clock,
        )
        self.tasks = AiTaskBook(store, clock, on_change=self.rebalance)
        self.leases = Leases(clock, worker_timeout_s=options.worker_timeout_s)
        self.tickets = TicketSigner(clock, options.ticket_secret)
        self.hub = ConsumerHub(store, events, clock)
        self.writer = IngestWriter(store, clock, events, on_committed=self.hub.offer)
        self._task_types: dict[str, str] = {}
        self._task_profiles: dict[str, StreamProfile] = {}
        self._camera_ids: set[str] = set()
        self.ingest = Ingest(
            self.writer,
            self.tickets,
            self.leases,
            clock,
            provenance=options.provenance,
            camera_exists=self._camera_ids.__contains__,
            task_type_of=self._task_types.get,
        )
        self._rebalance_lock = asyncio.Lock()

    def services(self) -> list[Service]:
        return [self.samplers, self.writer, self.hub, _DetectionPruner(self, self._clock)]

    async def rebalance(self) -> None:
        """Recompute every sampler demand from the enabled tasks of enabled cameras."""
        async with self._rebalance_lock:
            records = {r.id: r for r in await self._cameras.list()}
            tasks = await self.tasks.list()
            self._camera_ids.clear()
            self._camera_ids.update(records)
            self._task_types.clear()
            self._task_types.update({t.id: t.task_type for t in tasks})
            self._task_profiles.clear()
            self._task_profiles.update({t.id: t.stream_profile for t in tasks})
            demands = []
            for task in tasks:
                record = records.get(task.camera_id)
                if record is None or not record.enabled or not task.enabled:
                    continue
                try:
                    url = self._cameras.spawn_url(record, task.stream_profile)
                except HeldarError as exc:  # a sealed password without the key
                    log.error("camera %s cannot be sampled: %s", record.id, exc.detail)  # noqa: TRY400
                    continue
                demands.append(
                    Demand(
                        camera_id=task.camera_id,
                        stream_profile=task.stream_profile,
                        url=url,
                        fps=task.fps,
                        width=task.width,
                    )
                )
            await self.samplers.apply(demands)

    async def camera_changed(self, camera_id: str) -> None:
        """`CameraRegistry.subscribe` listener: a camera's URL, state or existence changed."""
        await self.rebalance()

    async def visible_tasks(self, scope: frozenset[str] | None) -> list[AiTask]:
        """Enabled tasks of cameras in `scope` (None: all)."""
        return [
            t
            for t in await self.tasks.list()
            if t.enabled and (scope is None or t.camera_id in scope)
        ]

    async def detections(
        self,
        camera_id: str,
        start: datetime,
        end: datetime,
        *,
        label: str | None,
        track_id: str | None,
        limit: int,
    ) -> list[DetectionOut]:
        """Stored detections of a camera in [start, end], newest first."""
        async with self._store.read() as conn:
            return await sql.list_detections(
                conn, camera_id, start, end, label=label, track_id=track_id, limit=limit
            )

    def frame_of(self, batch: DetectionBatch) -> Frame | None:
        """The sampled frame a batch is about, while it is still in the ring: exactly the
        ticketed one, else the camera's newest frame if it was captured near the batch's time."""
        task_id = batch.provenance.get("task_id")
        if task_id is not None and batch.frame_id is not None:
            _, _, seq = batch.frame_id.rpartition(":")
            leased = self._task_profiles.get(str(task_id))
            if leased is not None and seq.isdigit():
                return self.frames.frame(StreamKey(batch.camera_id, leased), int(seq))
        profiles: tuple[StreamProfile, ...] = ("sub", "main")
        for profile in profiles:
            frame = self.frames.latest(StreamKey(batch.camera_id, profile))
            if frame is not None and abs(frame.captured_at - batch.timestamp) <= NEAR_FRAME:
                return frame
        return None

    async def _sampler_event(self, kind: str, camera_id: str, detail: dict[str, object]) -> None:
        severity: Severity = "warning" if kind == "sampler_offline" else "info"
        await self._events.append(kind, camera_id=camera_id, severity=severity, payload=detail)

    async def prune(self) -> int:
        cutoff = self._clock.now() - timedelta(days=self._options.detection_retention_days)
        removed = 0
        while True:
            async with self._store.write() as conn:
                count = await sql.prune_before(conn, cutoff, PRUNE_BATCH)
            removed += count
            if count < PRUNE_BATCH:
                return removed


class _DetectionPruner:
    name = "detection-retention"

    def __init__(self, perception: Perception, clock: Clock) -> None:
        self._perception = perception
        self._clock = clock

    async def run(self) -> None:
        while True:
            removed = await self._perception.prune()
            if removed:
                log.info("pruned %d detection batches past retention", removed)
            await self._clock.sleep(PRUNE_INTERVAL_S)
