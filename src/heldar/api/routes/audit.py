"""`/api/v1/audit`: read the audit log, newest first (`audit:read`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from heldar.api.deps import AuditDep, AuditRead
from heldar.auth.models import AuditEntry
from heldar.errors import InvalidInput

router = APIRouter(prefix="/audit", tags=["auth"])


@router.get("", response_model=list[AuditEntry])
async def list_audit(
    audit: AuditDep,
    _: AuditRead,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[int | None, Query(ge=1, description="Entries with seq < before.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    """Entries in `[from, to)` matching `actor` and `action`, newest first."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name}: needs a time zone (RFC 3339)", code="invalid_field")
    return await audit.search(
        start=start, end=end, actor=actor, action=action, before_seq=before, limit=limit
    )
