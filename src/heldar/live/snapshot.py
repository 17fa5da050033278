"""Live snapshots: the newest frame of a running pull, or a one-shot keyframe grab.

From a pull, the init segment and the fragments since the last keyframe are decoded in-process
with PyAV (blocking: run through `asyncio.to_thread`) and the newest frame is encoded to JPEG.
Without a pull, one short ffmpeg reads the camera until its first frame and writes a JPEG.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal

import av
import av.error
from av.video.frame import VideoFrame

from heldar.errors import MediaError
from heldar.ffmpeg.args import input_args
from heldar.ffmpeg.process import FfmpegProcess
from heldar.playback.snapshots import encode_jpeg

MAX_JPEG_BYTES = 16 * 1024 * 1024


def newest_frame_jpeg(init: bytes, fragments: list[bytes], *, quality: int = 85) -> bytes:
    """JPEG of the last decodable frame of `init + fragments` (which start at a keyframe)."""
    newest: VideoFrame | None = None
    try:
        with av.open(io.BytesIO(init + b"".join(fragments)), format="mp4", mode="r") as container:
            for frame in container.decode(video=0):
                newest = frame
    except av.error.FFmpegError as exc:
        if newest is None:
            raise MediaError(f"live frame not decodable: {exc}") from exc
    if newest is None:
        raise MediaError("no decodable live frame")
    return encode_jpeg(newest, quality)


async def grab_jpeg(ffmpeg: str, url: str, *, timeout_s: float) -> bytes | None:
    """One frame of `url` as JPEG, or None when none came within `timeout_s`."""
    argv = [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-fflags",
        "nobuffer",
        # The SDP already names codec and size: do not spend seconds probing before the frame.
        "-analyzeduration",
        "100000",
        "-probesize",
        "65536",
        *input_args(url),
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-f",
        "image2",
        "-c:v",
        "mjpeg",
        "-q:v",
        "4",
        "pipe:1",
    ]
    proc = await FfmpegProcess.spawn(argv, binary_stdout=True)
    try:
        async with asyncio.timeout(timeout_s):
            chunks: list[bytes] = []
            while chunk := await proc.stdout.read(65536):
                chunks.append(chunk)
                if sum(map(len, chunks)) > MAX_JPEG_BYTES:
                    return None
            jpeg = b"".join(chunks)
            end = await proc.wait()
    except TimeoutError:
        return None
    finally:
        with contextlib.suppress(ProcessLookupError):
            await proc.stop(sig=signal.SIGKILL, grace_s=2.0)
    return jpeg if end.returncode == 0 and jpeg.startswith(b"\xff\xd8") else None
