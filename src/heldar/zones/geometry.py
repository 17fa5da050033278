"""Zone geometry: anchors, exact point-in-polygon, line crossings, and shape validation.

Coordinates are normalized 0..1 with y growing downward (image coordinates). `inside` answers for
all anchors of a batch and all polygons of a camera at once with shapely 2's exact `contains_xy`:
the engine asks it when the compiled kernel (`heldar.zones.kernel`) cannot trust its own sign
near an edge. `path_crosses` runs compiled inside the kernel and plain in bench/zones.py. The
shape checks behind validation live here too, so models and engine agree on what a polygon is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

MIN_AREA = 1e-9
"""Smallest polygon area accepted (a fraction of the frame; sub-pixel even at 8K)."""
MAX_POINTS = 512

Point = tuple[float, float]
Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ShapeProblem:
    """Why a point list is not a usable zone: a stable `code` and a human `reason`."""

    code: str
    reason: str


_ANCHOR = np.array([[0.5], [1.0]])


def anchors(boxes: Floats) -> Floats:
    """Bottom-centre `(x + w/2, y + h)` of each `[x, y, w, h]` row, as a `(2, boxes)` array of
    x and y: where an object stands."""
    xy: Floats = boxes[:, :2].T + boxes[:, 2:].T * _ANCHOR
    return xy


@dataclass(frozen=True, slots=True)
class PolygonSet:
    """Prepared shapely polygons with their bounding boxes as `(2, zones, 1)` x/y columns."""

    geoms: NDArray[Any]
    low: Floats  # [min x, min y]
    high: Floats  # [max x, max y]

    def __len__(self) -> int:
        return len(self.geoms)


def compile_polygons(polygons: Sequence[Sequence[Point]]) -> PolygonSet:
    """Prepared polygons and their bounds, ready for `inside`."""
    geoms = np.empty(len(polygons), dtype=object)
    for i, points in enumerate(polygons):
        geoms[i] = shapely.Polygon(points)
    shapely.prepare(geoms)
    box = shapely.bounds(geoms).reshape(-1, 4)
    return PolygonSet(geoms, box[:, :2].T[:, :, None].copy(), box[:, 2:].T[:, :, None].copy())


def inside(
    polygons: PolygonSet, xy: Floats, among: NDArray[np.bool_] | None = None
) -> NDArray[np.bool_]:
    """`(zones, points)` matrix: is point j of `xy` (`(2, points)`: x and y) strictly inside
    polygon i (the boundary is outside).

    A bounding-box test first (strict, like the polygon test), then one shapely `contains_xy`
    over the candidate (zone, point) pairs only; `among`, a `(zones, points)` mask, limits the
    pairs worth testing (elsewhere the answer is False).
    """
    result = np.zeros((len(polygons), xy.shape[1]), dtype=bool)
    if result.size == 0:
        return result
    points = xy[:, None, :]
    within = (points > polygons.low) & (points < polygons.high)
    candidates = np.logical_and(within[0], within[1], out=within[0])
    if among is not None:
        candidates &= among
    z, j = np.nonzero(candidates)
    if len(z):
        result[z, j] = shapely.contains_xy(polygons.geoms[z], xy[0, j], xy[1, j])
    return result


def path_crosses(line: Sequence[float], px: float, py: float, qx: float, qy: float) -> bool:
    """Does the path p → q cross the segment `line` (`x0, y0, x1, y1`)?

    True when p and q lie strictly on opposite sides of the line and the segment's endpoints are not
    strictly on the same side of the path, so the intersection lies on the segment itself. Scalar:
    only a track's first observation on the other side of a line asks it.
    """
    x0, y0, x1, y1 = line
    sp = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
    sq = (x1 - x0) * (qy - y0) - (y1 - y0) * (qx - x0)
    oa = (qx - px) * (y0 - py) - (qy - py) * (x0 - px)
    ob = (qx - px) * (y1 - py) - (qy - py) * (x1 - px)
    opposite = (sp > 0 and sq < 0) or (sp < 0 and sq > 0)
    return opposite and not ((oa > 0 and ob > 0) or (oa < 0 and ob < 0))


def shape_problem(points: Sequence[Point], *, line: bool) -> ShapeProblem | None:
    """What is wrong with `points` as a line (2 points) or a polygon (3..512), or None."""
    if line:
        if len(points) != 2:
            return ShapeProblem(
                "zone_line_points", f"a line has exactly 2 points, not {len(points)}"
            )
        if tuple(points[0]) == tuple(points[1]):
            return ShapeProblem("zone_duplicate_points", "the two points of the line are the same")
        return None
    if len(points) < 3:
        return ShapeProblem(
            "zone_too_few_points", f"a polygon needs at least 3 points, not {len(points)}"
        )
    if len(points) > MAX_POINTS:
        return ShapeProblem(
            "zone_too_many_points", f"a polygon has at most {MAX_POINTS} points, not {len(points)}"
        )
    for i, point in enumerate(points):
        following = (i + 1) % len(points)
        if tuple(point) == tuple(points[following]):
            hint = (
                " (the ring closes by itself: do not repeat the first point)"
                if not following
                else ""
            )
            return ShapeProblem(
                "zone_duplicate_points", f"points {i} and {following} are the same{hint}"
            )
    polygon = shapely.Polygon(points)
    if shapely.MultiPoint(points).convex_hull.area < MIN_AREA:
        return ShapeProblem("zone_zero_area", "the polygon has no area (its points are collinear)")
    if not shapely.is_valid(polygon):
        reason = shapely.is_valid_reason(polygon)
        return ShapeProblem("zone_self_intersecting", f"the polygon is not simple: {reason}")
    if polygon.area < MIN_AREA:
        return ShapeProblem("zone_zero_area", f"the polygon's area is under {MIN_AREA:g}")
    return None
