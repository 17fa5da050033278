"""The transition tables of docs/design/zones.md, as code, compiled to lookup arrays.

The state of a (zone, track) pair is one small integer *code*, so the kernel advances a pair with
a single table lookup `(zone, code, kind)` instead of a cascade of tests. With N =
`confirm_frames`:

    polygon codes   0 outside · 1..N entering(k) · N+1 inside · N+1+k leaving(k), k < N
    polygon kinds   0 not observed · 1 observed outside · 2 observed inside ·
                    3 observed inside but held by static suppression
    line codes      0 side unknown · 1+k side −1, k pending · 1+N+k side +1, k pending (k < N)
    line kinds      0 not observed (or on the line) · 1 seen on side −1 · 2 seen on side +1

`polygon_step` and `line_step` are the scalar rules; `compile_*` tabulate them per zone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

POLYGON_KINDS = 4
LINE_KINDS = 3
PHASES = ("outside", "entering", "inside", "leaving")


def polygon_step(n: int, code: int, kind: int) -> tuple[int, bool, bool, bool]:
    """`(next code, enter, exit, visit starts)` of one observation."""
    inside = n + 1
    if kind == 0:
        return code, False, False, False
    if kind == 1:  # seen outside
        if code < inside:
            return 0, False, False, False  # outside stays, entering aborts
        k = 1 if code == inside else code - inside + 1
        return (0, False, True, False) if k >= n else (inside + k, False, False, False)
    if code >= inside:
        return inside, False, False, False  # inside again: a leaving track is back
    k, start = code + 1, code == 0
    if kind == 2 and k >= n:
        return inside, True, False, start
    return min(k, n), False, False, start  # static suppression holds it at entering(N)


def line_step(n: int, code: int, kind: int) -> tuple[int, bool, bool, bool]:
    """`(next code, settle: anchor becomes ref, first on the other side, flip)`."""
    if kind == 0:
        return code, False, False, False
    seen = 1 if kind == 1 else 1 + n  # code of "on the seen side, nothing pending"
    if code == 0:
        return seen, True, False, False
    side = -1 if code <= n else 1
    pending = code - (1 if side < 0 else 1 + n)
    if (kind == 1) == (side < 0):
        return seen, True, False, False  # back on its side: jitter dropped
    if pending + 1 >= n:
        return seen, True, pending == 0, True
    return code + 1, False, pending == 0, False


def polygon_encode(n: int, phase: str, count: int) -> int:
    if phase == "entering":
        return max(1, min(count, n))
    if phase == "leaving" and n > 1:
        return n + 1 + max(1, min(count, n - 1))
    return {"outside": 0, "inside": n + 1, "leaving": n + 1}[phase]


def polygon_decode(n: int, code: int) -> tuple[str, int]:
    if code == 0:
        return "outside", 0
    if code <= n:
        return "entering", code
    return ("inside", 0) if code == n + 1 else ("leaving", code - n - 1)


def line_encode(n: int, side: int, pending: int) -> int:
    if side == 0:
        return 0
    return (1 if side < 0 else 1 + n) + max(0, min(pending, n - 1))


def line_decode(n: int, code: int) -> tuple[int, int]:
    if code == 0:
        return 0, 0
    return (-1, code - 1) if code <= n else (1, code - 1 - n)


class Machine:
    """Per-zone lookup tables of one family, flattened: index `base[zone] + code * kinds + kind`."""

    def __init__(
        self,
        confirm: Sequence[int],
        kinds: int,
        step: Callable[[int, int, int], tuple[int, bool, bool, bool]],
    ) -> None:
        width = 2 * max(confirm, default=1) + 1
        table = np.zeros((len(confirm), width, kinds, 4), dtype=np.intp)
        for z, n in enumerate(confirm):
            for code in range(2 * n + 1):
                for kind in range(kinds):
                    table[z, code, kind] = step(n, code, kind)
        self.base = np.arange(len(confirm)) * width * kinds
        self.table = table.reshape(-1, 4)
        """Rows `base[zone] + code * kinds + kind`: (next code, flag, flag, flag)."""


def compile_polygons(confirm: Sequence[int]) -> Machine:
    return Machine(confirm, POLYGON_KINDS, polygon_step)


def compile_lines(confirm: Sequence[int]) -> Machine:
    return Machine(confirm, LINE_KINDS, line_step)
