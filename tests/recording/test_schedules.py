"""Schedule windows as properties: overnight wrap, week wrap, end exclusive, malformed rows."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from heldar.recording.models import Schedule, ScheduleCreate
from heldar.recording.schedules import is_active, minutes, window_contains

times = st.integers(0, 24 * 60 - 1).map(lambda m: f"{m // 60:02d}:{m % 60:02d}")
day_sets = st.sets(st.integers(0, 6), min_size=1).map(sorted)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31))


def _reference(days: list[int], start: str, end: str, local: datetime) -> bool:
    """A slow, obviously-right model: walk the minutes of the last 8 days' windows."""
    begin, finish = minutes(start), minutes(end)
    assert begin is not None
    assert finish is not None
    if begin == finish:
        return False
    length = (finish - begin) % (24 * 60)
    t = local.replace(second=0, microsecond=0)
    for back in range(0, 8):
        day = (t - timedelta(days=back)).replace(hour=0, minute=0)
        if day.weekday() not in days:
            continue
        window_start = day + timedelta(minutes=begin)
        if window_start <= t < window_start + timedelta(minutes=length):
            return True
    return False


@given(days=day_sets, start=times, end=times, local=moments)
def test_matches_the_reference_model(
    days: list[int], start: str, end: str, local: datetime
) -> None:
    assert window_contains(days, start, end, local) == _reference(days, start, end, local)


@given(days=day_sets, start=times, end=times, local=moments)
def test_end_is_exclusive_and_start_inclusive(
    days: list[int], start: str, end: str, local: datetime
) -> None:
    begin, finish = minutes(start), minutes(end)
    assert begin is not None
    assert finish is not None
    at_start = local.replace(hour=begin // 60, minute=begin % 60)
    if begin != finish:
        assert window_contains(days, start, end, at_start) == (at_start.weekday() in days)
    at_end = local.replace(hour=finish // 60, minute=finish % 60)
    if begin < finish:
        assert not window_contains(days, start, end, at_end)


def test_overnight_window_belongs_to_its_start_day() -> None:
    friday_night = ["22:00", "06:00"]
    friday = datetime(2026, 11, 27, 23, 0)  # a Friday
    assert friday.weekday() == 4
    assert window_contains([4], *friday_night, friday)
    assert window_contains([4], *friday_night, friday + timedelta(hours=7) - timedelta(minutes=1))
    assert not window_contains([4], *friday_night, friday + timedelta(hours=7))
    thursday_late = datetime(2026, 11, 27, 5, 0)  # Friday 05:00 belongs to Thursday's window
    assert not window_contains([4], *friday_night, thursday_late)
    assert window_contains([3], *friday_night, thursday_late)


def test_sunday_night_wraps_into_monday() -> None:
    monday_early = datetime(2026, 11, 30, 1, 30)
    assert monday_early.weekday() == 0
    assert window_contains([6], "23:00", "02:00", monday_early)
    assert not window_contains([0], "23:00", "02:00", monday_early)


@pytest.mark.parametrize(
    ("days", "start", "end"),
    [
        ([1], "24:00", "10:00"),
        ([1], "9:00", "10:00"),
        ([7], "09:00", "10:00"),
        ([1], "10:00", "10:00"),
        (["1"], "09:00", "10:00"),
        ([True], "09:00", "10:00"),
        ([1], "09:00:00", "10:00"),
    ],
)
def test_malformed_rows_never_match(days: list[object], start: str, end: str) -> None:
    for hour in range(24):
        local = datetime(2026, 11, 24, hour, 30)  # a Tuesday (day 1)
        assert not window_contains(days, start, end, local)


def test_any_enabled_schedule_activates() -> None:
    local = datetime(2026, 11, 24, 9, 30)
    rows = [
        Schedule(
            id=1, camera_id="c", days=[1], time_start="09:00", time_end="10:00", enabled=False
        ),
        Schedule(id=2, camera_id="c", days=[2], time_start="09:00", time_end="10:00", enabled=True),
    ]
    assert not is_active(rows, local)
    rows.append(
        Schedule(id=3, camera_id="c", days=[1], time_start="08:00", time_end="09:31", enabled=True)
    )
    assert is_active(rows, local)


@pytest.mark.parametrize(
    "body",
    [
        {"days": [7], "time_start": "08:00", "time_end": "09:00"},
        {"days": [], "time_start": "08:00", "time_end": "09:00"},
        {"days": [1], "time_start": "8:00", "time_end": "09:00"},
        {"days": [1], "time_start": "08:00", "time_end": "24:00"},
        {"days": [1], "time_start": "08:00", "time_end": "08:00"},
        {"days": [-1], "time_start": "08:00", "time_end": "09:00"},
    ],
)
def test_bad_schedules_are_rejected(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ScheduleCreate.model_validate(body)
