"""Tables of the operational store and their versioned migrations.

Each migration is a list of tables it creates (or DDL it runs); `migrate` applies the ones a database
has not seen yet, under a lock row, and records them in `schema_version`. Timestamps are naive UTC.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime, nullable=False),
    sa.Column("description", sa.String(200), nullable=False),
)


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

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("variant_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # approved | rejected | pending
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decided_by", sa.String(128), nullable=False),
    sa.Column("decided_at", sa.DateTime, nullable=False),
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

# -- version 2: shared publish throttling (actp_pipeline.rate_limits, actp_pipeline.circuit_breaker) ------
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

# -- version 3: the claim index of each queue. A claim picks `status IN (...) AND available_at <= ?
# ORDER BY available_at, id LIMIT n`; with this index Postgres and SQLite walk the queued rows in that order
# and stop at the first one they can take, instead of reading and sorting every queued row on every claim.
claim_indexes = [
    sa.Index(f"ix_{t.name}_claim", t.c.status, t.c.available_at, t.c.id) for t in (render_jobs, publish_queue)
]

# version -> (description, tables (or indexes) created by it)
MIGRATIONS: dict[int, tuple[str, list[sa.Table | sa.Index]]] = {
    1: (
        "queues, posts ledger, approvals, worker heartbeats",
        [render_jobs, publish_queue, posts, approvals, worker_heartbeats],
    ),
    2: (
        "shared rate limits (rate_keys, rate_events) and circuit breakers",
        [rate_keys, rate_events, circuit_breakers],
    ),
    3: ("claim index on each queue (status, available_at, id)", claim_indexes),
}
SCHEMA_VERSION = max(MIGRATIONS)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def current_version(engine: Engine) -> int:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_version"):
            return 0
        return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0


def migrate(engine: Engine) -> int:
    """Bring the database to SCHEMA_VERSION; safe to call from several processes at once."""
    try:
        schema_version.create(engine, checkfirst=True)
    except sa.exc.DatabaseError:
        # another process created it between our check and our CREATE
        if not sa.inspect(engine).has_table("schema_version"):
            raise
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(884271)"))
        else:
            conn.exec_driver_sql("SELECT 1")  # the DDL below takes SQLite's write lock for the transaction
        done = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
        if done > SCHEMA_VERSION:
            raise RuntimeError(
                f"the store at {engine.url!r} is at schema version {done}, newer than this code "
                f"({SCHEMA_VERSION}); upgrade ACTP"
            )
        for version in sorted(v for v in MIGRATIONS if v > done):
            description, tables = MIGRATIONS[version]
            for obj in tables:  # a table, or an index on a table an earlier version created
                obj.create(conn, checkfirst=True)
            conn.execute(
                schema_version.insert().values(version=version, applied_at=utcnow(), description=description)
            )
    return SCHEMA_VERSION
