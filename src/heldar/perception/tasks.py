"""`AiTaskBook`: the AI tasks of cameras — validated CRUD that rebalances the samplers.

Creating a task that already exists for (camera, task_type, stream_profile) returns the existing
one (the reference's idempotent create), so a worker fleet can declare its tasks at start.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError

from heldar.clock import Clock
from heldar.errors import InvalidInput, NotFound
from heldar.perception.models import AiTask, AiTaskCreate, AiTaskUpdate
from heldar.store import perception as sql
from heldar.store.cameras import require_camera
from heldar.store.engine import Store

MAX_TASKS_PER_CAMERA = 32


class AiTaskBook:
    def __init__(
        self, store: Store, clock: Clock, on_change: Callable[[], Awaitable[None]]
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_change = on_change

    async def list(self, camera_id: str | None = None) -> builtins.list[AiTask]:
        async with self._store.read() as conn:
            if camera_id is not None:
                await require_camera(conn, camera_id)
            return await sql.list_tasks(conn, camera_id)

    async def get(self, task_id: str) -> AiTask:
        async with self._store.read() as conn:
            task = await sql.get_task(conn, task_id)
        if task is None:
            raise NotFound(f"AI task {task_id!r} not found", code="task_not_found")
        return task

    async def create(self, camera_id: str, body: AiTaskCreate) -> tuple[AiTask, bool]:
        """(the task, whether it was created now) — an existing twin is returned as is."""
        now = self._clock.now()
        try:
            async with self._store.write() as conn:
                await require_camera(conn, camera_id)
                twin = await sql.find_task(conn, camera_id, body.task_type, body.stream_profile)
                if twin is not None:
                    return twin, False
                if len(await sql.list_tasks(conn, camera_id)) >= MAX_TASKS_PER_CAMERA:
                    raise InvalidInput(
                        f"a camera has at most {MAX_TASKS_PER_CAMERA} AI tasks",
                        code="too_many_tasks",
                    )
                task = await sql.insert_task(
                    conn,
                    {
                        "id": secrets.token_hex(8),
                        "camera_id": camera_id,
                        **body.model_dump(),
                        "created_at": now,
                        "updated_at": now,
                    },
                )
        except IntegrityError:  # a concurrent create of the same twin on PostgreSQL
            async with self._store.read() as conn:
                twin = await sql.find_task(conn, camera_id, body.task_type, body.stream_profile)
            if twin is None:
                raise
            return twin, False
        await self._on_change()
        return task, True

    async def update(self, task_id: str, body: AiTaskUpdate) -> AiTask:
        changes = body.model_dump(exclude_unset=True)
        if any(v is None for v in changes.values()):
            raise InvalidInput("AI task fields may not be null", code="invalid_field")
        async with self._store.write() as conn:
            task = await sql.update_task(
                conn, task_id, {**changes, "updated_at": self._clock.now()}
            )
        if task is None:
            raise NotFound(f"AI task {task_id!r} not found", code="task_not_found")
        await self._on_change()
        return task

    async def delete(self, task_id: str) -> None:
        async with self._store.write() as conn:
            if not await sql.delete_task(conn, task_id):
                raise NotFound(f"AI task {task_id!r} not found", code="task_not_found")
        await self._on_change()
