"""add the render and publish queues, the posts ledger, approvals and worker heartbeats

Revision ID: 0001
Revises:
Create Date: 2025-01-01

The first schema of the operational store (the hand-rolled migration 1). Frozen: later changes are new
revisions, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _queue_columns() -> list[sa.Column]:
    """Columns every pull queue shares: the claim/lease/token protocol of DESIGN section 4."""
    return [
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer, nullable=False, server_default="3"),
        sa.Column("available_at", sa.DateTime, nullable=False),
        sa.Column("claim_token", sa.String(64)),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("lease_expires_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    ]


def _queues() -> None:
    op.create_table(
        "render_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("variant_id", sa.String(64), nullable=False, unique=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("output_path", sa.Text),
        sa.Column("checksum", sa.String(64)),
        sa.Column("probe", sa.JSON),
        *_queue_columns(),
    )
    op.create_index("ix_render_jobs_status", "render_jobs", ["status"])
    op.create_table(
        "publish_queue",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("variant_id", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("scheduled_at", sa.DateTime, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("external_id", sa.String(200)),
        sa.Column("post_url", sa.Text),
        *_queue_columns(),
    )
    op.create_index("ix_publish_queue_status", "publish_queue", ["status"])
    op.create_index("ix_publish_queue_variant_id", "publish_queue", ["variant_id"])


def _posts_approvals_heartbeats() -> None:
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("variant_id", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("live_at", sa.DateTime, nullable=False),
        sa.Column("posted_at", sa.DateTime, nullable=False),
        sa.Column("publish_item_id", sa.Integer),
    )
    op.create_index("ix_posts_variant_id", "posts", ["variant_id"])
    op.create_table(
        "approvals",
        sa.Column("variant_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(128), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("last_heartbeat", sa.DateTime, nullable=False),
        sa.Column("jobs_completed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("jobs_running", sa.Integer, nullable=False, server_default="0"),
        sa.Column("system_info", sa.JSON),
    )


def upgrade() -> None:
    _queues()
    _posts_approvals_heartbeats()


def downgrade() -> None:
    for table in ("worker_heartbeats", "approvals", "posts", "publish_queue", "render_jobs"):
        op.drop_table(table)  # its indexes go with it
