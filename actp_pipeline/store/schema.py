"""Tables of the operational store, as the code reads and writes them. Timestamps are naive UTC.

This is the schema at the head revision; the Alembic revisions in actp_pipeline.store.migrations create
it (a test holds the two equal). A change here is a new revision there.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

metadata = sa.MetaData()


def _queue_columns() -> list[sa.Column]:
    """Columns every pull queue shares: the claim/lease/token protocol of DESIGN section 4."""
    return [
        sa.Column("status", sa.String(16), nullable=False, index=True),
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


render_jobs = sa.Table(
    "render_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("variant_id", sa.String(64), nullable=False, unique=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("output_path", sa.Text),
    sa.Column("checksum", sa.String(64)),
    sa.Column("probe", sa.JSON),
    *_queue_columns(),
)

publish_queue = sa.Table(
    "publish_queue",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("variant_id", sa.String(64), nullable=False, index=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("account", sa.String(128), nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("scheduled_at", sa.DateTime, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("external_id", sa.String(200)),
    sa.Column("post_url", sa.Text),
    *_queue_columns(),
)

posts = sa.Table(
    "posts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("variant_id", sa.String(64), nullable=False, index=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("account", sa.String(128), nullable=False),
    sa.Column("external_id", sa.String(200), nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("live_at", sa.DateTime, nullable=False),
    sa.Column("posted_at", sa.DateTime, nullable=False),
    sa.Column("publish_item_id", sa.Integer),
)

# -- revision 0010 (was one row per variant until 0009): approvals per scope, as the original campaign platform had
# them (actp_pipeline/approvals). One row per (scope, subject): strategy (subject = the strategy's account key),
# content (a variant), schedule (a publish item id), ads (plan_id:ad account, bridged to ad_plan_approvals).
# `account` is the strategy key the row depends on (a strategy change sends its dependents to needs_review);
# `fingerprint` is the strategy it was decided under. Every decision is a row of approval_decisions.
approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("scope", sa.String(16), nullable=False),  # strategy | content | schedule | ads
    sa.Column("subject_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending | approved | rejected | needs_review
    sa.Column("variant_id", sa.String(64), index=True),  # content: the variant; schedule: the item's variant
    sa.Column("account", sa.String(128), index=True),
    sa.Column("round_id", sa.String(64)),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("quarantined", sa.Boolean, nullable=False, server_default=sa.false()),  # moderation said no
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decided_by", sa.String(128), nullable=False),
    sa.Column("decided_at", sa.DateTime, nullable=False),
    sa.Column("details", sa.JSON),  # strategy: the parts of its fingerprint
    sa.PrimaryKeyConstraint("scope", "subject_id", name="pk_approvals"),
)

# The approvals audit log: append-only, one row per decision (auto ones decided_by "auto:<rule>").
approval_decisions = sa.Table(
    "approval_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(200), nullable=False),
    sa.Column("from_status", sa.String(16)),  # None: a decision migrated from the per-variant table
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decided_at", sa.DateTime, nullable=False),
    sa.Column("fingerprint", sa.String(64)),
    sa.Index("ix_approval_decisions_subject", "scope", "subject_id"),
)

worker_heartbeats = sa.Table(
    "worker_heartbeats",
    metadata,
    sa.Column("worker_id", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("last_heartbeat", sa.DateTime, nullable=False),
    sa.Column("jobs_completed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("jobs_running", sa.Integer, nullable=False, server_default="0"),
    sa.Column("system_info", sa.JSON),
)

# -- revision 0002: shared publish throttling (actp_pipeline.publish.rate_limits, actp_pipeline.publish.circuit_breaker) ------
# Times in these tables are epoch seconds as doubles (not DateTime): the limiter and the breaker compare
# them with exact float arithmetic under an injected (possibly fake) clock, and a double round-trips
# unchanged on both SQLite and Postgres.

# One row per rate-limited key: its Retry-After block, and the row acquire() locks to serialise the
# check-and-record of one key across processes. account '*' is the platform-wide key.
rate_keys = sa.Table(
    "rate_keys",
    metadata,
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("account", sa.String(128), primary_key=True),
    sa.Column("blocked_until", sa.Double),
    sa.Column("block_reason", sa.Text),
    sa.Column("updated_at", sa.Double, nullable=False),
)

# One row per platform call that counted against the limits (a granted acquire()).
rate_events = sa.Table(
    "rate_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("account", sa.String(128), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Index("ix_rate_events_key_at", "platform", "account", "at"),
    sa.Index("ix_rate_events_platform_at", "platform", "at"),
)

# One circuit breaker per (platform, account); `version` makes every transition a conditional UPDATE.
circuit_breakers = sa.Table(
    "circuit_breakers",
    metadata,
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("account", sa.String(128), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),  # closed | open | half_open
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("successes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("open_s", sa.Double),
    sa.Column("opened_at", sa.Double),
    sa.Column("open_until", sa.Double),
    sa.Column("trial_token", sa.String(64)),
    sa.Column("trial_started_at", sa.Double),
    sa.Column("last_error", sa.Text),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.Double, nullable=False),
)

# -- revision 0003: the claim index of each queue. A claim picks `status IN (...) AND available_at <= ?
# ORDER BY available_at, id LIMIT n`; with this index Postgres and SQLite walk the queued rows in that order
# and stop at the first one they can take, instead of reading and sorting every queued row on every claim.
claim_indexes = [
    sa.Index(f"ix_{t.name}_claim", t.c.status, t.c.available_at, t.c.id) for t in (render_jobs, publish_queue)
]

# -- revision 0004: the ads orchestrator (step 8). Accounts and their goals are what the user configures;
# runs and actions are the audit log (the original's ads_automation_runs / ads_automation_actions): every
# plan (dry run) and every execution, each action with its status, reason, numbers, error and run id.
ad_accounts = sa.Table(
    "ad_accounts",
    metadata,
    sa.Column("account_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(200)),
    sa.Column("auto_execute", sa.Boolean, nullable=False, server_default=sa.false()),  # off by default
    sa.Column("global_daily_budget", sa.Double),  # None = the orchestrator's default
    sa.Column("max_daily_budget", sa.Double),
    sa.Column("auto_scale_winners", sa.Boolean),
    sa.Column("auto_pause_losers", sa.Boolean),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

ad_goals = sa.Table(
    "ad_goals",
    metadata,
    sa.Column("account_id", sa.String(128), primary_key=True),
    sa.Column("goal", sa.String(64), primary_key=True),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("core_signal", sa.String(128)),
    sa.Column("budget_cap", sa.Double),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

ads_automation_runs = sa.Table(
    "ads_automation_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("plan_id", sa.String(64), nullable=False, index=True),
    sa.Column("mode", sa.String(16), nullable=False),  # dry_run | execute
    sa.Column("trigger", sa.String(32), nullable=False),  # dagster | cli | test
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Column("as_of", sa.DateTime, nullable=False),  # the ad platform's clock when the plan was made
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.String(16), nullable=False),  # running | success | partial | failed
    sa.Column("accounts", sa.JSON, nullable=False),
    sa.Column("summary", sa.JSON),  # campaigns_created, winners_promoted, budgets_scaled, ad_sets_paused, ...
    sa.Column("errors_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("config", sa.JSON),
)

ads_automation_actions = sa.Table(
    "ads_automation_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("plan_id", sa.String(64), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),  # the action's place in its plan
    sa.Column("action_key", sa.String(96), unique=True),  # plan_id:seq on executed actions: never twice
    sa.Column("account_id", sa.String(128), nullable=False),
    sa.Column("goal", sa.String(64)),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("rule", sa.String(32)),
    sa.Column("target_id", sa.String(200)),
    sa.Column("variant_id", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),  # dry_run|blocked|error|pending|success|failed|skipped
    sa.Column("blocked_by", sa.String(64)),
    sa.Column("reason", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("params", sa.JSON),
    sa.Column("metrics", sa.JSON),
    sa.Column("result_id", sa.String(200)),  # the object an executed create/duplicate made
    sa.Column("error", sa.Text),
    sa.Column("at", sa.DateTime, nullable=False),  # the ad platform's clock
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Index("ix_ads_automation_actions_account_at", "account_id", "at"),
)

ad_plan_approvals = sa.Table(
    "ad_plan_approvals",
    metadata,
    sa.Column("plan_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(128), primary_key=True),
    sa.Column("approved_by", sa.String(128), nullable=False),
    sa.Column("approved_at", sa.DateTime, nullable=False),
)


# -- revision 0005: one executor per plan. An execution of a stored plan holds its plan's row (the run, who,
# since when) under a lease it extends action by action; a second execution finds the row and sends nothing.
# A crashed executor's row is taken over once its lease expired (or its process on this host is gone).
ads_plan_claims = sa.Table(
    "ads_plan_claims",
    metadata,
    sa.Column("plan_id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),  # the execution holding the plan
    sa.Column("claimed_by", sa.String(200), nullable=False),  # host:pid
    sa.Column("claimed_at", sa.DateTime, nullable=False),
    sa.Column("lease_expires_at", sa.DateTime, nullable=False),
)


# -- revision 0006: per-account OAuth tokens (actp_pipeline/accounts). Tokens are Fernet ciphertexts (the
# key is ACTP_TOKEN_KEY, never in the store); `version` is bumped by every write of new tokens and a
# refresh is claimed (refresh_claim, refresh_lease_until) so two workers never spend one refresh token.
# Expiries are naive UTC on the platform's clock as ACTP read it; None = the token does not expire.
account_tokens = sa.Table(
    "account_tokens",
    metadata,
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("account", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(24), nullable=False),  # connected | needs_reconnect | disconnected
    sa.Column("token_kind", sa.String(32), nullable=False),  # user | long_lived | system_user
    sa.Column("access_token", sa.Text),  # ciphertext
    sa.Column("refresh_token", sa.Text),  # ciphertext
    sa.Column("access_expires_at", sa.DateTime),
    sa.Column("refresh_expires_at", sa.DateTime),
    sa.Column("scope", sa.Text),
    sa.Column("external_id", sa.String(200)),  # TikTok open_id and the like (not a secret)
    sa.Column("token_url", sa.Text, nullable=False),  # where the tokens came from (and refresh goes)
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("refresh_claim", sa.String(64)),
    sa.Column("refresh_lease_until", sa.DateTime),
    sa.Column("last_error", sa.Text),  # what the platform said, never a token
    sa.Column("connected_at", sa.DateTime, nullable=False),
    sa.Column("refreshed_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


def utcnow() -> dt.datetime:
    """Now as the store keeps it: naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# -- revision 0007: attribution (actp_pipeline/hooks). One tracked link per post (its idempotency key),
