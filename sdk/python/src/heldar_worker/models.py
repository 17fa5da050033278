"""The worker contract as pydantic models: tasks, leases, frames, ingest batches and their answers.

Field names are the kernel's (DESIGN.md §4). Every model ignores fields it does not know, so a newer
kernel that adds fields never breaks an older worker. Models the worker *sends* validate what the
kernel would refuse anyway (bbox shape and range, confidence, event type), so an analyzer bug
surfaces as a local `ValidationError` instead of a 422 after the round trip.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The kernel accepts a box that pokes out of the frame by rounding error, not more.
BBOX_TOLERANCE = 1e-6
MAX_DETECTIONS = 1000


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AiTask(_Model):
    """One AI task as discovery and leases hand it out."""

    id: str
    camera_id: str
    task_type: str
    enabled: bool = True
    stream_profile: str = Field(default="sub", description="sub | main")
    fps: float = Field(default=5.0, description="Requested sample rate (the kernel clamps it).")
    width: int = Field(default=1280, description="Requested sample width in pixels.")
    config: dict[str, Any] = Field(default_factory=dict, description="Free-form, the analyzer's.")
    created_at: datetime | None = None
    updated_at: datetime | None = None
    frame_url: str | None = Field(
        default=None,
        description="Path to pull this task's frames from; carries ?task= for tickets.",
    )


class Discovery(_Model):
    """What discovery answers: this worker's share of the tasks, and how often to call again.

    The kernel answers a bare list of tasks, as the reference does, and says how often to call
    again in the `x-heartbeat-interval-s` header; `HeldarClient.discover` accepts both shapes.
    """

    worker_id: str | None = None
    tasks: list[AiTask] = Field(default_factory=list)
    heartbeat_interval_s: float | None = Field(
        default=None, description="Call discovery at least this often to stay a live worker."
    )


class Lease(_Model):
    """A lease over some tasks; re-POSTing with the same worker_id renews it."""

    lease_id: str
    worker_id: str
    expires_at: datetime
    tasks: list[AiTask] = Field(default_factory=list)


BBox = tuple[float, float, float, float]


class Detection(_Model):
    """One detected object; `bbox` is [x, y, w, h] normalized to 0..1, top-left origin."""

    label: Annotated[str, Field(min_length=1, max_length=64)]
    confidence: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
    bbox: BBox
    track_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("bbox")
    @classmethod
    def _normalized(cls, bbox: BBox) -> BBox:
        x, y, w, h = bbox
        if not all(math.isfinite(v) for v in bbox):
            raise ValueError("bbox values must be finite")
        if w <= 0 or h <= 0:
            raise ValueError("bbox width and height must be > 0")
        lo, hi = -BBOX_TOLERANCE, 1 + BBOX_TOLERANCE
        if x < lo or y < lo or x + w > hi or y + h > hi:
            raise ValueError("bbox must lie inside the frame (normalized 0..1)")
        return bbox

    @classmethod
    def from_pixels(
        cls,
        label: str,
        confidence: float,
        box: tuple[float, float, float, float],
        frame_size: tuple[int, int],
        *,
        track_id: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Detection:
        """A detection from a pixel box (x, y, w, h) in a (width, height) frame, clipped to it."""
        fw, fh = frame_size
        x0 = min(max(box[0], 0.0), fw)
        y0 = min(max(box[1], 0.0), fh)
        x1 = min(max(box[0] + box[2], 0.0), fw)
        y1 = min(max(box[1] + box[3], 0.0), fh)
        return cls(
            label=label,
            confidence=min(max(confidence, 0.0), 1.0),
            bbox=(x0 / fw, y0 / fh, (x1 - x0) / fw, (y1 - y0) / fh),
            track_id=track_id,
            attributes=attributes or {},
        )


class WorkerEvent(_Model):
    """An event a worker raises with a batch; the kernel caps a worker's severity at warning."""

    event_type: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]
    severity: Literal["info", "warning"] = "info"
    payload: dict[str, Any] = Field(default_factory=dict)


class IngestRequest(_Model):
    """The body of `POST /api/v1/ai/events`."""

    camera_id: str
    task_type: str
    timestamp: datetime | None = None
    frame_id: str | None = Field(default=None, description="Idempotency key per camera.")
    frame_ticket: str | None = Field(default=None, repr=False)
    detections: Annotated[list[Detection], Field(max_length=MAX_DETECTIONS)] = Field(
        default_factory=list
    )
    event: WorkerEvent | None = None


class IngestResponse(_Model):
    detections_ingested: int
    ticketed: bool = False
    duplicate: bool = False
    batch_id: int | None = None


class DetectionRecord(_Model):
    """A stored detection as `GET /cameras/{id}/detections` lists it (lenient: it is read back)."""

    id: int | str
    camera_id: str
    task_type: str | None = None
    timestamp: datetime | None = None
    label: str | None = None
    confidence: float | None = None
    bbox: list[float] | None = None
    track_id: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class Frame(_Model):
    """A sampled frame: the JPEG and what its response headers said about it.

    `seq` grows by one per sampled frame of a (camera, profile); `ticket` is present only while the
    caller holds a lease on the task, and is a capability: it is kept out of the repr.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    jpeg: bytes = Field(repr=False)
    seq: int | None = None
    captured_at: datetime | None = None
    age_ms: float | None = None
    ticket: str | None = Field(default=None, repr=False)
