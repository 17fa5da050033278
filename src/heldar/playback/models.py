"""Playback types: the recorded segments a job reads, and what playlists and clips report.

All times are timezone-aware UTC; durations are seconds. The indexer supplies `SegmentRef`s; the
API shapes `Gap`, `Playlist` and `ClipResult` into its JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path


@dataclass(frozen=True)
class SegmentRef:
    """One recorded fMP4 segment file, as the index knows it."""

    path: Path
    start: datetime
    duration_s: float

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("SegmentRef.start must be timezone-aware (UTC)")

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)


@dataclass(frozen=True)
class Gap:
    """A hole in the recording between two consecutive segments (`from`/`to` in the API)."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Playlist:
    """An HLS VOD playlist over recorded files, and what it covers."""

    text: str
    start: datetime
    end: datetime
    duration_s: float
    file_count: int
    media_segment_count: int
    discontinuity_count: int
    skipped: tuple[Path, ...]
    """Files that could not be read (vanished or unparsable); left out of the playlist."""


@dataclass(frozen=True)
class ClipResult:
    """One exported MP4 and what it covers."""

    path: Path
    start: datetime
    """Wall time of the first exported frame (the keyframe at or before the requested start)."""
    end: datetime
    covered_seconds: float
    gaps: tuple[Gap, ...]
    size_bytes: int
    segment_count: int
    parts: int
    """Runs of identical codec parameters; more than one means the clip crosses a
    discontinuity (the camera's stream changed between ffmpeg runs)."""
