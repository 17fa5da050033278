"""Reading recorded segments with PyAV, as a player would."""

from __future__ import annotations

from pathlib import Path

import av


def duration_s(path: Path) -> float:
    """Media duration from the video packets' timestamps (fMP4 has no global duration)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first = last = None
        frame_s = 0.0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = float(packet.pts * stream.time_base)
            first = t if first is None else min(first, t)
            last = t if last is None else max(last, t)
            if packet.duration:
                frame_s = float(packet.duration * stream.time_base)
    if first is None or last is None:
        return 0.0
    return last - first + frame_s


def decodable_frames(path: Path, *, truncated: bool = False) -> int:
    """How many video frames decode. A `truncated` file (its writer was killed) may end in a
    torn fragment: frames are counted up to the first error instead of raising."""
    count = 0
    with av.open(str(path)) as container:
        try:
            for _frame in container.decode(video=0):
                count += 1
        except av.error.InvalidDataError:
            if not truncated:
                raise
    return count
