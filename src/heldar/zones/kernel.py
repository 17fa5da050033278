"""One batch against every zone of its camera in one compiled call (numba).

`evaluate` runs the tables of `heldar.zones.machine` for every (detection, zone) pair of a batch
and writes the events it causes into a buffer; the engine turns them into `ZoneEvent`s. It is the
whole per-batch work after the detections were read: anchors, freshness, labels and confidence,
point in polygon, line sides, the state codes and times. Compiled with numba because the work per
batch is small (100 detections × 10 zones is 1,000 pairs): numpy spends about a microsecond per
call whatever the size, and a batch needs about a hundred of them, while compiled code spends a
few nanoseconds per pair (docs/design/zones.md, How it is evaluated).

Exactness: the sign of each edge's orientation determinant is trusted only beyond Shewchuk's error
bound for that determinant; a pair too close to a polygon edge to tell makes `evaluate` return
`UNSURE` before it changes any state, and the engine calls again with the answer of shapely's
exact predicate (`given`). So the result equals shapely `contains` (the boundary is outside) for
every point. A line's side is the sign of `(p1 − p0) × (anchor − p0)`, the same floating-point
expression as the scalar reference's, and crossings use `geometry.path_crosses`, compiled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar, cast

import numba
import numpy as np
from numpy.typing import NDArray

from heldar.zones import geometry, machine

Ints = NDArray[np.intp]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]

UNSURE = -1
"""`evaluate` found a point too close to a polygon edge to decide; nothing was changed."""

EVENT_TYPES = ("enter", "dwell", "exit", "cross_ab", "cross_ba")
"""Event codes written by `evaluate`, in the order events of one (detection, zone) pair come."""

ORIENT_BOUND = 3.3306690738754716e-16
"""(3 + 16ε)ε, ε = 2⁻⁵³: Shewchuk's `ccwerrboundA`. A computed orientation determinant whose
magnitude exceeds this times the sum of its two products' magnitudes has the exact sign."""

STATIC_EPSILON = 0.01
"""How far (normalized) an anchor must move before `static_suppression` lets its track enter."""


F = TypeVar("F", bound=Callable[..., Any])


def _jit(function: F) -> F:
    """Compile with numba on the first call, cached on disk: in `__pycache__` beside this module,
    else the user's cache directory, or `NUMBA_CACHE_DIR`. With no writable place at all it is
    compiled afresh by every process rather than failing."""
    try:
        return cast(F, numba.njit(cache=True)(function))
    except RuntimeError:  # "cannot cache function …: no locator available"
        return cast(F, numba.njit(function))


def _inline(function: F) -> F:
    """Compile into its callers: a call passing arrays costs atomic reference counting on each,
    which dominated the kernel's time while these were separate functions."""
    return cast(F, numba.njit(inline="always")(function))


_path_crosses = _inline(geometry.path_crosses)
POLYGON_KINDS = machine.POLYGON_KINDS
LINE_KINDS = machine.LINE_KINDS


class Tables(NamedTuple):
    """The enabled zones of one camera as the arrays `evaluate` reads (`ZoneTable.kernel`).

    `evaluate` gets it as a plain tuple (`tuple(tables)`) and unpacks it by position: numba
    types a named tuple, or a tuple holding a Python bool, several microseconds slower per call.

    Events name a zone by its place in id order (`p_order`, `l_order`); rows of `min_conf`
    and of the label mask are polygons first, then lines. `ring[start[r]:start[r + 1]]` is
    the closed ring of polygon row r (first vertex repeated). Machine rows are
    `base[r] + code * kinds + kind`, columns (next code, three flags): `machine.Machine.table`.
    """

    p_order: Ints  # per polygon row: its place among all the camera's zones in id order
    l_order: Ints  # per line row: the same
    min_conf: Floats
    ring: Floats  # (vertices, 2)
    start: Ints
    box: Floats  # (polygons, 4): min x, min y, max x, max y
    p_machine: Ints  # (rows, 4): next, enter, exit, visit starts
    p_base: Ints
    p_inside: Ints  # code of "inside" (N + 1) per polygon
    p_dwell_after: Floats  # seconds inside before a dwell; +inf without dwell
    p_static: Bools
    segments: Floats  # (lines, 4): x0, y0, x1, y1
    l_machine: Ints  # (rows, 4): next, settle, first on the other side, flip
    l_base: Ints
    l_direction: Ints  # 0 any, +1 only a→b, −1 only b→a


