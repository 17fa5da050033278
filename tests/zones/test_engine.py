"""The zone state machine against a scalar reference, and its invariants (docs/design/zones.md)."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from heldar.zones import machine
from heldar.zones.engine import STATIC_EPSILON, Detection, ZoneEngine, ZoneEvent
from heldar.zones.models import Zone

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TIMEOUT = 10.0
REGION = [(0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6)]
TRIANGLE = [(0.4, 0.3), (0.9, 0.9), (0.3, 0.9)]
LINE = [(0.1, 0.5), (0.7, 0.5)]


def zone(zone_id: int, kind: str, polygon: Any, **fields: Any) -> Zone:
    return Zone(
        id=zone_id,
        camera_id="cam",
        name=f"zone {zone_id}",
        kind=kind,
        polygon=polygon,
        created_at=T0,
        updated_at=T0,
        **fields,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def det(x: float, y: float, track: int | str | None, label: str = "person", conf: float = 0.9):
    """A 0.1 × 0.1 box standing on the anchor (x, y)."""
    return Detection(label, conf, (x - 0.05, y - 0.1, 0.1, 0.1), track)


# -- the reference: one (zone, track) at a time, plain Python ---------------------------------


def sign(value: float) -> int:
    return (value > 0) - (value < 0)


def line_side(line: list[tuple[float, float]], x: float, y: float) -> int:
    (x0, y0), (x1, y1) = line
    return sign((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0))


def crosses(
    line: list[tuple[float, float]], p: tuple[float, float], q: tuple[float, float]
) -> bool:
    (x0, y0), (x1, y1) = line
    (px, py), (qx, qy) = p, q
    oa = sign((qx - px) * (y0 - py) - (qy - py) * (x0 - px))
    ob = sign((qx - px) * (y1 - py) - (qy - py) * (x1 - px))
    return line_side(line, px, py) * line_side(line, qx, qy) < 0 and oa * ob <= 0


@dataclass
class Ref:
    """Scalar reimplementation of the design note's tables, for comparison."""

    zones: list[Zone]
    timeout: float = TIMEOUT
    watermark: float | None = None
    tracks: dict[Any, dict[str, Any]] = field(default_factory=dict)
    poly: dict[tuple[int, Any], dict[str, Any]] = field(default_factory=dict)
    lines: dict[tuple[int, Any], dict[str, Any]] = field(default_factory=dict)

    def process(self, t_dt: datetime, detections: list[Detection]) -> list[tuple]:
        t = t_dt.timestamp()
        out: list[tuple] = []
        if self.watermark is not None and t < self.watermark - self.timeout:
            return out
        if self.watermark is None or t > self.watermark:
            out += self.expire(t)
            self.watermark = t
        seen: set[Any] = set()
        for i, d in enumerate(detections):
            tid = d.track_id
            if tid is None or tid in seen:
                continue
            seen.add(tid)
            x, y, w, h = d.bbox
            ax, ay = x + w / 2.0, y + h
            track = self.tracks.setdefault(
                tid, {"last": -math.inf, "first": (ax, ay), "moved": False}
            )
            if not t > track["last"]:
                continue
            track["last"] = t
            fx, fy = track["first"]
            track["moved"] |= math.hypot(ax - fx, ay - fy) > STATIC_EPSILON
            for z in sorted((z for z in self.zones if z.enabled), key=lambda z: z.id):
                if (
                    z.labels and d.label not in z.labels
                ) or not d.confidence >= z.config.min_confidence:
                    continue
                if z.kind == "line":
                    out += self.line(z, tid, d, t_dt, t, i, (ax, ay))
                else:
                    out += self.polygon(z, tid, d, t_dt, t, i, (ax, ay), track["moved"])
        return out

    def polygon(self, z, tid, d, t_dt, t, i, anchor, moved) -> list[tuple]:
        s = self.poly.setdefault((z.id, tid), {"phase": "outside", "count": 0})
        n, out = z.config.confirm_frames, []
        if shapely.Polygon(z.polygon).contains(shapely.Point(anchor)):
            if s["phase"] in ("outside", "entering"):
                if s["phase"] == "outside":
                    s.update(count=0, since=t)
                k = min(s["count"] + 1, n)
                if k >= n and (moved or not z.config.static_suppression):
                    s.update(phase="inside", count=0, label=d.label, dwelt=False)
                    out.append((z.id, "enter", tid, d.label, t_dt, None, i, False))
                else:
                    s.update(phase="entering", count=k)
            else:
                s.update(phase="inside", count=0)
            s["last_inside"] = t
            if s["phase"] == "inside" and not s["dwelt"] and 0 < z.dwell_seconds <= t - s["since"]:
                s["dwelt"] = True
                out.append((z.id, "dwell", tid, s["label"], t_dt, t - s["since"], i, False))
        elif s["phase"] == "entering":
            s.update(phase="outside", count=0)
        elif s["phase"] in ("inside", "leaving"):
            k = 1 if s["phase"] == "inside" else s["count"] + 1
            if k >= n:
                seconds = s["last_inside"] - s["since"]
                out.append((z.id, "exit", tid, s["label"], t_dt, seconds, i, False))
                s.update(phase="outside", count=0)
            else:
                s.update(phase="leaving", count=k)
        s["seen"] = t
        return out

    def line(self, z, tid, d, t_dt, t, i, anchor) -> list[tuple]:
        s = self.lines.setdefault((z.id, tid), {"side": 0, "pending": 0, "crosses": False})
        s["seen"] = t
        now = line_side(z.polygon, *anchor)
        if now == 0:
            return []
        if s["side"] in (0, now):
            s.update(side=now, ref=anchor, pending=0, crosses=False)
            return []
        if s["pending"] == 0:
            s["crosses"] = crosses(z.polygon, s["ref"], anchor)
        s["pending"] += 1
        if s["pending"] < z.config.confirm_frames:
            return []
        crossed = s["crosses"]
        s.update(side=now, ref=anchor, pending=0, crosses=False)
        wanted = {"any": now, "ab": 1, "ba": -1}[z.config.direction]
        if crossed and wanted == now:
            kind = "cross_ab" if now > 0 else "cross_ba"
            return [(z.id, kind, tid, d.label, t_dt, None, i, False)]
        return []

    def expire(self, now: float) -> list[tuple]:
        cutoff, out = now - self.timeout, []
        for (zone_id, tid), s in list(self.poly.items()):
            if s["phase"] != "outside" and s["seen"] < cutoff:
                if s["phase"] in ("inside", "leaving"):
                    lost = s["seen"] + self.timeout
                    seconds = s["last_inside"] - s["since"]
                    when = datetime.fromtimestamp(lost, UTC)
                    key = (lost, zone_id, (0, tid, "") if isinstance(tid, int) else (1, 0, tid))
                    out.append((key, (zone_id, "exit", tid, s["label"], when, seconds, None, True)))
                del self.poly[(zone_id, tid)]
        for key, s in list(self.lines.items()):
            if s["side"] != 0 and s["seen"] < cutoff:
                del self.lines[key]
        for tid in [tid for tid, track in self.tracks.items() if track["last"] < cutoff]:
            del self.tracks[tid]
            self.poly = {k: v for k, v in self.poly.items() if k[1] != tid}
            self.lines = {k: v for k, v in self.lines.items() if k[1] != tid}
        return [event for _key, event in sorted(out, key=lambda item: item[0])]


