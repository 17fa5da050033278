"""`IoUTracker`: stable string track ids across frames by greedy IoU matching, nothing learned.

A box takes over the id of the live track (same label) it overlaps most, above a threshold; a box
that matches nothing starts a new track. A track unmatched for more than `max_missed` frames ends,
and its id is never handed out again: ids are `<prefix>-<n>` with a counter that only grows and a
random per-tracker prefix, so a restarted worker does not reuse the ids of its previous life either.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from heldar_worker.analyzers.boxes import Box, iou_matrix


@dataclass
class _Track:
    id: str
    box: Box
    label: str | None
    missed: int = 0


class IoUTracker:
    def __init__(
        self, *, iou_threshold: float = 0.3, max_missed: int = 5, prefix: str | None = None
    ) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError("iou_threshold must be in (0, 1]")
        if max_missed < 0:
            raise ValueError("max_missed must be >= 0")
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.prefix = prefix if prefix is not None else secrets.token_hex(3)
        self._tracks: list[_Track] = []
        self._issued = 0

    @property
    def live(self) -> int:
        """How many tracks are alive (matched recently enough to be continued)."""
        return len(self._tracks)

    def update(self, boxes: Sequence[Box], labels: Sequence[str | None] | None = None) -> list[str]:
        """The track id of each box of this frame, in the order given."""
        if labels is None:
            labels = [None] * len(boxes)
        if len(labels) != len(boxes):
            raise ValueError("one label per box")
        ids: list[str | None] = [None] * len(boxes)
        matched: set[int] = set()
        if boxes and self._tracks:
            overlaps = iou_matrix([t.box for t in self._tracks], boxes)
            pairs = sorted(
                (
                    (float(overlaps[t, b]), t, b)
                    for t in range(len(self._tracks))
                    for b in range(len(boxes))
                    if overlaps[t, b] >= self.iou_threshold and self._tracks[t].label == labels[b]
                ),
                reverse=True,
            )
            for _, t, b in pairs:
                if t in matched or ids[b] is not None:
                    continue
                track = self._tracks[t]
                track.box, track.missed = boxes[b], 0
                ids[b] = track.id
                matched.add(t)
        for t, track in enumerate(self._tracks):
            if t not in matched:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        result: list[str] = []
        for b, found in enumerate(ids):
            if found is None:
                self._issued += 1
                found = f"{self.prefix}-{self._issued}"
                self._tracks.append(_Track(found, boxes[b], labels[b]))
            result.append(found)
        return result
