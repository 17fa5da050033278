"""Evidence locks and incidents: `/segments/{id}/evidence-lock`, `/segments/{id}/incident`,
`/incidents`, `/incidents/{incident_id}/segments`.

Changes need `evidence:manage`, reads `video:playback`. The segment is loaded first and its
camera checked against the caller's scope; out of scope answers exactly like a missing segment
(`segment_not_found`). Every lock, unlock and incident change is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from heldar.api.deps import AuditDep, EvidenceManage, VideoPlayback
from heldar.auth.models import Principal
from heldar.errors import NotFound
from heldar.recording.catalog import segment_out
from heldar.recording.evidence import Evidence, EvidenceLockRequest, Incident, IncidentUpdate
from heldar.recording.models import Segment, SegmentRow

router = APIRouter(tags=["evidence"])

SegmentIdPath = Annotated[int, Path(ge=1, le=2**62)]
IncidentIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", max_length=64)]
Limit = Annotated[int, Query(ge=1, le=5000)]


def get_evidence(request: Request) -> Evidence:
    """The kernel's `evidence` service."""
    evidence: Evidence = request.app.state.kernel.evidence
    return evidence


EvidenceDep = Annotated[Evidence, Depends(get_evidence)]


async def _visible(evidence: Evidence, segment_id: int, principal: Principal) -> SegmentRow:
    row = await evidence.segment(segment_id)
    if not principal.sees_camera(row.camera_id):
        raise NotFound(f"segment {segment_id} not found", code="segment_not_found")
    return row


@router.post("/segments/{segment_id}/evidence-lock", response_model=Segment)
async def lock_segment(
    segment_id: SegmentIdPath,
    evidence: EvidenceDep,
    audit: AuditDep,
    principal: EvidenceManage,
    body: Annotated[EvidenceLockRequest | None, Body()] = None,
) -> Segment:
    """Lock the segment as evidence: retention and camera deletion never remove it."""
    current = await _visible(evidence, segment_id, principal)
    incident_id = body.incident_id if body else None
    row = await evidence.lock(segment_id, incident_id)
    await audit.record(
        principal.audit_event(
            "segment.lock",
            camera_id=current.camera_id,
            target=f"segment:{segment_id}",
            detail={"incident_id": row.incident_id},
        )
    )
    return segment_out(row)


@router.delete("/segments/{segment_id}/evidence-lock", response_model=Segment)
async def unlock_segment(
    segment_id: SegmentIdPath, evidence: EvidenceDep, audit: AuditDep, principal: EvidenceManage
) -> Segment:
    """Unlock the segment (its incident label stays); retention may delete it again."""
    current = await _visible(evidence, segment_id, principal)
    row = await evidence.unlock(segment_id)
    await audit.record(
        principal.audit_event(
            "segment.unlock", camera_id=current.camera_id, target=f"segment:{segment_id}"
        )
    )
    return segment_out(row)


@router.patch("/segments/{segment_id}/incident", response_model=Segment)
async def set_incident(
    segment_id: SegmentIdPath,
    body: IncidentUpdate,
    evidence: EvidenceDep,
    audit: AuditDep,
    principal: EvidenceManage,
) -> Segment:
    """File the segment under an incident, or clear it with `null` (the lock is unchanged)."""
    current = await _visible(evidence, segment_id, principal)
    row = await evidence.set_incident(segment_id, body.incident_id)
    await audit.record(
        principal.audit_event(
            "segment.incident",
            camera_id=current.camera_id,
            target=f"segment:{segment_id}",
            detail={"from": current.incident_id, "to": row.incident_id},
        )
    )
    return segment_out(row)


@router.get("/incidents", response_model=list[Incident])
async def list_incidents(
    evidence: EvidenceDep, principal: VideoPlayback, limit: Limit = 500
) -> list[Incident]:
    """Incidents over the segments of the caller's cameras, the most recent first."""
    return await evidence.incidents(camera_scope=principal.camera_scope, limit=limit)


@router.get("/incidents/{incident_id}/segments", response_model=list[Segment])
async def list_incident_segments(
    incident_id: IncidentIdPath, evidence: EvidenceDep, principal: VideoPlayback, limit: Limit = 500
) -> list[Segment]:
    """The incident's segments on the caller's cameras, oldest first; 404 when there are none."""
    return await evidence.incident_segments(
        incident_id, camera_scope=principal.camera_scope, limit=limit
    )
