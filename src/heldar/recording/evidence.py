"""`Evidence`: evidence locks and incident labels on recorded segments, and incident listings.

A locked segment is never deleted — not by retention, not with its camera (`segments_locked`).
Locking needs the row to be live (`deleting = false`) in the same statement that sets the lock,
so a lock and a deletion can never both win. Callers check camera scope on the returned row.
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import BaseModel, ConfigDict, Field

from heldar.errors import NotFound
from heldar.recording.catalog import segment_out
from heldar.recording.eviction import Incident, IncidentId
from heldar.recording.models import Segment, SegmentRow
from heldar.store import retention as sql
from heldar.store.engine import Store

MAX_INCIDENTS = 5000
MAX_INCIDENT_SEGMENTS = 5000

__all__ = ["Evidence", "EvidenceLockRequest", "Incident", "IncidentUpdate"]


class EvidenceLockRequest(BaseModel):
    """Body of `POST /segments/{id}/evidence-lock` (optional)."""

    model_config = ConfigDict(extra="forbid")

    incident_id: IncidentId | None = Field(
        default=None, description="Also file the segment under this incident (kept if absent)."
    )


class IncidentUpdate(BaseModel):
    """Body of `PATCH /segments/{id}/incident`: the incident to file it under, or null."""

    model_config = ConfigDict(extra="forbid")

    incident_id: IncidentId | None


def _missing(segment_id: int) -> NotFound:
    return NotFound(f"segment {segment_id} not found", code="segment_not_found")


class Evidence:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def segment(self, segment_id: int) -> SegmentRow:
        """A live segment (one being deleted answers like a missing one)."""
        async with self._store.read() as conn:
            row = await sql.live_segment(conn, segment_id)
        if row is None:
            raise _missing(segment_id)
        return row

    async def lock(self, segment_id: int, incident_id: str | None = None) -> SegmentRow:
        values: dict[str, object] = {"locked": True}
        if incident_id is not None:
            values["incident_id"] = incident_id
        return await self._change(segment_id, values)

    async def unlock(self, segment_id: int) -> SegmentRow:
        """Unlock; the incident label stays (clear it with `set_incident(id, None)`)."""
        return await self._change(segment_id, {"locked": False})

    async def set_incident(self, segment_id: int, incident_id: str | None) -> SegmentRow:
        return await self._change(segment_id, {"incident_id": incident_id})

    async def _change(self, segment_id: int, values: dict[str, object]) -> SegmentRow:
        async with self._store.write() as conn:
            row = await sql.change_segment(conn, segment_id, values)
        if row is None:
            raise _missing(segment_id)
        return row

    async def incidents(
        self, *, camera_scope: Collection[str] | None = None, limit: int = 500
    ) -> list[Incident]:
        """Incidents over the segments in scope (None: every camera), most recent first."""
        async with self._store.read() as conn:
            return await sql.incidents(conn, camera_scope, min(limit, MAX_INCIDENTS))

    async def incident_segments(
        self, incident_id: str, *, camera_scope: Collection[str] | None = None, limit: int = 500
    ) -> list[Segment]:
        """The incident's segments in scope, oldest first; 404 when none is visible."""
        async with self._store.read() as conn:
            rows = await sql.incident_segments(
                conn, incident_id, camera_scope, min(limit, MAX_INCIDENT_SEGMENTS)
            )
        if not rows:
            raise NotFound(f"incident {incident_id!r} not found", code="incident_not_found")
        return [segment_out(row) for row in rows]
