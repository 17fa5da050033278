"""The motion analyzer on synthetic frames: what moved is boxed, what did not is not."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from heldar_worker import AiTask, DecodedFrame, Detection, Frame
from heldar_worker.analyzers.motion import MotionAnalyzer, MotionConfig
from samples import encode_jpeg, square_frame, task_json


def covers(detection: Detection, x: int, y: int, size: int, width: int, height: int) -> bool:
    bx, by, bw, bh = detection.bbox
    return (
        bx * width <= x
        and by * height <= y
        and (bx + bw) * width >= x + size
        and (by + bh) * height >= y + size
    )


def test_the_first_frame_has_nothing_to_compare_with() -> None:
    assert MotionAnalyzer().detect(square_frame(40, 60)) == []


def test_a_static_scene_has_no_motion() -> None:
    analyzer = MotionAnalyzer()
    for _ in range(3):
        assert analyzer.detect(square_frame(40, 60)) == []


def test_sensor_noise_is_not_motion() -> None:
    rng = np.random.default_rng(7)
    scene = rng.integers(0, 256, (360, 640)).astype(np.float64)
    analyzer = MotionAnalyzer()
    for _ in range(4):
        noisy = np.clip(scene + rng.normal(0, 4, scene.shape), 0, 255).astype(np.uint8)
        assert analyzer.detect(noisy) == []


@pytest.mark.parametrize(("width", "height"), [(320, 180), (640, 360), (1280, 720), (100, 80)])
def test_a_moving_square_is_boxed_where_it_now_is(width: int, height: int) -> None:
    size = max(12, width // 8)
    step = size // 4
    analyzer = MotionAnalyzer()
    analyzer.detect(square_frame(width // 4, height // 4, size, width, height))
    x, y = width // 4 + step, height // 4 + step // 2
    (detection,) = analyzer.detect(square_frame(x, y, size, width, height))
    assert detection.label == "motion"
    assert covers(detection, x, y, size, width, height)
    bw = detection.bbox[2]
    # Tight: not much larger than the old and new positions together (plus the blur's reach).
    assert bw * width <= size + step + 4 * max(1, width // 160)
    assert 0 < detection.confidence <= 1
    assert detection.attributes["changed_fraction"] > 0


def test_two_distant_movers_are_two_detections() -> None:
    def scene(shift: int) -> np.ndarray:
        frame = np.full((360, 640), 50, dtype=np.uint8)
        frame[40:100, 40 + shift : 100 + shift] = 220
        frame[250:310, 500 - shift : 560 - shift] = 220
        return frame

    analyzer = MotionAnalyzer()
    analyzer.detect(scene(0))
    detections = analyzer.detect(scene(20))
    assert len(detections) == 2
    assert any(covers(d, 60, 40, 60, 640, 360) for d in detections)
    assert any(covers(d, 480, 250, 60, 640, 360) for d in detections)


def test_a_tiny_change_is_below_min_area() -> None:
    analyzer = MotionAnalyzer(MotionConfig(min_area=0.05))
    analyzer.detect(square_frame(40, 60, size=10))
    assert analyzer.detect(square_frame(44, 60, size=10)) == []


def test_a_new_frame_size_starts_over() -> None:
    analyzer = MotionAnalyzer()
    analyzer.detect(square_frame(40, 60, width=320, height=180))
    assert analyzer.detect(square_frame(40, 60, width=640, height=360)) == []


def test_config_comes_from_the_task() -> None:
    analyzer = MotionAnalyzer()
    analyzer.setup(AiTask.model_validate(task_json(config={"threshold": 90, "unknown": 1})))
    assert analyzer.config.threshold == 90
    with pytest.raises(ValidationError):
        analyzer.setup(AiTask.model_validate(task_json(config={"min_area": 2})))


def test_through_a_real_jpeg() -> None:
    task = AiTask.model_validate(task_json())
    analyzer = MotionAnalyzer()
    analyzer.setup(task)
    first = DecodedFrame(task, Frame(jpeg=encode_jpeg(square_frame(40, 60)), seq=1))
    second = DecodedFrame(task, Frame(jpeg=encode_jpeg(square_frame(52, 60)), seq=2))
    assert analyzer.analyze(first).empty
    result = analyzer.analyze(second)
    (detection,) = result.detections
    assert covers(detection, 52, 60, 40, 320, 180)
    assert second.size == (320, 180)
