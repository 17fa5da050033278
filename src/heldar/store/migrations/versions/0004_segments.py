"""recordings index: segments and gaps.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from heldar.store.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("start_time", UtcDateTime(), nullable=False),
        sa.Column("end_time", UtcDateTime(), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("codec", sa.String(32), nullable=True),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("locked", sa.Boolean, nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=True),
        sa.Column("deleting", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_segments"),
        sa.UniqueConstraint("path", name="uq_segments_path"),
    )
    op.create_index("ix_segments_camera_id_start_time", "segments", ["camera_id", "start_time"])
    op.create_index("ix_segments_incident_id", "segments", ["incident_id"])
    op.create_table(
        "gaps",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("start_time", UtcDateTime(), nullable=False),
        sa.Column("end_time", UtcDateTime(), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gaps"),
    )
    op.create_index("ix_gaps_camera_id_start_time", "gaps", ["camera_id", "start_time"])


def downgrade() -> None:
    op.drop_index("ix_gaps_camera_id_start_time", table_name="gaps")
    op.drop_table("gaps")
    op.drop_index("ix_segments_incident_id", table_name="segments")
    op.drop_index("ix_segments_camera_id_start_time", table_name="segments")
    op.drop_table("segments")
