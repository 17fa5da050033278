"""`PersonAnalyzer`: OpenCV's built-in HOG + linear-SVM people detector, with IoU tracking.

The detector's weights ship inside `opencv-python-headless` (4.x; OpenCV 5 dropped HOG), so
there is nothing to download. Overlapping windows are merged by non-maximum suppression and each
kept box gets a `track_id` from `IoUTracker`. HOG scores are SVM margins, not probabilities; the
reported confidence is `1 - exp(-score)` (0.63 at a margin of 1), which keeps their order.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from heldar_worker.analyzer import Analyzer, AnalyzerUnavailable, Result
from heldar_worker.analyzers.boxes import Box, nms
from heldar_worker.analyzers.tracker import IoUTracker
from heldar_worker.frames import DecodedFrame
from heldar_worker.models import AiTask, Detection

_WINDOW = (64, 128)  # the default people detector's window, (width, height)


class PersonConfig(BaseModel):
    """The `config` of a person task; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    min_confidence: float = Field(
        default=0.3, ge=0, le=1, description="Detections below this confidence are dropped."
    )
    nms_iou: float = Field(
        default=0.45, gt=0, le=1, description="Overlap above which the weaker window is dropped."
    )
    max_width: int = Field(
        default=640, ge=_WINDOW[0], le=3840, description="Frames wider are downscaled first."
    )
    scale: float = Field(default=1.05, gt=1.0, le=1.5, description="Image pyramid step.")
    win_stride: int = Field(default=8, ge=4, le=32, description="Window stride, in pixels.")
    track_iou: float = Field(default=0.3, gt=0, le=1, description="IoU that continues a track.")
    max_missed: int = Field(
        default=5, ge=0, le=300, description="Frames a track survives without a match."
    )


def _opencv() -> Any:
    try:
        cv2 = importlib.import_module("cv2")
    except ImportError as exc:
        raise AnalyzerUnavailable(
            "the person analyzer needs OpenCV: pip install 'heldar-worker[person]'"
        ) from exc
    if not hasattr(cv2, "HOGDescriptor"):
        raise AnalyzerUnavailable(
            f"OpenCV {cv2.__version__} has no HOG people detector: "
            "pip install 'opencv-python-headless>=4.8,<5'"
        )
    return cv2


class PersonAnalyzer(Analyzer):
    task_type = "person"
    name = "person"

    def __init__(self, config: PersonConfig | None = None) -> None:
        self._cv2 = _opencv()
        self._hog = self._cv2.HOGDescriptor()
        self._hog.setSVMDetector(self._cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.config = config or PersonConfig()
        self.tracker = self._new_tracker()

    def setup(self, task: AiTask) -> None:
        self.config = PersonConfig.model_validate(task.config)
        self.tracker = self._new_tracker()

    def analyze(self, frame: DecodedFrame) -> Result:
        image = frame.bgr()
        height, width = image.shape[:2]
        found = self.detect(image)
        ids = self.tracker.update([box for box, _ in found], ["person"] * len(found))
        return Result(
            detections=[
                Detection.from_pixels("person", score, box, (width, height), track_id=track_id)
                for (box, score), track_id in zip(found, ids, strict=True)
            ]
        )

    def detect(self, image: NDArray[np.uint8]) -> list[tuple[Box, float]]:
        """People in a BGR (or gray) image: (pixel box, confidence), best first, after NMS."""
        height, width = image.shape[:2]
        ratio = 1.0
        if width > self.config.max_width:
            ratio = self.config.max_width / width
            size = (self.config.max_width, max(1, round(height * ratio)))
            image = self._cv2.resize(image, size, interpolation=self._cv2.INTER_AREA)
        if image.shape[0] < _WINDOW[1] or image.shape[1] < _WINDOW[0]:
            return []
        stride = (self.config.win_stride, self.config.win_stride)
        rects, weights = self._hog.detectMultiScale(
            image, winStride=stride, padding=(8, 8), scale=self.config.scale
        )
        boxes = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / ratio
        scores = [1.0 - math.exp(-max(float(w), 0.0)) for w in np.asarray(weights).reshape(-1)]
        keep = [
            i
            for i in nms(boxes, scores, self.config.nms_iou)
            if scores[i] >= self.config.min_confidence
        ]
        return [(_box(boxes[i]), scores[i]) for i in keep]

    def _new_tracker(self) -> IoUTracker:
        return IoUTracker(iou_threshold=self.config.track_iou, max_missed=self.config.max_missed)


def _box(row: NDArray[np.float64]) -> Box:
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
