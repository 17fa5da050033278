"""Recorded segments made with the real ffmpeg, exactly as the recorder writes them, for tests
of the index, playback and export (no camera needed)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from heldar.ffmpeg.args import FMP4_MOVFLAGS, SEGMENT_NAME
from heldar.ffmpeg.binary import find_ffmpeg
from heldar.playback.models import SegmentRef

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
FPS = 15
SEGMENT_S = 2


@dataclass(frozen=True)
class Run:
    """The segments of one ffmpeg run, as the indexer would describe them."""

    segments: list[SegmentRef]
    width: int
    height: int

    @property
    def frames(self) -> int:
        return len(self.segments) * SEGMENT_S * FPS

    @property
    def end(self) -> datetime:
        return self.segments[-1].end


def record_run(
    directory: Path,
    *,
    start: datetime,
    count: int,
    size: str = "320x180",
    gop: int = FPS,
    bframes: int = 0,
    audio: bool = False,
    reset_timestamps: bool = True,
) -> Run:
    """`count` segments of 2 s (testsrc2 at 15 fps, libx264) named by their UTC start second."""
    directory.mkdir(parents=True, exist_ok=True)
    scratch = directory / f".run-{start:%H%M%S}"
    scratch.mkdir()
    sources = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}"]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop), "-bf", str(bframes)]
    if audio:
        sources += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
        codecs += ["-c:a", "aac", "-b:a", "64k"]
    argv = [
        find_ffmpeg(),
        *("-nostdin", "-hide_banner", "-loglevel", "error"),
        *sources,
        *("-t", str(count * SEGMENT_S), "-r", str(FPS), "-pix_fmt", "yuv420p"),
        *codecs,
        *("-f", "segment", "-segment_time", str(SEGMENT_S), "-segment_format", "mp4"),
        *_timestamp_options(reset_timestamps),
        str(scratch / "%05d.mp4"),
    ]
    subprocess.run(argv, check=True, timeout=60)
    segments = []
    for number, produced in enumerate(sorted(scratch.iterdir())):
        begin = start + timedelta(seconds=number * SEGMENT_S)
        path = directory / f"{begin.strftime(SEGMENT_NAME)}.mp4"
        produced.rename(path)
        segments.append(SegmentRef(path, begin, float(SEGMENT_S)))
    scratch.rmdir()
    assert len(segments) == count
    width, height = (int(v) for v in size.split("x"))
    return Run(segments, width, height)


def _timestamp_options(reset: bool) -> list[str]:
    """The recorder's `-reset_timestamps 1` (every file restarts at 0), or timestamps that
    continue across the files of a run (`frag_discont`, no shift to zero)."""
    if reset:
        return ["-segment_format_options", FMP4_MOVFLAGS, "-reset_timestamps", "1"]
    continuous = f"{FMP4_MOVFLAGS}+frag_discont:avoid_negative_ts=disabled"
    return ["-segment_format_options", continuous]
