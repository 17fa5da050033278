"""`/system/retention`: the global retention limits (`system:read` to read).

Changing them needs `users:manage`, the admin-only capability: whoever holds it can already make
an admin, so it grants nothing new, while it keeps managers (who may change one camera's
retention_hours) from lifting the size cap or the guard for every camera. Changes are audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from heldar.api.deps import AuditDep, SystemRead, UsersManage
from heldar.recording.eviction import RetentionSettings
from heldar.recording.retention import Retention

router = APIRouter(prefix="/system/retention", tags=["system"])


def get_retention(request: Request) -> Retention:
    """The kernel's `retention` service."""
    retention: Retention = request.app.state.kernel.retention
    return retention


RetentionDep = Annotated[Retention, Depends(get_retention)]


@router.get("", response_model=RetentionSettings)
async def get_retention_settings(retention: RetentionDep, _: SystemRead) -> RetentionSettings:
    """The limits in force: stored by a PUT, else the `HELDAR_*` defaults."""
    return await retention.settings()


@router.put("", response_model=RetentionSettings)
async def put_retention_settings(
    body: RetentionSettings, retention: RetentionDep, audit: AuditDep, principal: UsersManage
) -> RetentionSettings:
    """Replace the limits (every field; `max_recordings_gb: null` means no cap). Kept across
    restarts; the next pass applies them."""
    principal.check_unscoped("change retention settings")
    before = await retention.settings()
    after = await retention.update_settings(body)
    await audit.record(
        principal.audit_event(
            "retention.update",
            target="system:retention",
            detail={"from": before.model_dump(), "to": after.model_dump()},
        )
    )
    return after
