"""cameras: the camera registry.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from heldar.store.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("address", sa.String(255), nullable=True),
        sa.Column("rtsp_port", sa.Integer, nullable=False),
        sa.Column("username", sa.String(255), nullable=True),
        sa.Column("password_enc", sa.Text, nullable=True),
        sa.Column("main_stream_url", sa.Text, nullable=False),
        sa.Column("sub_stream_url", sa.Text, nullable=True),
        sa.Column("record_stream", sa.String(8), nullable=False),
        sa.Column("record_enabled", sa.Boolean, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("record_mode", sa.String(20), nullable=False),
        sa.Column("segment_seconds", sa.Integer, nullable=False),
        sa.Column("retention_hours", sa.Integer, nullable=False),
        sa.Column("pre_roll_seconds", sa.Integer, nullable=False),
        sa.Column("post_roll_seconds", sa.Integer, nullable=False),
        sa.Column("record_audio", sa.Boolean, nullable=False),
        sa.Column("mirror_enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cameras"),
    )


def downgrade() -> None:
    op.drop_table("cameras")
