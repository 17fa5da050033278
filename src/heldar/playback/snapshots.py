"""Snapshots from recordings: the frame nearest an offset of a segment, as a JPEG.

Decoded in-process with PyAV: seek to the keyframe at or before the offset, decode forward to
the nearest frame, encode it with ffmpeg's own mjpeg encoder (no imaging library needed).
Blocking and CPU-bound: call it through `asyncio.to_thread`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.video.frame import VideoFrame

from heldar.errors import MediaError
from heldar.playback.fmp4 import read_index


@dataclass(frozen=True)
class Snapshot:
    """A JPEG and which frame it shows."""

    jpeg: bytes
    offset_s: float
    """Where the frame is in the segment, from its first frame (may differ from the request)."""
    width: int
    height: int


def snapshot_jpeg(segment: Path, offset_s: float, *, quality: int = 85) -> bytes:
    """JPEG of the frame nearest `offset_s` seconds into `segment` (`math.inf`: the last one)."""
    return take_snapshot(segment, offset_s, quality=quality).jpeg


def take_snapshot(segment: Path, offset_s: float, *, quality: int = 85) -> Snapshot:
    """Like `snapshot_jpeg`, with the chosen frame's offset and size.

    Raises ValueError for a negative offset or a quality outside 1..100, FileNotFoundError
    when the file is gone, MediaError when nothing in it decodes.
    """
    if not 1 <= quality <= 100:
        raise ValueError("quality must be within 1..100")
    if math.isnan(offset_s) or offset_s < 0:
        raise ValueError("offset_s must be a non-negative number of seconds")
    # the box index is cheap and bounds the seek (a live file has no global duration)
    offset_s = min(offset_s, read_index(segment).duration_s)
    try:
        frame, at = _nearest_frame(segment, offset_s)
        return Snapshot(encode_jpeg(frame, quality), at, frame.width, frame.height)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{segment.name}: cannot decode ({exc})", code="bad_segment") from exc


def _nearest_frame(segment: Path, offset_s: float) -> tuple[VideoFrame, float]:
    with av.open(str(segment)) as container:
        if not container.streams.video:
            raise MediaError(f"{segment.name}: no video stream", code="bad_segment")
        stream = container.streams.video[0]
        time_base = stream.time_base or Fraction(1, 90_000)
        origin = _first_time(container, stream)
        target = origin + offset_s
        container.seek(int(target / time_base), stream=stream, backward=True, any_frame=False)
        best: tuple[VideoFrame, float] | None = None
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * time_base)
                if best is None or abs(t - target) < abs(best[1] - target):
                    best = (frame, t)
                if t >= target:
                    break
        except av.error.InvalidDataError:
            if best is None:  # a torn last fragment ends the file: keep what decoded
                raise
    if best is None:
        raise MediaError(f"{segment.name}: no decodable frame", code="bad_segment")
    return best[0], max(0.0, best[1] - origin)


def _first_time(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """Presentation time of the segment's first frame (0 unless the writer shifted it)."""
    time_base = stream.time_base or Fraction(1, 90_000)
    if stream.start_time is not None:
        return float(stream.start_time * time_base)
    for packet in container.demux(stream):
        if packet.pts is not None:
            return float(packet.pts * time_base)
    return 0.0


def encode_jpeg(frame: VideoFrame, quality: int) -> bytes:
    """A decoded frame as JPEG with ffmpeg's own mjpeg encoder (no imaging library)."""
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width = frame.width
    encoder.height = frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    # JPEG-style quality 100 (best) .. 1 onto mjpeg's quantizer scale 2 (best) .. 31
    encoder.qmin = encoder.qmax = round(2 + (100 - quality) * 29 / 99)
    packets = encoder.encode(frame.reformat(format="yuvj420p"))
    packets += encoder.encode(None)
    if not packets:
        raise MediaError("the JPEG encoder produced nothing")
    return bytes(packets[0])
