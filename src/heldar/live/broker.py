"""`LiveBroker`: the kernel's live-view service (issue 9).

Owns every live pull (one per camera and profile, shared by all viewers) inside its own task
group, so no pull outlives the kernel; issues and checks live tokens; keeps `live_warm` cameras
pulling; restarts a camera's pulls when the camera is edited and ends them when it is deleted.
With `HELDAR_LIVE_WEBRTC` it also owns the WebRTC sessions (`heldar.live.webrtc`, imported then
only).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from heldar.auth.service import AuthServices
from heldar.cameras.registry import CameraRegistry
from heldar.cameras.vendors import StreamProfile
from heldar.clock import Clock
from heldar.errors import ConfigurationError, Conflict, HeldarError, MediaError, NotFound
from heldar.live.models import LiveStatus
from heldar.live.pull import Pull
from heldar.live.snapshot import grab_jpeg, newest_frame_jpeg
from heldar.live.tokens import Grant, LiveTokens
from heldar.live.viewer import Viewer
from heldar.settings import Settings
from heldar.supervisor import Service

if TYPE_CHECKING:
    from heldar.live.webrtc import WebRtcSessions

log = logging.getLogger(__name__)

SNAPSHOT_GRAB_S = 2.0
WEBRTC_INIT_S = 10.0


class LiveUnavailable(HeldarError):
    status = 503
    default_code = "live_unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "2"}


class LiveBroker:
    name = "live"

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        cameras: CameraRegistry,
        auth: AuthServices,
        *,
        ffmpeg: str,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._cameras = cameras
        self._auth = auth
        self._ffmpeg = ffmpeg
        self.tokens = LiveTokens(clock, auth, ttl_s=settings.live_token_ttl_s)
        self._pulls: dict[tuple[str, StreamProfile], Pull] = {}
        self._group: asyncio.TaskGroup | None = None
        self.webrtc: WebRtcSessions | None = None
        if settings.live_webrtc:
            try:
                from heldar.live.webrtc import WebRtcSessions
            except ImportError as exc:
                raise ConfigurationError(
                    "HELDAR_LIVE_WEBRTC=true needs aiortc: install heldar[webrtc] "
                    f"or turn WebRTC off ({exc})",
                    code="webrtc_unavailable",
                ) from exc
            self.webrtc = WebRtcSessions(
                self.tokens, max_sessions=settings.live_webrtc_max_sessions
            )
        cameras.subscribe(self._camera_changed)

    def services(self) -> list[Service]:
        return [self]

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                if self.webrtc is not None:
                    group.create_task(self.webrtc.run(), name="live-webrtc")
                for record in await self._cameras.list():
                    if record.live_warm and record.enabled:
                        self._acquire(record.id, "sub", warm=True)
                await asyncio.Event().wait()  # until the supervisor cancels us
        finally:
            self._group = None
            for pull in self._pulls.values():
                pull.close()
            self._pulls.clear()

    # -- pulls ------------------------------------------------------------------------------------

    def _acquire(self, camera_id: str, profile: StreamProfile, *, warm: bool = False) -> Pull:
        key = (camera_id, profile)
        pull = self._pulls.get(key)
        if pull is not None and not pull.closed:
            pull.warm = pull.warm or warm
            return pull
        if self._group is None:
            raise LiveUnavailable("live view is not running", code="live_unavailable")

        async def spawn_url() -> str:
            record = await self._cameras.get(camera_id)
            return self._cameras.spawn_url(record, profile)

        pull = Pull(
            camera_id,
            profile,
            spawn_url=spawn_url,
            ffmpeg=self._ffmpeg,
            clock=self._clock,
            idle_close_s=self._settings.live_idle_close_secs,
            warm=warm,
            transcode_allowed=self._settings.live_transcode,
        )
        self._pulls[key] = pull
        self._group.create_task(self._run_pull(pull), name=f"live-pull-{camera_id}-{profile}")
        return pull

    async def _run_pull(self, pull: Pull) -> None:
        try:
            await pull.run()
        except Exception:  # one broken pull must not end the broker and every other pull
            log.exception("live pull of %s failed", pull.camera_id)
        finally:
            if self._pulls.get((pull.camera_id, pull.profile)) is pull:
                del self._pulls[(pull.camera_id, pull.profile)]

    async def _usable(self, camera_id: str) -> None:
        record = await self._cameras.get(camera_id)
        if not record.enabled:
            raise Conflict(f"camera {camera_id!r} is disabled", code="camera_disabled")

    async def join(self, camera_id: str, profile: StreamProfile) -> tuple[Pull, Viewer]:
        """A new viewer of the camera's shared pull (started if it is not running)."""
        await self._usable(camera_id)
        pull = self._acquire(camera_id, profile)
        viewer = Viewer()
        pull.join(viewer)
        return pull, viewer

    async def hls(self, camera_id: str, profile: StreamProfile, *, wait_parts: int) -> Pull:
        """The pull serving HLS for the camera, once its window holds `wait_parts` parts."""
        await self._usable(camera_id)
        pull = self._acquire(camera_id, profile)
        pull.touch_hls()
        if not await pull.hls.wait_parts(wait_parts, within_s=10.0):
            raise LiveUnavailable("the live stream is not ready yet", code="live_starting")
        return pull

    def pull_of(self, camera_id: str, profile: StreamProfile) -> Pull | None:
        pull = self._pulls.get((camera_id, profile))
        return pull if pull is not None and not pull.closed else None

    async def _camera_changed(self, camera_id: str) -> None:
        if self.webrtc is not None:
            self.webrtc.end_camera(camera_id, "the camera was changed")
        for (cam, _), pull in list(self._pulls.items()):
            if cam == camera_id:
                pull.close()
        try:
            record = await self._cameras.get(camera_id)
        except NotFound:
            return
        if record.live_warm and record.enabled and self._group is not None:
            self._acquire(camera_id, "sub", warm=True)

    # -- WebRTC ------------------------------------------------------------------------------------

    def _webrtc(self) -> WebRtcSessions:
        if self.webrtc is None:
            raise NotFound("WebRTC live view is off (HELDAR_LIVE_WEBRTC)", code="webrtc_disabled")
        return self.webrtc

    def require_webrtc(self) -> None:
        self._webrtc()

    async def whep(self, grant: Grant, offer: str) -> tuple[str, str]:
        """A WebRTC session forwarding the grant's camera and profile: (session id, SDP answer).
        Waits (≤ `WEBRTC_INIT_S`) for the pull's init segment, to refuse what is not H.264."""
        sessions = self._webrtc()
        sessions.check_offer(offer)
        await self._usable(grant.camera_id)
        pull = self._acquire(grant.camera_id, grant.profile)
        pull.holds += 1
        try:
            deadline = time.monotonic() + WEBRTC_INIT_S
            while pull.info is None and not pull.closed and time.monotonic() < deadline:
                await pull.wait_changed(within_s=deadline - time.monotonic())
            if pull.info is None:
                raise LiveUnavailable("the live stream is not ready yet", code="live_starting")
            if not pull.info.browser_playable:
                raise Conflict(
                    f"WebRTC forwards H.264 only; this stream is {pull.info.codec}",
                    code="live_codec_unsupported",
                )
            return await sessions.answer(grant, pull, offer)
        finally:
            pull.holds -= 1

    async def whep_delete(self, camera_id: str, session_id: str) -> None:
        await self._webrtc().delete(camera_id, session_id)

    # -- snapshot and status ----------------------------------------------------------------------

    async def snapshot(self, camera_id: str) -> bytes | None:
        """JPEG of the newest live frame: from a running pull (main first), else a one-shot grab
        within `SNAPSHOT_GRAB_S`; None when the camera gives nothing in time."""
        deadline = time.monotonic() + 1.0
        for profile in ("main", "sub"):
            pull = self.pull_of(camera_id, profile)
            if pull is None:
                continue
            while not (pull.init and pull.gop) and time.monotonic() < deadline and not pull.closed:
                await pull.wait_changed(within_s=deadline - time.monotonic())
            if pull.init and pull.gop:
                try:
                    return await asyncio.to_thread(newest_frame_jpeg, pull.init, list(pull.gop))
                except MediaError as exc:
                    log.info("live snapshot of %s not decodable: %s", camera_id, exc)
        record = await self._cameras.get(camera_id)
        if not record.enabled:
            return None
        url = self._cameras.spawn_url(record, "main")
        return await grab_jpeg(self._ffmpeg, url, timeout_s=SNAPSHOT_GRAB_S)

    def status(self) -> LiveStatus:
        pulls = [p.stats() for p in self._pulls.values()]
        return LiveStatus(
            pulls=pulls,
            viewers=sum(p.viewers for p in pulls),
            dropped_viewers=sum(p.dropped_viewers for p in pulls),
            bytes_per_s=round(sum(p.bytes_per_s for p in pulls), 1),
            webrtc_sessions=len(self.webrtc) if self.webrtc is not None else 0,
        )
