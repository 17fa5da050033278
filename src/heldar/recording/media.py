"""Reading what a recorded file holds, in-process with PyAV (never ffprobe): codec, size and the
real readable duration — a file torn by a crash counts up to its last complete fragment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import av.error


class UnreadableSegment(Exception):
    """The file holds no readable video at all (to be quarantined)."""


@dataclass(frozen=True)
class SegmentInfo:
    codec: str
    width: int
    height: int
    duration_s: float
    frames: int

    @property
    def fps(self) -> float | None:
        """Frames per second over the readable duration (None for a single-frame file)."""
        return round(self.frames / self.duration_s, 2) if self.duration_s > 0 else None


def probe_segment(path: Path) -> SegmentInfo:
    """Demux (no decode) the video packets of `path`. Blocking: call via `asyncio.to_thread`."""
    try:
        container = av.open(str(path), options={"protocol_whitelist": "file"})
    except (av.error.FFmpegError, OSError) as exc:
        raise UnreadableSegment(f"cannot open: {exc}") from exc
    try:
        if not container.streams.video:
            raise UnreadableSegment("no video track")
        stream = container.streams.video[0]
        if stream.time_base is None:
            raise UnreadableSegment("video track without a time base")
        time_base = stream.time_base
        first: float | None = None
        last = 0.0
        frames = 0
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                t = float(packet.pts * time_base)
                end = t + float((packet.duration or 0) * time_base)
                first = t if first is None else min(first, t)
                last = max(last, end)
                frames += 1
        except (av.error.InvalidDataError, av.error.EOFError):
            pass  # a torn last fragment: what came before it is still good
        if first is None or frames == 0:
            raise UnreadableSegment("no readable video packet")
        ctx = stream.codec_context
        return SegmentInfo(
            codec=ctx.name,
            width=int(getattr(ctx, "width", 0) or 0),
            height=int(getattr(ctx, "height", 0) or 0),
            duration_s=round(max(last - first, 0.0), 3),
            frames=frames,
        )
    finally:
        container.close()
