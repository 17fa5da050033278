"""Zone validation: every rule rejects with a stable type and a reason; good zones pass."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from heldar.errors import InvalidInput
from heldar.zones.geometry import shape_problem
from heldar.zones.models import Zone, ZoneConfig, ZoneCreate, ZoneUpdate

SQUARE = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]
SHAPE_CODES = {
    "zone_too_few_points",
    "zone_too_many_points",
    "zone_duplicate_points",
    "zone_zero_area",
    "zone_self_intersecting",
    "zone_line_points",
}


def errors(body: dict[str, Any], model: type[ZoneCreate | ZoneUpdate] = ZoneCreate) -> list[Any]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return caught.value.errors(include_input=False)


def only_error(body: dict[str, Any], model: type[ZoneCreate | ZoneUpdate] = ZoneCreate) -> Any:
    found = errors(body, model)
    assert len(found) == 1, found
    return found[0]


def test_defaults_follow_the_contract() -> None:
    zone = ZoneCreate.model_validate({"name": "door", "polygon": SQUARE})
    assert zone.kind == "region"
    assert zone.labels == []
    assert zone.dwell_seconds == 0
    assert zone.severity == "info"
    assert zone.enabled is True
    assert zone.config == ZoneConfig(
        confirm_frames=2, min_confidence=0.5, direction="any", static_suppression=False
    )
    line = ZoneCreate.model_validate(
        {"name": "gate", "kind": "line", "polygon": [[0, 0.5], [1, 0.5]]}
    )
    assert line.polygon == [(0.0, 0.5), (1.0, 0.5)]


def test_a_stored_zone_round_trips_through_json() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    zone = Zone(id=3, camera_id="cam", name="n", polygon=SQUARE, created_at=now, updated_at=now)
    assert Zone.model_validate_json(zone.model_dump_json()) == zone
    assert zone.model_dump(mode="json")["polygon"] == SQUARE


@pytest.mark.parametrize(
    ("polygon", "error_type"),
    [
        ([[math.nan, 0.1], [0.5, 0.1], [0.5, 0.5]], "finite_number"),
        ([[math.inf, 0.1], [0.5, 0.1], [0.5, 0.5]], "finite_number"),
        ([[1.5, 0.1], [0.5, 0.1], [0.5, 0.5]], "less_than_equal"),
        ([[-0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], "greater_than_equal"),
        ([["0.1", 0.1], [0.5, 0.1], [0.5, 0.5]], "float_type"),
        ([[True, 0.1], [0.5, 0.1], [0.5, 0.5]], "float_type"),
        ([[0.1, 0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], "too_long"),
        ([[0.1, 0.1], [0.5, 0.5]], "zone_too_few_points"),
        ([[0.1, 0.1], [0.1, 0.1], [0.5, 0.5], [0.1, 0.5]], "zone_duplicate_points"),
        ([*SQUARE, SQUARE[0]], "zone_duplicate_points"),
        ([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]], "zone_zero_area"),
        ([[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]], "zone_self_intersecting"),
        ([[0.1, 0.1], [0.1 + 1e-6, 0.1], [0.1, 0.1 + 1e-6]], "zone_zero_area"),
    ],
)
def test_bad_polygons_are_rejected_with_a_reason(polygon: Any, error_type: str) -> None:
    error = only_error({"name": "z", "polygon": polygon})
    assert error["type"] == error_type
    assert error["msg"]


def test_reasons_say_what_is_wrong() -> None:
    bowtie = only_error({"name": "z", "polygon": [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]})
    assert "Self-intersection" in bowtie["msg"]
    closing = only_error({"name": "z", "polygon": [*SQUARE, SQUARE[0]]})
    assert "do not repeat the first point" in closing["msg"]


def test_the_vertex_cap_is_checked_before_parsing() -> None:
    junk = ["not a point"] * 100_000  # parsing these would yield 100,000 errors
    error = only_error({"name": "z", "polygon": junk})
    assert error["type"] == "zone_too_many_points"
    assert "512" in error["msg"]
    ring = [
        [0.5 + 0.4 * math.cos(2 * math.pi * i / 512), 0.5 + 0.4 * math.sin(2 * math.pi * i / 512)]
        for i in range(512)
    ]
    assert len(ZoneCreate.model_validate({"name": "z", "polygon": ring}).polygon) == 512
    assert only_error({"name": "z", "polygon": [*ring, [0.5, 0.5]]})["type"] == (
        "zone_too_many_points"
    )
    assert only_error({"polygon": junk}, ZoneUpdate)["type"] == "zone_too_many_points"


@pytest.mark.parametrize(
    ("polygon", "error_type"),
    [
        (SQUARE, "zone_line_points"),
        ([[0.1, 0.1]], "zone_line_points"),
        ([[0.1, 0.1], [0.1, 0.1]], "zone_duplicate_points"),
    ],
)
def test_a_line_has_exactly_two_distinct_points(polygon: Any, error_type: str) -> None:
    assert only_error({"name": "l", "kind": "line", "polygon": polygon})["type"] == error_type


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "x" * 129),
        ("kind", "circle"),
        ("severity", "fatal"),
        ("dwell_seconds", -1),
        ("dwell_seconds", math.inf),
        ("dwell_seconds", 86_401),
        ("labels", ["x" * 65]),
        ("labels", [""]),
        ("labels", ["l"] * 65),
        ("enabled", "maybe"),
        ("color", "red"),
    ],
)
def test_bad_fields_are_rejected(field: str, value: Any) -> None:
    error = only_error({"name": "z", "polygon": SQUARE, field: value})
    assert error["loc"][0] == field


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"confirm_frames": 0}, "confirm_frames"),
        ({"confirm_frames": 101}, "confirm_frames"),
        ({"min_confidence": 1.01}, "min_confidence"),
        ({"min_confidence": math.nan}, "min_confidence"),
        ({"direction": "up"}, "direction"),
        ({"script": "rm -rf /"}, "script"),
    ],
)
def test_bad_config_is_rejected(config: dict[str, Any], key: str) -> None:
    error = only_error({"name": "z", "polygon": SQUARE, "config": config})
    assert error["loc"][:2] == ("config", key)


def test_an_update_checks_what_it_can_and_merged_checks_the_whole() -> None:
    current = ZoneCreate.model_validate(
        {"name": "z", "polygon": SQUARE, "config": {"direction": "ab"}}
    )
    assert only_error({"polygon": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]}, ZoneUpdate)["type"] == (
        "zone_zero_area"
    )
    assert only_error({"kind": "line", "polygon": SQUARE}, ZoneUpdate)["type"] == (
        "zone_line_points"
    )
    with pytest.raises(InvalidInput) as caught:
        ZoneUpdate.model_validate({"kind": "line"}).merged(current)
    assert caught.value.code == "zone_line_points"
    assert caught.value.status == 422
    assert "exactly 2 points" in caught.value.detail
    update = ZoneUpdate.model_validate({"name": "new", "config": {"confirm_frames": 5}})
    merged = update.merged(current)
    assert merged.name == "new"
    assert merged.config.confirm_frames == 5
    assert merged.config.direction == "ab"  # untouched config fields survive a partial config
    now = datetime(2026, 1, 1, tzinfo=UTC)
    stored = Zone(id=1, camera_id="c", created_at=now, updated_at=now, **current.model_dump())
    assert ZoneUpdate().merged(stored) == current


@st.composite
def point_lists(draw: st.DrawFn) -> list[list[float]]:
    grid = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
    return draw(st.lists(st.lists(grid, min_size=2, max_size=2), min_size=0, max_size=7))


@given(point_lists())
def test_any_point_list_is_a_zone_or_a_shape_error(polygon: list[list[float]]) -> None:
    points = [(p[0], p[1]) for p in polygon]
    try:
        zone = ZoneCreate.model_validate({"name": "z", "polygon": polygon})
    except ValidationError as exc:
        found = exc.errors(include_input=False)
        assert len(found) == 1
        assert found[0]["type"] in SHAPE_CODES
        problem = shape_problem(points, line=False)
        assert problem is not None and problem.code == found[0]["type"]
    else:
        assert shape_problem(points, line=False) is None
        assert zone.polygon == points
