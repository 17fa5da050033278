"""The zone state machine: tracked detections in, enter/exit/dwell/crossing events out.

A `ZoneEngine` holds, per camera, its enabled zones compiled to arrays and the state of every
(zone, track) pair as numpy grids (a row per zone, a column per track slot), so one batch is judged
against all zones of its camera in a handful of vectorized operations. Semantics and invariants:
`docs/design/zones.md`. Pure: time comes from batch timestamps only, and I/O is the caller's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Literal, Protocol

import numpy as np

from heldar.zones import geometry
from heldar.zones.models import Zone
from heldar.zones.state import (
    SNAPSHOT_VERSION,
    Bools,
    CameraState,
    Floats,
    Ints,
    TrackId,
    ZoneTable,
    dump_camera,
    load_camera,
)

EventType = Literal["enter", "exit", "dwell", "cross_ab", "cross_ba"]
_SIDE_KIND = np.array([0, 2, 1], dtype=np.intp)  # line kind of side 0, +1, −1 (index −1)
STATIC_EPSILON = 0.01
"""How far (normalized) an anchor must move before `static_suppression` lets its track enter."""


@dataclass(frozen=True, slots=True)
class ZoneEvent:
    """One zone event. `detection_index` points into the batch (evidence); None when synthetic."""

    camera_id: str
    zone_id: int
    event_type: EventType
    track_id: TrackId
    label: str
    timestamp: datetime
    dwell_seconds: float | None = None
    detection_index: int | None = None
    synthetic: bool = False


class DetectionLike(Protocol):
    """What the engine reads of a detection (the ingest model satisfies it)."""

    @property
    def label(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def bbox(self) -> Sequence[float]: ...
    @property
    def track_id(self) -> TrackId | None: ...


@dataclass(frozen=True, slots=True)
class Detection:
    """A plain detection: `bbox` is `[x, y, w, h]` normalized; no `track_id` → no state."""

    label: str
    confidence: float
    bbox: tuple[float, float, float, float]
    track_id: TrackId | None = None


@dataclass(frozen=True, slots=True)
class _Batch:
    """The tracked, in-order detections of one batch, as arrays."""

    index: list[int]  # position in the caller's list
    slots: Ints
    x: Floats
    y: Floats
    confidence: Floats
    label: Ints


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("zone engine timestamps must be timezone-aware")
    return moment.timestamp()


def _track_key(track_id: TrackId) -> tuple[int, int, str]:
    return (0, track_id, "") if isinstance(track_id, int) else (1, 0, track_id)


class ZoneEngine:
    """Zone state of every camera; feed it batches in timestamp order per camera.

    `track_timeout_s`: a track unseen this long leaves its zones (synthetic exit) and is forgotten.
    `max_tracks`: tracks a camera may hold; new tracks beyond it are ignored (`dropped_tracks`).
    """

    def __init__(self, *, track_timeout_s: float = 120.0, max_tracks: int = 10_000) -> None:
        if not track_timeout_s > 0 or max_tracks < 1:
            raise ValueError("track_timeout_s must be > 0 and max_tracks ≥ 1")
        self.track_timeout_s = float(track_timeout_s)
        self.max_tracks = max_tracks
        self.dropped_tracks = 0
        self._cameras: dict[str, CameraState] = {}
        self._label_ids: dict[str, int] = {}
        self._labels: list[str] = []

    # -- configuration -------------------------------------------------------------------------

    def update_zones(self, camera_id: str, zones: Iterable[Zone]) -> None:
        """Replace the zones of a camera. Zones keeping their id and family keep their state."""
        table = ZoneTable(zones)
        camera = self._cameras.get(camera_id)
        if not table.polygon_ids and not table.line_ids:
            self._cameras.pop(camera_id, None)
            return
        if camera is None:
            self._cameras[camera_id] = CameraState(table)
            return
        camera.rezone(table)

    def remove_camera(self, camera_id: str) -> None:
        """Forget a camera and all its state (the camera was deleted)."""
        self._cameras.pop(camera_id, None)

    # -- evaluation ----------------------------------------------------------------------------

    def process(
        self, camera_id: str, timestamp: datetime, detections: Sequence[DetectionLike]
    ) -> list[ZoneEvent]:
        """Apply one batch (all detections of one frame) and return the events it causes.

        Expiry exits come first (time, zone, track order), then the batch's events ordered by
        (detection index, zone, enter < dwell < exit < cross).
        """
        t = _seconds(timestamp)
        camera = self._cameras.get(camera_id)
        if camera is None:
            return []
        events: list[ZoneEvent] = []
        if camera.watermark is not None and t < camera.watermark - self.track_timeout_s:
            return events  # older than anything the state still remembers
        if camera.watermark is None or t > camera.watermark:
            events.extend(self._expire(camera_id, camera, t))
            camera.watermark = t
        batch = self._gather(camera, t, detections)
        if batch is None:
            return events
        at = timestamp.astimezone(UTC)
        lut_polygons, lut_lines = camera.table.luts(self._labels)
        found: list[tuple[int, int, int, ZoneEvent]] = []
        if camera.polygons.rows:
            self._polygons(camera_id, camera, batch, t, at, lut_polygons, found)
        if camera.lines.rows:
            self._lines(camera_id, camera, batch, t, at, lut_lines, found)
        found.sort(key=lambda item: item[:3])
        events.extend(item[3] for item in found)
        return events

    def expire(self, camera_id: str, now: datetime) -> list[ZoneEvent]:
        """Synthetic exits of tracks unseen for `track_timeout_s` at `now` (detection clock)."""
        camera = self._cameras.get(camera_id)
        return [] if camera is None else self._expire(camera_id, camera, _seconds(now))

    def occupancy(self, camera_id: str) -> dict[int, dict[str, int]]:
        """Per presence zone id: tracks in a confirmed visit per label (absent labels are 0)."""
        camera = self._cameras.get(camera_id)
        if camera is None:
            return {}
        out: dict[int, dict[str, int]] = {}
        grid, inside = camera.polygons, camera.table.p_inside
        for row, zone_id in enumerate(camera.table.polygon_ids):
            if camera.table.presence[row]:
                visiting = grid["code"][row] >= inside[row]
                ids, counts = np.unique(grid["label"][row][visiting], return_counts=True)
                out[zone_id] = {self._labels[i]: int(n) for i, n in zip(ids, counts, strict=True)}
        return out

    def _label(self, name: str) -> int:
        label = self._label_ids.get(name)
        if label is None:
            label = self._label_ids[name] = len(self._labels)
            self._labels.append(name)
        return label

    def _gather(
        self, camera: CameraState, t: float, detections: Sequence[DetectionLike]
    ) -> _Batch | None:
        """Tracked, finite, first-per-track, in-order detections; allocates new tracks."""
        tracks = [d.track_id for d in detections]
        index: list[int] | range = range(len(tracks))
        if None in tracks or len(set(tracks)) != len(tracks):  # untracked or repeated ids
            seen: set[TrackId | None] = {None}
            index = []
            for i, track_id in enumerate(tracks):
                if track_id not in seen:
                    seen.add(track_id)
                    index.append(i)
            detections = [detections[i] for i in index]
            tracks = [tracks[i] for i in index]
        if not tracks:
            return None
        boxes = np.fromiter(chain.from_iterable([d.bbox for d in detections]), np.float64)
        if boxes.size != 4 * len(tracks):
            raise ValueError("zone engine: every bbox is [x, y, w, h]")
        boxes = boxes.reshape(-1, 4)
        confidence = np.array([d.confidence for d in detections], dtype=np.float64)
        labels = [self._label_ids.get(d.label, -1) for d in detections]
        if -1 in labels:
            labels = [self._label(d.label) for d in detections]
        ax, ay = geometry.anchors(boxes)
        keep = np.isfinite(ax) & np.isfinite(ay) & np.isfinite(confidence)
        known = camera.slots.get
        found = [known(k, -1) for k in tracks]  # type: ignore[arg-type]
        if -1 in found or not keep.all():
            for j, track_id in enumerate(tracks):
                if not keep[j] or found[j] != -1:
                    continue
                if len(camera.slots) >= self.max_tracks:
                    self.dropped_tracks += 1
                    keep[j] = False
                    continue
                assert track_id is not None
                found[j] = camera.allocate(track_id, float(ax[j]), float(ay[j]))
        slots = np.array(found, dtype=np.intp)
        keep[keep] &= t > camera.last_update[slots[keep]]
        if not keep.all():
            if not keep.any():
                return None
            slots, ax, ay, confidence = slots[keep], ax[keep], ay[keep], confidence[keep]
            index = np.asarray(index, dtype=np.intp)[keep].tolist()
            labels = np.asarray(labels)[keep].tolist()
        camera.last_update[slots] = t
        camera.expire_after = min(camera.expire_after, t + self.track_timeout_s)
        moved = np.hypot(ax - camera.first_x[slots], ay - camera.first_y[slots]) > STATIC_EPSILON
        camera.moved[slots] |= moved
        return _Batch(list(index), slots, ax, ay, confidence, np.array(labels, dtype=np.intp))

    def _polygons(
        self,
        camera_id: str,
        camera: CameraState,
        b: _Batch,
        t: float,
        at: datetime,
        lut: Bools,
        found: list[tuple[int, int, int, ZoneEvent]],
    ) -> None:
        table, g, s = camera.table, camera.polygons, b.slots
        observed = lut[:, b.label] & (b.confidence >= table.p_min_conf)
        if not observed.any():
            return
        inside = geometry.inside(table.polygons, b.x, b.y) & observed
        floats, ints = g.f[:, :, s], g.i[:, :, s]
        since, last_inside, last_seen = floats
        code, dwelt, label = ints
        kind = observed + inside.astype(np.intp)  # 0 unobserved, 1 outside, 2 inside
        if table.any_static:
            kind += inside & table.p_static & ~camera.moved[s]  # 3: held, never moved
        flat = table.p_machine.index(code, kind)
        new_code = table.p_machine.next.take(flat)
        enter, exit_, start = (flags.take(flat) for flags in table.p_machine.flags)
        exit_seconds = last_inside - since if exit_.any() else None

        new_since = np.where(start, t, since)
        new_label = np.where(enter, b.label, label)
        new_dwelt = (dwelt != 0) & ~enter
        dwell = None
        if table.any_dwell:
            dwell = inside & (new_code >= table.p_inside) & ~new_dwelt & (table.p_dwell > 0)
            dwell &= t - new_since >= table.p_dwell
            new_dwelt |= dwell
        floats[0] = new_since
        last_inside[inside] = t
        last_seen[observed] = t
        ints[0], ints[1], ints[2] = new_code, new_dwelt, new_label
        g.f[:, :, s], g.i[:, :, s] = floats, ints

        any_event = enter | exit_ if dwell is None else enter | exit_ | dwell
        if not any_event.any():
            return
        dwell_seconds = None if dwell is None else t - new_since
        masks: tuple[tuple[int, EventType, Bools | None, Floats | None], ...] = (
            (0, "enter", enter, None),
            (1, "dwell", dwell, dwell_seconds),
            (2, "exit", exit_, exit_seconds),
        )
        for rank, event_type, mask, seconds in masks:
            if mask is None:
                continue
            for z, j in zip(*np.nonzero(mask), strict=True):
                found.append(
                    self._event(
                        camera_id,
                        camera,
                        table.polygon_ids[z],
                        event_type,
                        int(s[j]),
                        int(new_label[z, j]),
                        at,
                        None if seconds is None else seconds[z, j],
                        b.index[j],
                        rank,
                    )
                )

    def _event(
        self,
        camera_id: str,
        camera: CameraState,
        zone_id: int,
        kind: EventType,
        slot: int,
        label: int,
        at: datetime,
        seconds: float | None,
        index: int,
        rank: int,
    ) -> tuple[int, int, int, ZoneEvent]:
        track_id = camera.ids[slot]
        assert track_id is not None
        dwell = None if seconds is None else float(seconds)
        event = ZoneEvent(camera_id, zone_id, kind, track_id, self._labels[label], at, dwell, index)
        return (index, zone_id, rank, event)

    def _lines(
        self,
        camera_id: str,
        camera: CameraState,
        b: _Batch,
        t: float,
        at: datetime,
        lut: Bools,
        found: list[tuple[int, int, int, ZoneEvent]],
    ) -> None:
        table, g, s = camera.table, camera.lines, b.slots
        observed = lut[:, b.label] & (b.confidence >= table.l_min_conf)
        if not observed.any():
            return
        now_side = geometry.side(table.lines, b.x, b.y)
        kind = _SIDE_KIND[now_side] * observed  # 0 unobserved or on the line, 1 side −1, 2 side +1
        floats, ints = g.f[:, :, s], g.i[:, :, s]
        ref_x, ref_y, last_seen = floats
        code, crosses = ints
        flat = table.l_machine.index(code, kind)
        settle, first, flip = (flags.take(flat) for flags in table.l_machine.flags)
        new_crosses = crosses != 0
        if first.any():  # only the first observation on the other side needs the path test
            z, j = np.nonzero(first)
            column = (ref_x[z, j], ref_y[z, j], b.x[j], b.y[j])
            path = geometry.path_crosses(table.lines[z], *(v[:, None] for v in column))
            new_crosses[z, j] = path[:, 0]
        emit = flip & new_crosses
        if emit.any():
            emit &= (table.l_direction == 0) | (table.l_direction == now_side)

        ints[0] = table.l_machine.next.take(flat)
        ints[1] = new_crosses & ~settle
        floats[0] = np.where(settle, b.x, ref_x)
        floats[1] = np.where(settle, b.y, ref_y)
        last_seen[observed] = t
        g.f[:, :, s], g.i[:, :, s] = floats, ints

        for z, j in zip(*np.nonzero(emit), strict=True):
            crossing: EventType = "cross_ab" if now_side[z, j] > 0 else "cross_ba"
            found.append(
                self._event(
                    camera_id,
                    camera,
                    table.line_ids[z],
                    crossing,
                    int(s[j]),
                    int(b.label[j]),
                    at,
                    None,
                    b.index[j],
                    3,
                )
            )

    def _expire(self, camera_id: str, camera: CameraState, now: float) -> list[ZoneEvent]:
        if now <= camera.expire_after:
            return []  # nothing was last seen before now − timeout
        timeout = self.track_timeout_s
        cutoff = now - timeout
        exits: list[tuple[float, int, tuple[int, int, str], ZoneEvent]] = []
        g, oldest = camera.polygons, [math.inf]
        if g.rows:
            active = g["code"] != 0
            stale = active & (g["last_seen"] < cutoff)
            visiting = g["code"] >= camera.table.p_inside
            for z, slot in zip(*np.nonzero(stale & visiting), strict=True):
                track_id = camera.ids[slot]
                assert track_id is not None
                lost = float(g["last_seen"][z, slot]) + timeout
                event = ZoneEvent(
                    camera_id,
                    camera.table.polygon_ids[z],
                    "exit",
                    track_id,
                    self._labels[g["label"][z, slot]],
                    datetime.fromtimestamp(lost, UTC),
                    float(g["last_inside"][z, slot] - g["since"][z, slot]),
                    None,
                    synthetic=True,
                )
                exits.append((lost, event.zone_id, _track_key(track_id), event))
            g.reset(stale)
            oldest.append(float(g["last_seen"][active & ~stale].min(initial=math.inf)))
        lines = camera.lines
        if lines.rows:
            active = lines["code"] != 0
            stale = active & (lines["last_seen"] < cutoff)
            lines.reset(stale)
            oldest.append(float(lines["last_seen"][active & ~stale].min(initial=math.inf)))
        gone = np.nonzero(camera.last_update < cutoff)[0]
        if len(gone):
            camera.release(gone)
        oldest.append(float(camera.last_update.min(initial=math.inf)))  # free slots hold +inf
        camera.expire_after = min(oldest) + timeout
        exits.sort(key=lambda item: item[:3])
        return [item[3] for item in exits]

    # -- restart -------------------------------------------------------------------------------

    def snapshot(self, camera_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """The state of some (default: all) cameras as plain JSON data, for `restore`."""
        wanted = self._cameras if camera_ids is None else camera_ids
        return {
            "version": SNAPSHOT_VERSION,
            "track_timeout_s": self.track_timeout_s,
            "cameras": {
                camera_id: dump_camera(self._cameras[camera_id], self._labels)
                for camera_id in wanted
                if camera_id in self._cameras
            },
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the state of the cameras in `data` (a `snapshot`). Call `update_zones` first:
        cameras without zones and zones no longer configured are skipped."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"zone snapshot: version {data.get('version')!r} is not supported")
        for camera_id, state in data["cameras"].items():
            camera = self._cameras.get(camera_id)
            if camera is not None:
                self._cameras[camera_id] = load_camera(camera.table, state, self._label)
