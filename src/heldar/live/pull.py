"""One upstream pull: a single ffmpeg remuxing a camera stream to fMP4, fanned out to viewers.

The pull keeps the init segment and the fragments since the last keyframe, so a new viewer starts
playing at once; it offers every fragment to every viewer (never waiting on one) and feeds the HLS
window. When ffmpeg ends (camera offline, stall) its viewers get a clear end-of-stream and the pull
retries with capped backoff. It stops itself once unwanted for `idle_close_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable

from heldar.cameras.vendors import StreamProfile
from heldar.clock import Clock
from heldar.errors import MediaError
from heldar.ffmpeg.args import input_args
from heldar.ffmpeg.process import FfmpegProcess
from heldar.live.fmp4 import InitInfo, fragment_info, read_box
from heldar.live.hls import HlsWindow
from heldar.live.models import PullStatus
from heldar.live.viewer import Chunk, Viewer
from heldar.supervisor import Backoff

log = logging.getLogger(__name__)

STALL_S = 10.0
HLS_GRACE_S = 10.0
"""An HLS client counts as watching this long after its last request (players poll ~1/s)."""
MAX_GOP_BYTES = 24 * 1024 * 1024
MOVFLAGS = "+frag_keyframe+empty_moov+default_base_moof+frag_every_frame"
TRANSCODE = "transcode"
"""`_pull_once`'s answer when the camera's codec needs the transcoding pull instead."""
RETRY = Backoff(initial_s=1.0, cap_s=30.0, healthy_after_s=10.0)


def pull_argv(ffmpeg: str, url: str, *, transcode: bool) -> list[str]:
    """Stream copy (or, for H.265 when allowed, H.264 transcode) of the first video track to
    per-frame fMP4 fragments on stdout, flushed at once."""
    video = (
        ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p"]
        if transcode
        else ["-c:v", "copy"]
    )
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "warning",
        "-fflags",
        "nobuffer",
        "-analyzeduration",
        "500000",
        *input_args(url),
        "-map",
        "0:v:0",
        "-an",
        *video,
        "-f",
        "mp4",
        "-movflags",
        MOVFLAGS,
        "-flush_packets",
        "1",
        "pipe:1",
    ]


class Pull:
    def __init__(
        self,
        camera_id: str,
        profile: StreamProfile,
        *,
        spawn_url: Callable[[], Awaitable[str]],
        ffmpeg: str,
        clock: Clock,
        idle_close_s: float,
        warm: bool,
        transcode_allowed: bool,
    ) -> None:
        self.camera_id = camera_id
        self.profile = profile
        self.warm = warm
        self._spawn_url = spawn_url
        self._ffmpeg = ffmpeg
        self._clock = clock
        self._idle_close_s = idle_close_s
        self._transcode_allowed = transcode_allowed
        self._transcode = False
        self.state = "starting"
        self.closed = False
        self._stop = asyncio.Event()
        self._changed = asyncio.Event()
        self.init: bytes | None = None
        self.info: InitInfo | None = None
        self.gop: list[bytes] = []
        self._gop_bytes = 0
        self.viewers: set[Viewer] = set()
        self.holds = 0
        """WebRTC sessions still connecting: they want the pull before they have a viewer."""
        self.hls = HlsWindow()
        self._hls_seen = -1e9
        self._last_wanted = clock.monotonic()
        self._proc: FfmpegProcess | None = None
        self.bytes_in = 0
        self.dropped = 0
        self.restarts = 0
        self._rate: list[tuple[float, int]] = []

    # -- viewers ----------------------------------------------------------------------------------

    def join(self, viewer: Viewer) -> None:
        self.viewers.add(viewer)
        self._last_wanted = self._clock.monotonic()
        if self.init is not None:
            viewer.offer(Chunk("init", self.init))
            viewer.has_init = True
            for fragment in self.gop:
                viewer.offer(Chunk("fragment", fragment))
            viewer.started = bool(self.gop)

    def leave(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)
        self._last_wanted = self._clock.monotonic()

    def touch_hls(self) -> None:
        self._hls_seen = self._last_wanted = self._clock.monotonic()

    def close(self) -> None:
        """Stop this pull now (camera changed or deleted, kernel stopping)."""
        self.closed = True
        self._stop.set()

    def wanted(self) -> bool:
        now = self._clock.monotonic()
        if self.warm or self.viewers or self.holds or now - self._hls_seen < HLS_GRACE_S:
            self._last_wanted = now
        return now - self._last_wanted < self._idle_close_s

    async def wait_changed(self, within_s: float) -> None:
        """Return after the next init or fragment, or after `within_s` seconds."""
        event = self._changed
        try:
            async with asyncio.timeout(within_s):
                await event.wait()
        except TimeoutError:
            return

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _end_viewers(self, reason: str) -> None:
        for viewer in list(self.viewers):
            viewer.end(reason)
        self.viewers.clear()

    # -- the pull ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Pull until unwanted or closed; the pull's viewers are ended on the way out."""
        try:
            async with asyncio.TaskGroup() as group:
                puller = group.create_task(self._pull_forever(), name=f"live-{self.camera_id}")
                while not self._stop.is_set() and self.wanted():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.5):
                            await self._stop.wait()
                self.closed = True
                puller.cancel()
        finally:
            self.closed = True
            self.state = "stopped"
            self._end_viewers("live stream closed")

    async def _pull_forever(self) -> None:
        delays = RETRY.delays()
        while True:
            started = self._clock.monotonic()
            try:
                reason = await self._pull_once()
            except (MediaError, OSError) as exc:
                reason = f"camera stream failed: {exc}"
            if reason != TRANSCODE:  # switching to a transcode: nothing was sent, viewers wait
                self._end_viewers(reason)
            self.init, self.info, self.gop = None, None, []
            self.hls.reset()
            self._notify()
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise asyncio.CancelledError
            if reason == TRANSCODE:
                continue
            self.state = "retrying"
            self.restarts += 1
            delay = delays.after_run(self._clock.monotonic() - started)
            log.warning(
                "live pull of %s ended (%s); retrying in %.0f s", self.camera_id, reason, delay
            )
            await self._clock.sleep(delay)

    async def _pull_once(self) -> str:
        url = await self._spawn_url()
        proc = await FfmpegProcess.spawn(
            pull_argv(self._ffmpeg, url, transcode=self._transcode), binary_stdout=True
        )
        self._proc = proc
        self.state = "connecting"
        ftyp = b""
        moof: bytes | None = None
        try:
            while True:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                # that races a completed read, and the pull would then never stop.
                async with asyncio.timeout(STALL_S):
                    box = await read_box(proc.stdout)
                if box is None:
                    break
                kind, data = box
                if kind == b"ftyp":
                    ftyp = data
                elif kind == b"moov":
                    info = InitInfo.parse(ftyp + data)
                    transcode = self._transcode_allowed and not self._transcode
                    if not info.browser_playable and transcode:
                        log.info("live %s: %s → transcoding to H.264", self.camera_id, info.codec)
                        self._transcode = True
                        return TRANSCODE
                    self._on_init(ftyp + data, info)
                elif kind == b"moof":
                    moof = data
                elif kind == b"mdat" and moof is not None:
                    self._on_fragment(moof, data)
                    moof = None
        except TimeoutError:
            return f"no data from the camera for {STALL_S:.0f} s"
        finally:
            self._proc = None
            end = await proc.stop(sig=signal.SIGKILL, grace_s=2.0)
            if not end.stopped_by_us and end.stderr_tail:
                log.info("live ffmpeg for %s: %s", self.camera_id, end.stderr_tail[-400:])
        return "camera stream ended"

    def _on_init(self, init: bytes, info: InitInfo) -> None:
        self.init, self.info = init, info
        self.state = "running"
        for viewer in self.viewers:
            if not viewer.has_init:
                viewer.offer(Chunk("init", init))
                viewer.has_init = True
        self._notify()

    def _on_fragment(self, moof: bytes, mdat: bytes) -> None:
        data = moof + mdat
        info = fragment_info(moof)
        self.bytes_in += len(data)
        now = time.monotonic()
        self._rate.append((now, len(data)))
        while self._rate and self._rate[0][0] < now - 5.0:
            self._rate.pop(0)
        if info.keyframe or self._gop_bytes + len(data) > MAX_GOP_BYTES:
            self.gop, self._gop_bytes = [], 0
        if info.keyframe or self.gop:
            self.gop.append(data)
            self._gop_bytes += len(data)
        chunk = Chunk("fragment", data)
        for viewer in list(self.viewers):
            if not viewer.started:
                if not info.keyframe or not viewer.has_init:
                    continue
                viewer.started = True
            if not viewer.offer(chunk):
                self.dropped += 1
                self.viewers.discard(viewer)
                viewer.end("viewer too slow: dropped")
                log.info("live %s: dropped a viewer that stopped reading", self.camera_id)
        if self._clock.monotonic() - self._hls_seen < HLS_GRACE_S:
            assert self.info is not None
            self.hls.add(data, info, self.info.timescale)
        self._notify()

    def stats(self) -> PullStatus:
        now = time.monotonic()
        recent = [(t, n) for t, n in self._rate if t >= now - 5.0]
        span = now - recent[0][0] if len(recent) > 1 else 0.0
        rate = sum(n for _, n in recent) / span if span > 0 else 0.0
        return PullStatus(
            camera_id=self.camera_id,
            profile=self.profile,
            state=self.state,
            pid=self._proc.pid if self._proc else None,
            codec=self.info.codec if self.info else None,
            width=self.info.width if self.info else None,
            height=self.info.height if self.info else None,
            viewers=len(self.viewers),
            hls_active=self._clock.monotonic() - self._hls_seen < HLS_GRACE_S,
            bytes_in=self.bytes_in,
            bytes_per_s=round(rate, 1),
            dropped_viewers=self.dropped,
            restarts=self.restarts,
            transcoding=self._transcode,
        )
