"""The kernel: every service wired together and owned by one supervisor for the app's lifetime.

`Kernel.open(settings)` prepares the data directory, opens and migrates the store, builds the
services, starts the background ones under the supervisor, and undoes all of it in reverse order
on exit. The HTTP layer (`heldar.api.app`) holds one `Kernel` and never builds services itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from heldar import __version__
from heldar.auth.audit import AuditLog
from heldar.auth.service import AuthHousekeeping, AuthServices
from heldar.auth.users import Bootstrap
from heldar.cameras.registry import CameraRegistry
from heldar.clock import Clock, SystemClock
from heldar.events.log import EventLog
from heldar.ffmpeg.binary import find_ffmpeg
from heldar.live.broker import LiveBroker
from heldar.observability.service import Observability
from heldar.perception.service import Perception, PerceptionOptions
from heldar.playback.service import PlaybackService
from heldar.playback.snapshot_schedules import SnapshotScheduler
from heldar.recording.catalog import Catalog
from heldar.recording.eviction import RetentionSettings
from heldar.recording.evidence import Evidence
from heldar.recording.indexer import Indexer
from heldar.recording.manager import RecorderConfig, RecorderManager
from heldar.recording.retention import Retention
from heldar.recording.scheduling import ScheduleBook
from heldar.secretbox import SecretBox
from heldar.settings import Settings
from heldar.store.engine import Store
from heldar.supervisor import Supervisor
from heldar.zones.service import ZoneService

log = logging.getLogger(__name__)

DATA_SUBDIRS = ("recordings", "clips", "snapshots", "frames", "playback", "buffer")


@dataclass
class Kernel:
    """Handles to the running services, shared by every request."""

    settings: Settings
    clock: Clock
    store: Store
    supervisor: Supervisor
    cameras: CameraRegistry
    audit: AuditLog
    auth: AuthServices
    events: EventLog
    indexer: Indexer
    catalog: Catalog
    playback: PlaybackService
    snapshot_schedules: SnapshotScheduler
    perception: Perception
    observability: Observability
    zones: ZoneService
    live: LiveBroker
    recorder: RecorderManager
    schedules: ScheduleBook
    evidence: Evidence
    retention: Retention
    ffmpeg: str
    started_at: datetime

    @classmethod
    @asynccontextmanager
    async def open(
        cls, settings: Settings, *, demo: bool = False, clock: Clock | None = None
    ) -> AsyncIterator[Kernel]:
        clock = clock or SystemClock()
        prepare_data_dir(settings)
        ffmpeg = find_ffmpeg(settings.ffmpeg_bin)
        store = Store(settings.store_url)
        try:
            revision = await store.migrate()
            log.info("store %s at revision %s", store.description, revision)
            secret = settings.secret_key.get_secret_value() if settings.secret_key else None
            cameras = CameraRegistry(
                store,
                SecretBox(secret),
                ffmpeg_timeout_s=settings.camera_test_timeout_s,
                test_concurrency=settings.camera_test_concurrency,
            )
            audit = AuditLog(store, clock)
            auth = AuthServices.build(settings, store, clock, audit)
            await open_auth(settings, auth)
            events = EventLog(store, clock)
            indexer = Indexer(store, events, clock, settings.data_dir)
            await indexer.reconcile()  # before any ffmpeg writes: every file on disk is closed
            recorder = RecorderManager(
                RecorderConfig(
                    data_dir=settings.data_dir,
                    ffmpeg=ffmpeg,
                    schedule_check_interval_s=settings.schedule_check_interval_s,
                    mirror_dir=settings.mirror_recordings_dir,
                ),
                store=store,
                cameras=cameras,
                events=events,
                clock=clock,
                indexer=indexer,
            )
            if settings.recording_enabled:
                cameras.subscribe(recorder.reconcile)
            schedules = ScheduleBook(store, clock, on_change=recorder.wake)
            retention = Retention(
                store,
                events,
                clock,
                settings.data_dir,
                defaults=RetentionSettings(
                    max_recordings_gb=settings.max_recordings_gb,
                    min_free_disk_gb=settings.min_free_disk_gb,
                    guard_max_share=settings.retention_guard_max_share,
                    interval_s=settings.retention_interval_s,
                ),
            )
            cameras.subscribe(retention.camera_changed)
            playback = PlaybackService(
                store,
                clock,
                settings.data_dir,
                ffmpeg=ffmpeg,
                job_concurrency=settings.media_job_concurrency,
                hold=retention.hold,
            )
            retention.add_protection(playback.protected_segment_ids)
            indexer.subscribe(playback.segment_indexed)
            indexer.subscribe(recorder.segment_indexed)
            snapshot_schedules = SnapshotScheduler(store, clock, settings.data_dir, playback)
            cameras.subscribe(snapshot_schedules.camera_changed)
            perception = Perception(
                store,
                clock,
                events,
                cameras,
                PerceptionOptions(
                    max_total_fps=settings.ai_max_total_fps,
                    provenance=settings.ingest_provenance,
                    worker_timeout_s=settings.ai_worker_timeout_s,
                    detection_retention_days=settings.detection_retention_days,
                    ticket_secret=secret,
                ),
            )
            cameras.subscribe(perception.camera_changed)
            zones = ZoneService(
                store,
                clock,
                events,
                settings.data_dir,
                trigger=recorder.trigger,
                frame_of=perception.frame_of,
                track_timeout_s=settings.zone_track_timeout_s,
            )
            await zones.load()
            indexer.subscribe(zones.segment_indexed)
            perception.hub.register(zones)
            cameras.subscribe(zones.camera_changed)
            live = LiveBroker(settings, clock, cameras, auth, ffmpeg=ffmpeg)
            observability = Observability(
                settings, store, clock, events, cameras, recorder, perception
            )
            async with Supervisor(clock=clock) as supervisor:
                kernel = cls(
                    settings=settings,
                    clock=clock,
                    store=store,
                    supervisor=supervisor,
                    cameras=cameras,
                    audit=audit,
                    auth=auth,
                    events=events,
                    indexer=indexer,
                    catalog=Catalog(store),
                    playback=playback,
                    snapshot_schedules=snapshot_schedules,
                    perception=perception,
                    observability=observability,
                    zones=zones,
                    live=live,
                    recorder=recorder,
                    schedules=schedules,
                    evidence=Evidence(store),
                    retention=retention,
                    ffmpeg=ffmpeg,
                    started_at=clock.now(),
                )
                supervisor.start(
                    AuthHousekeeping(
                        store,
                        clock,
                        auth,
                        audit,
                        audit_retention_days=settings.audit_retention_days,
                    )
                )
                supervisor.start(indexer)
                supervisor.start(retention)
                supervisor.start(playback)
                supervisor.start(snapshot_schedules)
                await start_perception(kernel)
                supervisor.start(zones)
                for service in live.services():
                    supervisor.start(service)
                for service in observability.services():
                    supervisor.start(service)
                if settings.recording_enabled:
                    supervisor.start(recorder)
                else:
                    log.warning("recording is off (HELDAR_RECORDING_ENABLED=false)")
                if demo:
                    from heldar.demo import DemoCamera  # imports PyAV demuxing; only when asked

                    demo_camera = DemoCamera(settings, ffmpeg=ffmpeg, cameras=cameras)
                    await demo_camera.prepare()
                    supervisor.start(demo_camera)
                log.info("heldar %s started; data in %s", __version__, settings.data_dir)
                yield kernel
                log.info("heldar stopping")
        finally:
            await store.close()
            log.info("heldar stopped cleanly")


async def start_perception(kernel: Kernel) -> None:
    """Consumers from entry points, the stored tasks' samplers, then the perception services."""
    perception = kernel.perception
    loaded = perception.hub.load_entry_points(kernel)
    if loaded:
        log.info("detection consumers from entry points: %s", ", ".join(loaded))
    await perception.hub.prepare()
    await perception.rebalance()
    for service in perception.services():
        if service is perception.samplers and not kernel.settings.ai_sampling_enabled:
            log.warning("frame sampling is off (HELDAR_AI_SAMPLING_ENABLED=false)")
            continue
        kernel.supervisor.start(service)


