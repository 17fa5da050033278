"""Which fragments of which recorded files cover a time window, and the holes between files.

Pure logic shared by HLS playlists and clip export: a window is cut at fragment boundaries, and a
file's first fragment is always one that starts with a keyframe (with `frag_keyframe` every
fragment does), so the result decodes without the frames before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from heldar.playback.fmp4 import Fmp4Index, Fragment
from heldar.playback.models import Gap, SegmentRef

DEFAULT_GAP_THRESHOLD_S = 2.0


@dataclass(frozen=True)
class Span:
    """Fragments [first, stop) of one recorded file: the part of it a job uses."""

    segment: SegmentRef
    index: Fmp4Index
    first: int
    stop: int

    @property
    def fragments(self) -> tuple[Fragment, ...]:
        return self.index.fragments[self.first : self.stop]

    @property
    def start(self) -> datetime:
        """Wall time of the first fragment (the file starts at `segment.start`)."""
        return self.segment.start + timedelta(seconds=self.index.fragments[self.first].start_s)

    @property
    def duration_s(self) -> float:
        return sum(f.duration_s for f in self.fragments)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)


def keyframe_slice(
    fragments: Sequence[tuple[float, float, bool]], lo: float, hi: float
) -> tuple[int, int]:
    """Fragments (start, duration, keyframe) overlapping [lo, hi), widened back to a keyframe.

    Returns indices (first, stop); first == stop when nothing usable overlaps. The first fragment
    is the keyframe fragment at or before the first overlapping one; when the file has none
    before, the first keyframe fragment after it (earlier frames could not be decoded).
    """
    overlapping = [
        i
        for i, (start, duration, _key) in enumerate(fragments)
        if start < hi and (start + duration > lo or (duration <= 0 and start >= lo))
    ]
    if not overlapping:
        return 0, 0
    first, stop = overlapping[0], overlapping[-1] + 1
    back = first
    while back > 0 and not fragments[back][2]:
        back -= 1
    if fragments[back][2]:
        return back, stop
    forward = next((i for i in range(first, stop) if fragments[i][2]), stop)
    return (forward, stop) if forward < stop else (0, 0)


def spans_for(
    files: Sequence[tuple[SegmentRef, Fmp4Index]],
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Span]:
    """The spans of `files` (sorted by start) that cover [start, end); None is unbounded."""
    spans = []
    for segment, index in sorted(files, key=lambda item: (item[0].start, str(item[0].path))):
        lo = float("-inf") if start is None else (start - segment.start).total_seconds()
        hi = float("inf") if end is None else (end - segment.start).total_seconds()
        fragments = index.fragments
        if not fragments:
            continue
        if lo <= 0 and hi >= index.duration_s and fragments[0].keyframe:
            first, stop = 0, len(fragments)  # the whole file: the common case of a playlist
        else:
            table = [(f.start_s, f.duration_s, f.keyframe) for f in fragments]
            first, stop = keyframe_slice(table, lo, hi)
        if first < stop:
            spans.append(Span(segment, index, first, stop))
    return spans


def find_gaps(
    segments: Sequence[SegmentRef],
    start: datetime,
    end: datetime,
    *,
    threshold_s: float = DEFAULT_GAP_THRESHOLD_S,
) -> tuple[Gap, ...]:
    """Holes longer than `threshold_s` between consecutive segments, clipped to [start, end].

    Holes before the first or after the last segment are not gaps (nothing was crossed); the
    clip's `covered_seconds` tells how much of the window was recorded.
    """
    gaps = []
    reached: datetime | None = None
    for segment in sorted(segments, key=lambda s: s.start):
        if reached is not None and (segment.start - reached).total_seconds() > threshold_s:
            lo, hi = max(reached, start), min(segment.start, end)
            if hi > lo:
                gaps.append(Gap(lo, hi))
        reached = segment.end if reached is None else max(reached, segment.end)
    return tuple(gaps)
