"""Timeline arithmetic as properties: the complement of the stored holes is the merged timeline."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from heldar.recording import timeline
from heldar.recording.timeline import Interval

T0 = datetime(2026, 11, 25, tzinfo=UTC)
# (pause before, length) pairs in tenths of a second: back to back, small holes, real gaps
steps = st.lists(st.tuples(st.integers(0, 80), st.integers(5, 600)), min_size=1, max_size=40)


def _segments(plan: list[tuple[int, int]]) -> list[Interval]:
    out, cursor = [], T0
    for pause, length in plan:
        start = cursor + timedelta(seconds=pause / 10)
        cursor = start + timedelta(seconds=length / 10)
        out.append(Interval(start, cursor))
    return out


@given(steps)
def test_complement_of_holes_equals_merged_segments(plan: list[tuple[int, int]]) -> None:
    segments = _segments(plan)
    holes = [
        Interval(a.end, b.start)
        for a, b in itertools.pairwise(segments)
        if b.start - a.end >= timeline.MERGE_TOLERANCE
    ]
    span = Interval(segments[0].start, segments[-1].end)
    assert timeline.complement(span, holes) == timeline.merge(segments)


@given(steps)
def test_gaps_are_the_holes_over_the_threshold(plan: list[tuple[int, int]]) -> None:
    segments = _segments(plan)
    for hole in timeline.holes(segments):
        assert hole.end - hole.start > timeline.GAP_THRESHOLD
    merged = timeline.merge(segments, tolerance=timedelta(0))
    assert len(timeline.holes(segments)) == sum(
        1 for a, b in itertools.pairwise(merged) if b.start - a.end > timeline.GAP_THRESHOLD
    )


def test_clip_cuts_at_the_window() -> None:
    parts = timeline.clip(
        [Interval(T0, T0 + timedelta(seconds=10))],
        T0 + timedelta(seconds=4),
        T0 + timedelta(seconds=6),
    )
    assert parts == [Interval(T0 + timedelta(seconds=4), T0 + timedelta(seconds=6))]
