"""add approval scopes (strategy, content, schedule, ads) and the approval_decisions audit log

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Approvals as the original campaign platform had them (actp_pipeline/approvals): one row per (scope, subject)
with its state (pending, approved, rejected, needs_review) and the strategy it depends on, and every decision in
`approval_decisions` (who, why, when, from-state, to-state). The per-variant `approvals` rows of revisions
0001-0009 are kept: each becomes a content-scope row (subject = its variant) with its status, reason, decider and
time, and its decision is copied into the audit log; a moderation rejection stays quarantined.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _scopes_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("variant_id", sa.String(64)),
        sa.Column("account", sa.String(128)),
        sa.Column("round_id", sa.String(64)),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("quarantined", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
        sa.Column("details", sa.JSON),
        sa.PrimaryKeyConstraint("scope", "subject_id", name="pk_approvals"),
    )


def _indexes(table: str) -> None:
    op.create_index("ix_approvals_status", table, ["status"])
    op.create_index("ix_approvals_variant_id", table, ["variant_id"])
    op.create_index("ix_approvals_account", table, ["account"])


def upgrade() -> None:
    # a new table under a temporary name, the rows copied, the old one dropped, the new one renamed: the same
    # steps on SQLite and Postgres, and the primary key changes from (variant_id) to (scope, subject_id)
    _scopes_table("approvals_0010")
    op.create_table(
        "approval_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
        sa.Column("fingerprint", sa.String(64)),
    )
    op.create_index("ix_approval_decisions_subject", "approval_decisions", ["scope", "subject_id"])
    op.execute(
        "INSERT INTO approvals_0010 (scope, subject_id, status, variant_id, quarantined, reason, decided_by, "
        "decided_at) SELECT 'content', variant_id, status, variant_id, "
        "CASE WHEN status = 'rejected' AND decided_by = 'moderation-rules' THEN TRUE ELSE FALSE END, "
        "reason, decided_by, decided_at FROM approvals")
    op.execute(
        "INSERT INTO approval_decisions (scope, subject_id, from_status, to_status, decided_by, reason, decided_at) "
        "SELECT 'content', variant_id, NULL, status, decided_by, reason, decided_at FROM approvals "
        "ORDER BY decided_at, variant_id")
    op.drop_table("approvals")
    op.rename_table("approvals_0010", "approvals")
    _indexes("approvals")


def downgrade() -> None:
    """Back to one row per variant: the content scope's rows (other scopes have no place there)."""
    op.create_table(
        "approvals_0009",
        sa.Column("variant_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
    )
    op.execute(
        "INSERT INTO approvals_0009 (variant_id, status, reason, decided_by, decided_at) "
        "SELECT subject_id, CASE WHEN status = 'needs_review' THEN 'pending' ELSE status END, reason, decided_by, "
        "decided_at FROM approvals WHERE scope = 'content'")
    op.drop_table("approval_decisions")
    op.drop_table("approvals")
    op.rename_table("approvals_0009", "approvals")
