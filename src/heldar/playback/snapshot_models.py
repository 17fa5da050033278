"""Snapshot schedule types: what the API accepts and answers for periodic stills."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

MIN_INTERVAL_S = 10
MAX_INTERVAL_S = 86_400
MAX_KEEP_HOURS = 24 * 366


class SnapshotScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_seconds: int = Field(
        default=300, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S, description="Seconds between stills."
    )
    keep_hours: int = Field(
        default=168, ge=1, le=MAX_KEEP_HOURS, description="How long each still is kept."
    )
    enabled: bool = True


class SnapshotScheduleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_seconds: int | None = Field(default=None, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)
    keep_hours: int | None = Field(default=None, ge=1, le=MAX_KEEP_HOURS)
    enabled: bool | None = None


class SnapshotSchedule(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    camera_id: str
    interval_seconds: int
    keep_hours: int
    enabled: bool
    last_taken_at: datetime | None
    last_error: str | None = Field(description="Why the last due still was not taken, if so.")
    created_at: datetime
    updated_at: datetime


class SnapshotOut(BaseModel):
    """One stored still. `frame_at` is when the frame was recorded, `taken_at` when it was made."""

    model_config = ConfigDict(frozen=True)

    id: int
    camera_id: str
    schedule_id: int | None
    taken_at: datetime
    frame_at: datetime
    width: int
    height: int
    size_bytes: int
    url: str
