"""Perception types: AI tasks, discovery and leases, the ingest contract, stored detections.

Field names follow the reference contract (DESIGN.md §4). Requests are strict where a mistake
would store garbage (bbox, confidence, event types) and forgiving where the reference is
(out-of-range `fps`/`width` are clamped, unknown ingest fields are ignored for compatibility).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from heldar.cameras.vendors import StreamProfile

MIN_FPS, MAX_FPS = 0.1, 30.0
MIN_WIDTH, MAX_WIDTH = 160, 3840
MAX_CONFIG_BYTES = 16 * 1024
MAX_ATTRIBUTES_BYTES = 4 * 1024
MAX_DETECTIONS = 1000
BBOX_TOLERANCE = 0.01
RESERVED_EVENT_PREFIXES = (
    "zone_",
    "camera_",
    "recording_",
    "segment_",
    "retention_",
    "index_",
    "sampler_",
    "consumer_",
    "auth_",
    "webhook_",
    "system_",
)

TaskType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Label = Annotated[str, StringConstraints(pattern=r"^[\w .:/-]{1,64}$")]
TrackId = Annotated[str, StringConstraints(pattern=r"^[\w.:-]{1,64}$")]
WorkerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Severity = Literal["info", "warning", "critical"]


def _clamp_fps(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return min(MAX_FPS, max(MIN_FPS, float(value)))
    return value


def _clamp_width(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return min(MAX_WIDTH, max(MIN_WIDTH, value))
    return value


def _small_json(value: dict[str, Any], limit: int, what: str) -> dict[str, Any]:
    if not value:
        return value
    try:
        size = len(json.dumps(value, separators=(",", ":"), allow_nan=False))
    except ValueError as exc:
        raise ValueError(f"{what} must be plain JSON (no NaN or infinity)") from exc
    if size > limit:
        raise ValueError(f"{what} is {size} bytes serialized; the limit is {limit}")
    return value


def _config_size(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else _small_json(value, MAX_CONFIG_BYTES, "config")


class AiTaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_type: TaskType = Field(description="Free-form kind of analysis, e.g. `person`, `motion`.")
    enabled: bool = True
    stream_profile: StreamProfile = "sub"
    fps: float = Field(
        default=1.0,
        allow_inf_nan=False,
        description="Frames per second wanted (clamped to 0.1..30).",
    )
    width: int = Field(default=640, description="Frame width wanted (clamped to 160..3840).")
    config: dict[str, Any] = Field(default_factory=dict, description="Opaque to the kernel.")

    _fps = field_validator("fps", mode="before")(_clamp_fps)
    _width = field_validator("width", mode="before")(_clamp_width)
    _config = field_validator("config")(_config_size)


class AiTaskUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    fps: float | None = Field(default=None, allow_inf_nan=False)
    width: int | None = None
    config: dict[str, Any] | None = None

    _fps = field_validator("fps", mode="before")(_clamp_fps)
    _width = field_validator("width", mode="before")(_clamp_width)
    _config = field_validator("config")(_config_size)


class AiTask(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    camera_id: str
    task_type: str
    enabled: bool
    stream_profile: StreamProfile
    fps: float
    width: int
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class DiscoveredTask(AiTask):
    frame_url: str = Field(description="Where to pull this task's frames (relative to the API).")


class LeaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: WorkerId
    task_types: list[TaskType] | None = Field(default=None, max_length=64)
    max_tasks: int | None = Field(default=None, ge=1, le=256)
    ttl_secs: int = Field(default=30, ge=5, le=300)


class Lease(BaseModel):
    lease_id: str
    worker_id: str
    expires_at: datetime
    tasks: list[DiscoveredTask]


# -- ingest ---------------------------------------------------------------------------------------


class DetectionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    label: Label
    confidence: float = Field(ge=0.0, le=1.0)
    bbox: list[float] = Field(min_length=4, max_length=4, description="[x, y, w, h], 0..1")
    track_id: TrackId | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("track_id", mode="before")
    @classmethod
    def _track_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("confidence")
    @classmethod
    def _finite_confidence(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("confidence must be a finite number")
        return value

    @field_validator("bbox")
    @classmethod
    def _normalized_box(cls, value: list[float]) -> list[float]:
        x, y, w, h = value
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(w) and math.isfinite(h)):
            raise ValueError("bbox values must be finite numbers")
        if w <= 0 or h <= 0:
            raise ValueError("bbox width and height must be > 0")
        low, high = -BBOX_TOLERANCE, 1 + BBOX_TOLERANCE
        if x < low or y < low or x + w > high or y + h > high:
            raise ValueError("bbox must lie inside 0..1 (normalized [x, y, w, h])")
        return value

    @field_validator("attributes")
    @classmethod
    def _attributes_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _small_json(value, MAX_ATTRIBUTES_BYTES, "attributes")


class EventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_type: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    severity: Severity = "info"
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event_type")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.startswith(RESERVED_EVENT_PREFIXES):
            raise ValueError(f"event_type {value!r} uses a prefix reserved for the kernel")
        return value

    @field_validator("payload")
    @classmethod
    def _payload_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _small_json(value, MAX_CONFIG_BYTES, "payload")


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    camera_id: str = Field(max_length=64)
    task_type: TaskType
    timestamp: datetime | None = None
    frame_id: str | None = Field(default=None, max_length=128)
    frame_ticket: str | None = Field(default=None, max_length=512)
    detections: list[DetectionIn] = Field(default_factory=list, max_length=MAX_DETECTIONS)
    event: EventIn | None = None

    @field_validator("detections", mode="before")
    @classmethod
    def _cap_before_parsing(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) > MAX_DETECTIONS:
            raise ValueError(f"at most {MAX_DETECTIONS} detections per batch")
        return value

    @field_validator("frame_id", mode="before")
    @classmethod
    def _frame_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _aware_time(self) -> IngestRequest:
        if self.timestamp is not None and self.timestamp.tzinfo is None:
            raise ValueError("timestamp needs an offset (RFC 3339)")
        return self


class IngestResponse(BaseModel):
    detections_ingested: int
    ticketed: bool
    duplicate: bool | None = None
    batch_id: int | None = None


class DetectionOut(BaseModel):
    id: int
    batch_id: int
    camera_id: str
    task_type: str
    timestamp: datetime
    label: str
    confidence: float
    bbox: list[float]
    track_id: str | None
    attributes: dict[str, Any]


# -- what consumers get ---------------------------------------------------------------------------


class Detection(NamedTuple):
    """One stored detection as consumers get it (a named tuple: ingest builds one per detection
    of every batch, and a frozen dataclass cost several times more to construct)."""

    label: str
    confidence: float
    bbox: tuple[float, float, float, float]
    track_id: str | None
    attributes: dict[str, Any]


@dataclass(frozen=True)
class DetectionBatch:
    """One committed ingest batch, as every consumer receives it (also on replay)."""

    id: int
    camera_id: str
    task_type: str
    frame_id: str | None
    timestamp: datetime
    detections: tuple[Detection, ...]
    event: dict[str, Any] | None
    provenance: dict[str, Any]
