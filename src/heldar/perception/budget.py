"""The global sampling budget: how many frames per second, at what width, each stream gets.

Pure and deterministic. Water-filling at full width while every stream's floor fits; under
pressure widths step down (75 %, 50 %, 320 px) and everyone gets its floor; past that, streams are
starved in (camera_id, profile) order. docs/design/sampler.md explains why, with the invariants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from heldar.cameras.vendors import StreamProfile

DEFAULT_MAX_TOTAL_FPS = 40.0
FLOOR_FPS = 0.5
MIN_WIDTH = 320
WIDTH_STEPS = (1.0, 0.75, 0.5, 0.0)  # 0.0 = the 320 px floor

AllocationState = Literal["ok", "budget_exhausted"]


@dataclass(frozen=True, order=True)
class StreamKey:
    """One sampled stream: a camera's main or sub stream."""

    camera_id: str
    stream_profile: StreamProfile

    def __str__(self) -> str:
        return f"{self.camera_id}:{self.stream_profile}"


@dataclass(frozen=True)
class Ask:
    """What a stream's tasks ask for together: the highest fps and the widest width."""

    fps: float
    width: int

    def __post_init__(self) -> None:
        if not self.fps > 0 or self.width < 1:
            raise ValueError("an ask needs fps > 0 and width ≥ 1")


@dataclass(frozen=True)
class Allocation:
    """What a stream gets. `pressure`: 0 full width, 1 = 75 %, 2 = 50 %, 3 = 320 px."""

    fps: float
    width: int
    state: AllocationState = "ok"
    pressure: int = 0


def floor_fps(ask: Ask) -> float:
    """The least a served stream gets: 0.5 fps, or its ask when it asks for less."""
    return min(ask.fps, FLOOR_FPS)


def stepped_width(asked: int, step: float) -> int:
    """`asked` scaled by `step` (even pixels), never below 320 px unless the ask is smaller."""
    floor = min(asked, MIN_WIDTH)
    if step <= 0:
        return floor
    return max(floor, min(asked, int(asked * step) // 2 * 2))


def frame_cost(asked: int, width: int) -> float:
    """Budget units one frame at `width` costs, relative to a frame at the asked width."""
    return (width / asked) ** 2


def allocate(
    asks: Mapping[StreamKey, Ask], max_total_fps: float = DEFAULT_MAX_TOTAL_FPS
) -> dict[StreamKey, Allocation]:
    """Share `max_total_fps` among `asks`. The result has exactly the keys of `asks`."""
    if not max_total_fps > 0:
        raise ValueError("max_total_fps must be > 0")
    if sum(floor_fps(a) for a in asks.values()) <= max_total_fps:
        return _water_fill(asks, max_total_fps)
    for pressure, step in enumerate(WIDTH_STEPS[1:], start=1):
        widths = {key: stepped_width(ask.width, step) for key, ask in asks.items()}
        cost = sum(floor_fps(a) * frame_cost(a.width, widths[k]) for k, a in asks.items())
        if cost <= max_total_fps:
            return {
                key: Allocation(floor_fps(ask), widths[key], "ok", pressure)
                for key, ask in asks.items()
            }
    return _starve(asks, max_total_fps)


def _water_fill(asks: Mapping[StreamKey, Ask], budget: float) -> dict[StreamKey, Allocation]:
    result: dict[StreamKey, Allocation] = {}
    remaining = budget
    order = sorted(asks, key=lambda k: (asks[k].fps, k))
    for left, key in zip(range(len(order), 0, -1), order, strict=True):
        ask = asks[key]
        fps = min(ask.fps, max(floor_fps(ask), remaining / left))
        remaining = max(0.0, remaining - fps)
        result[key] = Allocation(fps, ask.width)
    return result


def _starve(asks: Mapping[StreamKey, Ask], budget: float) -> dict[StreamKey, Allocation]:
    """Floors at 320 px in key order until one does not fit; that one and the rest get nothing."""
    pressure = len(WIDTH_STEPS) - 1
    result: dict[StreamKey, Allocation] = {}
    remaining = budget
    exhausted = False
    for key in sorted(asks):
        ask = asks[key]
        width = stepped_width(ask.width, 0.0)
        cost = floor_fps(ask) * frame_cost(ask.width, width)
        if not exhausted and cost <= remaining:
            remaining -= cost
            result[key] = Allocation(floor_fps(ask), width, "ok", pressure)
        else:
            exhausted = True
            result[key] = Allocation(0.0, width, "budget_exhausted", pressure)
    return result
