"""auth: users, sessions, api_keys, login_throttle, and the append-only audit_log.

The audit log is protected by the store itself: triggers refuse every UPDATE, every DELETE except
of a prefix the anchor has already moved past (retention), any INSERT that is not an append, and
on PostgreSQL TRUNCATE. The anchor row may only move forward, onto an existing entry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from heldar.store.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
GENESIS_HASH = "0" * 64

_SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_log_prefix_delete_only BEFORE DELETE ON audit_log
    WHEN OLD.seq > (SELECT seq FROM audit_anchor WHERE id = 1)
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END""",
    """CREATE TRIGGER audit_log_append_only BEFORE INSERT ON audit_log
    WHEN NEW.seq <= COALESCE((SELECT MAX(seq) FROM audit_log),
                             (SELECT seq FROM audit_anchor WHERE id = 1))
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: out-of-order INSERT refused'); END""",
    """CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_anchor
    BEGIN SELECT RAISE(ABORT, 'audit_anchor cannot be deleted'); END""",
    """CREATE TRIGGER audit_anchor_forward_only BEFORE UPDATE ON audit_anchor
    WHEN NEW.id != OLD.id OR NEW.seq <= OLD.seq
      OR NOT EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq AND hash = NEW.hash)
    BEGIN SELECT RAISE(ABORT, 'audit_anchor only moves forward onto an existing entry'); END""",
]

_POSTGRES_TRIGGERS = [
    """CREATE FUNCTION heldar_audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' AND OLD.seq <= (SELECT seq FROM audit_anchor WHERE id = 1) THEN
        RETURN OLD;
      END IF;
      IF TG_OP = 'INSERT' AND NEW.seq > COALESCE((SELECT MAX(seq) FROM audit_log),
                                                 (SELECT seq FROM audit_anchor WHERE id = 1)) THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE INSERT OR UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION heldar_audit_log_guard()""",
    """CREATE FUNCTION heldar_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION heldar_audit_refuse()""",
    """CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE OR TRUNCATE ON audit_anchor
    FOR EACH STATEMENT EXECUTE FUNCTION heldar_audit_refuse()""",
    """CREATE FUNCTION heldar_audit_anchor_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.id = OLD.id AND NEW.seq > OLD.seq AND EXISTS (
          SELECT 1 FROM audit_log WHERE seq = NEW.seq AND hash = NEW.hash) THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit_anchor only moves forward onto an existing entry'
        USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE TRIGGER audit_anchor_forward_only BEFORE UPDATE ON audit_anchor
    FOR EACH ROW EXECUTE FUNCTION heldar_audit_anchor_guard()""",
]


_POSTGRES_FUNCTIONS = (
    "heldar_audit_log_guard",
    "heldar_audit_refuse",
    "heldar_audit_anchor_guard",
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("camera_ids", sa.JSON, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("password_changed_at", UtcDateTime(), nullable=False),
        sa.Column("last_login_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("client_addr", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sessions"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sessions_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "api_keys",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("capabilities", sa.JSON, nullable=False),
        sa.Column("camera_ids", sa.JSON, nullable=True),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("token_hash", name="uq_api_keys_token_hash"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_api_keys_created_by_users", ondelete="SET NULL"
        ),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttle"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("camera_id", sa.String(64), nullable=True),
        sa.Column("client_addr", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_ts", "audit_log", ["ts"])
    op.create_index("ix_audit_log_actor_seq", "audit_log", ["actor", "seq"])
    op.create_index("ix_audit_log_action_seq", "audit_log", ["action", "seq"])
    anchor = op.create_table(
        "audit_anchor",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_anchor"),
        sa.CheckConstraint("id = 1", name="ck_audit_anchor_one_row"),
    )
    op.bulk_insert(anchor, [{"id": 1, "seq": 0, "hash": GENESIS_HASH, "updated_at": _now()}])
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_TRIGGERS if dialect == "sqlite" else _POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE audit_anchor")
        op.execute("DROP TABLE audit_log")
        for function in _POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}()")
    else:
        op.drop_table("audit_anchor")
        op.drop_table("audit_log")
    op.drop_table("login_throttle")
    op.drop_table("api_keys")
    op.drop_index("ix_sessions_expires_at", table_name="sessions")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("users")


def _now() -> datetime:
    return datetime.now(UTC)
