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
from operator import itemgetter
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
_EVENT_ORDER = itemgetter(0, 1, 2)  # detection index, zone id, rank
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
    """The tracked, in-order detections of one batch as columns of the camera's state grids.

    `cols` selects the grid columns: a slice when the batch's slots are dense (the grids are then
    updated in place through views), else the slots themselves (gathered, then scattered back).
    In a slice, a column without a detection has `index` −1 and confidence −inf, so no zone
    observes it and its state does not move.
    """

    cols: slice | Ints
    index: list[int]  # position in the caller's list, per column
    xy: Floats  # (2, columns): anchor x and y
    confidence: Floats
    label: Ints

    @property
    def x(self) -> Floats:
        x: Floats = self.xy[0]
        return x

    @property
    def y(self) -> Floats:
        y: Floats = self.xy[1]
        return y

    def slot(self, column: int) -> int:
        cols = self.cols
        return cols.start + column if isinstance(cols, slice) else int(cols[column])


DENSE_SLACK = 16
"""A batch whose slots span at most twice its size plus this is evaluated over the whole span."""


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("zone engine timestamps must be timezone-aware")
    return moment.timestamp()


def _track_key(track_id: TrackId) -> tuple[int, int, str]:
    return (0, track_id, "") if isinstance(track_id, int) else (1, 0, track_id)


def _run(slots: Ints) -> slice | None:
    """The slots as a slice when they are one ascending run (the grids are then views)."""
    low, high = int(slots[0]), int(slots[-1])
    if high - low + 1 == len(slots) and (low == high or bool((slots[1:] > slots[:-1]).all())):
        return slice(low, high + 1)
    return None


