"""`heldar serve --demo`: a simulated camera served next to the kernel and registered as `demo`.

A new user sees a working camera within seconds of the first command, without owning one.
"""

from __future__ import annotations

import asyncio
import logging

from heldar.cameras.models import CameraCreate, CameraUpdate
from heldar.cameras.registry import CameraRegistry
from heldar.errors import NotFound
from heldar.settings import Settings
from heldar.simcam.clip import ensure_clip
from heldar.simcam.server import SimCamServer

log = logging.getLogger(__name__)

DEMO_CAMERA_ID = "demo"


class DemoCamera:
    """Serves a `SimCamServer` on `HELDAR_DEMO_RTSP_PORT`; keeps the `demo` camera pointed at it."""

    name = "demo-camera"

    def __init__(self, settings: Settings, *, ffmpeg: str, cameras: CameraRegistry) -> None:
        self._settings = settings
        self._ffmpeg = ffmpeg
        self._cameras = cameras
        self._server: SimCamServer | None = None
        self._listening = False

    async def prepare(self) -> None:
        """Generate the clip (once, cached), start serving, and register the camera."""
        clip = await ensure_clip(self._settings.path("simcam"), ffmpeg=self._ffmpeg)
        self._server = SimCamServer(clip, port=self._settings.demo_rtsp_port, streams=1)
        await self._start()
        url = self._server.url(1)
        try:
            current = await self._cameras.get(DEMO_CAMERA_ID)
        except NotFound:
            await self._cameras.create(
                CameraCreate(id=DEMO_CAMERA_ID, name="Demo camera", main_stream_url=url)
            )
        else:
            if current.main_stream_url != url:
                await self._cameras.update(DEMO_CAMERA_ID, CameraUpdate(main_stream_url=url))
        log.info("demo camera %r serves %s", DEMO_CAMERA_ID, url)

    async def _start(self) -> None:
        assert self._server is not None
        try:
            await self._server.start()
        except OSError as exc:
            from heldar.errors import ConfigurationError

            raise ConfigurationError(
                f"demo camera cannot listen on port {self._settings.demo_rtsp_port}: {exc.strerror}"
                " (set HELDAR_DEMO_RTSP_PORT)"
            ) from exc
        self._listening = True

    async def run(self) -> None:
        assert self._server is not None, "prepare() first"
        try:
            if not self._listening:
                await self._start()
            await asyncio.Event().wait()
        finally:
            self._listening = False
            await self._server.stop()
