"""add links, clicks, page_views, conversions, webhook_events: the hooks service's tables

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Step 9 of the loop (attribute): one tracked link per post, the clicks its redirect records before it
answers, page views and conversions tied to a click id (a conversion counted once per dedupe key), and
signed webhook deliveries queued once per (provider, event id). Times are naive UTC.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("slug", sa.String(32), primary_key=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("variant_id", sa.String(64), nullable=False, index=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("campaign", sa.String(128), nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "clicks",
        sa.Column("click_id", sa.String(32), primary_key=True),
        sa.Column("slug", sa.String(32), nullable=False, index=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("platform_click_id", sa.String(200)),
        sa.Column("referrer", sa.String(500)),
        sa.Column("user_agent", sa.String(300)),
        sa.Column("visitor", sa.String(32)),
    )
    op.create_table(
        "page_views",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("click_id", sa.String(32), index=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "conversions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
        sa.Column("click_id", sa.String(32), index=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("currency", sa.String(3)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(100)),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("result", sa.Text),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("processed_at", sa.DateTime),
        sa.UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event"),
    )


def downgrade() -> None:
    for table in ("webhook_events", "conversions", "page_views", "clicks", "links"):
        op.drop_table(table)
