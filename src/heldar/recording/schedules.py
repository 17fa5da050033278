"""When a scheduled camera records: pure evaluation of weekly windows in local time.

A window is (days, start, end): days 0 = Monday … 6; start inclusive, end exclusive; start > end
wraps past midnight and belongs to the *start* day (Friday 22:00–06:00 covers Saturday 05:59).
Malformed rows (bad `HH:MM`, days outside 0..6, start == end) never match: a broken row must not
make a camera record, nor stop the others from being evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from heldar.recording.models import Schedule

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MINUTES_PER_DAY = 24 * 60


def minutes(hhmm: str) -> int | None:
    """`HH:MM` → minutes after midnight, or None when malformed."""
    match = _HHMM.match(hhmm) if isinstance(hhmm, str) else None
    if match is None:
        return None
    return int(match.group(1)) * 60 + int(match.group(2))


def window_contains(days: Iterable[object], start: str, end: str, local: datetime) -> bool:
    """Whether the local wall time `local` lies inside this weekly window."""
    begin, finish = minutes(start), minutes(end)
    if begin is None or finish is None or begin == finish:
        return False
    valid_days = {d for d in days if isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6}
    now = local.hour * 60 + local.minute
    today = local.weekday()
    if begin < finish:
        return today in valid_days and begin <= now < finish
    # Overnight: the part after `begin` belongs to today, the part before `finish` to yesterday.
    if now >= begin:
        return today in valid_days
    return now < finish and (today - 1) % 7 in valid_days


def is_active(schedules: Iterable[Schedule], local: datetime) -> bool:
    """True when any enabled schedule's window contains `local`."""
    return any(
        s.enabled and window_contains(s.days, s.time_start, s.time_end, local) for s in schedules
    )
