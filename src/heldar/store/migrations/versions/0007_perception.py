"""perception: AI tasks, the ingest outbox, detections and consumer cursors.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from heldar.store.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "ai_tasks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("task_type", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("stream_profile", sa.String(8), nullable=False),
        sa.Column("fps", sa.Float, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ai_tasks"),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name="fk_ai_tasks_camera_id_cameras", ondelete="CASCADE"
        ),
    )
    op.create_index(
        "ix_ai_tasks_camera_id_task_type",
        "ai_tasks",
        ["camera_id", "task_type", "stream_profile"],
        unique=True,
    )
    op.create_table(
        "ingest_batches",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("task_type", sa.String(64), nullable=False),
        sa.Column("frame_id", sa.String(128), nullable=True),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("detections", sa.Integer, nullable=False),
        sa.Column("event", sa.JSON, nullable=True),
        sa.Column("provenance", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_batches"),
    )
    op.create_index(
        "ix_ingest_batches_camera_id_frame_id",
        "ingest_batches",
        ["camera_id", "frame_id"],
        unique=True,
    )
    op.create_table(
        "detections",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("batch_id", _ID, nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("task_type", sa.String(64), nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
        sa.Column("w", sa.Float, nullable=False),
        sa.Column("h", sa.Float, nullable=False),
        sa.Column("track_id", sa.String(64), nullable=True),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_detections"),
    )
    op.create_index("ix_detections_batch_id", "detections", ["batch_id"], unique=False)
    op.create_index(
        "ix_detections_camera_id_timestamp", "detections", ["camera_id", "timestamp"], unique=False
    )
    op.create_table(
        "consumer_cursors",
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("last_batch_id", _ID, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name="pk_consumer_cursors"),
    )


def downgrade() -> None:
    op.drop_table("consumer_cursors")
    op.drop_index("ix_detections_camera_id_timestamp", table_name="detections")
    op.drop_index("ix_detections_batch_id", table_name="detections")
    op.drop_table("detections")
    op.drop_index("ix_ingest_batches_camera_id_frame_id", table_name="ingest_batches")
    op.drop_table("ingest_batches")
    op.drop_index("ix_ai_tasks_camera_id_task_type", table_name="ai_tasks")
    op.drop_table("ai_tasks")
