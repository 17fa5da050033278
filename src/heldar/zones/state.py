"""Zone state held between batches: compiled zones, tracks, (zone, track) grids, snapshots.

`ZoneTable` is the enabled zones of one camera compiled to arrays; `CameraState` its tracks (a slot
per track id) and two `Grid`s of per-(zone, track) state, polygons and lines apart. `dump` and
`load` turn a camera's state into plain JSON data and back (`docs/design/zones.md`, Restart).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from heldar.zones import geometry, kernel, machine
from heldar.zones.models import Zone

TrackId = int | str
SNAPSHOT_VERSION = 1
DIRECTIONS = {"any": 0, "ab": 1, "ba": -1}

Ints = NDArray[np.intp]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]

# Per-(zone, track) fields; `code` is the state of `heldar.zones.machine`. Polygons: `since` is the
# first inside observation of the visit, `last_seen` the last qualifying observation (it drives the
# timeout), `label` the visit's label. Lines: `ref_*` is the last anchor on the confirmed side,
# `crosses` whether the path to the other side crossed the segment.
POLYGON_FIELDS = (("since", "last_inside", "last_seen"), ("code", "dwelt", "label"))
LINE_FIELDS = (("ref_x", "ref_y", "last_seen"), ("code", "crosses"))


class Grid:
    """State of one zone family, packed for the kernel: `f` (float fields) and `i` (int fields)
    are `(track slot, field, zone)` arrays. A track's codes for all zones share a cache line or
    two, which is all the kernel reads of an idle pair; the other fields are touched only for
    pairs in a visit. `grid[name]` is a `(zone, slot)` view of one field. Zero is the idle value
    of every field (code 0: outside, side unknown)."""

    def __init__(self, fields: tuple[tuple[str, ...], tuple[str, ...]], rows: int, cols: int):
        self.fields = fields
        self.rows = rows
        self.f = np.zeros((cols, len(fields[0]), rows), dtype=np.float64)
        self.i = np.zeros((cols, len(fields[1]), rows), dtype=np.intp)
        self._index = {name: (0, k) for k, name in enumerate(fields[0])}
        self._index.update({name: (1, k) for k, name in enumerate(fields[1])})

    def __getitem__(self, name: str) -> NDArray[Any]:
        family, k = self._index[name]
        view: NDArray[Any] = (self.i if family else self.f)[:, k, :].T
        return view

    def grow(self, cols: int) -> None:
        f, i = self.f, self.i
        self.f = np.zeros((cols, *f.shape[1:]), dtype=np.float64)
        self.i = np.zeros((cols, *i.shape[1:]), dtype=np.intp)
        self.f[: len(f)], self.i[: len(i)] = f, i

    def reset(self, where: Bools | Ints) -> None:
        """Idle the `(zone, slot)` cells of a mask, or every cell of some slots."""
        if where.ndim == 2:  # a (zone, slot) mask: index (slot, zone, field) views with it
            self.f.transpose(0, 2, 1)[where.T] = 0.0
            self.i.transpose(0, 2, 1)[where.T] = 0
            return
        self.f[where] = 0.0
        self.i[where] = 0

    def with_rows(self, sources: list[int | None], cols: int) -> Grid:
        """A grid whose row i is this grid's row `sources[i]`, or fresh when None."""
        grid = Grid(self.fields, len(sources), cols)
        for row, source in enumerate(sources):
            if source is not None:
                grid.f[:, :, row], grid.i[:, :, row] = self.f[:, :, source], self.i[:, :, source]
        return grid


