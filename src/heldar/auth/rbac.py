"""Roles and capabilities: the one table that says who may do what (docs/design/auth.md).

Routes never test roles; they declare the capability they need (`heldar.api.deps.require`) and a
principal carries the capabilities of its role (or, for an API key, the ones it was created with).
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    CAMERA_READ = "camera:read"
    CAMERA_MANAGE = "camera:manage"
    VIDEO_LIVE = "video:live"
    VIDEO_PLAYBACK = "video:playback"
    VIDEO_EXPORT = "video:export"
    EVIDENCE_MANAGE = "evidence:manage"
    EVENTS_READ = "events:read"
    RECORDING_MANAGE = "recording:manage"
    AI_TASKS = "ai:tasks"
    AI_FRAMES = "ai:frames"
    AI_INGEST = "ai:ingest"
    ZONES_READ = "zones:read"
    ZONES_MANAGE = "zones:manage"
    SYSTEM_READ = "system:read"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    WEBHOOKS_MANAGE = "webhooks:manage"
    ACCOUNT_SELF = "account:self"


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    GUARD = "guard"
    VIEWER = "viewer"
    INTEGRATION = "integration"


C = Capability

_VIEWER = frozenset(
    {
        C.CAMERA_READ,
        C.VIDEO_LIVE,
        C.VIDEO_PLAYBACK,
        C.EVENTS_READ,
        C.ZONES_READ,
        C.SYSTEM_READ,
        C.ACCOUNT_SELF,
    }
)
_GUARD = _VIEWER | {C.VIDEO_EXPORT, C.EVIDENCE_MANAGE}
_MANAGER = _GUARD | {
    C.CAMERA_MANAGE,
    C.RECORDING_MANAGE,
    C.AI_TASKS,
    C.ZONES_MANAGE,
    C.WEBHOOKS_MANAGE,
}
# AI workers and machine clients: discover tasks, pull frames, push detections, read what they need.
_INTEGRATION = frozenset(
    {
        C.CAMERA_READ,
        C.EVENTS_READ,
        C.ZONES_READ,
        C.SYSTEM_READ,
        C.AI_FRAMES,
        C.AI_INGEST,
        C.ACCOUNT_SELF,
    }
)

ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    Role.MANAGER: frozenset(_MANAGER),
    Role.GUARD: frozenset(_GUARD),
    Role.VIEWER: _VIEWER,
    Role.INTEGRATION: _INTEGRATION,
}


def capabilities_of(role: Role | str) -> frozenset[Capability]:
    """The capabilities a role grants (an unknown role grants nothing)."""
    try:
        return ROLE_CAPABILITIES[Role(role)]
    except ValueError:
        return frozenset()
