"""add the claim index (status, available_at, id) on render_jobs and publish_queue

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03

The hand-rolled migration 3. A claim picks `status IN (...) AND available_at <= ? ORDER BY available_at, id
LIMIT n`; with this index both databases walk the queued rows in that order and stop at the first they can
take, instead of reading and sorting every queued row on every claim.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

QUEUES = ("render_jobs", "publish_queue")


def upgrade() -> None:
    for table in QUEUES:
        op.create_index(f"ix_{table}_claim", table, ["status", "available_at", "id"])


def downgrade() -> None:
    for table in QUEUES:
        op.drop_index(f"ix_{table}_claim", table_name=table)
