"""User accounts: create, change, disable, delete, unlock — and the first admin.

Rules it owns: user names are case-insensitive; the last enabled admin cannot be disabled, demoted
or deleted; admins are never camera-scoped (they could widen their own scope); changing your own
password needs the current one and ends your other sessions; disabling a user or resetting their
password ends all their sessions. Every change is audited in the same transaction.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from heldar.auth.audit import AuditLog
from heldar.auth.models import Principal, User, UserCreate, UserRecord, UserUpdate
from heldar.auth.passwords import PasswordHasher
from heldar.auth.rbac import Role
from heldar.auth.sessions import SessionService
from heldar.auth.throttle import LoginThrottle, user_key
from heldar.clock import Clock
from heldar.errors import Conflict, Forbidden, InvalidInput, NotFound
from heldar.store import auth as sql
from heldar.store.engine import Store

INITIAL_PASSWORD_FILE = "initial-admin-password"  # noqa: S105 (a file name)


@dataclass(frozen=True)
class Bootstrap:
    """The first admin, created on a store without users."""

    username: str
    generated_password: str | None
    password_file: Path | None


def public_user(record: UserRecord, locked: dict[str, datetime] | None = None) -> User:
    fields = record.model_dump(exclude={"password_hash", "password_changed_at"})
    return User(**fields, locked_until=(locked or {}).get(user_key(record.username)))


def _not_found(user_id: int) -> NotFound:
    return NotFound(f"user {user_id} not found", code="user_not_found")


class UserService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        hasher: PasswordHasher,
        audit: AuditLog,
        sessions: SessionService,
        throttle: LoginThrottle,
        data_dir: Path,
        initial_admin: str = "admin",
    ) -> None:
        self._store = store
        self._clock = clock
        self._hasher = hasher
        self._audit = audit
        self._sessions = sessions
        self._throttle = throttle
        self._initial_password_file = data_dir / INITIAL_PASSWORD_FILE
        self._initial_admin = initial_admin.lower()

    # -- reads ------------------------------------------------------------------------------------

    async def list(self) -> list[User]:
        async with self._store.read() as conn:
            locked = await self._throttle.locked_users(conn)
            return [public_user(r, locked) for r in await sql.list_users(conn)]

    async def get(self, user_id: int) -> User:
        async with self._store.read() as conn:
            record = await sql.get_user(conn, user_id)
            if record is None:
                raise _not_found(user_id)
            return public_user(record, await self._throttle.locked_users(conn))

    async def id_of(self, username: str) -> int:
        async with self._store.read() as conn:
            record = await sql.get_user_by_name(conn, username.lower())
        if record is None:
            raise NotFound(f"user {username!r} not found", code="user_not_found")
        return record.id

    # -- changes ----------------------------------------------------------------------------------

    async def create(self, body: UserCreate, *, actor: Principal) -> User:
        _check_scope(body.role, body.camera_ids)
        password_hash = await self._hasher.hash(body.password.get_secret_value())
        now = self._clock.now()
        username = body.username.lower()
        scope = sorted(set(body.camera_ids)) if body.camera_ids is not None else None
        values: dict[str, Any] = {
            "username": username,
            "role": body.role.value,
            "password_hash": password_hash,
            "enabled": body.enabled,
            "camera_ids": scope,
            "created_at": now,
            "updated_at": now,
            "password_changed_at": now,
            "last_login_at": None,
        }
        async with self._store.write() as conn:
            user_id = await sql.insert_user(conn, values)
            await self._audit.record_in(
                conn,
                actor.audit_event(
                    "user.create",
                    target=username,
                    detail={"role": body.role.value, "camera_ids": scope},
                ),
            )
            record = await sql.get_user(conn, user_id)
        assert record is not None
        return public_user(record)

    async def update(self, user_id: int, body: UserUpdate, *, actor: Principal) -> User:
        given = body.model_fields_set
        new_hash = None
        if body.password is not None:
            await self._check_current_password(user_id, body, actor)
            new_hash = await self._hasher.hash(body.password.get_secret_value())
        async with self._store.write() as conn:
            current = await sql.get_user(conn, user_id)
            if current is None:
                raise _not_found(user_id)
            values: dict[str, Any] = {}
            if body.role is not None and body.role != current.role:
                values["role"] = body.role.value
            if body.enabled is not None and body.enabled != current.enabled:
                values["enabled"] = body.enabled
            if "camera_ids" in given:
                ids = body.camera_ids
                values["camera_ids"] = sorted(set(ids)) if ids is not None else None
            _check_scope(
                Role(values.get("role", current.role)),
                values.get("camera_ids", current.camera_ids),
            )
            await self._keep_an_admin(conn, current, values)
            now = self._clock.now()
            if new_hash is not None:
                values.update(password_hash=new_hash, password_changed_at=now)
            if not values:
                return await self._public(conn, current)
            values["updated_at"] = now
            await sql.update_user(conn, user_id, values)
            await self._end_sessions_after(conn, current, values, actor)
            changed = sorted(
                "password" if key == "password_hash" else key
                for key in values
                if key not in ("updated_at", "password_changed_at")
            )
            shown = {k: values[k] for k in ("role", "enabled", "camera_ids") if k in values}
            await self._audit.record_in(
                conn,
                actor.audit_event(
                    "user.update", target=current.username, detail={"changed": changed} | shown
                ),
            )
            record = await sql.get_user(conn, user_id)
            assert record is not None
            result = await self._public(conn, record)
        if new_hash is not None:
            self._forget_initial_password(current.username)
        return result

    async def change_own_password(self, principal: Principal, current: str, new: str) -> None:
        """`POST /auth/password`: needs the current password; ends the caller's other sessions."""
        if principal.user_id is None:
            raise Forbidden("only a user has a password to change", code="not_a_user")
        body = UserUpdate.model_validate({"password": new, "current_password": current})
        await self.update(principal.user_id, body, actor=principal)

    async def delete(self, user_id: int, *, actor: Principal) -> None:
        if actor.user_id == user_id:
            raise Conflict("you cannot delete your own account", code="cannot_delete_self")
        async with self._store.write() as conn:
            current = await sql.get_user(conn, user_id)
            if current is None:
                raise _not_found(user_id)
            await self._keep_an_admin(conn, current, {"enabled": False})
            await sql.delete_user(conn, user_id)
            await self._throttle.unlock(conn, current.username)
            await self._audit.record_in(
                conn, actor.audit_event("user.delete", target=current.username)
            )

    async def unlock(self, user_id: int, *, actor: Principal) -> User:
        async with self._store.write() as conn:
            current = await sql.get_user(conn, user_id)
            if current is None:
                raise _not_found(user_id)
            await self._throttle.unlock(conn, current.username)
            await self._audit.record_in(
                conn, actor.audit_event("user.unlock", target=current.username)
            )
            return public_user(current)

    async def bootstrap(self, username: str, password: str | None) -> Bootstrap | None:
        """Create the first admin when the store has no user; None when users exist."""
        async with self._store.read() as conn:
            if await sql.count_users(conn):
                return None
        generated = None if password else secrets.token_urlsafe(18)
        body = UserCreate.model_validate(
            {"username": username, "password": password or generated, "role": Role.ADMIN}
        )
        system = Principal(
            username="system",
            role=Role.ADMIN,
            capabilities=frozenset(),
            camera_scope=None,
            auth_method="cli",
        )
        try:
            await self.create(body, actor=system)
        except Conflict:  # another node bootstrapped first
            return None
        path = None
        if generated is not None:
            path = self._initial_password_file
            _write_private(path, generated + "\n")
        return Bootstrap(
            username=body.username.lower(), generated_password=generated, password_file=path
        )

    # -- helpers ----------------------------------------------------------------------------------

    async def _public(self, conn: AsyncConnection, record: UserRecord) -> User:
        return public_user(record, await self._throttle.locked_users(conn))

    async def _check_current_password(
        self, user_id: int, body: UserUpdate, actor: Principal
    ) -> None:
        if actor.user_id != user_id:
            return  # an admin resetting someone else's password
        if body.current_password is None:
            raise Forbidden(
                "changing your own password needs current_password",
                code="current_password_required",
            )
        async with self._store.read() as conn:
            record = await sql.get_user(conn, user_id)
        stored = record.password_hash if record is not None else None
        if not await self._hasher.verify(stored, body.current_password.get_secret_value()):
            async with self._store.write() as conn:
                await self._throttle.failure(conn, actor.username, actor.client_addr)
                await self._audit.record_in(
                    conn,
                    actor.audit_event(
                        "user.password_change", outcome="failed", target=actor.username
                    ),
                )
            raise Forbidden("current_password is wrong", code="current_password_invalid")

    async def _keep_an_admin(
        self, conn: AsyncConnection, current: UserRecord, values: dict[str, Any]
    ) -> None:
        was_admin = current.role == Role.ADMIN and current.enabled
        stays_admin = values.get("role", current.role) == Role.ADMIN and values.get(
            "enabled", current.enabled
        )
        if was_admin and not stays_admin and await sql.count_enabled_admins(conn) <= 1:
            raise Conflict("the last enabled admin must stay an enabled admin", code="last_admin")

    async def _end_sessions_after(
        self,
        conn: AsyncConnection,
        current: UserRecord,
        values: dict[str, Any],
        actor: Principal,
    ) -> None:
        if values.get("enabled") is False:
            await self._sessions.end_user_sessions_in(conn, current.id)
        elif "password_hash" in values:
            own = actor.user_id == current.id
            keep = actor.session_hash if own else None
            await self._sessions.end_user_sessions_in(conn, current.id, keep=keep)

    def _forget_initial_password(self, username: str) -> None:
        # The generated first password is useless once changed; do not leave it lying around.
        if username == self._initial_admin:
            self._initial_password_file.unlink(missing_ok=True)


def _check_scope(role: Role, camera_ids: list[str] | None) -> None:
    if role == Role.ADMIN and camera_ids is not None:
        raise InvalidInput("an admin cannot be limited to cameras", code="admin_cannot_be_scoped")


def _write_private(path: Path, content: str) -> None:
    """Write `content` to `path` readable by the owner only (0600), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
