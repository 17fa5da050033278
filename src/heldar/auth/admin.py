"""Offline administration: what `heldar user …` does, straight against the store.

It works without a running kernel (and alongside one: the store serializes writers), so the owner
of the machine can always add an admin, reset a password or end a lock — nobody can lock them out.
Changes are audited with the actor `cli:<os user>`.
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from heldar.app import prepare_data_dir
from heldar.auth.audit import AuditLog
from heldar.auth.models import Principal, User, UserCreate, UserUpdate
from heldar.auth.rbac import Capability, Role
from heldar.auth.service import AuthServices
from heldar.clock import SystemClock
from heldar.settings import Settings
from heldar.store.engine import Store


def cli_principal() -> Principal:
    """The actor of CLI changes: whoever runs the command on the machine (an admin)."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Principal(
        username=f"cli:{who}",
        role=Role.ADMIN,
        capabilities=frozenset(Capability),
        camera_scope=None,
        auth_method="cli",
    )


@asynccontextmanager
async def offline_auth(settings: Settings) -> AsyncIterator[AuthServices]:
    """The auth services over a migrated store, for one CLI command."""
    prepare_data_dir(settings)
    store = Store(settings.store_url)
    try:
        await store.migrate()
        clock = SystemClock()
        yield AuthServices.build(settings, store, clock, AuditLog(store, clock))
    finally:
        await store.close()


async def add_user(
    settings: Settings, username: str, password: str, role: Role, camera_ids: list[str] | None
) -> User:
    body = UserCreate.model_validate(
        {"username": username, "password": password, "role": role, "camera_ids": camera_ids}
    )
    async with offline_auth(settings) as auth:
        return await auth.users.create(body, actor=cli_principal())


async def set_password(settings: Settings, username: str, password: str) -> User:
    """Reset a password (no current one needed: the shell is the proof); ends its sessions."""
    body = UserUpdate.model_validate({"password": password})
    async with offline_auth(settings) as auth:
        user_id = await auth.users.id_of(username)
        user = await auth.users.update(user_id, body, actor=cli_principal())
        return await auth.users.unlock(user.id, actor=cli_principal())


async def set_enabled(settings: Settings, username: str, enabled: bool) -> User:
    async with offline_auth(settings) as auth:
        user_id = await auth.users.id_of(username)
        body = UserUpdate(enabled=enabled)
        return await auth.users.update(user_id, body, actor=cli_principal())


async def unlock(settings: Settings, username: str) -> User:
    async with offline_auth(settings) as auth:
        user_id = await auth.users.id_of(username)
        return await auth.users.unlock(user_id, actor=cli_principal())


async def list_users(settings: Settings) -> list[User]:
    async with offline_auth(settings) as auth:
        return await auth.users.list()