async def open_auth(settings: Settings, auth: AuthServices) -> None:
    """Create the first admin on an empty store, and say how to log in."""
    password = settings.bootstrap_admin_password
    created = await auth.users.bootstrap(
        settings.bootstrap_admin_user, password.get_secret_value() if password else None
    )
    if created is not None:
        announce_bootstrap(created)
    if not settings.auth_enabled:
        log.warning("auth is OFF (HELDAR_AUTH_ENABLED=false): every local request acts as admin")
    await auth.hasher.warm_up()


def announce_bootstrap(created: Bootstrap) -> None:
    """Say once who the first admin is. A generated password goes to stdout, never to the log."""
    if created.generated_password is None:
        log.info("created admin %r from HELDAR_BOOTSTRAP_ADMIN_PASSWORD", created.username)
        return
    log.info(
        "created admin %r with a generated password, written to %s (mode 0600)",
        created.username,
        created.password_file,
    )
    print(
        f"Initial admin: user {created.username!r}, password {created.generated_password} "
        f"(also in {created.password_file}; change it after the first login)",
        flush=True,
    )


def prepare_data_dir(settings: Settings) -> None:
    """Create the data directory tree (owner-only: it holds the store and recordings)."""
    root = settings.data_dir
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    for name in DATA_SUBDIRS:
        (root / name).mkdir(exist_ok=True)
