"""What the zones API answers: stored zone events, occupancy and aggregates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ZoneEventOut(BaseModel):
    """A zone event (reference contract), with the recorded segment it falls in, if any."""

    id: int
    camera_id: str
    zone_id: int
    event_type: str
    track_id: str
    label: str
    dwell_seconds: float | None
    timestamp: datetime
    segment_id: int | None
    evidence: str | None = Field(description="URL of the frame that caused it (enter, cross).")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ZoneEventOut:
        evidence = row.get("evidence")
        return cls(
            id=row["id"],
            camera_id=row["camera_id"],
            zone_id=row["zone_id"],
            event_type=row["event_type"],
            track_id=row["track_id"],
            label=row["label"],
            dwell_seconds=row["dwell_seconds"],
            timestamp=row["timestamp"],
            segment_id=row["segment_id"],
            evidence=f"/media/{evidence}" if evidence else None,
        )


class ZoneOccupancy(BaseModel):
    zone_id: int
    total: int
    by_label: dict[str, int]


class Occupancy(BaseModel):
    camera_id: str
    zones: list[ZoneOccupancy]


class Bucket(BaseModel):
    start: datetime
    end: datetime
    counts: dict[str, int]


class Aggregates(BaseModel):
    camera_id: str
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    bucket_minutes: int
    buckets: list[Bucket] = Field(description="Only buckets with events; counts per event type.")
    totals: dict[str, int]
    truncated: bool = Field(description="True when the range held more events than were counted.")
