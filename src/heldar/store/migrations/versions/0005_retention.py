"""retention: the persisted retention settings row and an optional per-camera byte quota.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from heldar.store.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_settings",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("max_recordings_gb", sa.Float, nullable=True),
        sa.Column("min_free_disk_gb", sa.Float, nullable=False),
        sa.Column("guard_max_share", sa.Float, nullable=False),
        sa.Column("interval_s", sa.Float, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retention_settings"),
        sa.CheckConstraint("id = 1", name="ck_retention_settings_one_row"),
    )
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("retention_quota_gb", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("retention_quota_gb")
    op.drop_table("retention_settings")
