"""Table definitions (SQLAlchemy Core). Migrations in `migrations/versions` must match these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
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

# -- auth and audit (migration 0003) --------------------------------------------------------------

_AUTH_ID = BigInteger().with_variant(Integer, "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", _AUTH_ID, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("camera_ids", JSON, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("password_changed_at", UtcDateTime(), nullable=False),
    Column("last_login_at", UtcDateTime(), nullable=True),
)

# Only the SHA-256 of a session token is stored; the token itself exists only at the client.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "user_id",
        _AUTH_ID,
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("client_addr", String(64), nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", _AUTH_ID, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("capabilities", JSON, nullable=False),
    Column("camera_ids", JSON, nullable=True),
    Column("created_by", _AUTH_ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
)

# Failed-login counters, keyed `user:<name>` (existing or not: no enumeration) and `addr:<ip>`.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", UtcDateTime(), nullable=False),
    Column("locked_until", UtcDateTime(), nullable=True),
)

# Append-only and hash-chained; UPDATE/DELETE are refused by triggers (migration 0003) except the
# deletion of a prefix the anchor has already moved past (retention).
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", UtcDateTime(), nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("target", String(255), nullable=True),
    Column("camera_id", String(64), nullable=True),
    Column("client_addr", String(64), nullable=True),
    Column("detail", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_actor_seq", "actor", "seq"),
    Index("ix_audit_log_action_seq", "action", "seq"),
)

# One row: the entry the chain starts after (seq 0 and the genesis hash until retention prunes).
audit_anchor = Table(
    "audit_anchor",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)


# -- recordings index (migration 0004) ------------------------------------------------------------

# The index of recorded files. `path` (relative to the data directory) is the idempotency key.
# No foreign key to cameras: deleting a camera deletes its segments explicitly (files first
# marked, then unlinked, then rows deleted), and is refused while any of them is locked.
segments = Table(
    "segments",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("camera_id", String(64), nullable=False),
    Column("path", String(512), nullable=False, unique=True),
    Column("start_time", UtcDateTime(), nullable=False),
    Column("end_time", UtcDateTime(), nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("codec", String(32), nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("locked", Boolean, nullable=False, default=False),
    Column("incident_id", String(64), nullable=True, index=True),
    Column("deleting", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_segments_camera_id_start_time", "camera_id", "start_time"),
)

gaps = Table(
    "gaps",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("camera_id", String(64), nullable=False),
    Column("start_time", UtcDateTime(), nullable=False),
    Column("end_time", UtcDateTime(), nullable=False),
    Column("seconds", Float, nullable=False),
    Index("ix_gaps_camera_id_start_time", "camera_id", "start_time"),
)


# -- retention (migration 0005) -------------------------------------------------------------------

# Optional byte quota of one camera's unlocked recordings (GB = 10^9 bytes; NULL: no quota). It
# belongs to the camera row; declared here so the retention migration owns it.
cameras.append_column(Column("retention_quota_gb", Float, nullable=True))

# One row, written by `PUT /system/retention`; while it is absent the settings' defaults apply.
retention_settings = Table(
    "retention_settings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("max_recordings_gb", Float, nullable=True),
    Column("min_free_disk_gb", Float, nullable=False),
    Column("guard_max_share", Float, nullable=False),
    Column("interval_s", Float, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)


# -- snapshot schedules (migration 0006) ----------------------------------------------------------

_SNAP_ID = BigInteger().with_variant(Integer, "sqlite")

# A periodic still of one camera, taken from its newest recording every `interval_seconds` and
# kept `keep_hours`. Rows go with their camera (CASCADE); the files go with the camera's directory.
snapshot_schedules = Table(
    "snapshot_schedules",
    metadata,
    Column("id", _SNAP_ID, primary_key=True, autoincrement=True),
    Column(
        "camera_id",
        String(64),
        ForeignKey("cameras.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("interval_seconds", Integer, nullable=False),
    Column("keep_hours", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("last_taken_at", UtcDateTime(), nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", _SNAP_ID, primary_key=True, autoincrement=True),
    Column(
        "camera_id",
        String(64),
        ForeignKey("cameras.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "schedule_id",
        _SNAP_ID,
        ForeignKey("snapshot_schedules.id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("path", String(512), nullable=False, unique=True),
    Column("taken_at", UtcDateTime(), nullable=False),
    Column("frame_at", UtcDateTime(), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Index("ix_snapshots_camera_id_taken_at", "camera_id", "taken_at"),
)


# -- perception (migration 0007) ------------------------------------------------------------------

_PERC_ID = BigInteger().with_variant(Integer, "sqlite")

ai_tasks = Table(
    "ai_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "camera_id",
        String(64),
        ForeignKey("cameras.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("task_type", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("stream_profile", String(8), nullable=False),
    Column("fps", Float, nullable=False),
    Column("width", Integer, nullable=False),
    Column("config", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index(
        "ix_ai_tasks_camera_id_task_type", "camera_id", "task_type", "stream_profile", unique=True
    ),
)

# The ingest outbox: one row per accepted batch, committed with its detections. `(camera_id,
# frame_id)` makes ingest idempotent; `body_hash` tells a replay from a conflicting reuse.
# No foreign key to cameras: detections outlive nothing, they are pruned by age.
ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("id", _PERC_ID, primary_key=True, autoincrement=True),
    Column("camera_id", String(64), nullable=False),
    Column("task_type", String(64), nullable=False),
    Column("frame_id", String(128), nullable=True),
    Column("body_hash", String(64), nullable=False),
    Column("timestamp", UtcDateTime(), nullable=False),
    Column("detections", Integer, nullable=False),
    Column("event", JSON, nullable=True),
    Column("provenance", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_ingest_batches_camera_id_frame_id", "camera_id", "frame_id", unique=True),
)

detections = Table(
    "detections",
    metadata,
    Column("id", _PERC_ID, primary_key=True, autoincrement=True),
    Column("batch_id", _PERC_ID, nullable=False, index=True),
    Column("camera_id", String(64), nullable=False),
    Column("task_type", String(64), nullable=False),
    Column("timestamp", UtcDateTime(), nullable=False),
    Column("label", String(64), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("w", Float, nullable=False),
    Column("h", Float, nullable=False),
    Column("track_id", String(64), nullable=True),
    Column("attributes", JSON, nullable=False),
    Index("ix_detections_camera_id_timestamp", "camera_id", "timestamp"),
)

# Every batch with id <= last_batch_id was delivered to the consumer (at least once).
consumer_cursors = Table(
    "consumer_cursors",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("last_batch_id", _PERC_ID, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)


# -- zones (migration 0009) -----------------------------------------------------------------------

_ZONE_ID = BigInteger().with_variant(Integer, "sqlite")

zones = Table(
    "zones",
    metadata,
    Column("id", _ZONE_ID, primary_key=True, autoincrement=True),
    Column(
        "camera_id",
        String(64),
        ForeignKey("cameras.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("polygon", JSON, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("dwell_seconds", Float, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("config", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# What the zone engine emitted. No foreign keys: events outlive their zone (history), and are
# pruned with the camera's other detection data.
zone_events = Table(
    "zone_events",
    metadata,
    Column("id", _ZONE_ID, primary_key=True, autoincrement=True),
    Column("camera_id", String(64), nullable=False),
    Column("zone_id", _ZONE_ID, nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("track_id", String(64), nullable=False),
    Column("label", String(64), nullable=False),
    Column("dwell_seconds", Float, nullable=True),
    Column("timestamp", UtcDateTime(), nullable=False),
    Column("segment_id", _ZONE_ID, nullable=True),
    Column("evidence", String(512), nullable=True),
    Column("batch_id", _ZONE_ID, nullable=True),
    Index("ix_zone_events_camera_id_timestamp", "camera_id", "timestamp"),
)

# The engine's per-camera track state, saved periodically and at shutdown, so a restart does not
# emit a second `enter` for a track already inside.
zone_state = Table(
    "zone_state",
    metadata,
    Column("camera_id", String(64), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("last_batch_id", _ZONE_ID, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)


# -- live view (migration 0010) -------------------------------------------------------------------

# Keep a camera's live pull running with no viewer (declared here so migration 0010 owns it).
cameras.append_column(Column("live_warm", Boolean, nullable=False, server_default=false()))

# The tables of observability (webhooks) live in their own module on the same metadata; importing
# it here makes `tables.metadata` the whole schema.
from heldar.store import tables_observability  # noqa: E402, F401
