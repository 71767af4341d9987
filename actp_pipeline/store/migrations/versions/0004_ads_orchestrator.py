"""add the ads orchestrator: ad_accounts, ad_goals, ad_plan_approvals and the audit log (runs, actions)

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04

The hand-rolled migration 4. Accounts and goals are what the user configures; ads_automation_runs and
ads_automation_actions are the audit log: every plan (dry run) and execution, each action with its status,
reason, numbers, error and run id. Times of the ad platform's clock are naive UTC.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _accounts_goals_approvals() -> None:
    op.create_table(
        "ad_accounts",
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(200)),
        sa.Column("auto_execute", sa.Boolean, nullable=False, server_default=sa.false()),  # off by default
        sa.Column("global_daily_budget", sa.Double),  # None = the orchestrator's default
        sa.Column("max_daily_budget", sa.Double),
        sa.Column("auto_scale_winners", sa.Boolean),
        sa.Column("auto_pause_losers", sa.Boolean),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "ad_goals",
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("goal", sa.String(64), primary_key=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("core_signal", sa.String(128)),
        sa.Column("budget_cap", sa.Double),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "ad_plan_approvals",
        sa.Column("plan_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("approved_by", sa.String(128), nullable=False),
        sa.Column("approved_at", sa.DateTime, nullable=False),
    )


def _automation_runs() -> None:
    op.create_table(
        "ads_automation_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("plan_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),  # dry_run | execute
        sa.Column("trigger", sa.String(32), nullable=False),  # dagster | cli | test
        sa.Column("dagster_run_id", sa.String(64)),
        sa.Column("as_of", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),  # running | success | partial | failed
        sa.Column("accounts", sa.JSON, nullable=False),
        sa.Column("summary", sa.JSON),
        sa.Column("errors_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("config", sa.JSON),
    )
    op.create_index("ix_ads_automation_runs_plan_id", "ads_automation_runs", ["plan_id"])


def _automation_actions() -> None:
    op.create_table(
        "ads_automation_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("plan_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("action_key", sa.String(96), unique=True),  # plan_id:seq on executed actions: never twice
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("goal", sa.String(64)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(32)),
        sa.Column("target_id", sa.String(200)),
        sa.Column("variant_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("blocked_by", sa.String(64)),
        sa.Column("reason", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("params", sa.JSON),
        sa.Column("metrics", sa.JSON),
        sa.Column("result_id", sa.String(200)),
        sa.Column("error", sa.Text),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
    )
    op.create_index("ix_ads_automation_actions_account_at", "ads_automation_actions", ["account_id", "at"])
    op.create_index("ix_ads_automation_actions_run_id", "ads_automation_actions", ["run_id"])


def upgrade() -> None:
    _accounts_goals_approvals()
    _automation_runs()
    _automation_actions()


def downgrade() -> None:
    for table in ("ads_automation_actions", "ads_automation_runs", "ad_plan_approvals", "ad_goals", "ad_accounts"):
        op.drop_table(table)