def rings(
    polygons: Sequence[Sequence[tuple[float, float]]],
) -> tuple[Floats, Ints, Floats]:
    """`Tables.ring`, `.start` and `.box` of some polygons."""
    closed = [[*points, points[0]] for points in polygons]
    start = np.cumsum([0, *(len(ring) for ring in closed)]).astype(np.intp)
    ring = np.array([p for r in closed for p in r], dtype=np.float64).reshape(-1, 2)
    box = np.zeros((len(closed), 4), dtype=np.float64)
    for r in range(len(closed)):
        points = ring[start[r] : start[r + 1]]
        box[r, :2], box[r, 2:] = points.min(axis=0), points.max(axis=0)
    return ring, start, box


@_inline
def _inside(ring: Floats, first: int, last: int, x: float, y: float) -> int:
    """Is (x, y) strictly inside the closed ring `ring[first:last]`: 1 yes, 0 no, 2 too close to
    an edge to say. (`evaluate` tests the bounding box first, strictly: cheaper, and a point on
    the box's edge is on the polygon's edge or outside.)"""
    crossings = 0
    for k in range(first, last - 1):
        x0, y0, x1, y1 = ring[k, 0], ring[k, 1], ring[k + 1, 0], ring[k + 1, 1]
        if (y < y0 and y < y1) or (y > y0 and y > y1):
            continue  # the horizontal through the point misses this edge
        left = (x1 - x0) * (y - y0)
        right = (y1 - y0) * (x - x0)
        det = left - right
        if abs(det) <= ORIENT_BOUND * (abs(left) + abs(right)):
            return 2  # on the edge, or rounding could flip the sign
        if (y0 > y) != (y1 > y) and (det > 0) == (y1 > y0):
            crossings += 1  # the rightward ray crosses this edge
    return crossings & 1


