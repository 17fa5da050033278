"""The one settings model of the kernel, loaded once at start-up and passed down.

Every field reads from its `HELDAR_*` environment variable (the reference's names), has bounds and a
description, and nothing else in the code base reads the environment or builds paths on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    demo_rtsp_port: int = Field(
        default=8554,
        ge=0,
        le=65535,
        description="Port of the simulated camera `serve --demo` runs.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def store_url(self) -> str:
        """The SQLAlchemy async URL of the store (driver filled in)."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'heldar.db'}"
        return async_store_url(url)

    def path(self, *parts: str) -> Path:
        """A path under the data directory."""
        return self.data_dir.joinpath(*parts)


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