class ZoneTable:
    """The enabled zones of one camera compiled to arrays, polygons and lines apart, by id."""

    def __init__(self, zones: Iterable[Zone]) -> None:
        ordered = sorted((z for z in zones if z.enabled), key=lambda z: z.id)
        polys = [z for z in ordered if z.kind != "line"]
        lines = [z for z in ordered if z.kind == "line"]
        self.polygon_ids = [z.id for z in polys]
        self.presence = np.array([z.kind == "presence" for z in polys], dtype=bool)
        self.polygons = geometry.compile_polygons([z.polygon for z in polys])
        self.p_confirm = [z.config.confirm_frames for z in polys]
        self.p_inside = np.array([n + 1 for n in self.p_confirm], dtype=np.intp)[:, None]
        p_machine = machine.compile_polygons(self.p_confirm)
        static = np.array([z.config.static_suppression for z in polys], dtype=bool)
        self.line_ids = [z.id for z in lines]
        self.l_confirm = [z.config.confirm_frames for z in lines]
        l_machine = machine.compile_lines(self.l_confirm)
        order = sorted(
            [(z.id, 0, row) for row, z in enumerate(polys)]
            + [(z.id, 1, row) for row, z in enumerate(lines)]
        )
        self.zone_ids = [zone_id for zone_id, _, _ in order]
        """Zone ids in id order: the zone column of `kernel.evaluate`'s events indexes it."""
        place = {(family, row): k for k, (_, family, row) in enumerate(order)}
        ring, start, box = kernel.rings([z.polygon for z in polys])
        dwell = np.array([z.dwell_seconds for z in polys], dtype=np.float64)
        segments = [
            [*start_point, *end_point] for start_point, end_point in (z.polygon for z in lines)
        ]
        tables = kernel.Tables(
            p_order=np.array([place[0, r] for r in range(len(polys))], dtype=np.intp),
            l_order=np.array([place[1, r] for r in range(len(lines))], dtype=np.intp),
            min_conf=np.array([z.config.min_confidence for z in (*polys, *lines)], np.float64),
            ring=ring,
            start=start,
            box=box,
            p_machine=p_machine.table,
            p_base=p_machine.base,
            p_inside=np.ascontiguousarray(self.p_inside.ravel()),
            # Seconds inside before a dwell, +inf for zones without one (never reached).
            p_dwell_after=np.where(dwell > 0, dwell, np.inf),
            p_static=static,
            segments=np.array(segments, dtype=np.float64).reshape(-1, 4),
            l_machine=l_machine.table,
            l_base=l_machine.base,
            l_direction=np.array([DIRECTIONS[z.config.direction] for z in lines], np.intp),
        )
        self.kernel = tuple(tables)  # as `kernel.evaluate` takes it (see `kernel.Tables`)
        self._labels = [frozenset(z.labels) for z in (*polys, *lines)]
        self._lut = np.zeros((len(self._labels), 0), bool)

    def lut(self, names: list[str]) -> Bools:
        """`(zones, label id)` mask of the labels each zone (polygons, then lines) reacts to,
        grown as labels appear."""
        if self._lut.shape[1] < len(names):
            self._lut = _lut(self._labels, names)
        return self._lut


