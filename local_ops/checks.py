"""Asset checks of the local code location: the render queue behind `renders` and the posts ledger behind `posts`.

Both warn only. Their followers live in the other code location and are fed through the store (the render
queue, the posts ledger), never through this location's runs, so a blocking check here would stop nothing;
the blocking gates are the main location's checks on variants (before renders) and post_metrics (after posts).
"""

import datetime as dt

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from actp_pipeline.store import schema
from actp_pipeline.store.invariants import duplicates, labels, later_than, negative
from actp_pipeline.store.queues import RENDER_STATUSES
from local_ops.posts import posts
from local_ops.renders import renders
from resources import StoreResource

MAX_SHOWN = 10  # offending rows named in the metadata
FUTURE_SKEW = dt.timedelta(minutes=5)  # two clocks never agree exactly (the main location's checks use the same)


def _rows(store: StoreResource, table: sa.Table, columns: list[str]) -> pd.DataFrame:
    with store.engine().connect() as conn:
        rows = conn.execute(sa.select(*[table.c[c] for c in columns])).mappings().all()
    return pd.DataFrame(rows, columns=columns)


def _clock(now: dt.datetime) -> dict[str, str]:
    return {"clock": "this check's clock (UTC)", "clock_now": now.isoformat(timespec="seconds")}


def _result(compared: dict, problems: dict[str, list[str]]) -> dg.AssetCheckResult:
    meta = dict(compared)
    for name, ids in problems.items():
        meta[name] = len(ids)
        if ids:
            meta[f"{name}_ids"] = dg.MetadataValue.json([str(i) for i in ids[:MAX_SHOWN]])
    return dg.AssetCheckResult(passed=not any(problems.values()), severity=dg.AssetCheckSeverity.WARN, metadata=meta)


@dg.asset_check(asset=renders, description=(
    "One render job per variant; attempts between 0 and the job's maximum; every succeeded job has its file and "
    f"checksum; no job created or updated after this check's clock (UTC, +{FUTURE_SKEW}: the store stamps jobs "
    "with its own clock). Warns only."))
def renders_queue_sane(store: StoreResource) -> dg.AssetCheckResult:
    jobs = _rows(store, schema.render_jobs, ["variant_id", "status", "attempts", "max_attempts", "output_path",
                                             "checksum", "created_at", "updated_at"])
    key = ["variant_id"]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    done = jobs["status"] == RENDER_STATUSES.done
    return _result({"jobs": len(jobs), **_clock(now)}, {
        "duplicate_variants": duplicates(jobs, key),
        "negative_attempts": negative(jobs, ["attempts"], key),
        "attempts_over_max": labels(jobs, jobs["attempts"] > jobs["max_attempts"], key) if len(jobs) else [],
        "succeeded_without_file": labels(jobs, done & (jobs["output_path"].isna() | jobs["checksum"].isna()), key)
        if len(jobs) else [],
        "future_jobs": later_than(jobs, ["created_at", "updated_at"], pd.Timestamp(now + FUTURE_SKEW), key),
    })


@dg.asset_check(asset=posts, description=(
    "One ledger row per idempotency key and per platform post (a post recorded twice would be measured twice); "
    f"no post recorded after this check's clock (UTC, +{FUTURE_SKEW}: the worker stamps posted_at with the "
    "store's clock; live_at is the platform's and may lie ahead for a scheduled post). Warns only."))
def posts_ledger_sane(store: StoreResource) -> dg.AssetCheckResult:
    ledger = _rows(store, schema.posts, ["idempotency_key", "platform", "account", "external_id", "posted_at"])
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return _result({"posts": len(ledger), **_clock(now)}, {
        "duplicate_keys": duplicates(ledger, ["idempotency_key"]),
        "duplicate_platform_posts": duplicates(ledger, ["platform", "external_id"]),
        "future_posts": later_than(ledger, ["posted_at"], pd.Timestamp(now + FUTURE_SKEW), ["idempotency_key"]),
    })