def flat(event: ZoneEvent) -> tuple:
    return (
        event.zone_id,
        event.event_type,
        event.track_id,
        event.label,
        event.timestamp,
        event.dwell_seconds,
        event.detection_index,
        event.synthetic,
    )


# -- strategies --------------------------------------------------------------------------------

# Stations: inside the region (either side of the line), inside the triangle, inside both, on the
# region's edge, beyond the line's ends, far outside. Tracks linger at a station for a few frames.
STATIONS = [
    (0.4, 0.4),
    (0.3, 0.55),
    (0.6, 0.8),
    (0.5, 0.5),
    (0.4, 0.6),
    (0.35, 0.6),  # on the triangle's sloped edge, up to rounding: shapely's exact test decides
    (0.9, 0.3),
    (0.9, 0.7),
    (0.05, 0.05),
]
gaps = st.sampled_from([-3.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 15.0])


@st.composite
def batches(
    draw: st.DrawFn, crowd: int = 0, seen_one_in: int = 0
) -> list[tuple[float, list[Detection]]]:
    """Batches of three tracks (plus `crowd` more) that mostly stay put, sometimes vanish, move
    or change label. Each track is missing from a frame one time in five, or, with
    `seen_one_in`, present only one time in that many (sparse batches over many tracks)."""
    tracks: list[int | str] = [1, 2, "t", *range(100, 100 + crowd)]
    where = {track: draw(st.sampled_from(STATIONS)) for track in tracks}
    label = dict.fromkeys(where, "person")
    steps = []
    for _ in range(draw(st.integers(0, 40))):
        batch = []
        for track in where:
            if seen_one_in:
                if draw(st.integers(0, seen_one_in - 1)) != 0:
                    continue
            elif draw(st.integers(0, 4)) == 0:
                continue  # not seen in this frame
            if draw(st.integers(0, 3)) == 0:
                where[track] = draw(st.sampled_from(STATIONS))
            if draw(st.integers(0, 9)) == 0:
                label[track] = draw(st.sampled_from(["person", "car"]))
            conf = draw(st.sampled_from([0.9, 0.9, 0.9, 0.3]))
            batch.append(det(*where[track], track, label[track], conf))
        if draw(st.integers(0, 5)) == 0:
            batch.append(det(*draw(st.sampled_from(STATIONS)), draw(st.sampled_from([None, 1]))))
        steps.append((draw(gaps), draw(st.permutations(batch))))
    return steps


