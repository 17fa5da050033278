"""The one settings model of the kernel, loaded once at start-up and passed down.

Every field reads from its `HELDAR_*` environment variable (the reference's names), has bounds and a
description, and nothing else in the code base reads the environment or builds paths on its own.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# OWASP Password Storage Cheat Sheet: argon2id with m=46 MiB, t=1 or m=19 MiB, t=2 (p=1) at least.
OWASP_ARGON2_MIN_MEMORY_KIB = 19_456
OWASP_ARGON2_ONE_PASS_MEMORY_KIB = 47_104
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Kernel configuration. See docs/reference/configuration.md for the operator's view."""

    model_config = SettingsConfigDict(env_prefix="HELDAR_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path("data"),
        description="Root of everything Heldar writes: store, recordings, clips, snapshots.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the store. Default: SQLite at <data_dir>/heldar.db. "
            "postgresql://… selects PostgreSQL (asyncpg)."
        ),
    )
    api_host: str = Field(
        default="127.0.0.1", min_length=1, max_length=255, description="Address the API binds."
    )
    api_port: int = Field(default=8000, ge=1, le=65535, description="TCP port the API binds.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Minimum level of log records written to stderr."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`text` for people, `json` (one object a line) for log collectors.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "When set, camera passwords are encrypted at rest with AES-GCM under a key derived "
            "from it. Keep it stable: without it, encrypted passwords cannot be read back."
        ),
    )
    ffmpeg_bin: str | None = Field(
        default=None,
        max_length=4096,
        description="ffmpeg binary. Default: `ffmpeg` on PATH, else the imageio-ffmpeg one.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        description="Largest request body accepted; larger bodies get 413 before parsing.",
    )
    camera_test_timeout_s: float = Field(
        default=8.0,
        ge=1.0,
        le=60.0,
        description="Bound on one stream test (connect + first frame).",
    )
    camera_test_concurrency: int = Field(
        default=4, ge=1, le=64, description="Stream tests allowed to run at the same time."
    )
    shutdown_timeout_s: float = Field(
        default=10.0, ge=1.0, le=120.0, description="Time given to services to stop on SIGTERM."
    )
    recording_enabled: bool = Field(
        default=True,
        description="Run the recorder. Off: an API-only node that never connects to a camera.",
    )
    schedule_check_interval_s: float = Field(
        default=30.0,
        ge=1.0,
        le=3600.0,
        description="How often recording schedules and trigger windows are re-evaluated.",
    )
    mirror_recordings_dir: Path | None = Field(
        default=None,
        description=(
            "When set, cameras with mirror_enabled also write a byte-identical copy of every "
            "segment to <dir>/<camera_id>/ (one RTSP pull; a failing mirror never stops recording)."
        ),
    )
    media_job_concurrency: int = Field(
        default=3,
        ge=1,
        le=32,
        description="Clip exports allowed at once; more get 429 with Retry-After.",
    )
    max_recordings_gb: float | None = Field(
        default=None,
        ge=0.001,
        le=1_000_000,
        description=(
            "Cap on all recordings (GB = 10^9 bytes, evidence-locked ones included): beyond it "
            "the camera furthest over its fair share loses its oldest segments first. Unset: no "
            "cap. A default: `PUT /api/v1/system/retention` overrides it."
        ),
    )
    min_free_disk_gb: float = Field(
        default=1.0,
        ge=0,
        le=100_000,
        description=(
            "Free space kept on the recordings filesystem (GB): below it retention deletes the "
            "oldest unlocked segments (fairly across cameras) before writes fail. 0: no floor."
        ),
    )
    retention_guard_max_share: float = Field(
        default=0.5,
        ge=0.05,
        le=1.0,
        description=(
            "Retention refuses to delete more than this share of a camera's segments (by age) or "
            "of all recorded bytes in one pass, and raises `retention_guard` instead. 1: off."
        ),
    )
    retention_interval_s: float = Field(
        default=60.0,
        ge=10,
        le=3600,
        description="Seconds between retention passes (the free-disk floor is checked every 5 s).",
    )
    demo_rtsp_port: int = Field(
        default=8554,
        ge=0,
        le=65535,
        description="Port of the simulated camera `serve --demo` runs.",
    )

    # -- auth ------------------------------------------------------------------------------------
    auth_enabled: bool = Field(
        default=True,
        description=(
            "Require a credential on every route but /healthz, /readyz and login. Turning it off "
            "is refused unless the API binds a loopback address."
        ),
    )
    bootstrap_admin_user: str = Field(
        default="admin",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$",
        description="Name of the admin created on first start, when the store has no user.",
    )
    bootstrap_admin_password: SecretStr | None = Field(
        default=None,
        min_length=8,
        max_length=1024,
        description=(
            "Password of that first admin. Unset: one is generated, printed once and written to "
            "<data_dir>/initial-admin-password (mode 0600)."
        ),
    )
    auth_cookie_secure: bool = Field(
        default=False,
        description=(
            "Mark the session cookie Secure even when the request came over plain HTTP "
            "(set it behind a TLS-terminating proxy). Requests over HTTPS always get Secure."
        ),
    )
    auth_session_ttl_h: float = Field(
        default=12.0, ge=0.1, le=720.0, description="Absolute lifetime of a session (hours)."
    )
    auth_session_idle_min: float = Field(
        default=120.0,
        ge=1.0,
        le=43_200.0,
        description="A session unused for this long ends (minutes).",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Failed logins for one user name before it is locked for the lockout time.",
    )
    login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="Failed logins from one client address (any user) before it is throttled.",
    )
    login_lockout_min: float = Field(
        default=15.0,
        ge=0.1,
        le=1440.0,
        description="How long a lock lasts, and the window failures are counted in (minutes).",
    )
    trusted_proxies: CommaList = Field(
        default=[],
        description=(
            "Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is "
            "believed. Empty: the peer address is the client address."
        ),
    )
    csrf_trusted_origins: CommaList = Field(
        default=[],
        description=(
            "Comma-separated origins (https://nvr.example) accepted on cookie-authenticated "
            "mutations besides the request's own host."
        ),
    )
    password_hash_memory_kib: int = Field(
        default=65_536,
        ge=OWASP_ARGON2_MIN_MEMORY_KIB,
        le=4_194_304,
        description="argon2id memory cost (KiB). Never below OWASP's minimum.",
    )
    password_hash_time_cost: int = Field(
        default=2,
        ge=1,
        le=20,
        description="argon2id passes. 1 is accepted only with at least 46 MiB of memory.",
    )
    password_hash_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Password hashes computed at once. Default: the number of CPU cores.",
    )
    api_key_ttl_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="Lifetime of an API key created without an explicit expires_at.",
    )
    audit_retention_days: int = Field(
        default=0,
        ge=0,
        le=36_500,
        description="Prune audit entries older than this (whole prefixes only). 0 keeps all.",
    )
    ai_max_total_fps: float = Field(
        default=40.0,
        ge=0.5,
        le=2000.0,
        description=(
            "Frames per second all samplers may decode together; shared fairly across the "
            "sampled streams (each gets at least 0.5 fps, widths step down before that)."
        ),
    )
    ingest_provenance: Literal["warn", "enforce"] = Field(
        default="warn",
        description=(
            "`enforce`: POST /ai/events needs a frame_ticket from a leased frame (403 "
            "otherwise). `warn`: unticketed batches are accepted and marked ticketed=false."
        ),
    )
    ai_sampling_enabled: bool = Field(
        default=True,
        description="Run the frame samplers of AI tasks (off: tasks and ingest work, no frames).",
    )
    ai_worker_timeout_s: float = Field(
        default=30.0,
        ge=5.0,
        le=3600.0,
        description="A worker without a discovery or lease call for this long is gone.",
    )
    detection_retention_days: float = Field(
        default=7.0,
        ge=0.01,
        le=3650.0,
        description="Detections (and their ingest batches) older than this are pruned.",
    )

    zone_track_timeout_s: float = Field(
        default=120.0,
        ge=1.0,
        le=86_400.0,
        description="A track unseen this long (detection time) leaves its zones: a synthetic exit.",
    )

    # -- observability and integrations (issue 8) ------------------------------------------------
    readyz_min_recording_percent: float | None = Field(
        default=None,
        ge=0.0,
        le=100.0,
        description=(
            "When set, /readyz answers 503 unless at least this share of the cameras that should "
            "record are recording."
        ),
    )
    metrics_allow: CommaList = Field(
        default_factory=list,
        description=(
            "CIDRs that may scrape /metrics without a credential (else `system:read` is needed), "
            "e.g. `127.0.0.1/32,10.0.0.5/32`."
        ),
    )
    webhook_allow_private: CommaList = Field(
        default_factory=list,
        description=(
            "CIDRs webhook targets may resolve to although private or loopback (SSRF guard); "
            "link-local metadata addresses stay refused."
        ),
    )
    webhook_timeout_s: float = Field(
        default=10.0, ge=0.5, le=120.0, description="Per-attempt timeout of a webhook delivery."
    )
    mqtt_url: SecretStr | None = Field(
        default=None,
        description="`mqtt://[user:pass@]host[:port]`: publish events and camera status there.",
    )
    mqtt_topic_prefix: str = Field(
        default="heldar",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Topics are `<prefix>/<camera_id>/events` and `<prefix>/<camera_id>/status`.",
    )
    event_stream_heartbeat_s: float = Field(
        default=15.0, ge=1.0, le=300.0, description="SSE comment heartbeat interval."
    )

    # -- live view (issue 9) ----------------------------------------------------------------------
    live_idle_close_secs: float = Field(
        default=30.0,
        ge=0.0,
        le=3600.0,
        description="Stop a camera's live pull this long after its last viewer left.",
    )
    live_token_ttl_s: float = Field(
        default=60.0,
        ge=10.0,
        le=3600.0,
        description="Lifetime of a live-view token (renewable while watching).",
    )
    live_transcode: bool = Field(
        default=False,
        description="Transcode codecs browsers cannot play (H.265) to H.264 for live view.",
    )
    live_webrtc: bool = Field(
        default=False,
        description="Offer WebRTC (WHEP) live view through aiortc (~3 % of a core per viewer).",
    )
    live_webrtc_max_sessions: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Most WebRTC live sessions at once; further offers get 503.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator(
        "trusted_proxies",
        "csrf_trusted_origins",
        "metrics_allow",
        "webhook_allow_private",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies", "metrics_allow", "webhook_allow_private")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _secure_defaults(self) -> Self:
        if not self.auth_enabled and not is_loopback(self.api_host):
            raise ValueError(
                f"HELDAR_AUTH_ENABLED=false is refused on the non-loopback bind {self.api_host!r}:"
                " bind 127.0.0.1 (HELDAR_API_HOST) or keep auth on"
            )
        if (
            self.password_hash_time_cost < 2
            and self.password_hash_memory_kib < OWASP_ARGON2_ONE_PASS_MEMORY_KIB
        ):
            raise ValueError(
                "password_hash_time_cost=1 needs password_hash_memory_kib >= "
                f"{OWASP_ARGON2_ONE_PASS_MEMORY_KIB} (OWASP minimum)"
            )
        return self

    @property
    def hash_concurrency(self) -> int:
        """Concurrent password hashes: the setting, else the core count."""
        return self.password_hash_concurrency or os.cpu_count() or 1

    @property
    def store_url(self) -> str:
        """The SQLAlchemy async URL of the store (driver filled in)."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'heldar.db'}"
        return async_store_url(url)

    def path(self, *parts: str) -> Path:
        """A path under the data directory."""
        return self.data_dir.joinpath(*parts)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the usual names of them."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def async_store_url(url: str) -> str:
    """Map a plain database URL to its asyncio driver (aiosqlite, asyncpg)."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url
