"""A real recorder stack: SQLite store, camera registry, event log, RecorderManager under a
supervisor, real ffmpeg, and simulated or GStreamer RTSP cameras."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from heldar.cameras.models import CameraCreate
from heldar.cameras.registry import CameraRegistry
from heldar.clock import SystemClock
from heldar.events.log import EventLog
from heldar.ffmpeg.binary import find_ffmpeg
from heldar.recording.manager import RecorderConfig, RecorderManager
from heldar.secretbox import SecretBox
from heldar.store.engine import Store
from heldar.supervisor import Backoff, Supervisor


@dataclass
class Stack:
    data_dir: Path
    store: Store
    cameras: CameraRegistry
    events: EventLog
    recorder: RecorderManager

    async def add(self, camera_id: str, url: str, **fields: object) -> None:
        body = CameraCreate.model_validate(
            {"id": camera_id, "name": camera_id, "main_stream_url": url, **fields}
        )
        await self.cameras.create(body)
        await self.recorder.reconcile(camera_id)

    def segments(self, camera_id: str, kind: str = "recordings") -> list[Path]:
        return sorted((self.data_dir / kind / camera_id).glob("*.mp4"))


@pytest.fixture
def recorder_options() -> dict[str, object]:
    """RecorderConfig overrides; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
async def stack(tmp_path: Path, recorder_options: dict[str, object]) -> AsyncIterator[Stack]:
    data_dir = tmp_path / "data"
    store = Store(f"sqlite:///{tmp_path / 'heldar.db'}")
    await store.migrate()
    clock = SystemClock()
    cameras = CameraRegistry(store, SecretBox("test-key"))
    events = EventLog(store, clock)
    options: dict[str, object] = {
        "schedule_check_interval_s": 1.0,
        "backoff": Backoff(initial_s=1.0, cap_s=30.0, healthy_after_s=30.0),
        **recorder_options,
    }
    config = RecorderConfig(data_dir=data_dir, ffmpeg=find_ffmpeg(), **options)  # type: ignore[arg-type]
    manager = RecorderManager(config, store=store, cameras=cameras, events=events, clock=clock)
    try:
        async with Supervisor(clock=clock) as supervisor:
            supervisor.start(manager)
            yield Stack(data_dir, store, cameras, events, manager)
    finally:
        await store.close()