configs = st.builds(
    dict,
    confirm_frames=st.integers(1, 3),
    min_confidence=st.sampled_from([0.2, 0.5]),
    direction=st.sampled_from(["any", "ab", "ba"]),
    static_suppression=st.booleans(),
)


@st.composite
def zone_sets(draw: st.DrawFn) -> list[Zone]:
    dwell = st.sampled_from([0.0, 1.0, 3.0])
    return [
        zone(1, "region", REGION, dwell_seconds=draw(dwell), config=draw(configs)),
        zone(
            2,
            "presence",
            TRIANGLE,
            dwell_seconds=draw(dwell),
            config=draw(configs),
            labels=draw(st.sampled_from([[], ["person"]])),
        ),
        zone(3, "line", LINE, config=draw(configs), labels=draw(st.sampled_from([[], ["car"]]))),
        zone(4, "region", [(0.1, 0.1), (0.9, 0.1), (0.5, 0.8)], enabled=draw(st.booleans())),
    ]


def timed(steps: list[tuple[float, list[Detection]]]) -> list[tuple[datetime, list[Detection]]]:
    clock, out = 0.0, []
    for dt, batch in steps:
        clock += dt
        out.append((at(clock), batch))
    return out


def run(engine: ZoneEngine, stream: list[tuple[datetime, list[Detection]]]) -> list[ZoneEvent]:
    return [e for moment, batch in stream for e in engine.process("cam", moment, batch)]


def fresh(zones: list[Zone], **kw: Any) -> ZoneEngine:
    engine = ZoneEngine(track_timeout_s=TIMEOUT, **kw)
    engine.update_zones("cam", zones)
    return engine


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(zone_sets(), batches())
def test_the_engine_matches_the_scalar_reference(zones, steps) -> None:
    stream = timed(steps)
    engine, ref = fresh(zones), Ref(zones)
    for moment, batch in stream:
        assert [flat(e) for e in engine.process("cam", moment, batch)] == ref.process(moment, batch)


@settings(max_examples=100, deadline=None)
@given(zone_sets(), st.one_of(batches(crowd=40), batches(crowd=60, seen_one_in=12)))
def test_the_engine_matches_the_reference_over_many_tracks(zones, steps) -> None:
    """Crowds: many tracks with slots freed and reused, sparse batches, events of many pairs
    per batch in the kernel's buffer (and their order restored across polygons and lines)."""
    stream = timed(steps)
    engine, ref = fresh(zones), Ref(zones)
    for moment, batch in stream:
        assert [flat(e) for e in engine.process("cam", moment, batch)] == ref.process(moment, batch)


