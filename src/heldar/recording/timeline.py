"""Timeline arithmetic (pure): merge recorded intervals into ranges, find the holes between them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

MERGE_TOLERANCE = timedelta(seconds=2)  # segments less than 2 s apart are one range
GAP_THRESHOLD = timedelta(seconds=3)  # a hole longer than 3 s is a gap (row + event)


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The parts of `intervals` inside [start, end), in their order."""
    out = []
    for item in intervals:
        a, b = max(item.start, start), min(item.end, end)
        if a < b:
            out.append(Interval(a, b))
    return out


def merge(intervals: Iterable[Interval], tolerance: timedelta = MERGE_TOLERANCE) -> list[Interval]:
    """Sort and merge intervals whose distance is below `tolerance` (overlaps included)."""
    ranges: list[Interval] = []
    for item in sorted(intervals, key=lambda i: (i.start, i.end)):
        if ranges and item.start - ranges[-1].end < tolerance:
            last = ranges[-1]
            ranges[-1] = Interval(last.start, max(last.end, item.end))
        else:
            ranges.append(item)
    return ranges


def holes(intervals: Iterable[Interval], threshold: timedelta = GAP_THRESHOLD) -> list[Interval]:
    """Holes longer than `threshold` between consecutive (sorted, merged) intervals."""
    merged = merge(intervals, tolerance=timedelta(0))
    return [
        Interval(a.end, b.start)
        for a, b in itertools.pairwise(merged)
        if b.start - a.end > threshold
    ]


def complement(span: Interval, holes_inside: Iterable[Interval]) -> list[Interval]:
    """`span` minus the (sorted, disjoint) holes: the recorded ranges when the index keeps
    every hole of at least MERGE_TOLERANCE as a row — O(holes), not O(segments)."""
    ranges: list[Interval] = []
    cursor = span.start
    for hole in sorted(holes_inside, key=lambda h: h.start):
        a, b = max(hole.start, span.start), min(hole.end, span.end)
        if a >= b:
            continue
        if a > cursor:
            ranges.append(Interval(cursor, a))
        cursor = max(cursor, b)
    if cursor < span.end:
        ranges.append(Interval(cursor, span.end))
    return ranges
