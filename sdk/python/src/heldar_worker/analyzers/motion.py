"""`MotionAnalyzer`: frame differencing in numpy, one `motion` detection per region that changed.

Each frame is reduced to grayscale at ~160 px wide (block mean), smoothed with a box filter, and
compared with the previous frame of the same task. Pixels whose luma moved by more than
`threshold` are grouped into regions on a coarse grid (changes closer than `merge_distance` join,
since a moving uniform object changes only along its edges); each region large enough becomes a
detection with the tight bbox of its changed pixels. Confidence grows with the changed area:
0.25 at `min_area`, 1.0 from four times that.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from heldar_worker.analyzer import Analyzer, Result
from heldar_worker.frames import DecodedFrame
from heldar_worker.models import AiTask, Detection

_CELL = 4  # grid cell, in reduced pixels


class MotionConfig(BaseModel):
    """The `config` of a motion task; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    threshold: int = Field(
        default=25, ge=1, le=255, description="Luma change (0..255) that makes a pixel 'changed'."
    )
    min_area: float = Field(
        default=0.002,
        gt=0,
        le=1,
        description="Smallest region reported, as a fraction of the frame.",
    )
    merge_distance: float = Field(
        default=0.05,
        ge=0,
        le=0.5,
        description="Changes closer than this (fraction of width) merge.",
    )
    scale_width: int = Field(
        default=160,
        ge=32,
        le=1280,
        description="Width the frame is reduced to before differencing.",
    )
    blur: int = Field(default=1, ge=0, le=5, description="Box-filter radius, in reduced pixels.")
    max_regions: int = Field(default=8, ge=1, le=64, description="Most detections per frame.")


class MotionAnalyzer(Analyzer):
    task_type = "motion"
    name = "motion"

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._previous: NDArray[np.float32] | None = None
        self._previous_shape: tuple[int, ...] = ()

    def setup(self, task: AiTask) -> None:
        self.config = MotionConfig.model_validate(task.config)
        self._previous = None

    def analyze(self, frame: DecodedFrame) -> Result:
        return Result(detections=self.detect(frame.gray()))

    def detect(self, gray: NDArray[np.uint8]) -> list[Detection]:
        """Motion between this grayscale frame (H×W) and the previous one; [] for the first."""
        height, width = gray.shape
        factor = max(1, width // self.config.scale_width)
        small = _box_blur(_reduce(gray, factor), self.config.blur)
        previous, self._previous = self._previous, small
        shape, self._previous_shape = self._previous_shape, gray.shape
        if previous is None or shape != gray.shape:  # the sampler's width changed: start over
            return []
        changed = np.abs(small - previous) > self.config.threshold
        if not changed.any():
            return []
        total = changed.size
        gap_cells = math.ceil(self.config.merge_distance * small.shape[1] / _CELL)
        regions = []
        for cells in _regions(_cells(changed), gap_cells):
            mask = (
                changed
                & np.kron(cells, np.ones((_CELL, _CELL), dtype=bool))[
                    : changed.shape[0], : changed.shape[1]
                ]
            )
            count = int(mask.sum())
            if count / total >= self.config.min_area:
                regions.append((count, mask))
        regions.sort(key=lambda item: item[0], reverse=True)
        detections = []
        for count, mask in regions[: self.config.max_regions]:
            rows = np.nonzero(mask.any(axis=1))[0]
            cols = np.nonzero(mask.any(axis=0))[0]
            x0, x1 = int(cols[0]) * factor, (int(cols[-1]) + 1) * factor
            y0, y1 = int(rows[0]) * factor, (int(rows[-1]) + 1) * factor
            fraction = count / total
            detections.append(
                Detection.from_pixels(
                    "motion",
                    min(1.0, 0.25 * fraction / self.config.min_area),
                    (x0, y0, x1 - x0, y1 - y0),
                    (width, height),
                    attributes={"changed_fraction": round(fraction, 5)},
                )
            )
        return detections


def _reduce(gray: NDArray[np.uint8], factor: int) -> NDArray[np.float32]:
    """Block mean by `factor` (the right and bottom remainders are dropped)."""
    height, width = gray.shape[0] // factor * factor, gray.shape[1] // factor * factor
    blocks = gray[:height, :width].astype(np.float32)
    if factor == 1:
        return blocks
    shape = (height // factor, factor, width // factor, factor)
    reduced: NDArray[np.float32] = blocks.reshape(shape).mean(axis=(1, 3), dtype=np.float32)
    return reduced


def _box_blur(image: NDArray[np.float32], radius: int) -> NDArray[np.float32]:
    if radius == 0:
        return image
    size = 2 * radius + 1
    padded = np.pad(image, radius, mode="edge")
    # Separable running sums over a window of `size`, via cumulative sums.
    sums = np.cumsum(np.pad(padded, ((1, 0), (0, 0))), axis=0)
    rows = sums[size:] - sums[:-size]
    sums = np.cumsum(np.pad(rows, ((0, 0), (1, 0))), axis=1)
    blurred: NDArray[np.float32] = ((sums[:, size:] - sums[:, :-size]) / size**2).astype(np.float32)
    return blurred


def _cells(changed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """A grid of `_CELL`-pixel cells, True where any pixel in the cell changed."""
    rows, cols = -(-changed.shape[0] // _CELL), -(-changed.shape[1] // _CELL)
    padded = np.zeros((rows * _CELL, cols * _CELL), dtype=bool)
    padded[: changed.shape[0], : changed.shape[1]] = changed
    return np.asarray(padded.reshape(rows, _CELL, cols, _CELL).any(axis=(1, 3)), dtype=np.bool_)


def _regions(cells: NDArray[np.bool_], gap: int) -> list[NDArray[np.bool_]]:
    """The changed cells grouped into regions: cells within `gap` cells of each other join."""
    rows, cols = cells.shape
    label = np.zeros(cells.shape, dtype=np.int32)
    regions: list[NDArray[np.bool_]] = []
    for start in zip(*np.nonzero(cells), strict=True):
        if label[start]:
            continue
        current = len(regions) + 1
        label[start] = current
        stack = [(int(start[0]), int(start[1]))]
        while stack:
            r, c = stack.pop()
            r0, r1, c0, c1 = (
                max(0, r - gap - 1),
                min(rows, r + gap + 2),
                max(0, c - gap - 1),
                min(cols, c + gap + 2),
            )
            window = cells[r0:r1, c0:c1] & (label[r0:r1, c0:c1] == 0)
            for dr, dc in zip(*np.nonzero(window), strict=True):
                label[r0 + dr, c0 + dc] = current
                stack.append((r0 + int(dr), c0 + int(dc)))
        regions.append(label == current)
    return regions