@settings(max_examples=200, deadline=None)
@given(zone_sets(), batches())
def test_visits_are_well_formed_and_occupancy_counts_them(zones, steps) -> None:
    engine = fresh(zones)
    history: dict[tuple[int, Any], list[str]] = defaultdict(list)
    open_visits: Counter[tuple[int, str]] = Counter()
    for moment, batch in timed(steps):
        for e in engine.process("cam", moment, batch):
            assert e.camera_id == "cam"
            if e.event_type in ("enter", "exit", "dwell"):
                history[(e.zone_id, e.track_id)].append(e.event_type)
            if e.zone_id == 2 and e.event_type in ("enter", "exit"):
                open_visits[(2, e.label)] += 1 if e.event_type == "enter" else -1
            assert e.dwell_seconds is None or e.dwell_seconds >= 0
            assert (e.detection_index is None) == e.synthetic
        occupancy = engine.occupancy("cam")
        assert set(occupancy) == {2}
        for label, count in occupancy[2].items():
            assert count > 0
            assert open_visits[(2, label)] == count
        assert all(v >= 0 for v in open_visits.values())
        assert sum(open_visits.values()) == sum(occupancy[2].values())
    for events in history.values():  # (enter dwell? exit)* with a trailing open visit
        text = "".join({"enter": "E", "dwell": "D", "exit": "X"}[e] for e in events)
        for visit in text.split("X")[:-1]:
            assert visit in ("E", "ED"), text
        assert text.split("X")[-1] in ("", "E", "ED"), text


@settings(max_examples=100, deadline=None)
@given(zone_sets(), batches())
def test_replaying_the_same_batches_gives_the_same_events(zones, steps) -> None:
    stream = timed(steps)
    assert run(fresh(zones), stream) == run(fresh(zones), stream)


@settings(max_examples=200, deadline=None)
@given(zone_sets(), batches(), st.integers(0, 40))
def test_snapshot_and_restore_are_invisible(zones, steps, cut) -> None:
    stream = timed(steps)
    whole = run(fresh(zones), stream)
    first = fresh(zones)
    before = run(first, stream[:cut])
    saved = json.loads(json.dumps(first.snapshot()))  # it must survive a JSON store
    second = fresh(list(reversed(zones)))  # a new process; zones may load in any order
    second.restore(saved)
    assert before + run(second, stream[cut:]) == whole
    assert second.occupancy("cam") == run_occupancy(zones, stream)


def run_occupancy(zones: list[Zone], stream: list[tuple[datetime, list[Detection]]]) -> Any:
    engine = fresh(zones)
    run(engine, stream)
    return engine.occupancy("cam")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.05, 0.1, 0.65, 0.9]), st.sampled_from([0.05, 0.7, 0.95])),
        max_size=30,
    ),
    st.integers(1, 3),
)
def test_a_track_that_stays_outside_never_enters(positions, confirm) -> None:
    engine = fresh([zone(1, "region", REGION, config={"confirm_frames": confirm})])
    events = run(engine, [(at(i), [det(x, y, 1)]) for i, (x, y) in enumerate(positions)])
    assert events == []


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from([0.2, 0.35, 0.45, 0.6]), min_size=1, max_size=20), st.integers(1, 3)
)
def test_a_line_crossed_back_and_forth_alternates_directions(xs, confirm) -> None:
    engine = fresh([zone(3, "line", LINE, config={"confirm_frames": confirm})])
    stream, clock = [], 0
    for i, x in enumerate(xs):  # cross at x, holding each side for `confirm` frames
        y = 0.3 if i % 2 == 0 else 0.7
        for _ in range(confirm):
            stream.append((at(clock), [det(x, y, "walker")]))
            clock += 1
    kinds = [e.event_type for e in run(engine, stream)]
    assert kinds == ["cross_ab" if i % 2 == 0 else "cross_ba" for i in range(len(xs) - 1)]


def test_crossing_directions_and_the_direction_filter() -> None:
    down = [(at(0), [det(0.4, 0.3, 1)]), (at(1), [det(0.4, 0.7, 1)])]
    up = [(at(2), [det(0.4, 0.3, 1)])]
    for direction, expected in [
        ("any", ["cross_ab", "cross_ba"]),
        ("ab", ["cross_ab"]),
        ("ba", ["cross_ba"]),
    ]:
        engine = fresh(
            [zone(3, "line", LINE, config={"confirm_frames": 1, "direction": direction})]
        )
        assert [e.event_type for e in run(engine, down + up)] == expected
    around = [(at(0), [det(0.9, 0.3, 1)]), (at(1), [det(0.9, 0.7, 1)]), (at(2), [det(0.4, 0.3, 1)])]
    engine = fresh([zone(3, "line", LINE, config={"confirm_frames": 1})])
    assert [e.event_type for e in run(engine, around)] == ["cross_ba"]  # past the end: no event


