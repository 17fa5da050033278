"""Pure logic: which fragments cover a window (cut at keyframes), and the gaps between files."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from heldar.playback.coverage import find_gaps, keyframe_slice
from heldar.playback.models import SegmentRef
from tests.playback.conftest import T0

fragment_lists = st.lists(
    st.tuples(st.floats(0.05, 4.0), st.booleans()), min_size=1, max_size=12
).map(
    lambda items: [
        (sum(d for d, _ in items[:i]), duration, key) for i, (duration, key) in enumerate(items)
    ]
)


@given(fragment_lists, st.floats(-5, 50), st.floats(0.01, 30))
def test_keyframe_slice_starts_at_the_keyframe_at_or_before_the_window(
    fragments: list[tuple[float, float, bool]], lo: float, length: float
) -> None:
    hi = lo + length
    first, stop = keyframe_slice(fragments, lo, hi)
    overlapping = [i for i, (s, d, _) in enumerate(fragments) if s < hi and s + d > lo]
    keyframes = [i for i, (_, _, key) in enumerate(fragments) if key]
    if not overlapping or not any(k < overlapping[-1] + 1 for k in keyframes):
        assert first == stop
        return
    assert first < stop
    assert fragments[first][2], "a slice opens with a keyframe"
    assert stop == overlapping[-1] + 1, "it ends with the last fragment the window touches"
    before = [k for k in keyframes if k <= overlapping[0]]
    if before:
        assert first == before[-1], "the latest keyframe at or before the window start"
        start, end = fragments[first][0], fragments[stop - 1][0] + fragments[stop - 1][1]
        file_end = fragments[-1][0] + fragments[-1][1]
        assert start <= max(lo, 0.0)
        assert end >= min(hi, file_end) - 1e-9
    else:
        assert first == min(k for k in keyframes if k >= overlapping[0])


segment_layouts = st.lists(
    st.tuples(st.floats(0.0, 10.0), st.floats(0.5, 6.0)), min_size=1, max_size=10
)


def _segments(layout: list[tuple[float, float]]) -> list[SegmentRef]:
    """Consecutive segments, each `hole` seconds after the previous one ended."""
    segments, t = [], 0.0
    for hole, duration in layout:
        t += hole
        path = Path(f"/rec/{len(segments)}.mp4")
        segments.append(SegmentRef(path, T0 + timedelta(seconds=t), duration))
        t += duration
    return segments


@given(segment_layouts, st.floats(-5, 60), st.floats(0.1, 80), st.sampled_from([2.0, 3.0]))
def test_gaps_are_exactly_the_long_holes_inside_the_window(
    layout: list[tuple[float, float]], lo_s: float, length: float, threshold: float
) -> None:
    segments = _segments(layout)
    start, end = T0 + timedelta(seconds=lo_s), T0 + timedelta(seconds=lo_s + length)

    gaps = find_gaps(list(reversed(segments)), start, end, threshold_s=threshold)

    for gap in gaps:
        assert start <= gap.start < gap.end <= end
        assert not any(s.start < gap.end and gap.start < s.end for s in segments)
    assert list(gaps) == sorted(gaps, key=lambda g: g.start)
    for before, after in itertools.pairwise(segments):
        hole = (after.start - before.end).total_seconds()
        inside = [
            before.end + (after.start - before.end) * f
            for f in (0.001, 0.5, 0.999)
            if start < before.end + (after.start - before.end) * f < end
        ]
        for moment in inside:
            reported = any(g.start <= moment <= g.end for g in gaps)
            assert reported == (hole > threshold), (hole, moment)


def test_no_gap_before_the_first_or_after_the_last_segment() -> None:
    segments = _segments([(10.0, 2.0), (0.0, 2.0)])
    assert find_gaps(segments, T0, T0 + timedelta(seconds=60)) == ()
