"""snapshots: periodic snapshot schedules and the stills they took.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from heldar.store.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "snapshot_schedules",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("interval_seconds", sa.Integer, nullable=False),
        sa.Column("keep_hours", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("last_taken_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_snapshot_schedules"),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name="fk_snapshot_schedules_camera_id_cameras",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_snapshot_schedules_camera_id", "snapshot_schedules", ["camera_id"], unique=False
    )
    op.create_table(
        "snapshots",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("schedule_id", _ID, nullable=True),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("taken_at", UtcDateTime(), nullable=False),
        sa.Column("frame_at", UtcDateTime(), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name="fk_snapshots_camera_id_cameras",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["snapshot_schedules.id"],
            name="fk_snapshots_schedule_id_snapshot_schedules",
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("path", name="uq_snapshots_path"),
    )
    op.create_index(
        "ix_snapshots_camera_id_taken_at", "snapshots", ["camera_id", "taken_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_snapshots_camera_id_taken_at", table_name="snapshots")
    op.drop_table("snapshots")
    op.drop_index("ix_snapshot_schedules_camera_id", table_name="snapshot_schedules")
    op.drop_table("snapshot_schedules")
