"""Retention's rule and vocabulary: which recorded segments go, which stay, and when to refuse.

Pure — no store, no files, no clock (docs/design/retention.md). `assess()` applies the guard to
what the index holds; `plan()` picks, oldest first, from a window of each camera's deletable
segments. Also the shapes the store returns for retention and evidence (settings, incidents).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Reason = Literal["age", "quota", "size", "disk"]
GuardRule = Literal["clock", "camera_share", "total_share"]

GB = 1_000_000_000
# A segment starting this far after "now" means the wall clock went back: age is not judged.
CLOCK_TOLERANCE = timedelta(minutes=10)
# Below these counts the share rules do not apply (a tiny index may be emptied in one pass).
GUARD_MIN_SEGMENTS = 20


# -- the index as the rule sees it ----------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One unlocked segment retention may delete."""

    id: int
    camera_id: str
    start: datetime
    end: datetime
    size_bytes: int


@dataclass(frozen=True)
class CameraTotals:
    """What the index holds for one camera (rows being deleted left out)."""

    camera_id: str
    segment_count: int
    total_bytes: int
    locked_bytes: int
    newest_start: datetime | None


@dataclass(frozen=True)
class CameraState:
    """One camera's totals, policy and window: all `plan()` and `assess()` know about it.

    An age-only pass (no cap, no quota, free space above the floor) reads only the aged figures
    and, when more than `GUARD_MIN_SEGMENTS` aged, the count: the service then skips measuring
    the byte totals (a scan of the whole index) and fills them with the aged ones.
    """

    camera_id: str
    segment_count: int
    unlocked_bytes: int
    locked_bytes: int
    newest_start: datetime | None
    retention: timedelta | None
    """None: no age limit (a camera no longer registered keeps its footage until space runs out)."""
    quota_bytes: int | None
    aged_count: int
    """Unlocked segments that ended before `now - retention` (all of them, not just the window)."""
    aged_bytes: int
    window: tuple[Candidate, ...] = ()
    """The camera's oldest unlocked segments, oldest first."""
    window_complete: bool = False
    """The window holds every unlocked segment of the camera."""

    def cutoff(self, now: datetime) -> datetime | None:
        return None if self.retention is None else now - self.retention


@dataclass(frozen=True)
class Limits:
    max_bytes: int | None
    """Cap on all recorded bytes (locked included); None: no cap."""
    min_free_bytes: int
    free_bytes: int | None
    """Free space on the recordings filesystem; None: unknown, the floor is not applied."""
    max_share: float
    """The guard: the largest share one pass may delete (1.0 turns the share rules off)."""


# -- what the rule decides ------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    segment: Candidate
    reason: Reason


@dataclass(frozen=True)
class GuardTrip:
    """One reason the guard holds back (all deletion, or age-based deletion of some cameras)."""

    rule: GuardRule
    camera_id: str | None
    share: float | None
    detail: str


@dataclass(frozen=True)
class Intent:
    """Bytes a pass means to free, by reason, computed from totals (not limited to windows)."""

    age: int = 0
    quota: int = 0
    size: int = 0
    disk: int = 0

    @property
    def total(self) -> int:
        return self.age + self.quota + self.size + self.disk


@dataclass(frozen=True)
class Assessment:
    trips: tuple[GuardTrip, ...]
    age_held: frozenset[str]
    """Cameras whose age-based deletion the guard holds back this pass."""
    all_held: bool
    """The guard holds back everything this pass."""
    intent: Intent


@dataclass(frozen=True)
class Plan:
    choices: tuple[Choice, ...]
    short: bool
    """A window ran out before a target was met: plan again once these are deleted."""
    unmet_bytes: int
    """Bytes a target still wanted that no unlocked, unprotected segment could cover."""

    @property
    def ids(self) -> list[int]:
        return [choice.segment.id for choice in self.choices]

    @property
    def bytes(self) -> int:
        return sum(choice.segment.size_bytes for choice in self.choices)


@dataclass(frozen=True)
class Marked:
    """A segment whose row is marked `deleting`: its file goes next, then its row."""

    id: int
    camera_id: str
    path: str
    size_bytes: int


# -- the guard ------------------------------------------------------------------------------------


