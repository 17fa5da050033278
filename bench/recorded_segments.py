"""Synthetic recordings for benchmarks: real fMP4 segments of 2 s, as the recorder writes them.

A few distinct segments are encoded with ffmpeg's segment muxer and the recorder's flags, then
copied under consecutive UTC names, so thousands of files cost seconds to make.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from heldar.ffmpeg.args import FMP4_MOVFLAGS, SEGMENT_NAME
from heldar.ffmpeg.binary import find_ffmpeg
from heldar.playback.models import SegmentRef

T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def write_recordings(
    directory: Path, files: int, distinct: int, size: str, bitrate: str | None = None
) -> list[SegmentRef]:
    """`files` segments of 2 s from T0 in `directory` (`distinct` of them really encoded)."""
    scratch = directory / ".encode"
    scratch.mkdir(parents=True)
    rate = ["-b:v", bitrate] if bitrate else []
    subprocess.run(
        [
            find_ffmpeg(),
            *("-nostdin", "-hide_banner", "-loglevel", "error"),
            *("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=15", "-t", str(distinct * 2)),
            *("-c:v", "libx264", "-preset", "ultrafast", "-g", "15", *rate),
            *("-pix_fmt", "yuv420p"),
            *("-f", "segment", "-segment_time", "2", "-segment_format", "mp4"),
            *("-segment_format_options", FMP4_MOVFLAGS, "-reset_timestamps", "1"),
            str(scratch / "%05d.mp4"),
        ],
        check=True,
    )
    sources = sorted(scratch.iterdir())
    segments = []
    for n in range(files):
        start = T0 + timedelta(seconds=2 * n)
        path = directory / f"{start.strftime(SEGMENT_NAME)}.mp4"
        shutil.copyfile(sources[n % len(sources)], path)
        segments.append(SegmentRef(path, start, 2.0))
    shutil.rmtree(scratch)
    return segments