def _columns(slots: Ints, index: list[int], xy: Floats, confidence: Floats, label: Ints) -> _Batch:
    """Lay out a batch whose slots are not one run: spread over their span when they are
    dense, else gathered by slot."""
    n = len(slots)
    low, high = int(slots.min()), int(slots.max())
    span = high - low + 1
    if span > 2 * n + DENSE_SLACK:
        return _Batch(slots, index, xy, confidence, label)
    at = slots - low
    wide_xy, wide_label = np.zeros((2, span)), np.zeros(span, dtype=np.intp)
    wide_confidence, wide_index = np.full(span, -np.inf), np.full(span, -1, dtype=np.intp)
    wide_xy[:, at], wide_label[at], wide_confidence[at], wide_index[at] = (
        xy,
        label,
        confidence,
        index,
    )
    cols = slice(low, high + 1)
    return _Batch(cols, wide_index.tolist(), wide_xy, wide_confidence, wide_label)


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
        table = camera.table
        observed = table.lut(self._labels)[:, batch.label]  # (zone, column): counts for the zone
        observed &= batch.confidence >= table.min_conf
        if not observed.any():
            return events
        rows = camera.polygons.rows
        found: list[tuple[int, int, int, ZoneEvent]] = []
        if rows:
            self._polygons(camera_id, camera, batch, t, at, observed[:rows], found)
        if camera.lines.rows:
            self._lines(camera_id, camera, batch, t, at, observed[rows:], found)
        if len(found) > 1:
            found.sort(key=_EVENT_ORDER)
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
        xy = geometry.anchors(boxes.reshape(-1, 4))
        confidence = np.array([d.confidence for d in detections], dtype=np.float64)
        label_of = self._label_ids.get
        labels = [label_of(d.label, -1) for d in detections]
        if -1 in labels:
            labels = [self._label(d.label) for d in detections]
        keep: Bools | None = None  # None: every detection is finite
        if not np.isfinite(xy.sum() + confidence.sum()):  # inf − inf is nan
            keep = np.isfinite(xy).all(axis=0) & np.isfinite(confidence)
        recent = camera.recent
        if recent is not None and recent[0] == tracks:  # the same tracks as the last batch
            _, slots, run = recent
        else:
            known = camera.slots.get
            found = [known(k, -1) for k in tracks]  # type: ignore[arg-type]
            if -1 in found:
                if keep is None:
                    keep = np.ones(len(tracks), dtype=bool)
                for j, track_id in enumerate(tracks):
                    if not keep[j] or found[j] != -1:
                        continue
                    if len(camera.slots) >= self.max_tracks:
                        self.dropped_tracks += 1
                        keep[j] = False
                        continue
                    assert track_id is not None
                    found[j] = camera.allocate(track_id, float(xy[0, j]), float(xy[1, j]))
            slots = np.array(found, dtype=np.intp)
            run = _run(slots)
            if -1 not in found:
                camera.recent = (tracks, slots, run)
        if keep is None:
            fresh = camera.last_update[slots if run is None else run] < t
        else:  # slots of dropped detections are −1: never read them
            fresh = keep
            fresh[keep] = camera.last_update[slots[keep]] < t
        if not fresh.all():
            if not fresh.any():
                return None
            slots, xy, confidence = slots[fresh], xy[:, fresh], confidence[fresh]
            index = np.asarray(index, dtype=np.intp)[fresh].tolist()
            labels = np.asarray(labels)[fresh].tolist()
            run = _run(slots)
        camera.last_update[slots if run is None else run] = t
        camera.expire_after = min(camera.expire_after, t + self.track_timeout_s)
        if camera.table.any_static:
            first = np.stack((camera.first_x[slots], camera.first_y[slots]))
            camera.moved[slots] |= np.hypot(*(xy - first)) > STATIC_EPSILON
        labels_array = np.array(labels, dtype=np.intp)
        if run is not None:
            return _Batch(run, list(index), xy, confidence, labels_array)
        return _columns(slots, list(index), xy, confidence, labels_array)

    def _polygons(
        self,
        camera_id: str,
        camera: CameraState,
        b: _Batch,
        t: float,
        at: datetime,
        observed: Bools,
        found: list[tuple[int, int, int, ZoneEvent]],
    ) -> None:
        table, g = camera.table, camera.polygons
        inside = geometry.inside(table.polygons, b.xy, observed)
        floats, ints = g.f[:, :, b.cols], g.i[:, :, b.cols]  # views when cols is a slice
        since, last_inside, last_seen = floats
        code, dwelt, label = ints
        kind = np.add(inside, observed, dtype=np.intp)  # 0 unobserved, 1 outside, 2 inside
        if table.any_static:
            kind += inside & table.p_static & ~camera.moved[b.cols]  # 3: held, never moved
        m = table.p_machine
        flat = m.index(code, kind)
        enter, exit_, start = (flags.take(flat) for flags in m.flags)
        code[...] = m.next.take(flat)
        exits = exit_.any()
        exit_seconds = last_inside - since if exits else None
        enters = enter.any()
        if enters:
            np.copyto(label, b.label, where=enter)
            np.copyto(dwelt, 0, where=enter)
        np.copyto(since, t, where=start)
        np.copyto(last_inside, t, where=inside)
        np.copyto(last_seen, t, where=observed)
        dwell = dwell_seconds = None
        if table.any_dwell:
            dwell = inside & (code >= table.p_inside)
            dwell &= dwelt == 0
            in_visit = t - since
            dwell &= in_visit >= table.p_dwell_after
            if dwell.any():
                np.copyto(dwelt, 1, where=dwell)
                dwell_seconds = in_visit
            else:
                dwell = None
        if not isinstance(b.cols, slice):
            g.f[:, :, b.cols], g.i[:, :, b.cols] = floats, ints
        if not (enters or exits or dwell is not None):
            return
        masks: tuple[tuple[int, EventType, Bools | None, Floats | None], ...] = (
            (0, "enter", enter if enters else None, None),
            (1, "dwell", dwell, dwell_seconds),
            (2, "exit", exit_ if exits else None, exit_seconds),
        )
        for rank, event_type, mask, seconds in masks:
            if mask is None:
                continue
            rows, columns = np.nonzero(mask)
            labels = label[rows, columns].tolist()
            spans = [None] * len(labels) if seconds is None else seconds[rows, columns].tolist()
            for z, j, label_id, span in zip(
                rows.tolist(), columns.tolist(), labels, spans, strict=True
            ):
                zone_id = table.polygon_ids[z]
                found.append(
                    self._event(
                        camera_id, camera, zone_id, event_type, b, j, label_id, at, span, rank
                    )
                )

    def _event(
        self,
        camera_id: str,
        camera: CameraState,
        zone_id: int,
        kind: EventType,
        b: _Batch,
        column: int,
        label: int,
        at: datetime,
        seconds: float | None,
        rank: int,
    ) -> tuple[int, int, int, ZoneEvent]:
        track_id = camera.ids[b.slot(column)]
        assert track_id is not None
        index = b.index[column]
        event = ZoneEvent(
            camera_id, zone_id, kind, track_id, self._labels[label], at, seconds, index
        )
        return (index, zone_id, rank, event)

    def _lines(
        self,
        camera_id: str,
        camera: CameraState,
        b: _Batch,
        t: float,
        at: datetime,
        observed: Bools,
        found: list[tuple[int, int, int, ZoneEvent]],
    ) -> None:
        table, g = camera.table, camera.lines
        cross = geometry.cross(table.lines, b.x, b.y)  # its sign is the anchor's side
        kind = _SIDE_KIND.take(np.sign(cross).astype(np.intp))  # 0 on the line, 1 −1, 2 +1
        kind *= observed  # 0 unobserved
        floats, ints = g.f[:, :, b.cols], g.i[:, :, b.cols]  # views when cols is a slice
        ref_x, ref_y, last_seen = floats
        code, crosses = ints
        m = table.l_machine
        flat = m.index(code, kind)
        settle, first, flip = (flags.take(flat) for flags in m.flags)
        code[...] = m.next.take(flat)
        if first.any():  # only the first observation on the other side needs the path test
            for z, j in zip(*(v.tolist() for v in np.nonzero(first)), strict=True):
                segment = table.lines.segments[z]
                path = (float(ref_x[z, j]), float(ref_y[z, j]), float(b.x[j]), float(b.y[j]))
                crosses[z, j] = geometry.path_crosses(segment, *path)
        emit = flip & (crosses != 0) if flip.any() else None
        np.copyto(crosses, 0, where=settle)
        np.copyto(ref_x, b.x, where=settle)
        np.copyto(ref_y, b.y, where=settle)
        np.copyto(last_seen, t, where=observed)
        if not isinstance(b.cols, slice):
            g.f[:, :, b.cols], g.i[:, :, b.cols] = floats, ints
        if emit is None or not emit.any():
            return
        for z, j in zip(*(v.tolist() for v in np.nonzero(emit)), strict=True):
            side = 1 if cross[z, j] > 0 else -1
            if table.l_direction[z] not in (0, side):
                continue
            crossing: EventType = "cross_ab" if side > 0 else "cross_ba"
            label_id = int(b.label[j])
            zone_id = table.line_ids[z]
            found.append(
                self._event(camera_id, camera, zone_id, crossing, b, j, label_id, at, None, 3)
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