def assess(now: datetime, cameras: Sequence[CameraState], limits: Limits) -> Assessment:
    """Apply the guard (docs/design/retention.md §Guard) to the index before anything is chosen.

    1. clock: a segment starts more than `CLOCK_TOLERANCE` after now → the clock went back; no
       age-based deletion for any camera (size and disk eviction do not depend on the clock).
    2. camera_share: more than `max_share` of a camera's segments aged out at once (a clock jumped
       forward, retention_hours cut) → no age-based deletion for that camera.
    3. total_share: a pass that evicts (quota, size, disk) would free more than `max_share` of
       all recorded bytes (an unmounted disk, a disk filled by others) → nothing is deleted.
       An age-only pass is bounded camera by camera by rule 2 instead.
    Rules 2 and 3 apply only above `GUARD_MIN_SEGMENTS`; `max_share >= 1` turns them off.
    """
    trips: list[GuardTrip] = []
    held: set[str] = set()
    newest = max((c.newest_start for c in cameras if c.newest_start is not None), default=None)
    if newest is not None and newest > now + CLOCK_TOLERANCE:
        trips.append(
            GuardTrip(
                "clock",
                None,
                None,
                f"a segment starts at {newest.isoformat()}, after now ({now.isoformat()}): "
                "the clock went back; age-based deletion waits until it passes that time",
            )
        )
        held.update(c.camera_id for c in cameras)
    share_rules = limits.max_share < 1.0
    for camera in cameras:
        if camera.camera_id in held or camera.segment_count == 0 or not share_rules:
            continue
        share = camera.aged_count / camera.segment_count
        if camera.aged_count > GUARD_MIN_SEGMENTS and share > limits.max_share:
            held.add(camera.camera_id)
            trips.append(
                GuardTrip(
                    "camera_share",
                    camera.camera_id,
                    round(share, 4),
                    f"{camera.aged_count} of {camera.segment_count} segments aged out at once "
                    f"(more than {limits.max_share:.0%}): clock jump or retention cut?",
                )
            )
    intent = _intent(cameras, limits, frozenset(held))
    total_bytes = sum(c.unlocked_bytes + c.locked_bytes for c in cameras)
    total_count = sum(c.segment_count for c in cameras)
    all_held = False
    evicting = intent.quota + intent.size + intent.disk > 0
    if share_rules and evicting and total_bytes > 0 and total_count > GUARD_MIN_SEGMENTS:
        share = intent.total / total_bytes
        if share > limits.max_share:
            all_held = True
            trips.append(
                GuardTrip(
                    "total_share",
                    None,
                    round(share, 4),
                    f"the pass would free {intent.total} of {total_bytes} recorded bytes (more "
                    f"than {limits.max_share:.0%}): unmounted disk, or a disk filled by others?",
                )
            )
    return Assessment(tuple(trips), frozenset(held), all_held, intent)


def _intent(cameras: Sequence[CameraState], limits: Limits, age_held: frozenset[str]) -> Intent:
    age = sum(c.aged_bytes for c in cameras if c.camera_id not in age_held)
    quota = 0
    for c in cameras:
        if c.quota_bytes is not None:
            remaining = c.unlocked_bytes - (0 if c.camera_id in age_held else c.aged_bytes)
            quota += max(0, remaining - c.quota_bytes)
    total = sum(c.unlocked_bytes + c.locked_bytes for c in cameras)
    size = 0 if limits.max_bytes is None else max(0, total - age - quota - limits.max_bytes)
    disk = 0
    if limits.free_bytes is not None:
        disk = max(0, limits.min_free_bytes - (limits.free_bytes + age + quota + size))
    return Intent(age, quota, size, disk)


# -- the selection rule ---------------------------------------------------------------------------


@dataclass
class _Selection:
    """The mutable state of one `plan()` call."""

    cameras: dict[str, CameraState]
    queues: dict[str, deque[Candidate]]
    usage: dict[str, int]
    choices: list[Choice] = field(default_factory=list)
    short: bool = False
    unmet: int = 0

    @property
    def freed(self) -> int:
        return sum(choice.segment.size_bytes for choice in self.choices)

    def take(self, camera_id: str, reason: Reason) -> Candidate:
        segment = self.queues[camera_id].popleft()
        self.usage[camera_id] -= segment.size_bytes
        self.choices.append(Choice(segment, reason))
        return segment


