"""The camera registry service: create, read, update, delete and test cameras.

It owns the rules the API promises: ids are slugs (derived from the name when absent), stream URLs
are validated and stripped of credentials before they are stored, vendor templates fill in URLs
from address + port, and the password is sealed at rest and never returned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from slugify import slugify

from heldar.cameras.models import (
    Camera,
    CameraCreate,
    CameraRecord,
    CameraUpdate,
    StreamTestResult,
)
from heldar.cameras.probe import probe_stream
from heldar.cameras.urls import (
    StreamUrl,
    mask_url,
    validate_host,
    validate_stream_url,
    with_credentials,
)
from heldar.cameras.vendors import StreamProfile, has_template, template_url
from heldar.clock import utcnow
from heldar.errors import InvalidInput, NotFound
from heldar.logs import register_secret
from heldar.recording.models import CameraStatus
from heldar.secretbox import SecretBox
from heldar.store import cameras as sql
from heldar.store.engine import Store

log = logging.getLogger(__name__)


def public(record: CameraRecord, status: CameraStatus | None = None) -> Camera:
    """The client-facing view of a stored camera (with the recorder's status when given)."""
    fields = record.model_dump(exclude={"password_enc"})
    has_credentials = bool(record.username or record.password_enc)
    masked = mask_url(record.stream_url(record.record_stream), has_credentials=has_credentials)
    return Camera(
        **fields, has_password=record.has_password, record_url_masked=masked, status=status
    )


def derive_id(name: str) -> str:
    slug = slugify(name, max_length=64, word_boundary=True, separator="-")
    return slug or "camera"


class CameraRegistry:
    """CRUD and stream tests over the `cameras` table."""

    def __init__(
        self,
        store: Store,
        secrets: SecretBox,
        *,
        ffmpeg_timeout_s: float = 8.0,
        test_concurrency: int = 4,
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._probe_timeout_s = ffmpeg_timeout_s
        self._probe_slots = asyncio.Semaphore(test_concurrency)
        self._listeners: list[Callable[[str], Awaitable[None]]] = []

    def subscribe(self, listener: Callable[[str], Awaitable[None]]) -> None:
        """Call `listener(camera_id)` after every create, update and delete (e.g. the recorder)."""
        self._listeners.append(listener)

    async def _changed(self, camera_id: str) -> None:
        for listener in self._listeners:
            await listener(camera_id)

    async def list(self) -> list[CameraRecord]:
        async with self._store.read() as conn:
            return await sql.list_cameras(conn)

    async def get(self, camera_id: str) -> CameraRecord:
        async with self._store.read() as conn:
            record = await sql.get_camera(conn, camera_id)
        if record is None:
            raise NotFound(f"camera {camera_id!r} not found", code="camera_not_found")
        return record

    async def create(self, body: CameraCreate) -> CameraRecord:
        camera_id = body.id or derive_id(body.name)
        values = body.model_dump(exclude={"id", "password"})
        password = body.password.get_secret_value() if body.password else None
        address = validate_host(body.address) if body.address else None
        main, sub, username, password = self._resolve_urls(
            vendor=body.vendor,
            address=address,
            port=body.rtsp_port,
            main_raw=body.main_stream_url,
            sub_raw=body.sub_stream_url,
            username=body.username,
            password=password,
        )
        now = utcnow()
        values.update(
            id=camera_id,
            address=address,
            username=username or None,
            password_enc=self._seal(password, camera_id),
            main_stream_url=main,
            sub_stream_url=sub,
            created_at=now,
            updated_at=now,
        )
        record = CameraRecord.model_validate(values)
        async with self._store.write() as conn:
            await sql.insert_camera(conn, record)
        log.info(
            "camera %s created (%s, %s)", record.id, record.vendor, public(record).record_url_masked
        )
        await self._changed(record.id)
        return record

    async def update(self, camera_id: str, body: CameraUpdate) -> CameraRecord:
        async with self._store.write() as conn:
            current = await sql.get_camera(conn, camera_id)
            if current is None:
                raise NotFound(f"camera {camera_id!r} not found", code="camera_not_found")
            record = self._apply(current, body)
            await sql.update_camera(conn, record)
        log.info("camera %s updated (%s)", camera_id, ", ".join(sorted(body.model_fields_set)))
        await self._changed(camera_id)
        return record

    async def delete(self, camera_id: str) -> None:
        async with self._store.write() as conn:
            if not await sql.delete_camera(conn, camera_id):
                raise NotFound(f"camera {camera_id!r} not found", code="camera_not_found")
        log.info("camera %s deleted", camera_id)
        await self._changed(camera_id)

    def spawn_url(self, record: CameraRecord, profile: StreamProfile) -> str:
        """The URL with credentials spliced in. Only for a child process's argv — never log it."""
        password = self.password(record)
        return with_credentials(record.stream_url(profile), record.username, password)

    def password(self, record: CameraRecord) -> str | None:
        if record.password_enc is None:
            return None
        password = self._secrets.open(record.password_enc, context=record.id)
        register_secret(password)
        return password

    async def test(self, camera_id: str, profile: StreamProfile | None) -> StreamTestResult:
        """Really open the stream (bounded by the probe timeout) and report what it carries."""
        record = await self.get(camera_id)
        chosen: StreamProfile = profile or record.record_stream
        url = self.spawn_url(record, chosen)
        masked = mask_url(
            record.stream_url(chosen), has_credentials=bool(record.username or record.password_enc)
        )
        async with self._probe_slots:
            return await probe_stream(
                url, profile=chosen, masked_url=masked, timeout_s=self._probe_timeout_s
            )

    # -- rules ---------------------------------------------------------------------------------

    def _seal(self, password: str | None, camera_id: str) -> str | None:
        if not password:
            return None
        register_secret(password)
        return self._secrets.seal(password, context=camera_id)

    def _apply(self, current: CameraRecord, body: CameraUpdate) -> CameraRecord:
        given = body.model_fields_set
        changes = {k: v for k, v in body.model_dump(exclude={"password"}).items() if k in given}
        for key in ("name", "vendor", "rtsp_port", "record_stream", "record_mode"):
            if key in changes and changes[key] is None:
                raise InvalidInput(f"{key}: may not be null", code="invalid_field")
        merged = current.model_dump() | {k: v for k, v in changes.items() if v is not None}
        if "address" in given:
            merged["address"] = validate_host(body.address) if body.address else None
        password: str | None
        if "password" in given:
            password = body.password.get_secret_value() if body.password else None
        else:
            password = self.password(current)
        # URLs follow the template when address/port/vendor change, unless given explicitly.
        follows = self._follows_template(current)
        main_raw = body.main_stream_url if "main_stream_url" in given else None
        sub_raw = body.sub_stream_url if "sub_stream_url" in given else None
        if not follows:
            main_raw = main_raw or current.main_stream_url
            if "sub_stream_url" not in given:
                sub_raw = current.sub_stream_url
        main, sub, username, password = self._resolve_urls(
            vendor=merged["vendor"],
            address=merged["address"],
            port=merged["rtsp_port"],
            main_raw=main_raw,
            sub_raw=sub_raw,
            username=merged["username"] if "username" in given else current.username,
            password=password,
        )
        merged.update(
            main_stream_url=main,
            sub_stream_url=sub,
            username=username or None,
            password_enc=self._seal(password, current.id),
            updated_at=utcnow(),
        )
        return CameraRecord.model_validate(merged)

    @staticmethod
    def _follows_template(record: CameraRecord) -> bool:
        if not record.address or not has_template(record.vendor):
            return False
        derived = template_url(record.vendor, record.address, record.rtsp_port, "main")
        return derived == record.main_stream_url

    @staticmethod
    def _resolve_urls(
        *,
        vendor: str,
        address: str | None,
        port: int,
        main_raw: str | None,
        sub_raw: str | None,
        username: str | None,
        password: str | None,
    ) -> tuple[str, str | None, str | None, str | None]:
        """Validate given URLs (moving credentials out) or fill them from the vendor template."""
        main = validate_stream_url(main_raw, field="main_stream_url") if main_raw else None
        sub = validate_stream_url(sub_raw, field="sub_stream_url") if sub_raw else None
        for parsed in (main, sub):
            if parsed is not None and (parsed.username or parsed.password):
                username = username or parsed.username
                password = password or parsed.password
        if main is None:
            if not has_template(vendor):
                raise InvalidInput(
                    f"main_stream_url: required for vendor {vendor!r} (no URL template)",
                    code="stream_url_required",
                )
            if not address:
                raise InvalidInput(
                    f"address: required to build the {vendor} stream URL", code="address_required"
                )
            main = StreamUrl(url=template_url(vendor, address, port, "main") or "")
            if sub is None:
                derived_sub = template_url(vendor, address, port, "sub")
                sub = StreamUrl(url=derived_sub) if derived_sub else None
        return main.url, sub.url if sub else None, username, password