# created in the transaction that records the post; the destination comes only from here. Clicks, page
# views and conversions are append-only events tied by click_id; a conversion's dedupe_key is unique (the
# same sale reported by the page, the server and the payment provider counts once). Webhook deliveries are
# queued with (provider, event_id) unique: a replay is answered and dropped, the work is done later.
links = sa.Table(
    "links",
    metadata,
    sa.Column("slug", sa.String(32), primary_key=True),
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),  # the post's
    sa.Column("variant_id", sa.String(64), nullable=False, index=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("account", sa.String(128), nullable=False),
    sa.Column("campaign", sa.String(128), nullable=False),
    sa.Column("destination", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # organic (a post's link) | paid (an ad's link, made by the ads executor; hooks/links.py)
    sa.Column("channel", sa.String(16), nullable=False, server_default="organic"),
)

clicks = sa.Table(
    "clicks",
    metadata,
    sa.Column("click_id", sa.String(32), primary_key=True),
    sa.Column("slug", sa.String(32), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("platform_click_id", sa.String(200)),  # fbclid / ttclid as the platform appended it
    sa.Column("referrer", sa.String(500)),
    sa.Column("user_agent", sa.String(300)),
    sa.Column("visitor", sa.String(32)),  # a salted hash of the address: repeat clicks, never the address
)

page_views = sa.Table(
    "page_views",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("click_id", sa.String(32), index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

conversions = sa.Table(
    "conversions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
    sa.Column("click_id", sa.String(32), index=True),
    sa.Column("event", sa.String(32), nullable=False),  # lead | signup | purchase | ...
    sa.Column("value", sa.Float),
    sa.Column("currency", sa.String(3)),
    sa.Column("source", sa.String(16), nullable=False),  # page | server | stripe
    sa.Column("at", sa.DateTime, nullable=False),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("provider", sa.String(16), nullable=False),  # stripe | meta | tiktok
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("event_type", sa.String(100)),
    sa.Column("payload", sa.Text, nullable=False),  # the verified raw body
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending | done | skipped | failed
    sa.Column("result", sa.Text),  # what processing did with it, or why not
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("processed_at", sa.DateTime),
    sa.UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event"),
)


# -- revision 0008: operations (actp_pipeline/alerts). One row per occurrence of a condition; `open_key` is
# the condition's key while open and NULL once resolved, so the unique constraint holds ONE open row per
# condition (NULLs never collide, on SQLite and Postgres): a repeat bumps count/last_seen; a condition back
# after its alert was resolved opens a new row. Webhook delivery per row; the webhook's URL is never stored.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False, index=True),  # the condition, e.g. worker_dead:w1
    sa.Column("open_key", sa.String(200), unique=True),  # = key while open, NULL once resolved
    sa.Column("kind", sa.String(32), nullable=False),  # run_failure | worker_dead | spend_pacing | ...
    sa.Column("severity", sa.String(16), nullable=False),  # critical | warning | info
    sa.Column("status", sa.String(16), nullable=False, index=True),  # open | resolved
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("details", sa.JSON),
    sa.Column("first_seen", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
    sa.Column("count", sa.Integer, nullable=False, server_default="1"),
    sa.Column("resolved_at", sa.DateTime),
    sa.Column("notified_at", sa.DateTime),  # the last webhook message that carried this alert
    sa.Column("notify_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_notify_error", sa.Text),  # what the webhook answered, never its URL
)

# Today's ads spend per (day, account, goal) as the alerts sensor last read it from the ad platform, with
# the day's plan (`planned`: the most daily budget running at any reading that day) and the cap; goal '*' =
# the account's total, account '*' = all.
ad_spend = sa.Table(
    "ad_spend",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),  # the platform's UTC day, YYYY-MM-DD
    sa.Column("account_id", sa.String(128), primary_key=True),
    sa.Column("goal", sa.String(64), primary_key=True),
    sa.Column("spend", sa.Double, nullable=False),
    sa.Column("planned", sa.Double),
    sa.Column("cap", sa.Double),
    sa.Column("as_of", sa.DateTime, nullable=False),  # the platform's clock at the reading
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


# -- revision 0011: the studio (actp_pipeline/studio). People who log in to the web page: an argon2 hash, never a
# password; failed logins counted per user with a lock until a time (the throttle survives a restart and holds
# across processes). Roles are per account key (an ad account or a round's account; "*" = every account):
# viewer < approver < admin. studio_audit is the studio's own append-only log of settings changes and logins;
# approvals stay in approval_decisions and plan approvals in ad_plan_approvals (decided_by = "studio:<user>").
studio_users = sa.Table(
    "studio_users",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("password_changed_at", sa.DateTime, nullable=False),
)

studio_roles = sa.Table(
    "studio_roles",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("account", sa.String(128), primary_key=True),  # "*" = every account
    sa.Column("role", sa.String(16), nullable=False),  # viewer | approver | admin
    sa.Column("granted_by", sa.String(64), nullable=False),
    sa.Column("granted_at", sa.DateTime, nullable=False),
)

studio_audit = sa.Table(
    "studio_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("action", sa.String(48), nullable=False),  # login | login_failed | settings | approve | reject | ...
    sa.Column("account", sa.String(128)),
    sa.Column("subject", sa.String(200)),
    sa.Column("reason", sa.Text),
    sa.Column("details", sa.JSON),
)
