"""Measure: snapshots of every post's metrics, pulled from the platform in batches.

Each collection is an immutable table of snapshots (one row per post) stamped with the platform's
clock; the time series is the union of all collections.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.platforms import Platform, parse_time
from actp_pipeline.store import schema

METRIC_COLUMNS = ["views", "likes", "comments", "shares", "saves", "watch_time_s", "followers_gained"]
SNAPSHOT_COLUMNS = ["post_id", "idempotency_key", "variant_id", "platform", "account", "live_at", "snapshot_at",
                    "age_h", *METRIC_COLUMNS]


def posts_ledger(engine: Engine) -> pd.DataFrame:
    t = schema.posts
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.external_id.label("post_id"), t.c.idempotency_key, t.c.variant_id,
                                      t.c.platform, t.c.account, t.c.live_at, t.c.url)).mappings().all()
    return pd.DataFrame(rows, columns=["post_id", "idempotency_key", "variant_id", "platform", "account", "live_at", "url"])


def collect_snapshots(ledger: pd.DataFrame, platform: Platform) -> tuple[pd.DataFrame, list[str]]:
    """One snapshot per live post; returns (snapshots, ids the platform does not know)."""
    if ledger.empty:
        return pd.DataFrame(columns=SNAPSHOT_COLUMNS), []
    answer = platform.metrics(ledger["post_id"].tolist())
    got = pd.DataFrame(answer["items"])
    if got.empty:
        return pd.DataFrame(columns=SNAPSHOT_COLUMNS), list(answer["unknown"])
    if "status" in got:
        got = got[got["status"] != "scheduled"]
    snap = ledger.drop(columns=["url"]).merge(got, on="post_id", how="inner")
    snap["snapshot_at"] = parse_time(answer["as_of"])
    snap["live_at"] = pd.to_datetime(snap["live_at"])
    snap["age_h"] = (snap["snapshot_at"] - snap["live_at"]).dt.total_seconds() / 3600.0
    for c in METRIC_COLUMNS:
        values = pd.to_numeric(snap[c], errors="coerce").fillna(0) if c in snap else 0  # not every platform reports every metric
        snap[c] = pd.Series(values, index=snap.index).astype("int64" if c != "watch_time_s" else "float64")
    return snap[SNAPSHOT_COLUMNS].reset_index(drop=True), list(answer["unknown"])
