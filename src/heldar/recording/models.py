"""Recorder types: targets, camera status, closed segments, trigger answers, schedules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from heldar.cameras.vendors import StreamProfile
from heldar.recording.schedules import minutes

RecorderState = Literal[
    "disabled", "idle", "connecting", "recording", "offline", "error", "unknown"
]
TargetKind = Literal["record", "buffer"]
BUFFER_SEGMENT_SECONDS = 2


@dataclass(frozen=True)
class Target:
    """What one camera's ffmpeg should be doing. Equal targets never cause a restart."""

    kind: TargetKind
    out_dir: Path
    segment_seconds: int
    record_audio: bool
    profile: StreamProfile
    url: str = field(repr=False)  # credentials included: never logged
    mirror_dir: Path | None = None


@dataclass(frozen=True)
class SegmentClosed:
    """ffmpeg closed a segment (its `-segment_list` line)."""

    camera_id: str
    path: Path
    kind: TargetKind
    start: datetime
    duration_s: float
    size_bytes: int

    @property
    def end(self) -> datetime:
        from datetime import timedelta

        return self.start + timedelta(seconds=self.duration_s)


class CameraStatus(BaseModel):
    """DESIGN.md camera status, part of `GET /cameras/{id}` as `status`."""

    state: RecorderState = "unknown"
    pid: int | None = None
    last_error: str | None = None
    reconnects: int = 0
    last_segment_at: datetime | None = None
    segments_written: int = 0
    bitrate_kbps: float | None = None
    fps_observed: float | None = None


class TriggerResult(BaseModel):
    camera_id: str
    triggered: bool
    window_end: datetime | None
    pre_roll_seconds: int
    post_roll_seconds: int


HhMm = Annotated[str, Field(description="24 h local time `HH:MM`.", examples=["08:00"])]


class ScheduleFields(BaseModel):
    """Validation shared by create and update: real `HH:MM`, days 0 (Monday) … 6, start ≠ end."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("time_start", "time_end", check_fields=False)
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None and minutes(value) is None:
            raise ValueError("must be HH:MM (00:00 … 23:59)")
        return value

    @field_validator("days", check_fields=False)
    @classmethod
    def _days(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError("days are 0 (Monday) … 6 (Sunday), at least one")
        return sorted(set(value))


class ScheduleCreate(ScheduleFields):
    days: list[int] = Field(max_length=7)
    time_start: HhMm
    time_end: HhMm
    enabled: bool = True

    @model_validator(mode="after")
    def _not_empty(self) -> ScheduleCreate:
        if self.time_start == self.time_end:
            raise ValueError("time_start and time_end are equal: an empty window")
        return self


class ScheduleUpdate(ScheduleFields):
    days: list[int] | None = Field(default=None, max_length=7)
    time_start: HhMm | None = None
    time_end: HhMm | None = None
    enabled: bool | None = None


class Schedule(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    camera_id: str
    days: list[int]
    time_start: str
    time_end: str
    enabled: bool


class SegmentRow(BaseModel):
    """One indexed recording file (the store's view; `path` is relative to the data dir)."""

    model_config = ConfigDict(frozen=True)

    id: int
    camera_id: str
    path: str
    start_time: datetime
    end_time: datetime
    duration_s: float
    codec: str | None
    width: int | None
    height: int | None
    size_bytes: int
    locked: bool
    incident_id: str | None
    deleting: bool


class Segment(BaseModel):
    """A segment as clients see it (reference contract), with the URL that serves its file."""

    id: int
    camera_id: str
    start_time: datetime
    end_time: datetime
    duration_s: float
    codec: str | None
    width: int | None
    height: int | None
    size_bytes: int
    locked: bool
    incident_id: str | None
    url: str


class GapRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    camera_id: str
    start_time: datetime
    end_time: datetime
    seconds: float
