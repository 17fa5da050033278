"""Opening a camera stream for real, bounded in time, to say whether it works and what it carries.

PyAV opens the URL in a worker thread (`asyncio.to_thread`) with FFmpeg's own I/O timeouts and an
interrupt deadline, so a silent camera cannot hold the thread longer than the timeout. Failures are
classified into the contract's typed errors; every message is redacted before it leaves.
"""

from __future__ import annotations

import asyncio
import errno
import re
import time
from dataclasses import dataclass

import av
import av.error

from heldar.cameras.models import ProbeError, StreamTestResult
from heldar.cameras.vendors import StreamProfile
from heldar.logs import redact

PROTOCOL_WHITELIST = "rtsp,rtsps,tcp,udp,rtp,tls,http,https,httpproxy"
_AUTH_STATUS = re.compile(r"\b(401|403|unauthorized|forbidden)\b")
"""An auth refusal in an error's own words. Whole words only, and never in the URL that FFmpeg
appends to its message: a port like 40312 made a 404 read as `auth_failed`."""


@dataclass(frozen=True)
class _Opened:
    codec: str
    width: int
    height: int
    fps: float | None


def _open(url: str, timeout_s: float) -> _Opened:
    options = {
        "rtsp_transport": "tcp",
        "timeout": str(int(timeout_s * 1_000_000)),
        "rw_timeout": str(int(timeout_s * 1_000_000)),
        "protocol_whitelist": PROTOCOL_WHITELIST,
        "analyzeduration": "2000000",
        "probesize": "2000000",
    }
    container = av.open(url, options=options, timeout=(timeout_s, timeout_s))
    try:
        video = next((s for s in container.streams if s.type == "video"), None)
        if video is None:
            raise _NoVideo("the stream carries no video track")
        # Demux one packet of it: proof that media really flows, not just that RTSP answered.
        for packet in container.demux(video):
            if packet.size:
                break
        ctx = video.codec_context  # a VideoCodecContext, typed as the base class by PyAV
        rate = video.average_rate or video.guessed_rate
        return _Opened(
            codec=ctx.name,
            width=int(getattr(ctx, "width", 0) or 0),
            height=int(getattr(ctx, "height", 0) or 0),
            fps=round(float(rate), 3) if rate else None,
        )
    finally:
        container.close()


class _NoVideo(Exception):
    pass


def classify(exc: BaseException) -> ProbeError:
    """Map a PyAV/OS failure to the contract's typed error."""
    if isinstance(exc, _NoVideo):
        return "no_video"
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return "auth_failed"
    if isinstance(exc, TimeoutError | av.error.ExitError):
        return "timeout"
    code = getattr(exc, "errno", None)
    if code in (errno.ETIMEDOUT, errno.EAGAIN):
        return "timeout"
    if code in (errno.EACCES, errno.EPERM):
        return "auth_failed"
    text = str(getattr(exc, "strerror", None) or exc).lower()  # FFmpeg's words, not the URL
    if _AUTH_STATUS.search(text):
        return "auth_failed"
    if "timed out" in text or "timeout" in text:
        return "timeout"
    return "unreachable"


async def probe_stream(
    url: str, *, profile: StreamProfile, masked_url: str, timeout_s: float
) -> StreamTestResult:
    """Open `url` (credentials included) and describe its video, or say why it failed."""
    started = time.monotonic()
    try:
        opened = await asyncio.to_thread(_open, url, timeout_s)
    except (av.error.FFmpegError, OSError, _NoVideo, StopIteration) as exc:
        elapsed = int((time.monotonic() - started) * 1000)
        error = classify(exc)
        # A server that accepts TCP and stays silent ends in a generic I/O error at the deadline.
        if error == "unreachable" and elapsed >= timeout_s * 900:
            error = "timeout"
        return StreamTestResult(
            reachable=False,
            stream=profile,
            url=masked_url,
            error=error,
            detail=redact(str(exc))[:500],
            elapsed_ms=elapsed,
        )
    elapsed = int((time.monotonic() - started) * 1000)
    return StreamTestResult(
        reachable=True,
        stream=profile,
        url=masked_url,
        codec=opened.codec,
        width=opened.width,
        height=opened.height,
        fps=opened.fps,
        elapsed_ms=elapsed,
    )
