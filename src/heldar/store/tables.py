"""Table definitions (SQLAlchemy Core). Migrations in `migrations/versions` must match these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from heldar.store.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

cameras = Table(
    "cameras",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("vendor", String(16), nullable=False),
    Column("address", String(255), nullable=True),
    Column("rtsp_port", Integer, nullable=False),
    Column("username", String(255), nullable=True),
    # "plain:<pw>" or "aesgcm:<b64>" (see heldar.secretbox); never leaves the kernel.
    Column("password_enc", Text, nullable=True),
    Column("main_stream_url", Text, nullable=False),
    Column("sub_stream_url", Text, nullable=True),
    Column("record_stream", String(8), nullable=False),
    Column("record_enabled", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("record_mode", String(20), nullable=False),
    Column("segment_seconds", Integer, nullable=False),
    Column("retention_hours", Integer, nullable=False),
    Column("pre_roll_seconds", Integer, nullable=False),
    Column("post_roll_seconds", Integer, nullable=False),
    Column("record_audio", Boolean, nullable=False),
    Column("mirror_enabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# -- recorder (migration 0002) --------------------------------------------------------------------

camera_status = Table(
    "camera_status",
    metadata,
    Column(
        "camera_id",
        String(64),
        ForeignKey("cameras.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("state", String(16), nullable=False),
    Column("pid", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("reconnects", Integer, nullable=False, default=0),
    Column("last_segment_at", UtcDateTime(), nullable=True),
    Column("segments_written", BigInteger, nullable=False, default=0),
    Column("bitrate_kbps", Float, nullable=True),
    Column("fps_observed", Float, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Events outlive their camera (no foreign key): an audit of what happened stays readable.
events = Table(
    "events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("camera_id", String(64), nullable=True),
    Column("event_type", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("timestamp", UtcDateTime(), nullable=False),
    Column("payload", JSON, nullable=False),
    Index("ix_events_camera_id_id", "camera_id", "id"),
    Index("ix_events_event_type_id", "event_type", "id"),
)

schedules = Table(
    "schedules",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "camera_id",
        String(64),
        ForeignKey("cameras.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("days", JSON, nullable=False),
    Column("time_start", String(5), nullable=False),
    Column("time_end", String(5), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
