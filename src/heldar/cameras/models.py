"""Camera types: what clients send (create, update), what they get back, and the stored record.

Field names and bounds are the reference contract (DESIGN.md §4). The password is write-only: it is
accepted on create/update, held as `SecretStr`, and no response model has a field for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from heldar.cameras.vendors import StreamProfile, Vendor
from heldar.recording.models import CameraStatus

RecordMode = Literal["continuous", "scheduled", "event", "scheduled_event"]
CAMERA_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"

CameraId = Annotated[
    str,
    Field(
        pattern=CAMERA_ID_PATTERN,
        min_length=1,
        max_length=64,
        description="Slug: lowercase letters, digits, '-' and '_'. Derived from name when absent.",
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=128, description="Display name.")]
Address = Annotated[
    str, Field(min_length=1, max_length=255, description="Camera host name or IP address.")
]
Port = Annotated[int, Field(ge=1, le=65535, description="RTSP port of the camera.")]
Username = Annotated[str, Field(max_length=255, description="Camera user name.")]
Password = Annotated[
    SecretStr, Field(max_length=1024, description="Camera password. Write-only: never returned.")
]
StreamUrlField = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2048,
        description="rtsp/rtsps/http/https URL. Credentials in it move to username/password.",
    ),
]
SegmentSeconds = Annotated[int, Field(ge=2, le=3600, description="Length of a recording segment.")]
RetentionHours = Annotated[
    int, Field(ge=1, le=87_600, description="How long recordings are kept (hours).")
]
PreRoll = Annotated[int, Field(ge=0, le=300, description="Seconds kept before an event trigger.")]
PostRoll = Annotated[int, Field(ge=0, le=3600, description="Seconds recorded after a trigger.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class CameraCreate(_Strict):
    """Body of `POST /cameras`."""

    id: CameraId | None = None
    name: Name
    vendor: Vendor = "generic"
    address: Address | None = None
    rtsp_port: Port = 554
    username: Username | None = None
    password: Password | None = None
    main_stream_url: StreamUrlField | None = None
    sub_stream_url: StreamUrlField | None = None
    record_stream: StreamProfile = "main"
    record_enabled: bool = True
    enabled: bool = True
    record_mode: RecordMode = "continuous"
    segment_seconds: SegmentSeconds = 60
    retention_hours: RetentionHours = 168
    pre_roll_seconds: PreRoll = 5
    post_roll_seconds: PostRoll = 10
    record_audio: bool = False
    mirror_enabled: bool = False
    live_warm: bool = Field(
        default=False, description="Keep the live pull running with no viewer (instant start)."
    )


class CameraUpdate(_Strict):
    """Body of `PATCH /cameras/{id}`: every field optional; an empty password clears it."""

    name: Name | None = None
    vendor: Vendor | None = None
    address: Address | None = None
    rtsp_port: Port | None = None
    username: Username | None = None
    password: Password | None = None
    main_stream_url: StreamUrlField | None = None
    sub_stream_url: StreamUrlField | None = None
    record_stream: StreamProfile | None = None
    record_enabled: bool | None = None
    enabled: bool | None = None
    record_mode: RecordMode | None = None
    segment_seconds: SegmentSeconds | None = None
    retention_hours: RetentionHours | None = None
    pre_roll_seconds: PreRoll | None = None
    post_roll_seconds: PostRoll | None = None
    record_audio: bool | None = None
    mirror_enabled: bool | None = None
    live_warm: bool | None = None


class _CameraFields(BaseModel):
    """The fields a stored camera and its public view share."""

    id: str
    name: str
    vendor: Vendor
    address: str | None
    rtsp_port: int
    username: str | None
    main_stream_url: str
    sub_stream_url: str | None
    record_stream: StreamProfile
    record_enabled: bool
    enabled: bool
    record_mode: RecordMode
    segment_seconds: int
    retention_hours: int
    pre_roll_seconds: int
    post_roll_seconds: int
    record_audio: bool
    mirror_enabled: bool
    live_warm: bool = False
    created_at: datetime
    updated_at: datetime


class CameraRecord(_CameraFields):
    """A camera as stored. Internal: carries the sealed password, never serialized to clients."""

    model_config = ConfigDict(frozen=True)

    password_enc: str | None

    @property
    def has_password(self) -> bool:
        return self.password_enc is not None

    def stream_url(self, profile: StreamProfile) -> str:
        """Credential-free URL of `profile`; the sub stream falls back to main."""
        if profile == "sub" and self.sub_stream_url:
            return self.sub_stream_url
        return self.main_stream_url


class Camera(_CameraFields):
    """A camera as clients see it (no secret in any form)."""

    has_password: bool
    record_url_masked: str = Field(description="Record stream URL, credentials shown as `***@`.")
    status: CameraStatus | None = Field(
        default=None, description="What the recorder is doing with this camera right now."
    )


ProbeError = Literal["auth_failed", "timeout", "unreachable", "no_video"]


class StreamTestResult(BaseModel):
    """Answer of `GET|POST /cameras/{id}/test`: the stream really opened, or why not."""

    reachable: bool
    stream: StreamProfile
    url: str = Field(description="The tested URL, credentials masked.")
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    error: ProbeError | None = None
    detail: str | None = Field(default=None, description="Redacted reason when not reachable.")
    elapsed_ms: int
