"""The contract models: round trips, forward compatibility, and what a worker may not send."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from heldar_worker import (
    AiTask,
    Detection,
    Frame,
    IngestRequest,
    IngestResponse,
    Lease,
    WorkerEvent,
)
from heldar_worker.models import MAX_DETECTIONS
from samples import task_json


def test_task_round_trips_and_ignores_unknown_fields() -> None:
    raw = task_json(config={"threshold": 30}, added_by_a_newer_kernel={"x": 1})
    task = AiTask.model_validate(raw)
    assert task.id == "ai_1"
    assert task.config == {"threshold": 30}
    assert task.created_at == datetime(2026, 6, 13, 8, 15, tzinfo=UTC)
    assert not hasattr(task, "added_by_a_newer_kernel")
    assert AiTask.model_validate_json(task.model_dump_json()) == task


def test_task_from_the_reference_discovery_shape() -> None:
    # The reference kernel's discovery omits enabled and the timestamps.
    task = AiTask.model_validate(
        {"id": "ai_2", "camera_id": "gate", "task_type": "detection", "fps": 5.0, "width": 1280}
    )
    assert task.enabled is True
    assert task.frame_url is None
    assert task.config == {}


def test_lease_round_trip() -> None:
    lease = Lease.model_validate(
        {
            "lease_id": "lse_9",
            "worker_id": "box:1",
            "expires_at": "2026-06-13T08:16:31.120+00:00",
            "tasks": [task_json()],
            "extra": True,
        }
    )
    assert lease.tasks[0].frame_url == "/api/v1/cameras/cam-1/frame?profile=sub&task=ai_1"
    assert Lease.model_validate(lease.model_dump(mode="json")) == lease


def test_ingest_request_serializes_as_the_contract_says() -> None:
    request = IngestRequest(
        camera_id="cam-1",
        task_type="motion",
        timestamp=datetime(2026, 6, 13, 8, 15, 31, 120000, tzinfo=UTC),
        frame_id="ai_1:7",
        frame_ticket="tkt",
        detections=[Detection(label="motion", confidence=0.5, bbox=(0.1, 0.2, 0.3, 0.4))],
        event=WorkerEvent(event_type="motion_started", payload={"n": 1}),
    )
    body = request.model_dump(mode="json", exclude_none=True)
    assert body == {
        "camera_id": "cam-1",
        "task_type": "motion",
        "timestamp": "2026-06-13T08:15:31.120000Z",
        "frame_id": "ai_1:7",
        "frame_ticket": "tkt",
        "detections": [
            {"label": "motion", "confidence": 0.5, "bbox": [0.1, 0.2, 0.3, 0.4], "attributes": {}}
        ],
        "event": {"event_type": "motion_started", "severity": "info", "payload": {"n": 1}},
    }
    assert IngestRequest.model_validate(body) == request
    assert "tkt" not in repr(request)


def test_ingest_response_defaults() -> None:
    answer = IngestResponse.model_validate({"detections_ingested": 2, "ticketed": True})
    assert answer.duplicate is False
    dup = IngestResponse.model_validate({"detections_ingested": 0, "duplicate": True})
    assert dup.duplicate and not dup.ticketed


@pytest.mark.parametrize(
    "bbox",
    [
        (0.1, 0.1, 0.0, 0.2),  # no width
        (0.1, 0.1, 0.2, -0.1),  # negative height
        (-0.1, 0.1, 0.2, 0.2),  # left of the frame
        (0.9, 0.1, 0.2, 0.2),  # past the right edge
        (0.1, 0.9, 0.2, 0.2),  # past the bottom
        (math.nan, 0.1, 0.2, 0.2),
        (0.1, 0.1, math.inf, 0.2),
    ],
)
def test_detection_refuses_a_bbox_the_kernel_would_refuse(
    bbox: tuple[float, float, float, float],
) -> None:
    with pytest.raises(ValidationError):
        Detection(label="x", confidence=0.5, bbox=bbox)


@pytest.mark.parametrize("confidence", [-0.01, 1.01, math.nan])
def test_detection_refuses_a_bad_confidence(confidence: float) -> None:
    with pytest.raises(ValidationError):
        Detection(label="x", confidence=confidence, bbox=(0.1, 0.1, 0.1, 0.1))


@pytest.mark.parametrize("event_type", ["Motion", "motion-started", "", "a" * 65, "zone enter"])
def test_event_type_must_be_snake_case(event_type: str) -> None:
    with pytest.raises(ValidationError):
        WorkerEvent(event_type=event_type)


def test_worker_severity_is_capped_at_warning() -> None:
    with pytest.raises(ValidationError):
        WorkerEvent.model_validate({"event_type": "x", "severity": "critical"})


def test_batch_size_is_capped() -> None:
    detection = Detection(label="x", confidence=0.5, bbox=(0.1, 0.1, 0.1, 0.1))
    IngestRequest(camera_id="c", task_type="t", detections=[detection] * MAX_DETECTIONS)
    with pytest.raises(ValidationError):
        IngestRequest(camera_id="c", task_type="t", detections=[detection] * (MAX_DETECTIONS + 1))


def test_frame_repr_hides_the_ticket_and_the_bytes() -> None:
    frame = Frame(jpeg=b"\xff\xd8secret-pixels", seq=3, ticket="f1.capability")
    text = repr(frame)
    assert "seq=3" in text
    assert "capability" not in text
    assert "secret-pixels" not in text


@given(
    size=st.tuples(st.integers(16, 4000), st.integers(16, 4000)),
    box=st.tuples(
        st.floats(-500, 4500), st.floats(-500, 4500), st.floats(1, 5000), st.floats(1, 5000)
    ),
)
def test_from_pixels_always_yields_a_valid_bbox_when_the_box_meets_the_frame(
    size: tuple[int, int], box: tuple[float, float, float, float]
) -> None:
    width, height = size
    x, y, w, h = box
    overlap_w = min(x + w, width) - max(x, 0)
    overlap_h = min(y + h, height) - max(y, 0)
    if overlap_w <= 1e-3 or overlap_h <= 1e-3:
        return
    detection = Detection.from_pixels("thing", 2.0, box, size)
    bx, by, bw, bh = detection.bbox
    assert detection.confidence == 1.0
    assert bx >= 0 and by >= 0 and bw > 0 and bh > 0
    assert bx + bw <= 1 + 1e-9 and by + bh <= 1 + 1e-9
    assert bw * width == pytest.approx(overlap_w, abs=1e-6)