def test_enter_dwell_exit_with_their_times_and_evidence_index() -> None:
    engine = fresh([zone(1, "region", REGION, dwell_seconds=2.0)])
    ys = [0.1, 0.4, 0.4, 0.4, 0.4, 0.9, 0.9]
    events = run(engine, [(at(i), [det(0.9, 0.9, "x"), det(0.4, y, 5)]) for i, y in enumerate(ys)])
    assert [(e.event_type, e.timestamp, e.dwell_seconds, e.detection_index) for e in events] == [
        ("enter", at(2), None, 1),  # confirm_frames 2: the second inside frame
        ("dwell", at(3), 2.0, 1),  # since the first inside frame
        ("exit", at(6), 3.0, 1),  # the second outside frame; last inside at 4
    ]


def test_a_track_lost_inside_gets_a_synthetic_exit_once() -> None:
    engine = fresh([zone(1, "presence", REGION)])
    enter = run(engine, [(at(0), [det(0.4, 0.4, 1)]), (at(1), [det(0.4, 0.4, 1)])])
    assert [e.event_type for e in enter] == ["enter"]
    assert engine.occupancy("cam") == {1: {"person": 1}}
    assert engine.expire("cam", at(1 + TIMEOUT)) == []  # not longer than the timeout yet
    (gone,) = engine.expire("cam", at(100))
    assert (gone.event_type, gone.synthetic, gone.detection_index) == ("exit", True, None)
    assert gone.timestamp == at(1 + TIMEOUT)  # when it was lost, whenever expiry ran
    assert engine.occupancy("cam") == {1: {}}
    assert engine.expire("cam", at(200)) == []
    again = run(engine, [(at(300), [det(0.4, 0.4, 1)]), (at(301), [det(0.4, 0.4, 1)])])
    assert [e.event_type for e in again] == ["enter"]  # a new visit


def test_older_batches_are_ignored_for_the_tracks_they_name() -> None:
    zones = [zone(1, "region", REGION, config={"confirm_frames": 1})]
    engine = fresh(zones)
    assert [e.event_type for e in run(engine, [(at(10), [det(0.4, 0.4, 1)])])] == ["enter"]
    late = run(engine, [(at(5), [det(0.9, 0.9, 1), det(0.4, 0.4, 2)])])
    assert [(e.event_type, e.track_id) for e in late] == [("enter", 2)]  # track 1 unmoved
    assert run(engine, [(at(10), [det(0.9, 0.9, 1)])]) == []  # same time: also ignored
    assert run(engine, [(at(10 - TIMEOUT - 1), [det(0.4, 0.4, 9)])]) == []  # stale batch
    assert engine.snapshot()["cameras"]["cam"]["watermark"] == at(10).timestamp()


def test_points_on_a_sloped_edge_or_a_vertex_are_outside() -> None:
    """Exactly on an edge (binary-exact coordinates) the compiled test cannot trust its sign and
    asks shapely's exact predicate: the boundary is outside. Just inside, a track enters."""
    diamond = [(0.5, 0.25), (0.75, 0.5), (0.5, 0.75), (0.25, 0.5)]
    engine = fresh([zone(1, "region", diamond, config={"confirm_frames": 1})])
    edge = [(0.625, 0.375), (0.375, 0.625), (0.75, 0.5), (0.5, 0.75), (0.3125, 0.4375)]
    boundary = [det(x, y, track) for track, (x, y) in enumerate(edge)]
    assert engine.process("cam", at(0), boundary) == []
    inside = [det(0.625, 0.376, 7), *boundary]
    events = engine.process("cam", at(1), inside)
    assert [(e.event_type, e.track_id, e.detection_index) for e in events] == [("enter", 7, 0)]
    contains = shapely.Polygon(diamond).contains
    assert not any(contains(shapely.Point(p)) for p in edge)


def test_static_suppression_waits_for_movement() -> None:
    engine = fresh(
        [zone(1, "region", REGION, config={"confirm_frames": 1, "static_suppression": True})]
    )
    parked = run(engine, [(at(i), [det(0.4, 0.4, "car")]) for i in range(5)])
    assert parked == []
    moved = run(engine, [(at(6), [det(0.5, 0.4, "car")])])
    assert [e.event_type for e in moved] == ["enter"]