class CameraState:
    """Tracks and (zone, track) state of one camera."""

    def __init__(self, table: ZoneTable) -> None:
        self.table = table
        self.watermark: float | None = None
        self.expire_after = -math.inf  # no (zone, track) can be stale at or before this time
        self.slots: dict[TrackId, int] = {}
        self.ids: list[TrackId | None] = []
        self.free: list[int] = []
        self.last_update = np.zeros(0)
        self.first_x = np.zeros(0)
        self.first_y = np.zeros(0)
        self.moved = np.zeros(0, dtype=bool)
        self.polygons = Grid(POLYGON_FIELDS, len(table.polygon_ids), 0)
        self.recent: tuple[Sequence[TrackId | None], Sequence[str], Ints] | None = None
        """The last batch's tracks and labels with their `(label ids, slots)`: the next batch
        naming the same ones skips the lookups (`ZoneEngine._ids`). Cleared when slots are
        released."""
        self.lines = Grid(LINE_FIELDS, len(table.line_ids), 0)

    @property
    def capacity(self) -> int:
        return len(self.last_update)

    def allocate(
        self, track_ids: Sequence[TrackId], x: Sequence[float], y: Sequence[float]
    ) -> list[int]:
        """Slots for new tracks, first seen with their anchors at `(x, y)`: freed slots first,
        then new ones (the arrays grow at most once); numpy writes once for all of them."""
        reused = [self.free.pop() for _ in range(min(len(self.free), len(track_ids)))]
        start = len(self.ids)
        slots = reused + list(range(start, start + len(track_ids) - len(reused)))
        self.ids.extend([None] * (len(slots) - len(reused)))
        if len(self.ids) > self.capacity:
            cols = max(16, 2 * self.capacity, len(self.ids))
            self.last_update = _grown(self.last_update, cols, math.inf)
            self.first_x = _grown(self.first_x, cols, 0.0)
            self.first_y = _grown(self.first_y, cols, 0.0)
            self.moved = _grown(self.moved, cols, False)
            self.polygons.grow(cols)
            self.lines.grow(cols)
        for slot, track_id in zip(slots, track_ids, strict=True):
            self.ids[slot] = track_id
            self.slots[track_id] = slot
        self.last_update[slots] = -math.inf
        self.first_x[slots], self.first_y[slots], self.moved[slots] = x, y, False
        return slots

    def release(self, slots: Ints) -> None:
        self.recent = None
        for slot in slots.tolist():
            track_id = self.ids[slot]
            if track_id is not None:
                del self.slots[track_id]
            self.ids[slot] = None
            self.free.append(slot)
        self.last_update[slots] = math.inf
        self.polygons.reset(slots)
        self.lines.reset(slots)

    def rezone(self, table: ZoneTable) -> None:
        """Switch to new zones: a zone keeping its id and family keeps its state, re-encoded
        when its `confirm_frames` changed; the others start idle."""
        old = self.table
        families = (
            (self.polygons, old.polygon_ids, old.p_confirm, table.polygon_ids, table.p_confirm),
            (self.lines, old.line_ids, old.l_confirm, table.line_ids, table.l_confirm),
        )
        grids = []
        for grid, old_ids, old_confirm, new_ids, new_confirm in families:
            rows = {zone_id: row for row, zone_id in enumerate(old_ids)}
            fresh = grid.with_rows([rows.get(zone_id) for zone_id in new_ids], self.capacity)
            for row, zone_id in enumerate(new_ids):
                source = rows.get(zone_id)
                if source is not None and old_confirm[source] != new_confirm[row]:
                    codes = fresh["code"][row]
                    line = grid is self.lines
                    for col in np.nonzero(codes)[0].tolist():
                        codes[col] = _recode(
                            line, old_confirm[source], new_confirm[row], codes[col]
                        )
            grids.append(fresh)
        self.polygons, self.lines = grids
        self.table = table


def _recode(line: bool, old: int, new: int, code: int) -> int:
    if line:
        return machine.line_encode(new, *machine.line_decode(old, code))
    return machine.polygon_encode(new, *machine.polygon_decode(old, code))


def _lut(sets: list[frozenset[str]], names: list[str]) -> Bools:
    rows = [[not allowed or name in allowed for name in names] for allowed in sets]
    return np.array(rows, dtype=bool).reshape(len(sets), len(names))


def _grown(values: NDArray[Any], size: int, fill: Any) -> NDArray[Any]:
    out = np.full(size, fill, dtype=values.dtype)
    out[: len(values)] = values
    return out


def dump_camera(camera: CameraState, labels: list[str]) -> dict[str, Any]:
    """The state of one camera as plain JSON data (only non-idle (zone, track) pairs). Runs for
    every camera with zone events at each flush: fields are read with one fancy index each."""
    table, ids = camera.table, camera.ids
    live = [slot for slot, track_id in enumerate(ids) if track_id is not None]
    last_update, moved = camera.last_update[live].tolist(), camera.moved[live].tolist()
    first_x, first_y = camera.first_x[live].tolist(), camera.first_y[live].tolist()
    tracks = [
        {"track_id": ids[slot], "last_update": u, "first": [x, y], "moved": m}
        for slot, u, x, y, m in zip(live, last_update, first_x, first_y, moved, strict=True)
    ]
    zones: list[dict[str, Any]] = []
    g = camera.polygons
    for row, zone_id, states in _pairs(g, table.polygon_ids):
        n, phases = table.p_confirm[row], []
        for slot, code, since, inside, seen, dwelt, label in states:
            phase, count = machine.polygon_decode(n, code)
            phases.append(
                {
                    "track_id": ids[slot],
                    "phase": phase,
                    "count": count,
                    "since": since,
                    "last_inside": inside,
                    "last_seen": seen,
                    "dwelt": bool(dwelt),
                    "label": labels[label] if phase in ("inside", "leaving") else None,
                }
            )
        zones.append({"zone_id": zone_id, "family": "polygon", "states": phases})
    for row, zone_id, states in _pairs(camera.lines, table.line_ids):
        n, sides = table.l_confirm[row], []
        for slot, code, ref_x, ref_y, seen, crosses in states:
            side, pending = machine.line_decode(n, code)
            sides.append(
                {
                    "track_id": ids[slot],
                    "side": side,
                    "pending": pending,
                    "ref": [ref_x, ref_y],
                    "crosses": bool(crosses),
                    "last_seen": seen,
                }
            )
        zones.append({"zone_id": zone_id, "family": "line", "states": sides})
    return {"watermark": camera.watermark, "tracks": tracks, "zones": zones}


