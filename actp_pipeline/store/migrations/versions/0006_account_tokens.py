"""add account_tokens: per-account OAuth tokens, encrypted, with a refresh claim

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

One row per (platform, account): the access and refresh tokens as Fernet ciphertexts (the key lives in
ACTP_TOKEN_KEY, never in the store), their expiries, the connection's status (connected, needs_reconnect,
disconnected) and the refresh claim: a worker that refreshes sets refresh_claim under a short lease and
writes the new tokens only while it holds it, so a rotating refresh token is never spent twice. Times are
naive UTC.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_tokens",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("token_kind", sa.String(32), nullable=False),
        sa.Column("access_token", sa.Text),
        sa.Column("refresh_token", sa.Text),
        sa.Column("access_expires_at", sa.DateTime),
        sa.Column("refresh_expires_at", sa.DateTime),
        sa.Column("scope", sa.Text),
        sa.Column("external_id", sa.String(200)),
        sa.Column("token_url", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("refresh_claim", sa.String(64)),
        sa.Column("refresh_lease_until", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("connected_at", sa.DateTime, nullable=False),
        sa.Column("refreshed_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_tokens")