def test_filters_untracked_duplicates_and_bad_boxes() -> None:
    engine = fresh([zone(1, "region", REGION, labels=["person"], config={"confirm_frames": 1})])
    batch = [
        det(0.4, 0.4, None),
        det(0.4, 0.4, 1, label="car"),
        det(0.4, 0.4, 2, conf=0.1),
        Detection("person", 0.9, (math.nan, 0.3, 0.1, 0.1), 3),
        det(0.9, 0.9, 4),
        det(0.4, 0.4, 4),  # the first detection of a track wins
        det(0.4, 0.4, 5),
    ]
    assert [(e.track_id, e.detection_index) for e in engine.process("cam", at(0), batch)] == [
        (5, 6)
    ]


def test_tracks_beyond_the_cap_are_dropped_and_counted() -> None:
    engine = fresh([zone(1, "region", REGION, config={"confirm_frames": 1})], max_tracks=2)
    events = engine.process("cam", at(0), [det(0.4, 0.4, t) for t in range(4)])
    assert [e.track_id for e in events] == [0, 1]
    assert engine.dropped_tracks == 2
    assert len(engine.snapshot()["cameras"]["cam"]["tracks"]) == 2


def test_zone_changes_keep_surviving_state_and_drop_the_rest() -> None:
    region, line = zone(1, "region", REGION), zone(3, "line", LINE)
    engine = fresh([region, line])
    run(engine, [(at(0), [det(0.4, 0.4, 1)]), (at(1), [det(0.4, 0.4, 1)])])
    engine.update_zones("cam", [region.model_copy(update={"name": "renamed"})])
    assert run(engine, [(at(2), [det(0.4, 0.4, 1)])]) == []  # still inside: no second enter
    engine.update_zones("cam", [zone(1, "line", LINE)])  # same id, another family
    assert engine.snapshot()["cameras"]["cam"]["zones"][0]["states"] == []
    engine.update_zones("cam", [region.model_copy(update={"enabled": False})])
    assert engine.snapshot()["cameras"] == {}
    assert engine.process("cam", at(3), [det(0.4, 0.4, 1)]) == []
    assert engine.process("other", at(3), [det(0.4, 0.4, 1)]) == []
    assert engine.occupancy("other") == {}


def test_restore_skips_unknown_zones_and_refuses_other_versions() -> None:
    engine = fresh([zone(1, "region", REGION)])
    run(engine, [(at(0), [det(0.4, 0.4, 1)]), (at(1), [det(0.4, 0.4, 1)])])
    saved = engine.snapshot()
    other = fresh([zone(7, "region", REGION)])
    other.restore(saved)  # zone 1's visit is dropped; zone 7 starts from nothing
    more = run(other, [(at(2), [det(0.4, 0.4, 1)]), (at(3), [det(0.4, 0.4, 1)])])
    assert [(e.zone_id, e.event_type) for e in more] == [(7, "enter")]
    with pytest.raises(ValueError, match="version"):
        other.restore({**saved, "version": 99})


def test_timestamps_must_be_timezone_aware() -> None:
    engine = fresh([zone(1, "region", REGION)])
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.process("cam", datetime(2026, 1, 1), [det(0.4, 0.4, 1)])


@settings(max_examples=150, deadline=None)
@given(zone_sets(), batches(), st.integers(0, 40), st.integers(1, 4), st.integers(1, 4))
def test_changing_confirm_frames_mid_visit_keeps_the_visits(zones, steps, cut, n1, n2) -> None:
    polygons = [z for z in zones if z.kind != "line"]
    stream = timed(steps)
    engine, ref = fresh(polygons), Ref(polygons)
    changed = [
        z.model_copy(update={"config": z.config.model_copy(update={"confirm_frames": n})})
        for z, n in zip(polygons, (n1, n2, n1), strict=False)
    ]
    for i, (moment, batch) in enumerate(stream):
        if i == cut:
            engine.update_zones("cam", changed)
            ref.zones = changed
        assert [flat(e) for e in engine.process("cam", moment, batch)] == ref.process(moment, batch)


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_every_state_code_decodes_and_encodes_back(n: int) -> None:
    for code in range(2 * n + 1):
        assert machine.polygon_encode(n, *machine.polygon_decode(n, code)) == code
        assert machine.line_encode(n, *machine.line_decode(n, code)) == code