def plan(
    now: datetime,
    cameras: Sequence[CameraState],
    limits: Limits,
    protected: Collection[int] = frozenset(),
    *,
    age_held: Collection[str] = frozenset(),
) -> Plan:
    """Choose what one pass deletes. Locked segments never reach a window; `protected` ids (live
    playback sessions, exports) are skipped; each camera gives up its oldest segments first.

    1. age: every window segment that ended before `now - retention_hours`.
    2. quota: oldest first while a camera's unlocked bytes exceed its quota.
    3. size: while all bytes exceed `max_bytes`, oldest of the camera furthest over its share.
    4. disk: while free space (plus what 1–3 free) is under `min_free_bytes`, the same way.
    A camera's share is its quota, else an equal part of the target; "furthest over" is the
    highest unlocked bytes / share (ties: camera id). Locked bytes count towards the cap and the
    floor but not towards a camera's usage: evidence does not make its camera pay.
    """
    state = _Selection(
        cameras={c.camera_id: c for c in cameras},
        queues={c.camera_id: deque(s for s in c.window if s.id not in protected) for c in cameras},
        usage={c.camera_id: c.unlocked_bytes for c in cameras},
    )
    for camera in sorted(cameras, key=lambda c: c.camera_id):
        cutoff = camera.cutoff(now)
        if cutoff is None or camera.camera_id in age_held:
            continue
        aged_in_window = 0
        queue = state.queues[camera.camera_id]
        for segment in camera.window:
            if segment.end < cutoff:
                aged_in_window += 1
        while queue and queue[0].end < cutoff:
            state.take(camera.camera_id, "age")
        if aged_in_window < camera.aged_count and not camera.window_complete:
            state.short = True
    for camera in sorted(cameras, key=lambda c: c.camera_id):
        if camera.quota_bytes is None:
            continue
        queue = state.queues[camera.camera_id]
        while state.usage[camera.camera_id] > camera.quota_bytes and queue:
            state.take(camera.camera_id, "quota")
        if state.usage[camera.camera_id] > camera.quota_bytes and not camera.window_complete:
            state.short = True
    if state.short:
        return _done(state)
    total = sum(c.unlocked_bytes + c.locked_bytes for c in cameras)
    if limits.max_bytes is not None:
        need = total - state.freed - limits.max_bytes
        if need > 0:
            _evict(state, need, "size", target=limits.max_bytes)
    if not state.short and limits.free_bytes is not None:
        need = limits.min_free_bytes - (limits.free_bytes + state.freed)
        if need > 0:
            _evict(state, need, "disk", target=max(1, total - state.freed - need))
    return _done(state)


def share_ratio(camera: CameraState, usage: int, target: int, n_cameras: int) -> float:
    """How far over its share a camera is: unlocked bytes / (quota, or target / cameras)."""
    share = camera.quota_bytes if camera.quota_bytes is not None else target / max(1, n_cameras)
    return usage / max(1.0, float(share))


def _evict(state: _Selection, need: int, reason: Reason, *, target: int) -> None:
    n = len(state.cameras)
    heap = [
        (-share_ratio(camera, state.usage[cid], target, n), cid)
        for cid, camera in state.cameras.items()
        if state.queues[cid] or not camera.window_complete
    ]
    heapq.heapify(heap)
    while need > 0 and heap:
        _, cid = heapq.heappop(heap)
        camera = state.cameras[cid]
        if not state.queues[cid]:
            if not camera.window_complete and state.usage[cid] > 0:
                state.short = True  # the camera most over its share has more beyond its window
                return
            continue
        need -= state.take(cid, reason).size_bytes
        if state.queues[cid] or not camera.window_complete:
            heapq.heappush(heap, (-share_ratio(camera, state.usage[cid], target, n), cid))
    state.unmet += max(0, need)


def _done(state: _Selection) -> Plan:
    return Plan(tuple(state.choices), state.short, state.unmet)


def with_window(camera: CameraState, window: Sequence[Candidate], *, complete: bool) -> CameraState:
    return replace(camera, window=tuple(window), window_complete=complete)


# -- settings and evidence as the API and the store see them --------------------------------------


class RetentionSettings(BaseModel):
    """`GET/PUT /api/v1/system/retention`: global limits (per-camera age and quota live on the
    camera). Stored once set; the `HELDAR_*` settings are the defaults until then."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_recordings_gb: float | None = Field(
        ge=0.001,
        le=1_000_000,
        description="Cap on all recordings (GB = 10^9 bytes, locked ones included); null: none.",
    )
    min_free_disk_gb: float = Field(
        ge=0,
        le=100_000,
        description="Free space kept on the recordings filesystem (GB); 0 turns the floor off.",
    )
    guard_max_share: float = Field(
        ge=0.05,
        le=1.0,
        description=(
            "Largest share of a camera's segments (by age) or of all bytes one pass may delete; "
            "beyond it the pass is held and a `retention_guard` event raised. 1 turns it off."
        ),
    )
    interval_s: float = Field(
        ge=10, le=3600, description="Seconds between passes (the disk floor is checked more often)."
    )


IncidentId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        max_length=64,
        description="Slug: letters, digits, '.', '_', '-' (at most 64).",
        examples=["inc-2026-0042"],
    ),
]


class Incident(BaseModel):
    """Segments grouped under one incident id (`GET /api/v1/incidents`)."""

    incident_id: str
    segment_count: int
    camera_ids: list[str]
    first_start: datetime
    last_end: datetime
    locked_count: int
