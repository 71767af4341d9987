"""add links.channel: a tracked link is an organic post's or a paid ad's

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08

Step 9 of the loop (attribute) sees paid clicks apart from organic ones: when the ads executor creates an
ad for a variant it makes the ad its own tracked link (idempotency key "ad:<ads platform>:<account>:<variant>")
with channel 'paid'; every post's link is 'organic', the default, so the rows made before this revision keep
their meaning. Attribution splits clicks, conversions and revenue per creative by this column.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=False, server_default="organic"))


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("channel")
