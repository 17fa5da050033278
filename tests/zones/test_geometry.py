"""Zone geometry against scalar references: ray casting, shapely's exact predicates and segments."""

from __future__ import annotations

import math

import numpy as np
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from heldar.zones import geometry, kernel

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
point = st.tuples(unit, unit)


@st.composite
def star_polygon(draw: st.DrawFn) -> list[tuple[float, float]]:
    """A simple polygon: radii around a centre at increasing angles (star-shaped, maybe concave)."""
    n = draw(st.integers(3, 12))
    cx, cy = draw(st.floats(0.3, 0.7)), draw(st.floats(0.3, 0.7))
    radii = draw(st.lists(st.floats(0.05, 0.29), min_size=n, max_size=n))
    return [
        (cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n))
        for i, r in enumerate(radii)
    ]


def ray_cast(polygon: list[tuple[float, float]], x: float, y: float) -> bool:
    inside = False
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def test_anchor_is_the_bottom_centre_of_the_box() -> None:
    x, y = geometry.anchors(np.array([[0.1, 0.2, 0.4, 0.3], [0.0, 0.0, 1.0, 1.0]]))
    assert np.allclose(x, [0.3, 0.5])
    assert np.allclose(y, [0.5, 1.0])


@given(st.lists(star_polygon(), min_size=1, max_size=4), st.lists(point, min_size=1, max_size=30))
def test_inside_matches_ray_casting_for_every_zone_and_point(polygons, points) -> None:
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    for polygon in polygons:  # the boundary is where conventions differ: stay off it
        ring = shapely.Polygon(polygon).exterior
        assume(all(ring.distance(shapely.Point(p)) > 1e-9 for p in points))
    result = geometry.inside(geometry.compile_polygons(polygons), np.stack((xs, ys)))
    assert result.shape == (len(polygons), len(points))
    for i, polygon in enumerate(polygons):
        for j, (x, y) in enumerate(points):
            assert result[i, j] == ray_cast(polygon, x, y)


def test_inside_of_nothing_is_an_empty_matrix() -> None:
    polygons = geometry.compile_polygons([[(0, 0), (1, 0), (0, 1)]])
    assert geometry.inside(polygons, np.zeros((2, 0))).shape == (1, 0)
    empty = geometry.compile_polygons([])
    assert geometry.inside(empty, np.zeros((2, 3))).shape == (0, 3)


def test_the_boundary_is_outside() -> None:
    square = geometry.compile_polygons([[(0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6)]])
    result = geometry.inside(square, np.array([[0.2, 0.4, 0.4], [0.4, 0.6, 0.4]]))
    assert result.tolist() == [[False, False, True]]


@settings(deadline=None)  # the first example compiles the kernel
@given(star_polygon(), st.lists(point, max_size=20), st.data())
def test_the_compiled_test_agrees_with_shapely_or_defers_to_it(polygon, points, data) -> None:
    """`kernel._inside` is exact where it answers: 1 or 0 as shapely `contains` (the boundary
    outside), else 2 ("ask shapely") — which it must say on vertices and on edges."""
    vertex = data.draw(st.sampled_from(polygon))
    a, b = data.draw(st.sampled_from(list(zip(polygon, polygon[1:] + polygon[:1], strict=True))))
    along = data.draw(st.floats(0.0, 1.0))
    on_edge = (a[0] + along * (b[0] - a[0]), a[1] + along * (b[1] - a[1]))
    ring, start, _ = kernel.rings([polygon])
    shape = shapely.Polygon(polygon)
    for x, y in [*points, vertex, on_edge]:
        answer = kernel._inside(ring, start[0], start[1], x, y)
        if answer != 2:
            assert answer == shape.contains(shapely.Point(x, y)), (x, y)
    assert kernel._inside(ring, start[0], start[1], *vertex) == 2
    if shape.exterior.distance(shapely.Point(on_edge)) == 0:  # on the edge after rounding
        assert kernel._inside(ring, start[0], start[1], *on_edge) == 2


@given(st.tuples(point, point), point, point)
def test_path_crosses_matches_a_proper_segment_intersection(line, p, q) -> None:
    a, b = line
    assume(a != b and p != q)
    segment, path = shapely.LineString([a, b]), shapely.LineString([p, q])
    # Degenerate touches are where conventions differ; keep every endpoint clear of the other.
    assume(min(segment.distance(shapely.Point(p)), segment.distance(shapely.Point(q))) > 1e-6)
    assume(min(path.distance(shapely.Point(a)), path.distance(shapely.Point(b))) > 1e-6)
    line = (*a, *b)
    crosses = geometry.path_crosses(line, *p, *q)
    assert crosses == segment.intersects(path)
    assert geometry.path_crosses(line, *q, *p) == crosses


def test_passing_around_the_end_of_a_line_is_no_crossing() -> None:
    line = (0.2, 0.5, 0.6, 0.5)
    assert not geometry.path_crosses(line, 0.8, 0.2, 0.8, 0.8)


def test_shape_problems_name_the_rule() -> None:
    square = [(0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5)]
    assert geometry.shape_problem(square, line=False) is None
    cases = {
        "zone_too_few_points": [(0.1, 0.1), (0.5, 0.5)],
        "zone_duplicate_points": [(0.1, 0.1), (0.1, 0.1), (0.5, 0.5)],
        "zone_zero_area": [(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)],
        "zone_self_intersecting": [(0.1, 0.1), (0.5, 0.5), (0.5, 0.1), (0.1, 0.5)],
    }
    for code, points in cases.items():
        problem = geometry.shape_problem(points, line=False)
        assert problem is not None and problem.code == code, (code, problem)
    closing = geometry.shape_problem([*square, square[0]], line=False)
    assert closing is not None and "do not repeat the first point" in closing.reason
    bowtie = geometry.shape_problem(cases["zone_self_intersecting"], line=False)
    assert bowtie is not None and "Self-intersection" in bowtie.reason
    assert geometry.shape_problem([(0.1, 0.1), (0.5, 0.5)], line=True) is None
    same = geometry.shape_problem([(0.1, 0.1), (0.1, 0.1)], line=True)
    assert same is not None and same.code == "zone_duplicate_points"
    three = geometry.shape_problem(square[:3], line=True)
    assert three is not None and three.code == "zone_line_points"