@_jit
def evaluate(
    tab: tuple[Any, ...],
    observes: Bools,
    t: float,
    numbers: Floats,
    ids: Ints,
    tracks: tuple[Floats, Floats, Floats, Bools],
    polygons: tuple[Floats, Ints],
    lines: tuple[Floats, Ints],
    events: Ints,
    seconds: Floats,
    given: Bools,
) -> int:
    """Apply one batch; write events as rows `(detection, zone order, type, label)` of `events`
    (with `seconds`, NaN when none) and return how many, or `UNSURE` having changed nothing.

    `tab`: the camera's `Tables` as a plain tuple. `numbers`: x, y, w, h of each detection in
    turn, then their confidences. `ids`: a row of label ids, then a row of track slots (−1:
    skip the detection). `observes`: `(zone rows, labels)` mask of the labels each zone reacts
    to. `tracks`: last update, first x, first y, moved — per slot. `polygons`, `lines`: the
    float and int `(slot, field, zone row)` grids (`state.Grid`).
    `given`: `(polygons, detections)` answers of the exact predicate, or an empty array.

    One flat function on purpose: every array is taken out of its tuple once, up front. Arrays
    handed to helpers or read off a tuple inside the loops cost atomic reference counting per
    use, which made this several times slower.
    """
    n = ids.shape[1]
    boxes, confidence = numbers[: 4 * n].reshape((n, 4)), numbers[4 * n :]
    labels, slots = ids[0], ids[1]
    last_update, first_x, first_y, moved = tracks
    pf, pi = polygons
    lf, li = lines
    (
        p_order,
        l_order,
        min_conf,
        ring,
        start,
        box,
        p_machine,
        p_base,
        p_inside,
        p_dwell_after,
        p_static,
        segments,
        l_machine,
        l_base,
        l_direction,
    ) = tab  # the fields of `Tables`, in order
    any_static, asked = p_static.any(), given.shape[0] > 0
    n_poly, n_line, count = pf.shape[2], lf.shape[2], 0
    ax, ay = np.empty(n), np.empty(n)
    before = np.empty(n)
    live = np.zeros(n, dtype=np.bool_)
    inside = np.full((n, n_poly), -1, dtype=np.int8)  # −1: no observation for the zone
    unsure = False
    for j in range(n):
        slot = slots[j]
        if slot < 0:
            continue
        x = boxes[j, 0] + boxes[j, 2] * 0.5
        y = boxes[j, 1] + boxes[j, 3] * 1.0
        c = confidence[j]
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(c)):
            continue
        if not last_update[slot] < t:
            continue  # out of order, a duplicate delivery, or the track's second detection
        before[j] = last_update[slot]
        last_update[slot] = t
        live[j], ax[j], ay[j] = True, x, y
        label = labels[j]
        for r in range(n_poly):
            if not (observes[r, label] and c >= min_conf[r]):
                continue
            if asked:
                inside[j, r] = given[r, j]
            elif box[r, 0] < x < box[r, 2] and box[r, 1] < y < box[r, 3]:
                # (on the box's edge is on the polygon's edge or outside)
                inside[j, r] = _inside(ring, start[r], start[r + 1], x, y)
                unsure |= inside[j, r] == 2
            else:
                inside[j, r] = 0
    if unsure:
        for j in range(n - 1, -1, -1):  # undo, newest first: a repeated track restores its own
            if live[j]:
                last_update[slots[j]] = before[j]
        return UNSURE
    for j in range(n):
        if not live[j]:
            continue
        slot, label, x, y, c = slots[j], labels[j], ax[j], ay[j], confidence[j]
        if any_static and not moved[slot]:
            moved[slot] = math.hypot(x - first_x[slot], y - first_y[slot]) > STATIC_EPSILON
        for r in range(n_poly):  # docs/design/zones.md, the state machine per polygon zone
            if inside[j, r] < 0:
                continue  # no observation for this zone: its state does not move
            within = inside[j, r] == 1
            if not within and pi[slot, 0, r] == 0:
                continue  # idle and outside stays so (an idle pair's times are never read)
            k = p_order[r]
            kind = 2 if within else 1
            if within and p_static[r] and not moved[slot]:
                kind = 3  # held at entering by static suppression
            step = p_base[r] + pi[slot, 0, r] * POLYGON_KINDS + kind
            code = pi[slot, 0, r] = p_machine[step, 0]
            if p_machine[step, 2]:  # exit: seconds observed inside
                span = pf[slot, 1, r] - pf[slot, 0, r]
                count = _emit(events, seconds, count, j, k, 2, pi[slot, 2, r], span)
            if p_machine[step, 1]:  # enter: the confirming detection's label is the visit's
                pi[slot, 2, r], pi[slot, 1, r] = label, 0
                count = _emit(events, seconds, count, j, k, 0, label, np.nan)
            if p_machine[step, 3]:
                pf[slot, 0, r] = t  # a visit starts
            if within:
                pf[slot, 1, r] = t
            pf[slot, 2, r] = t
            stay = t - pf[slot, 0, r]
            dwell = within and code >= p_inside[r] and not pi[slot, 1, r]
            if dwell and stay >= p_dwell_after[r]:
                pi[slot, 1, r] = 1
                count = _emit(events, seconds, count, j, k, 1, pi[slot, 2, r], stay)
        for r in range(n_line):  # docs/design/zones.md, Lines
            if not (observes[n_poly + r, label] and c >= min_conf[n_poly + r]):
                continue  # no observation for this line
            x0, y0, x1, y1 = segments[r, 0], segments[r, 1], segments[r, 2], segments[r, 3]
            side = (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)  # its sign: the side
            lf[slot, 2, r] = t
            if side == 0:
                continue  # on the line: seen, but on no side
            kind = 1 if side < 0 else 2
            step = l_base[r] + li[slot, 0, r] * LINE_KINDS + kind
            li[slot, 0, r] = l_machine[step, 0]
            if l_machine[step, 2]:  # first observation on the other side: did the path cross?
                segment, ref_x, ref_y = (x0, y0, x1, y1), lf[slot, 0, r], lf[slot, 1, r]
                li[slot, 1, r] = _path_crosses(segment, ref_x, ref_y, x, y)
            flip = l_machine[step, 3] and li[slot, 1, r] != 0
            if l_machine[step, 1]:  # settle: the anchor is the new reference
                li[slot, 1, r], lf[slot, 0, r], lf[slot, 1, r] = 0, x, y
            direction = 1 if side > 0 else -1
            if flip and (l_direction[r] == 0 or l_direction[r] == direction):
                kind = 3 if direction > 0 else 4
                count = _emit(events, seconds, count, j, l_order[r], kind, label, np.nan)
    _order(events, seconds, count)
    return count


@_inline
def _order(events: Ints, seconds: Floats, count: int) -> None:
    """Sort the events by (detection, zone order), keeping the order of one pair's events:
    polygons and lines are walked apart, so a detection's line events may precede a polygon
    event of a lower zone id. Insertion sort: the rows are almost always in order already."""
    for i in range(1, count):
        row = events[i].copy()
        span = seconds[i]
        h = i
        while h > 0 and (events[h - 1, 0], events[h - 1, 1]) > (row[0], row[1]):
            events[h] = events[h - 1]
            seconds[h] = seconds[h - 1]
            h -= 1
        events[h] = row
        seconds[h] = span


@_inline
def _emit(
    events: Ints, seconds: Floats, count: int, j: int, k: int, kind: int, label: int, span: float
) -> int:
    events[count, 0], events[count, 1], events[count, 2], events[count, 3] = j, k, kind, label
    seconds[count] = span
    return count + 1
