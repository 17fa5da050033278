"""The pure retention rule (hypothesis): never locked or protected, oldest first within a camera,
frees enough when it can and no more than it must, evicts from the camera furthest over its
share, and the guard holds implausible passes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from heldar.recording.eviction import (
    CLOCK_TOLERANCE,
    GUARD_MIN_SEGMENTS,
    CameraState,
    Candidate,
    Limits,
    Plan,
    assess,
    plan,
    share_ratio,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Seg:
    id: int
    camera_id: str
    start: datetime
    end: datetime
    size_bytes: int
    locked: bool

    @property
    def candidate(self) -> Candidate:
        return Candidate(self.id, self.camera_id, self.start, self.end, self.size_bytes)


@dataclass(frozen=True)
class World:
    segments: list[Seg]
    retention: dict[str, timedelta | None]
    quota: dict[str, int | None]
    protected: frozenset[int]

    def of(self, camera_id: str) -> list[Seg]:
        return [s for s in self.segments if s.camera_id == camera_id]

    def eligible(self, camera_id: str) -> list[Seg]:
        return [s for s in self.of(camera_id) if not s.locked and s.id not in self.protected]

    def states(self, now: datetime = NOW) -> list[CameraState]:
        return [self.state(camera_id, now) for camera_id in sorted(self.retention)]

    def state(self, camera_id: str, now: datetime) -> CameraState:
        segs = sorted(self.of(camera_id), key=lambda s: s.start)  # oldest first, like the SQL
        unlocked = [s for s in segs if not s.locked]
        retention = self.retention[camera_id]
        aged = [s for s in unlocked if retention is not None and s.end < now - retention]
        return CameraState(
            camera_id=camera_id,
            segment_count=len(segs),
            unlocked_bytes=sum(s.size_bytes for s in unlocked),
            locked_bytes=sum(s.size_bytes for s in segs if s.locked),
            newest_start=max((s.start for s in segs), default=None),
            retention=retention,
            quota_bytes=self.quota[camera_id],
            aged_count=len(aged),
            aged_bytes=sum(s.size_bytes for s in aged),
            window=tuple(s.candidate for s in unlocked),
            window_complete=True,
        )

    @property
    def total_bytes(self) -> int:
        return sum(s.size_bytes for s in self.segments)


@st.composite
def worlds(draw: st.DrawFn, max_cameras: int = 4, max_segments: int = 30) -> World:
    n_cameras = draw(st.integers(1, max_cameras))
    segments: list[Seg] = []
    retention: dict[str, timedelta | None] = {}
    quota: dict[str, int | None] = {}
    next_id = 1
    for c in range(n_cameras):
        camera_id = f"cam{c}"
        retention[camera_id] = draw(
            st.none() | st.integers(1, 72).map(lambda h: timedelta(hours=h))
        )
        quota[camera_id] = draw(st.none() | st.integers(0, 20_000))
        # consecutive, non-overlapping segments going back up to ~4 days from now
        t = NOW - timedelta(minutes=draw(st.integers(0, 6000)))
        for _ in range(draw(st.integers(0, max_segments))):
            length = timedelta(seconds=draw(st.integers(2, 3600)))
            end = t
            t = end - length
            size = draw(st.integers(1, 2000))
            locked = draw(st.integers(0, 4)) == 0
            segments.append(Seg(next_id, camera_id, t, end, size, locked))
            next_id += 1
            t -= timedelta(seconds=draw(st.sampled_from([0, 0, 0, 5, 600])))
    ids = [s.id for s in segments]
    protected = frozenset(draw(st.lists(st.sampled_from(ids), max_size=5))) if ids else frozenset()
    return World(segments, retention, quota, protected)


@st.composite
def worlds_and_limits(draw: st.DrawFn) -> tuple[World, Limits]:
    world = draw(worlds())
    total = world.total_bytes
    max_bytes = draw(st.none() | st.integers(0, total + 100))
    free = draw(st.none() | st.integers(0, 5000))
    min_free = draw(st.integers(0, 10_000))
    return world, Limits(max_bytes, min_free, free, max_share=1.0)


def _reasons(result: Plan) -> dict[int, str]:
    return {c.segment.id: c.reason for c in result.choices}


@settings(max_examples=120, deadline=None)
@given(worlds_and_limits())
def test_never_locked_or_protected_and_oldest_first(case: tuple[World, Limits]) -> None:
    world, limits = case
    result = plan(NOW, world.states(), limits, world.protected)
    chosen = result.ids
    assert len(chosen) == len(set(chosen))
    by_id = {s.id: s for s in world.segments}
    for segment_id in chosen:
        assert not by_id[segment_id].locked
        assert segment_id not in world.protected
    assert not result.short  # complete windows never run out
    for camera_id in world.retention:
        eligible = sorted(world.eligible(camera_id), key=lambda s: s.start)
        taken = [s.id in set(chosen) for s in eligible]
        # a prefix: once a segment is kept, every newer one is kept too
        assert taken == sorted(taken, reverse=True), camera_id


@settings(max_examples=120, deadline=None)
@given(worlds_and_limits())
def test_age_takes_exactly_what_expired(case: tuple[World, Limits]) -> None:
    world, _ = case
    limits = Limits(None, 0, None, 1.0)
    reasons = _reasons(plan(NOW, world.states(), limits, world.protected))
    for camera_id, retention in world.retention.items():
        for s in world.eligible(camera_id):
            expired = retention is not None and s.end < NOW - retention
            assert (reasons.get(s.id) == "age") == expired, (camera_id, s)


def _phase_bytes(result: Plan, *reasons: str) -> int:
    return sum(c.segment.size_bytes for c in result.choices if c.reason in reasons)


@settings(max_examples=120, deadline=None)
@given(worlds_and_limits())
def test_targets_are_met_when_possible_and_not_overshot(case: tuple[World, Limits]) -> None:
    world, limits = case
    result = plan(NOW, world.states(), limits, world.protected)
    chosen = set(result.ids)
    all_gone = all(s.id in chosen for c in world.retention for s in world.eligible(c))
    for camera_id, quota in world.quota.items():
        if quota is None:
            continue
        left = sum(s.size_bytes for s in world.of(camera_id) if not s.locked and s.id not in chosen)
        assert left <= quota or all(s.id in chosen for s in world.eligible(camera_id))
    needs = {}
    if limits.max_bytes is not None:
        needs["size"] = world.total_bytes - _phase_bytes(result, "age", "quota") - limits.max_bytes
    if limits.free_bytes is not None:
        before = _phase_bytes(result, "age", "quota", "size")
        needs["disk"] = limits.min_free_bytes - (limits.free_bytes + before)
    for reason in ("size", "disk"):
        picks = [c.segment.size_bytes for c in result.choices if c.reason == reason]
        need = needs.get(reason, 0)
        if need <= 0:
            assert not picks, reason
            continue
        assert sum(picks) >= need or all_gone, reason  # enough, when there was enough
        assert sum(picks) - picks[-1] < need if picks else all_gone, reason  # and no more
    assert (result.unmet_bytes > 0) <= all_gone


@settings(max_examples=120, deadline=None)
@given(worlds_and_limits())
def test_eviction_picks_the_camera_furthest_over_its_share(case: tuple[World, Limits]) -> None:
    world, limits = case
    states = world.states()
    result = plan(NOW, states, limits, world.protected)
    usage = {c.camera_id: c.unlocked_bytes for c in states}
    remaining = {c: sorted(world.eligible(c), key=lambda s: s.start) for c in world.retention}
    by_camera = {c.camera_id: c for c in states}
    total = world.total_bytes
    before_disk = _phase_bytes(result, "age", "quota", "size")
    targets: dict[str, int] = {}
    if limits.max_bytes is not None:
        targets["size"] = limits.max_bytes
    if limits.free_bytes is not None:
        need = limits.min_free_bytes - (limits.free_bytes + before_disk)
        targets["disk"] = max(1, total - before_disk - need)
    for choice in result.choices:
        cid = choice.segment.camera_id
        if choice.reason in targets:
            ratios = {
                c: share_ratio(by_camera[c], usage[c], targets[choice.reason], len(states))
                for c, segs in remaining.items()
                if segs
            }
            best = max(ratios.values())
            assert ratios[cid] >= best - 1e-9, (choice, ratios)
            if ratios[cid] == best:
                assert cid == min(c for c, r in ratios.items() if r == best)
        assert remaining[cid][0].id == choice.segment.id  # the camera's oldest eligible
        remaining[cid].pop(0)
        usage[cid] -= choice.segment.size_bytes
    order = {"age": 0, "quota": 1, "size": 2, "disk": 3}
    phases = [order[c.reason] for c in result.choices]
    assert phases == sorted(phases)


def test_eviction_fairness_example() -> None:
    """Two cameras over a 1,000-byte cap: the bigger one pays until both are level."""
    world = World(
        segments=[
            Seg(
                i, cam, NOW - timedelta(minutes=60 - i), NOW - timedelta(minutes=59 - i), 100, False
            )
            for i, cam in enumerate(["a"] * 9 + ["b"] * 3)
        ],
        retention={"a": None, "b": None},
        quota={"a": None, "b": None},
        protected=frozenset(),
    )
    result = plan(NOW, world.states(), Limits(800, 0, None, 1.0))
    assert [c.segment.camera_id for c in result.choices] == ["a", "a", "a", "a"]
    assert [c.segment.id for c in result.choices] == [0, 1, 2, 3]


# -- the guard ------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(worlds(max_segments=40), st.integers(11, 60 * 24 * 365))
def test_a_clock_behind_the_recordings_holds_all_age_deletion(world: World, minutes: int) -> None:
    newest = max((s.start for s in world.segments), default=None)
    if newest is None:
        return
    now = newest - timedelta(minutes=minutes)  # the clock went back behind the newest segment
    assert newest > now + CLOCK_TOLERANCE
    limits = Limits(None, 0, None, 0.5)
    judged = assess(now, world.states(now), limits)
    assert judged.age_held == frozenset(world.retention)
    assert any(t.rule == "clock" for t in judged.trips)
    result = plan(now, world.states(now), limits, world.protected, age_held=judged.age_held)
    assert all(c.reason != "age" for c in result.choices)


@settings(max_examples=100, deadline=None)
@given(worlds(max_segments=60), st.floats(0.05, 0.95))
def test_a_clock_jump_forward_never_ages_out_most_of_a_camera(world: World, share: float) -> None:
    now = NOW + timedelta(days=366)  # every segment now looks older than any retention
    limits = Limits(None, 0, None, share)
    judged = assess(now, world.states(now), limits)
    result = plan(now, world.states(now), limits, world.protected, age_held=judged.age_held)
    for camera_id in world.retention:
        segs = world.of(camera_id)
        aged = sum(
            1 for c in result.choices if c.segment.camera_id == camera_id and c.reason == "age"
        )
        if aged > GUARD_MIN_SEGMENTS:
            assert aged <= share * len(segs), camera_id


@settings(max_examples=100, deadline=None)
@given(worlds_and_limits(), st.floats(0.05, 0.95))
def test_total_share_holds_a_pass_that_would_evict_too_much(
    case: tuple[World, Limits], share: float
) -> None:
    world, base = case
    limits = Limits(base.max_bytes, base.min_free_bytes, base.free_bytes, share)
    judged = assess(NOW, world.states(), limits)
    if judged.all_held:
        assert judged.intent.total > share * world.total_bytes
        return
    result = plan(NOW, world.states(), limits, world.protected, age_held=judged.age_held)
    evicted = [c.segment.size_bytes for c in result.choices if c.reason != "age"]
    if evicted and len(world.segments) > GUARD_MIN_SEGMENTS:
        # each quota, size and disk step overshoots its target by less than one segment
        slack = (len(world.retention) + 2) * max(s.size_bytes for s in world.segments)
        assert result.bytes <= share * world.total_bytes + slack


def test_the_guard_lets_ordinary_passes_through() -> None:
    """A day of 60 s segments with 24 h retention: the hour that expired goes, no trip."""
    segments = [
        Seg(i, "cam", NOW - timedelta(minutes=i + 1), NOW - timedelta(minutes=i), 1000, False)
        for i in range(25 * 60)
    ]
    world = World(segments, {"cam": timedelta(hours=24)}, {"cam": None}, frozenset())
    limits = Limits(None, 0, None, 0.5)
    judged = assess(NOW, world.states(), limits)
    assert judged.trips == ()
    result = plan(NOW, world.states(), limits, age_held=judged.age_held)
    assert len(result.choices) == 60 - 1  # ended before now - 24 h (the boundary one stays)
    by_reason: dict[str, int] = defaultdict(int)
    for c in result.choices:
        by_reason[c.reason] += 1
    assert dict(by_reason) == {"age": 59}
