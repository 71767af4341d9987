"""add the studio: users with argon2 hashes, roles per account, the studio's audit log

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

The web page growth teams use (actp_pipeline/studio) logs people in. A user row holds an argon2 hash and the
login throttle's state (failed count, locked until), so the throttle holds across processes and restarts.
Roles are per account key with "*" for every account. studio_audit keeps settings changes and logins; approval
decisions keep going to approval_decisions with decided_by "studio:<user>".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studio_users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("password_changed_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "studio_roles",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("granted_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "studio_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("account", sa.String(128)),
        sa.Column("subject", sa.String(200)),
        sa.Column("reason", sa.Text),
        sa.Column("details", sa.JSON),
    )
    op.create_index("ix_studio_audit_at", "studio_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_studio_audit_at", table_name="studio_audit")
    op.drop_table("studio_audit")
    op.drop_table("studio_roles")
    op.drop_table("studio_users")
