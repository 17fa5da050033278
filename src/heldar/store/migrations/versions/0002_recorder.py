"""recorder: camera_status, events, schedules.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from heldar.store.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "camera_status",
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("reconnects", sa.Integer, nullable=False),
        sa.Column("last_segment_at", UtcDateTime(), nullable=True),
        sa.Column("segments_written", sa.BigInteger, nullable=False),
        sa.Column("bitrate_kbps", sa.Float, nullable=True),
        sa.Column("fps_observed", sa.Float, nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name="pk_camera_status"),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name="fk_camera_status_camera_id_cameras",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "events",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_camera_id_id", "events", ["camera_id", "id"])
    op.create_index("ix_events_event_type_id", "events", ["event_type", "id"])
    op.create_table(
        "schedules",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("days", sa.JSON, nullable=False),
        sa.Column("time_start", sa.String(5), nullable=False),
        sa.Column("time_end", sa.String(5), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name="fk_schedules_camera_id_cameras",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_schedules_camera_id", "schedules", ["camera_id"])


def downgrade() -> None:
    op.drop_table("schedules")
    op.drop_index("ix_events_event_type_id", table_name="events")
    op.drop_index("ix_events_camera_id_id", table_name="events")
    op.drop_table("events")
    op.drop_table("camera_status")
