"""`ScheduleBook`: recording schedules of cameras — validated CRUD that wakes the recorder."""

from __future__ import annotations

from collections.abc import Callable

from heldar.clock import Clock
from heldar.errors import InvalidInput, NotFound
from heldar.recording.models import Schedule, ScheduleCreate, ScheduleUpdate
from heldar.recording.schedules import minutes
from heldar.store import recording as sql
from heldar.store.cameras import require_camera
from heldar.store.engine import Store

MAX_SCHEDULES_PER_CAMERA = 64


class ScheduleBook:
    def __init__(self, store: Store, clock: Clock, on_change: Callable[[], None]) -> None:
        self._store = store
        self._clock = clock
        self._on_change = on_change

    async def list(self, camera_id: str) -> list[Schedule]:
        async with self._store.read() as conn:
            await require_camera(conn, camera_id)
            return await sql.list_schedules(conn, camera_id)

    async def get(self, schedule_id: int) -> Schedule:
        async with self._store.read() as conn:
            schedule = await sql.get_schedule(conn, schedule_id)
        if schedule is None:
            raise NotFound(f"schedule {schedule_id} not found", code="schedule_not_found")
        return schedule

    async def create(self, camera_id: str, body: ScheduleCreate) -> Schedule:
        async with self._store.write() as conn:
            await require_camera(conn, camera_id)
            if len(await sql.list_schedules(conn, camera_id)) >= MAX_SCHEDULES_PER_CAMERA:
                raise InvalidInput(
                    f"a camera has at most {MAX_SCHEDULES_PER_CAMERA} schedules",
                    code="too_many_schedules",
                )
            schedule = await sql.insert_schedule(
                conn, camera_id, body.model_dump(), self._clock.now()
            )
        self._on_change()
        return schedule

    async def update(self, schedule_id: int, body: ScheduleUpdate) -> Schedule:
        changes = body.model_dump(exclude_unset=True)
        if any(v is None for v in changes.values()):
            raise InvalidInput("schedule fields may not be null", code="invalid_field")
        async with self._store.write() as conn:
            current = await sql.get_schedule(conn, schedule_id)
            if current is None:
                raise NotFound(f"schedule {schedule_id} not found", code="schedule_not_found")
            merged = current.model_copy(update=changes)
            if minutes(merged.time_start) == minutes(merged.time_end):
                raise InvalidInput(
                    "time_start and time_end are equal: an empty window", code="invalid_schedule"
                )
            await sql.update_schedule(conn, schedule_id, changes, self._clock.now())
        self._on_change()
        return merged

    async def delete(self, schedule_id: int) -> None:
        async with self._store.write() as conn:
            if not await sql.delete_schedule(conn, schedule_id):
                raise NotFound(f"schedule {schedule_id} not found", code="schedule_not_found")
        self._on_change()
