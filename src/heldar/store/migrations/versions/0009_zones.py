"""zones: zone definitions, the events they emitted, and the engine's saved track state.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from heldar.store.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "zones",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("polygon", sa.JSON, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("dwell_seconds", sa.Float, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_zones"),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name="fk_zones_camera_id_cameras", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_zones_camera_id", "zones", ["camera_id"], unique=False)
    op.create_table(
        "zone_events",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("zone_id", _ID, nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("track_id", sa.String(64), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("dwell_seconds", sa.Float, nullable=True),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("segment_id", _ID, nullable=True),
        sa.Column("evidence", sa.String(512), nullable=True),
        sa.Column("batch_id", _ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_zone_events"),
    )
    op.create_index(
        "ix_zone_events_camera_id_timestamp",
        "zone_events",
        ["camera_id", "timestamp"],
        unique=False,
    )
    op.create_table(
        "zone_state",
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("last_batch_id", _ID, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name="pk_zone_state"),
    )


def downgrade() -> None:
    op.drop_table("zone_state")
    op.drop_index("ix_zone_events_camera_id_timestamp", table_name="zone_events")
    op.drop_table("zone_events")
    op.drop_index("ix_zones_camera_id", table_name="zones")
    op.drop_table("zones")
