"""The attribution tables of the operational store as frames: links, clicks, page views, conversions and the
posts ledger, read with SQLAlchemy Core in one connection, one query per table (no per-row queries).

Pending Stripe deliveries are turned into conversions first (hooks.events.process_webhooks), so a sale whose
webhook arrived while the hooks service was busy still counts.

Consistency: a conversion is stored only for a click that exists, and a click only for a link that exists.
The tables are read in the opposite order (conversions, page views, clicks, links, posts), so every
conversion read finds its click and every click its link even without a snapshot (SQLite's driver reads
each SELECT outside a transaction); on PostgreSQL the reads also share one REPEATABLE READ snapshot.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from actp_pipeline.hooks import events
from actp_pipeline.store import schema

WEBHOOK_BATCH = 500  # deliveries per process_webhooks call
MAX_WEBHOOK_BATCHES = 20  # per load; a larger backlog is finished by the next run (and the hooks service)

# the columns read from each table, in reading order (see the module doc)
READ: dict[str, tuple[sa.Table, list[str]]] = {
    "conversions": (schema.conversions, ["dedupe_key", "click_id", "event", "value", "currency", "source", "at"]),
    "page_views": (schema.page_views, ["click_id", "url", "at"]),
    "clicks": (schema.clicks, ["click_id", "slug", "at", "platform_click_id", "referrer", "user_agent", "visitor"]),
    "links": (schema.links, ["slug", "idempotency_key", "variant_id", "platform", "account", "campaign",
                             "destination", "created_at", "channel"]),
    "posts": (schema.posts, ["idempotency_key", "variant_id", "platform", "account", "external_id", "live_at"]),
}
_TIMES = {"at", "created_at", "live_at"}


@dataclass(frozen=True)
class FunnelTables:
    links: pd.DataFrame
    clicks: pd.DataFrame
    page_views: pd.DataFrame
    conversions: pd.DataFrame
    posts: pd.DataFrame
    webhooks: dict[str, int] = field(default_factory=dict)  # what process_webhooks did before the read


def process_pending_webhooks(engine: Engine, batch: int = WEBHOOK_BATCH,
                             max_batches: int = MAX_WEBHOOK_BATCHES) -> dict[str, int]:
    """Settle pending webhook deliveries in batches until fewer than a batch remain (or `max_batches`)."""
    total: Counter[str] = Counter({"processed": 0, "conversions": 0, "skipped": 0, "failed": 0})
    for _ in range(max_batches):
        counts = events.process_webhooks(engine, limit=batch)
        total.update(counts)
        if counts["processed"] < batch:
            break
    return dict(total)


def _frame(conn: Connection, table: sa.Table, columns: list[str]) -> pd.DataFrame:
    rows = conn.execute(sa.select(*[table.c[c] for c in columns])).all()
    df = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    for c in _TIMES & set(columns):
        df[c] = pd.to_datetime(df[c])
    if "value" in df:
        df["value"] = pd.to_numeric(df["value"], errors="coerce").astype(float)
    return df


def read_tables(engine: Engine) -> dict[str, pd.DataFrame]:
    """Every table of READ as a frame, in one connection (one snapshot on PostgreSQL)."""
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as conn:
        return {name: _frame(conn, table, columns) for name, (table, columns) in READ.items()}


def load_funnel(engine: Engine) -> FunnelTables:
    """Pending webhooks processed, then the funnel's tables read."""
    webhooks = process_pending_webhooks(engine)
    return FunnelTables(**read_tables(engine), webhooks=webhooks)
