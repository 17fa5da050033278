"""Prometheus metrics of one kernel: a per-kernel registry, read from live state at scrape time.

`/metrics` first `await refresh()` (the few values that need the store or the disk), then renders:
everything else is read from the services' own counters and statuses, so a deleted camera's series
disappear with it. Label values are camera ids (slugs), stream profiles, consumer names, outcomes,
severities, HTTP methods, route templates and status codes: bounded, and never a secret.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from heldar import __version__
from heldar.events.log import EventLog
from heldar.events.mqtt import MqttPublisher
from heldar.events.stream import EventStream
from heldar.events.webhooks import Webhooks
from heldar.observability.health import CameraHealth, HealthWatch
from heldar.perception.service import Perception
from heldar.store import retention as retention_sql
from heldar.store import webhooks as webhook_sql
from heldar.store.engine import Store

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "unmatched"


@dataclass(frozen=True)
class Footprint:
    segments: int
    bytes: int


@dataclass
class Snapshot:
    """What a scrape needs from the store and the disk, gathered asynchronously beforehand."""

    cameras: list[CameraHealth] = field(default_factory=list)
    recordings: dict[str, Footprint] = field(default_factory=dict)
    disk_total: int | None = None
    disk_free: int | None = None
    pending_deliveries: int = 0


def disk_usage(path: Path) -> tuple[int, int] | None:
    """(total, free for unprivileged writers) of the filesystem holding `path`, or None."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return usage.total, usage.free


