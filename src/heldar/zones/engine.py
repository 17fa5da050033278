"""The zone state machine: tracked detections in, enter/exit/dwell/crossing events out.

A `ZoneEngine` holds, per camera, its enabled zones compiled to arrays and the state of every
(zone, track) pair as numpy grids (a row per zone, a column per track slot). It reads a batch's
detections into arrays and judges them against all zones of the camera in one compiled call
(`heldar.zones.kernel`). Semantics and invariants: `docs/design/zones.md`. Pure: time comes from
batch timestamps only, and I/O is the caller's.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import chain, islice, repeat
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np

from heldar.zones import geometry, kernel
from heldar.zones.kernel import STATIC_EPSILON
from heldar.zones.models import Zone
from heldar.zones.state import (
    SNAPSHOT_VERSION,
    CameraState,
    Ints,
    TrackId,
    ZoneTable,
    dump_camera,
    load_camera,
)

EventType = Literal["enter", "exit", "dwell", "cross_ab", "cross_ba"]
__all__ = ["STATIC_EPSILON", "Detection", "DetectionLike", "EventType", "ZoneEngine", "ZoneEvent"]


class ZoneEvent(NamedTuple):
    """One zone event. `detection_index` points into the batch (evidence); None when synthetic.
    (A named tuple: a batch may emit dozens, and a frozen dataclass costs several times more.)"""

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


class Detection(NamedTuple):
    """A plain detection: `bbox` is `[x, y, w, h]` normalized; no `track_id` → no state. (Field
    order as the ingest's `Detection`: both are read by one transposition, see `_columns`.)"""

    label: str
    confidence: float
    bbox: tuple[float, float, float, float]
    track_id: TrackId | None = None


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("zone engine timestamps must be timezone-aware")
    return moment.timestamp()


def _track_key(track_id: TrackId) -> tuple[int, int, str]:
    return (0, track_id, "") if isinstance(track_id, int) else (1, 0, track_id)


def _anchor(bbox: Sequence[float], confidence: float) -> tuple[float, float] | None:
    """The anchor of a detection as `kernel.evaluate` computes it, or None when not finite."""
    x, y, w, h = bbox
    ax, ay = x + w * 0.5, y + h * 1.0
    if math.isfinite(ax) and math.isfinite(ay) and math.isfinite(confidence):
        return ax, ay
    return None


_FIELDS = ("label", "confidence", "bbox", "track_id")


def _columns(
    detections: Sequence[DetectionLike],
) -> tuple[Sequence[str], Sequence[float], Sequence[Sequence[float]], Sequence[TrackId | None]]:
    """The label, confidence, bbox and track id of each detection, as four columns.

    Named tuples whose first fields are these four (the engine's `Detection` and the ingest's)
    are transposed by one C call, several times faster than reading attributes one by one.
    """
    kinds = set(map(type, detections))
    if len(kinds) == 1:
        kind = kinds.pop()
        if issubclass(kind, tuple) and getattr(kind, "_fields", ())[:4] == _FIELDS:
            labels, confidences, boxes, tracks = islice(zip(*detections, strict=False), 4)
            return labels, confidences, boxes, tracks
    return (
        [d.label for d in detections],
        [d.confidence for d in detections],
        [d.bbox for d in detections],
        [d.track_id for d in detections],
    )


_NO_ANSWERS = np.zeros((0, 0), dtype=np.bool_)


@functools.lru_cache(maxsize=64)
def _layout(n: int) -> struct.Struct:
    """How the numbers of n detections are packed: x, y, w, h of each, then the confidences."""
    return struct.Struct(f"{5 * n}d")


def warm_up() -> None:
    """Compile the kernel (or load it from numba's disk cache) before a batch needs it: a cold
    compile takes seconds, which must not stall the event loop on a live batch. Runs one batch
    through a throwaway engine, so every argument has the types a live batch will have."""
    now = datetime.now(UTC)
    stamps = {"camera_id": "warm", "created_at": now, "updated_at": now}
    engine = ZoneEngine()
    region = Zone(id=1, name="r", kind="region", polygon=[(0, 0), (1, 0), (0, 1)], **stamps)
    line = Zone(id=2, name="l", kind="line", polygon=[(0, 0.5), (1, 0.5)], **stamps)
    engine.update_zones("warm", [region, line])
    engine.process("warm", now, [Detection("person", 0.9, (0.1, 0.1, 0.1, 0.1), 1)])


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
        self._codes = np.zeros((0, 4), dtype=np.intp)  # the kernel's event buffer, reused
        self._spans = np.zeros(0, dtype=np.float64)
        self._packed = bytearray()  # a batch's numbers for the kernel, reused

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
            if t > camera.expire_after:
                events.extend(self._expire(camera_id, camera, t))
            camera.watermark = t
        if not detections:
            return events
        labels, confidences, boxes, tracks = _columns(detections)
        ids = self._ids(camera, tracks, labels, boxes, confidences)
        args = self._arguments(camera, t, ids, confidences, boxes)
        count = kernel.evaluate(*args)
        if count == kernel.UNSURE:  # an anchor on (or within rounding of) a polygon's edge
            boxes_array = args[3][: 4 * len(detections)].reshape(-1, 4)
            args[-1] = geometry.inside(camera.table.polygons, geometry.anchors(boxes_array))
            count = kernel.evaluate(*args)
        if count:
            events.extend(self._events(camera_id, camera.table, timestamp, tracks, count))
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

    def _ids(
        self,
        camera: CameraState,
        tracks: Sequence[TrackId | None],
        labels: Sequence[str],
        boxes: Sequence[Sequence[float]],
        confidences: Sequence[float],
    ) -> Ints:
        """`(2, detections)`: the label id and the track slot (−1 for none) of each detection.
        The camera's last answer is reused for the same tracks with the same labels, the common
        case (a tracked object keeps its label)."""
        recent = camera.recent
        if recent is not None and recent[0] == tracks and recent[1] == labels:
            return recent[2]
        ids = list(map(self._label_ids.get, labels, repeat(-1)))
        if -1 in ids:
            ids = [self._label(name) for name in labels]
        slots = self._slots(camera, tracks, boxes, confidences)
        both = np.array((ids, slots), dtype=np.intp).reshape(2, len(tracks))
        if -1 not in slots:  # nothing left to allocate: safe to reuse
            camera.recent = (tracks, labels, both)
        return both

    def _slots(
        self,
        camera: CameraState,
        tracks: Sequence[TrackId | None],
        boxes: Sequence[Sequence[float]],
        confidences: Sequence[float],
    ) -> list[int]:
        """The track slot of each detection, −1 for none; allocates new tracks (finite ones,
        while the camera is under `max_tracks`). A repeated track id gets its slot every time:
        the kernel counts its first detection only."""
        found: list[int] = list(map(camera.slots.get, tracks, repeat(-1)))  # type: ignore[arg-type]
        if -1 not in found:
            return found
        new: dict[TrackId, tuple[float, float]] = {}  # first-seen anchor of each new track
        refused: set[TrackId] = set()  # new tracks whose first detection got no slot
        for j, track_id in enumerate(tracks):
            if found[j] != -1 or track_id is None or track_id in refused or track_id in new:
                continue  # known, untracked, or a repeat: the first detection decides
            anchor = _anchor(boxes[j], confidences[j])
            if anchor is not None and len(camera.slots) + len(new) < self.max_tracks:
                new[track_id] = anchor
                continue
            refused.add(track_id)
            if anchor is not None:
                self.dropped_tracks += 1
        if not new:
            return found
        anchors = list(new.values())
        given = camera.allocate(list(new), [x for x, _ in anchors], [y for _, y in anchors])
        slot_of: dict[TrackId | None, int] = dict(zip(new, given, strict=True))
        return [
            slot if slot != -1 else slot_of.get(t, -1)
            for t, slot in zip(tracks, found, strict=True)
        ]

    def _arguments(
        self,
        camera: CameraState,
        t: float,
        ids: Ints,
        confidences: Sequence[float],
        boxes: Sequence[Sequence[float]],
    ) -> list[Any]:
        """`kernel.evaluate`'s arguments: the batch's numbers packed into arrays by one C call
        (`np.array` over Python floats is several times slower), and the camera's state."""
        n = len(confidences)
        if len(self._packed) < 40 * n:  # 5 floats per detection
            self._packed = bytearray(80 * n)
        try:
            _layout(n).pack_into(self._packed, 0, *chain.from_iterable(boxes), *confidences)
        except struct.error as exc:
            raise ValueError(f"zone engine: bboxes are [x, y, w, h] numbers ({exc})") from None
        # A writable view: numba's dispatcher types read-only arrays on a path ~100× slower.
        floats = np.frombuffer(self._packed, np.float64, 5 * n)
        camera.expire_after = min(camera.expire_after, t + self.track_timeout_s)
        table = camera.table
        if len(self._spans) < 2 * n * len(table.zone_ids):  # at most 2 events per pair
            self._codes = np.zeros((4 * n * len(table.zone_ids), 4), dtype=np.intp)
            self._spans = np.zeros(len(self._codes), dtype=np.float64)
        return [
            table.kernel,
            table.lut(self._labels),
            t,
            floats,
            ids,
            (camera.last_update, camera.first_x, camera.first_y, camera.moved),
            (camera.polygons.f, camera.polygons.i),
            (camera.lines.f, camera.lines.i),
            self._codes,
            self._spans,
            _NO_ANSWERS,  # `given`: the kernel decides every point itself
        ]

    def _events(
        self,
        camera_id: str,
        table: ZoneTable,
        timestamp: datetime,
        tracks: Sequence[TrackId | None],
        count: int,
    ) -> list[ZoneEvent]:
        """The events `kernel.evaluate` wrote, as `ZoneEvent`s."""
        at, names, zone_ids = timestamp.astimezone(UTC), self._labels, table.zone_ids
        out = []
        rows, spans = self._codes[:count].tolist(), self._spans[:count].tolist()
        for (j, k, kind, label), span in zip(rows, spans, strict=True):
            track_id = tracks[j]
            assert track_id is not None
            event_type: EventType = kernel.EVENT_TYPES[kind]  # type: ignore[assignment]
            seconds = None if math.isnan(span) else span
            out.append(
                ZoneEvent(
                    camera_id, zone_ids[k], event_type, track_id, names[label], at, seconds, j
                )
            )
        return out

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
