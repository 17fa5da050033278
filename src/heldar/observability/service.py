"""`Observability`: the kernel's metrics, health, event stream, webhooks and MQTT, wired together.

The kernel builds one and starts `services()` under its supervisor. Construction wires the event
seams: the webhook outbox writer runs inside every event's transaction; after the commit the SSE
hub, the webhook dispatcher's wake-up and MQTT hear of it (in that order).
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Collection
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from heldar import __version__
from heldar.cameras.registry import CameraRegistry
from heldar.clock import Clock
from heldar.errors import StoreBusy
from heldar.events.log import EventLog
from heldar.events.mqtt import Broker, MqttPublisher
from heldar.events.stream import EventStream
from heldar.events.targets import TargetPolicy
from heldar.events.webhooks import DispatchOptions, WebhookDispatcher, Webhooks
from heldar.observability.health import HealthWatch, Readiness, quorum
from heldar.observability.metrics import KernelMetrics
from heldar.perception.service import Perception
from heldar.recording.eviction import RetentionSettings
from heldar.recording.manager import RecorderManager
from heldar.secretbox import SecretBox
from heldar.settings import Settings
from heldar.store.engine import Store
from heldar.supervisor import Service

STORE_PROBE_TIMEOUT_S = 2.0


class StoreInfo(BaseModel):
    kind: str
    description: str


class DiskInfo(BaseModel):
    total_bytes: int
    free_bytes: int
    used_bytes: int


class RecordingsInfo(BaseModel):
    bytes: int
    segments: int


class SystemCounts(BaseModel):
    cameras: int
    cameras_enabled: int
    cameras_recording: int
    ai_tasks: int
    webhooks: int
    webhook_deliveries_pending: int
    event_stream_subscribers: int


class SystemInfo(BaseModel):
    """`GET /api/v1/system`."""

    version: str
    python: str
    started_at: datetime
    uptime_s: float
    store: StoreInfo
    disk: DiskInfo | None
    recordings: RecordingsInfo
    retention: RetentionSettings
    counts: SystemCounts
    recording_enabled: bool
    auth_enabled: bool
    mqtt_connected: bool | None


class Observability:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        events: EventLog,
        cameras: CameraRegistry,
        recorder: RecorderManager,
        perception: Perception,
        *,
        webhook_backoff_s: float = 10.0,
        health_poll_s: float = 1.0,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._events = events
        self._cameras = cameras
        self._recorder = recorder
        self._perception = perception
        secret = settings.secret_key.get_secret_value() if settings.secret_key else None
        self.stream = EventStream(events)
        self.webhooks = Webhooks(
            store,
            clock,
            SecretBox(secret),
            TargetPolicy.of(settings.webhook_allow_private),
            DispatchOptions(timeout_s=settings.webhook_timeout_s, backoff_s=webhook_backoff_s),
        )
        self.dispatcher = WebhookDispatcher(self.webhooks, store, clock)
        self.health = HealthWatch(cameras, recorder, clock, poll_s=health_poll_s)
        self.mqtt: MqttPublisher | None = None
        if settings.mqtt_url is not None:
            broker = Broker.parse(settings.mqtt_url.get_secret_value())
            self.mqtt = MqttPublisher(broker, settings.mqtt_topic_prefix, clock)
        events.add_outbox(self.webhooks.enqueue)
        events.subscribe(self.stream.publish)
        events.subscribe(self.dispatcher.wake)
        cameras.subscribe(self.health.camera_changed)
        if self.mqtt is not None:
            events.subscribe(self.mqtt.event)
            self.health.subscribe(self.mqtt.camera_status)
        self.metrics = KernelMetrics(
            store=store,
            recordings_dir=settings.data_dir / "recordings",
            health=self.health,
            events=events,
            stream=self.stream,
            webhooks=self.webhooks,
            perception=perception,
            mqtt=self.mqtt,
        )

    def services(self) -> list[Service]:
        services: list[Service] = [self.health, self.dispatcher]
        if self.mqtt is not None:
            services.append(self.mqtt)
        return services

    async def readiness(self, running: Collection[str]) -> Readiness:
        """Store writable, services running, then the recording quorum (when set and recording)."""
        try:
            async with asyncio.timeout(STORE_PROBE_TIMEOUT_S), self._store.write() as conn:
                await conn.execute(text("SELECT 1"))
        except (StoreBusy, SQLAlchemyError, OSError, TimeoutError):
            return Readiness(
                ready=False,
                reason="the store is not writable",
                recording_pct=None,
                required_pct=None,
            )
        expected = {s.name for s in self.services()}
        if self._settings.recording_enabled:
            expected.add(self._recorder.name)
        missing = sorted(expected - set(running))
        if missing:
            return Readiness(
                ready=False,
                reason=f"services not running: {', '.join(missing)}",
                recording_pct=None,
                required_pct=None,
            )
        required = self._settings.readyz_min_recording_percent
        if not self._settings.recording_enabled:
            required = None  # an API-only node records nothing by design
        return quorum(await self.health.all(), required)

    async def system(self, *, started_at: datetime, retention: RetentionSettings) -> SystemInfo:
        snapshot = await self.metrics.refresh()
        cameras = snapshot.cameras
        disk = None
        if snapshot.disk_total is not None and snapshot.disk_free is not None:
            disk = DiskInfo(
                total_bytes=snapshot.disk_total,
                free_bytes=snapshot.disk_free,
                used_bytes=snapshot.disk_total - snapshot.disk_free,
            )
        tasks = await self._perception.tasks.list()
        webhooks = await self.webhooks.list()
        return SystemInfo(
            version=__version__,
            python=platform.python_version(),
            started_at=started_at,
            uptime_s=round((self._clock.now() - started_at).total_seconds(), 3),
            store=StoreInfo(kind=self._store.dialect, description=self._store.description),
            disk=disk,
            recordings=RecordingsInfo(
                bytes=sum(f.bytes for f in snapshot.recordings.values()),
                segments=sum(f.segments for f in snapshot.recordings.values()),
            ),
            retention=retention,
            counts=SystemCounts(
                cameras=len(cameras),
                cameras_enabled=sum(c.enabled for c in cameras),
                cameras_recording=sum(c.online for c in cameras),
                ai_tasks=len(tasks),
                webhooks=len(webhooks),
                webhook_deliveries_pending=snapshot.pending_deliveries,
                event_stream_subscribers=self.stream.subscribers,
            ),
            recording_enabled=self._settings.recording_enabled,
            auth_enabled=self._settings.auth_enabled,
            mqtt_connected=self.mqtt.connected if self.mqtt is not None else None,
        )