class KernelMetrics(Collector):
    def __init__(
        self,
        *,
        store: Store,
        recordings_dir: Path,
        health: HealthWatch,
        events: EventLog,
        stream: EventStream,
        webhooks: Webhooks,
        perception: Perception,
        mqtt: MqttPublisher | None,
    ) -> None:
        self._store = store
        self._recordings_dir = recordings_dir
        self._health = health
        self._events = events
        self._stream = stream
        self._webhooks = webhooks
        self._perception = perception
        self._mqtt = mqtt
        self._started = time.monotonic()
        self._snapshot = Snapshot()
        self._refresh_lock = asyncio.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.http = Histogram(
            "heldar_http_request_duration_seconds",
            "HTTP request latency by method, route template and status code.",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(self)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http.labels(method, route, str(status)).observe(seconds)

    async def refresh(self) -> Snapshot:
        """Gather the store and disk figures; the next render uses them."""
        async with self._refresh_lock:
            async with self._store.read() as conn:
                totals = await retention_sql.camera_totals(conn)
                pending = await webhook_sql.pending_count(conn)
            disk = await asyncio.to_thread(disk_usage, self._recordings_dir)
            self._snapshot = Snapshot(
                cameras=await self._health.all(),
                recordings={t.camera_id: Footprint(t.segment_count, t.total_bytes) for t in totals},
                disk_total=disk[0] if disk else None,
                disk_free=disk[1] if disk else None,
                pending_deliveries=pending,
            )
            return self._snapshot

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # -- the collector ---------------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot
        yield from self._kernel()
        yield from self._cameras(snap)
        yield from self._storage(snap)
        yield from self._perception_metrics()
        yield from self._integrations(snap)

    def _kernel(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "heldar_build_info",
            "Always 1; labels: the build.",
            labels=["version", "python"],
        )
        info.add_metric([__version__, sys.version.split()[0]], 1)
        yield info
        yield GaugeMetricFamily(
            "heldar_uptime_seconds",
            "Seconds since this kernel started.",
            value=time.monotonic() - self._started,
        )

    def _cameras(self, snap: Snapshot) -> Iterator[Metric]:
        cameras = snap.cameras
        yield GaugeMetricFamily("heldar_cameras_total", "Registered cameras.", value=len(cameras))
        yield GaugeMetricFamily(
            "heldar_cameras_recording",
            "Cameras recording (and not stale).",
            value=sum(c.online for c in cameras),
        )
        up = GaugeMetricFamily(
            "heldar_camera_up",
            "1 while recording (not stale).",
            labels=["camera_id"],
        )
        reconnects = CounterMetricFamily(
            "heldar_camera_reconnects", "Recorder reconnects (ffmpeg exits).", labels=["camera_id"]
        )
        written = CounterMetricFamily(
            "heldar_camera_segments_written",
            "Segments the recorder closed.",
            labels=["camera_id"],
        )
        bitrate = GaugeMetricFamily(
            "heldar_camera_bitrate_kbps", "Bitrate of the newest segment.", labels=["camera_id"]
        )
        fps = GaugeMetricFamily(
            "heldar_camera_fps_observed", "Frame rate of the newest segment.", labels=["camera_id"]
        )
        age = GaugeMetricFamily(
            "heldar_camera_last_segment_age_seconds",
            "Seconds since the newest segment closed.",
            labels=["camera_id"],
        )
        for camera in cameras:
            label = [camera.camera_id]
            up.add_metric(label, 1 if camera.online else 0)
            reconnects.add_metric(label, camera.reconnects)
            written.add_metric(label, camera.segments_written)
            if camera.bitrate_kbps is not None:
                bitrate.add_metric(label, camera.bitrate_kbps)
            if camera.fps_observed is not None:
                fps.add_metric(label, camera.fps_observed)
            if camera.last_segment_age_s is not None:
                age.add_metric(label, camera.last_segment_age_s)
        yield from (up, reconnects, written, bitrate, fps, age)

    def _storage(self, snap: Snapshot) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "heldar_segments_total",
            "Indexed recording segments.",
            value=sum(f.segments for f in snap.recordings.values()),
        )
        yield GaugeMetricFamily(
            "heldar_recordings_bytes",
            "Bytes of indexed recordings.",
            value=sum(f.bytes for f in snap.recordings.values()),
        )
        per_camera = GaugeMetricFamily(
            "heldar_camera_recordings_bytes",
            "Bytes of a camera's indexed recordings.",
            labels=["camera_id"],
        )
        for camera_id, footprint in sorted(snap.recordings.items()):
            per_camera.add_metric([camera_id], footprint.bytes)
        yield per_camera
        if snap.disk_total is not None and snap.disk_free is not None:
            yield GaugeMetricFamily(
                "heldar_disk_total_bytes",
                "Size of the recordings filesystem.",
                value=snap.disk_total,
            )
            yield GaugeMetricFamily(
                "heldar_disk_free_bytes",
                "Free bytes on the recordings filesystem.",
                value=snap.disk_free,
            )
            used = 100.0 * (1 - snap.disk_free / snap.disk_total) if snap.disk_total else 0.0
            yield GaugeMetricFamily(
                "heldar_disk_used_percent", "Used share of the recordings filesystem.", value=used
            )

    def _perception_metrics(self) -> Iterator[Metric]:
        perception = self._perception
        fps = GaugeMetricFamily(
            "heldar_sampler_fps",
            "Frame rate a sampler is allotted.",
            labels=["camera_id", "stream_profile"],
        )
        frames = CounterMetricFamily(
            "heldar_sampler_frames",
            "Frames a sampler decoded.",
            labels=["camera_id", "stream_profile"],
        )
        for sampler in perception.samplers.status():
            label = [sampler.camera_id, sampler.stream_profile]
            fps.add_metric(label, sampler.fps if sampler.state == "sampling" else 0.0)
            frames.add_metric(label, sampler.frames_total)
        yield from (fps, frames)
        yield CounterMetricFamily(
            "heldar_ingest_batches",
            "Detection batches committed.",
            value=perception.writer.batches_total,
        )
        yield CounterMetricFamily(
            "heldar_ingest_detections",
            "Detections committed.",
            value=perception.writer.detections_total,
        )
        lag = GaugeMetricFamily(
            "heldar_consumer_lag", "Batches a consumer is behind.", labels=["consumer"]
        )
        failures = CounterMetricFamily(
            "heldar_consumer_failures", "Failed consume calls.", labels=["consumer"]
        )
        delivered = CounterMetricFamily(
            "heldar_consumer_delivered", "Batches delivered to a consumer.", labels=["consumer"]
        )
        for stats in perception.hub.stats():
            lag.add_metric([stats.name], stats.lag)
            failures.add_metric([stats.name], stats.failures)
            delivered.add_metric([stats.name], stats.delivered)
        yield from (lag, failures, delivered)

    def _integrations(self, snap: Snapshot) -> Iterator[Metric]:
        events = CounterMetricFamily(
            "heldar_events", "Events logged by this kernel.", labels=["severity"]
        )
        for severity in ("info", "warning", "critical"):
            events.add_metric([severity], self._events.appended[severity])
        yield events
        yield GaugeMetricFamily(
            "heldar_event_stream_subscribers",
            "Open server-sent-event streams.",
            value=self._stream.subscribers,
        )
        yield CounterMetricFamily(
            "heldar_event_stream_dropped",
            "Streams dropped for falling behind.",
            value=self._stream.dropped_total,
        )
        deliveries = CounterMetricFamily(
            "heldar_webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retry, failed).",
            labels=["outcome"],
        )
        for outcome in ("delivered", "retry", "failed"):
            deliveries.add_metric([outcome], self._webhooks.outcomes[outcome])
        yield deliveries
        yield GaugeMetricFamily(
            "heldar_webhook_outbox_pending",
            "Deliveries waiting in the outbox.",
            value=snap.pending_deliveries,
        )
        mqtt = self._mqtt
        if mqtt is not None:
            yield GaugeMetricFamily(
                "heldar_mqtt_connected", "1 while connected to the broker.", value=mqtt.connected
            )
            yield CounterMetricFamily(
                "heldar_mqtt_published", "MQTT messages published.", value=mqtt.published_total
            )
            yield CounterMetricFamily(
                "heldar_mqtt_dropped",
                "MQTT messages dropped (queue full).",
                value=mqtt.dropped_total,
            )
