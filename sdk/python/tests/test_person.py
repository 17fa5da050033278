"""The person analyzer runs OpenCV's HOG people detector where OpenCV has one, and says so where not."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from heldar_worker import AiTask, AnalyzerUnavailable, DecodedFrame, Frame
from heldar_worker.analyzers.person import PersonAnalyzer
from samples import encode_jpeg, task_json


def _hog_available() -> bool:
    try:
        cv2 = importlib.import_module("cv2")
    except ImportError:
        return False
    return hasattr(cv2, "HOGDescriptor")


needs_hog = pytest.mark.skipif(not _hog_available(), reason="this OpenCV has no HOG detector")


def scene(width: int, height: int) -> np.ndarray:
    """A synthetic street: gradient, a few blocks, and a dark upright figure-like shape."""
    rng = np.random.default_rng(3)
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:] = np.linspace(40, 200, width, dtype=np.uint8)[None, :, None]
    image[height // 2 :, :, :] //= 2
    cx = width // 2
    image[height // 4 : height // 4 + height // 10, cx - width // 40 : cx + width // 40] = 20
    image[height // 3 : height * 3 // 4, cx - width // 25 : cx + width // 25] = 30
    noise = rng.integers(0, 12, image.shape, dtype=np.uint8)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


@needs_hog
def test_runs_on_a_synthetic_frame_and_returns_valid_detections() -> None:
    task = AiTask.model_validate(task_json(task_type="person", config={"min_confidence": 0.0}))
    analyzer = PersonAnalyzer()
    analyzer.setup(task)
    for seq in (1, 2):
        frame = DecodedFrame(task, Frame(jpeg=encode_jpeg(scene(960, 540)), seq=seq))
        result = analyzer.analyze(frame)
        assert isinstance(result.detections, list)
        for detection in result.detections:
            assert detection.label == "person"
            assert detection.track_id is not None
            assert 0 <= detection.confidence <= 1


@needs_hog
def test_detect_returns_boxes_and_scores_best_first() -> None:
    found = PersonAnalyzer().detect(scene(640, 360))
    assert isinstance(found, list)
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True)
    for (_, _, w, h), _ in found:
        assert w > 0 and h > 0


@needs_hog
def test_a_frame_smaller_than_the_window_has_nobody() -> None:
    assert PersonAnalyzer().detect(np.zeros((100, 60, 3), dtype=np.uint8)) == []


@pytest.mark.skipif(_hog_available(), reason="this OpenCV has the HOG detector")
def test_without_hog_it_says_what_to_install() -> None:
    with pytest.raises(
        AnalyzerUnavailable, match=r"opencv-python-headless|heldar-worker\[person\]"
    ):
        PersonAnalyzer()
