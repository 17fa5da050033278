"""`Catalog`: what the index says about a camera's recordings — segments, timeline, gaps."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from heldar.recording import timeline
from heldar.recording.models import Segment, SegmentRow
from heldar.store import segments as sql
from heldar.store.engine import Store


class TimeRange(BaseModel):
    start: datetime
    end: datetime
    seconds: float


class Timeline(BaseModel):
    camera_id: str
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    ranges: list[TimeRange]
    recorded_seconds: float
    segment_count: int

    model_config = {"populate_by_name": True}


class GapOut(BaseModel):
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    seconds: float

    model_config = {"populate_by_name": True}


class Gaps(BaseModel):
    gaps: list[GapOut]
    gap_count: int
    total_gap_seconds: float


def media_url(row: SegmentRow) -> str:
    return f"/media/recordings/{row.camera_id}/{Path(row.path).name}"


def segment_out(row: SegmentRow) -> Segment:
    return Segment(**row.model_dump(exclude={"path", "deleting"}), url=media_url(row))


class Catalog:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def segments(
        self, camera_id: str, start: datetime, end: datetime, limit: int
    ) -> list[Segment]:
        async with self._store.read() as conn:
            rows = await sql.list_segments(conn, camera_id, start, end, limit)
        return [segment_out(row) for row in rows]

    async def timeline(self, camera_id: str, start: datetime, end: datetime) -> Timeline:
        async with self._store.read() as conn:
            found = await sql.span(conn, camera_id, start, end)
            holes = await sql.list_gaps(conn, camera_id, start, end) if found else []
        ranges: list[timeline.Interval] = []
        count = 0
        if found is not None:
            first, last, count = found
            covered = timeline.Interval(max(first, start), min(last, end))
            ranges = timeline.complement(
                covered, (timeline.Interval(h.start_time, h.end_time) for h in holes)
            )
        return Timeline(
            camera_id=camera_id,
            from_=start,
            to=end,
            ranges=[
                TimeRange(start=r.start, end=r.end, seconds=round(r.seconds, 3)) for r in ranges
            ],
            recorded_seconds=round(sum(r.seconds for r in ranges), 3),
            segment_count=count,
        )

    async def gaps(self, camera_id: str, start: datetime, end: datetime) -> Gaps:
        async with self._store.read() as conn:
            rows = await sql.list_gaps(conn, camera_id, start, end)
        rows = [r for r in rows if r.seconds > timeline.GAP_THRESHOLD.total_seconds()]
        out = [GapOut(from_=r.start_time, to=r.end_time, seconds=round(r.seconds, 3)) for r in rows]
        return Gaps(
            gaps=out, gap_count=len(out), total_gap_seconds=round(sum(g.seconds for g in out), 3)
        )
