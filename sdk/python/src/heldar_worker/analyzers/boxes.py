"""Axis-aligned boxes `(x, y, w, h)`: overlap (IoU) and non-maximum suppression, in numpy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Box = tuple[float, float, float, float]


def as_array(boxes: Sequence[Box] | NDArray[np.floating]) -> NDArray[np.float64]:
    array = np.asarray(boxes, dtype=np.float64)
    return array.reshape(-1, 4)


def iou_matrix(
    a: Sequence[Box] | NDArray[np.floating], b: Sequence[Box] | NDArray[np.floating]
) -> NDArray[np.float64]:
    """IoU of every box of `a` with every box of `b`, shape (len(a), len(b))."""
    a_, b_ = as_array(a), as_array(b)
    ax0, ay0 = a_[:, 0:1], a_[:, 1:2]
    ax1, ay1 = ax0 + a_[:, 2:3], ay0 + a_[:, 3:4]
    bx0, by0 = b_[:, 0], b_[:, 1]
    bx1, by1 = bx0 + b_[:, 2], by0 + b_[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0.0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0.0, None)
    inter = iw * ih
    union = a_[:, 2:3] * a_[:, 3:4] + b_[:, 2] * b_[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def iou(a: Box, b: Box) -> float:
    return float(iou_matrix([a], [b])[0, 0])


def nms(
    boxes: Sequence[Box] | NDArray[np.floating],
    scores: Sequence[float] | NDArray[np.floating],
    iou_threshold: float,
) -> list[int]:
    """Indices of the boxes kept, best score first: each drops the later ones it overlaps."""
    array = as_array(boxes)
    order = list(np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable"))
    if not order:
        return []
    overlaps = iou_matrix(array, array)
    kept: list[int] = []
    suppressed: set[int] = set()
    for index in order:
        i = int(index)
        if i in suppressed:
            continue
        kept.append(i)
        suppressed.update(int(j) for j in np.nonzero(overlaps[i] > iou_threshold)[0])
    return kept
