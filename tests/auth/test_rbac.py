"""The role table: admin holds everything, roles nest where they should, nothing leaks upward."""

from __future__ import annotations

from heldar.auth.rbac import ROLE_CAPABILITIES, Capability, Role, capabilities_of

C = Capability


def test_admin_holds_every_capability() -> None:
    assert capabilities_of(Role.ADMIN) == frozenset(Capability)


def test_people_roles_nest() -> None:
    viewer, guard, manager = (capabilities_of(r) for r in (Role.VIEWER, Role.GUARD, Role.MANAGER))
    assert viewer < guard < manager < capabilities_of(Role.ADMIN)


def test_only_admin_manages_users_and_reads_the_audit_log() -> None:
    for role, caps in ROLE_CAPABILITIES.items():
        assert (C.USERS_MANAGE in caps) == (role is Role.ADMIN)
        assert (C.AUDIT_READ in caps) == (role is Role.ADMIN)


def test_integration_is_a_machine_role() -> None:
    caps = capabilities_of(Role.INTEGRATION)
    assert {C.AI_FRAMES, C.AI_INGEST, C.CAMERA_READ} <= caps
    assert not caps & {C.VIDEO_LIVE, C.VIDEO_PLAYBACK, C.VIDEO_EXPORT, C.CAMERA_MANAGE}


def test_viewer_cannot_change_anything() -> None:
    caps = capabilities_of(Role.VIEWER)
    assert not {c for c in caps if c.value.endswith(":manage")}
    assert C.VIDEO_EXPORT not in caps and C.AI_INGEST not in caps


def test_every_role_is_mapped_and_unknown_roles_get_nothing() -> None:
    assert set(ROLE_CAPABILITIES) == set(Role)
    assert all(C.ACCOUNT_SELF in caps for caps in ROLE_CAPABILITIES.values())
    assert capabilities_of("superuser") == frozenset()
