"""The sampling budget: examples from the issue and properties that must hold for any demands."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heldar.perception.budget import (
    FLOOR_FPS,
    MIN_WIDTH,
    Allocation,
    Ask,
    StreamKey,
    allocate,
    floor_fps,
    frame_cost,
    stepped_width,
)

EPS = 1e-9


def cams(*fps: float, width: int = 640) -> dict[StreamKey, Ask]:
    return {StreamKey(f"cam{i}", "sub"): Ask(f, width) for i, f in enumerate(fps, start=1)}


def fps_of(result: dict[StreamKey, Allocation]) -> list[float]:
    return [result[key].fps for key in sorted(result)]


def test_three_cameras_at_budget_six_get_two_fps_each() -> None:
    assert fps_of(allocate(cams(5, 5, 5), 6)) == [2.0, 2.0, 2.0]


def test_a_fourth_camera_lowers_everyone_to_one_and_a_half() -> None:
    result = allocate(cams(5, 5, 5, 5), 6)
    assert fps_of(result) == [1.5, 1.5, 1.5, 1.5]
    assert all(a.state == "ok" and a.width == 640 and a.pressure == 0 for a in result.values())


def test_a_modest_camera_leaves_its_share_to_the_others() -> None:
    assert fps_of(allocate(cams(1, 10, 10), 6)) == [1.0, 2.5, 2.5]


def test_everyone_gets_what_they_ask_when_it_fits() -> None:
    assert fps_of(allocate(cams(1, 2, 0.2), 40)) == [1.0, 2.0, 0.2]


def test_pressure_steps_width_down_before_starving() -> None:
    # 12 floors of 0.5 fps = 6 > 5: at 75 % width a frame costs 0.5625, 12 × 0.28 = 3.4 ≤ 5.
    result = allocate(cams(*[4] * 12, width=1280), 5)
    assert {a.width for a in result.values()} == {960}
    assert {a.fps for a in result.values()} == {FLOOR_FPS}
    assert {a.pressure for a in result.values()} == {1}
    assert all(a.state == "ok" for a in result.values())


def test_width_never_drops_below_320() -> None:
    assert stepped_width(1920, 0.5) == 960
    assert stepped_width(400, 0.5) == MIN_WIDTH
    assert stepped_width(400, 0.0) == MIN_WIDTH
    assert stepped_width(200, 0.5) == 200  # asked less than the floor: kept


def test_exhaustion_starves_the_last_streams_in_key_order() -> None:
    # At 320 px a 640 px frame costs 0.25: 0.5 fps costs 0.125, so a budget of 1 serves 8.
    result = allocate(cams(*[1] * 10), 1)
    states = [result[key].state for key in sorted(result)]
    assert states.count("ok") == 8
    assert states[:8] == ["ok"] * 8
    exhausted = [a for a in result.values() if a.state == "budget_exhausted"]
    assert all(a.fps == 0 for a in exhausted)
    # key order is string order: cam1, cam10, cam2, … cam9
    assert [k.camera_id for k in sorted(result) if result[k].state != "ok"] == ["cam8", "cam9"]


def test_no_demands_no_allocations() -> None:
    assert allocate({}, 40) == {}


@pytest.mark.parametrize("budget", [0, -1])
def test_budget_must_be_positive(budget: float) -> None:
    with pytest.raises(ValueError):
        allocate(cams(1), budget)


# -- properties ------------------------------------------------------------------------------

asks = st.builds(
    Ask,
    fps=st.floats(min_value=0.1, max_value=30, allow_nan=False),
    width=st.integers(min_value=160, max_value=3840),
)
keys = st.builds(
    StreamKey,
    camera_id=st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True),
    stream_profile=st.sampled_from(["main", "sub"]),
)
demands = st.dictionaries(keys, asks, max_size=120)
budgets = st.floats(min_value=0.5, max_value=200, allow_nan=False)


@given(demands, budgets)
def test_nobody_gets_more_than_asked(asked: dict[StreamKey, Ask], budget: float) -> None:
    result = allocate(asked, budget)
    assert set(result) == set(asked)
    for key, allocation in result.items():
        assert allocation.fps <= asked[key].fps + EPS
        assert allocation.width <= asked[key].width


@given(demands, budgets)
def test_the_budget_holds(asked: dict[StreamKey, Ask], budget: float) -> None:
    result = allocate(asked, budget)
    if sum(floor_fps(a) for a in asked.values()) <= budget:
        assert sum(a.fps for a in result.values()) <= budget + EPS
    cost = sum(a.fps * frame_cost(asked[k].width, a.width) for k, a in result.items())
    assert cost <= budget + EPS


@given(demands, budgets)
def test_served_streams_get_at_least_the_floor(asked: dict[StreamKey, Ask], budget: float) -> None:
    for key, allocation in allocate(asked, budget).items():
        if allocation.state == "budget_exhausted":
            assert allocation.fps == 0
        else:
            assert allocation.fps >= floor_fps(asked[key]) - EPS


@given(demands, keys, asks, budgets)
def test_adding_a_stream_never_raises_anyones_share(
    asked: dict[StreamKey, Ask], key: StreamKey, ask: Ask, budget: float
) -> None:
    asked.pop(key, None)
    before = allocate(asked, budget)
    after = allocate({**asked, key: ask}, budget)
    for other, allocation in before.items():
        assert after[other].fps <= allocation.fps + EPS
        assert after[other].width <= allocation.width


@given(demands, budgets, st.randoms())
def test_the_order_of_demands_does_not_matter(
    asked: dict[StreamKey, Ask], budget: float, rnd: random.Random
) -> None:
    items = list(asked.items())
    rnd.shuffle(items)
    assert allocate(dict(items), budget) == allocate(asked, budget)


@given(st.integers(min_value=1, max_value=80), st.floats(min_value=0.5, max_value=30))
def test_equal_asks_get_equal_shares(n: int, fps: float) -> None:
    result = allocate(cams(*[fps] * n), 40)
    shares = {round(a.fps, 9) for a in result.values()}
    assert len(shares) == 1
    assert shares.pop() == pytest.approx(min(fps, 40 / n))