def _pairs(g: Grid, zone_ids: list[int]) -> list[tuple[int, int, list[tuple[Any, ...]]]]:
    """Per zone row: `(row, zone id, [(slot, code, *float fields, *other int fields)])` of its
    non-idle pairs, in slot order."""
    rows, slots = np.nonzero(g["code"])
    ints = [g.i[slots, k, rows].tolist() for k in range(len(g.fields[1]))]
    floats = [g.f[slots, k, rows].tolist() for k in range(len(g.fields[0]))]
    by_row: list[list[tuple[Any, ...]]] = [[] for _ in zone_ids]
    columns = (rows.tolist(), slots.tolist(), ints[0], *floats, *ints[1:])
    for row, slot, code, *rest in zip(*columns, strict=True):
        by_row[row].append((slot, code, *rest))
    return [(row, zone_id, by_row[row]) for row, zone_id in enumerate(zone_ids)]


def load_camera(
    table: ZoneTable, data: dict[str, Any], label_id: Callable[[str], int]
) -> CameraState:
    """A camera's state from `dump_camera` data, for the zones of `table` (others are dropped)."""
    camera = CameraState(table)
    watermark = data["watermark"]
    camera.watermark = None if watermark is None else float(watermark)
    tracks = data["tracks"]
    for track in tracks:
        track_id = track["track_id"]
        if isinstance(track_id, bool) or not isinstance(track_id, int | str):
            raise TypeError("zone snapshot: a track id is an int or a str")
    slots = camera.allocate(
        [track["track_id"] for track in tracks],
        [float(track["first"][0]) for track in tracks],
        [float(track["first"][1]) for track in tracks],
    )
    camera.last_update[slots] = [float(track["last_update"]) for track in tracks]
    camera.moved[slots] = [bool(track["moved"]) for track in tracks]
    polygon_rows = {zone_id: row for row, zone_id in enumerate(table.polygon_ids)}
    line_rows = {zone_id: row for row, zone_id in enumerate(table.line_ids)}
    for zone in data["zones"]:
        is_line = zone["family"] == "line"
        row = (line_rows if is_line else polygon_rows).get(zone["zone_id"])
        if row is None:
            continue  # no longer configured, or its family changed
        g = camera.lines if is_line else camera.polygons
        for state in zone["states"]:
            col = camera.slots.get(state["track_id"])
            if col is None:
                continue
            g["last_seen"][row, col] = float(state["last_seen"])
            if is_line:
                n = table.l_confirm[row]
                g["code"][row, col] = machine.line_encode(n, state["side"], state["pending"])
                g["ref_x"][row, col], g["ref_y"][row, col] = map(float, state["ref"])
                g["crosses"][row, col] = bool(state["crosses"])
                continue
            n = table.p_confirm[row]
            g["code"][row, col] = machine.polygon_encode(n, state["phase"], state["count"])
            g["since"][row, col] = float(state["since"])
            g["last_inside"][row, col] = float(state["last_inside"])
            g["dwelt"][row, col] = bool(state["dwelt"])
            if state["label"] is not None:
                g["label"][row, col] = label_id(state["label"])
    return camera
