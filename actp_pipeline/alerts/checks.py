"""One evaluation of the conditions against the store (and the frames the caller could read), synced to the
alert rows: what fires is raised, what was checked and no longer fires is resolved.

Worker liveness and circuit breakers are read here on every call (two small queries). The scores frame
and the spend reading are the caller's (a warehouse read, an ad-platform call): a kind whose input the
caller did not give this time is not judged, so its open alerts stay as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import duckdb
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.alerts.conditions import (
    CIRCUIT_OPEN,
    DEFAULT_RULES,
    RUN_FAILURE,
    SPEND_PACING,
    VELOCITY_OUTLIER,
    WORKER_DEAD,
    AlertRules,
    Candidate,
    dead_workers,
    open_breakers,
    spend_pacing,
    velocity_outliers,
)
from actp_pipeline.alerts.store import OPEN, resolve_many, sync
from actp_pipeline.store import schema
from actp_pipeline.store.clock import db_now
from actp_pipeline.store.warehouse import Warehouse

SCORE_COLUMNS = ["post_id", "variant_id", "platform", "account", "cell_window", "live_at", "last_snapshot_at",
                 "velocity"]


def store_conditions(engine: Engine, rules: AlertRules = DEFAULT_RULES) -> list[Candidate]:
    """Dead workers (on the database's clock, as the liveness sensor decides) and open circuit breakers."""
    w, b = schema.worker_heartbeats, schema.circuit_breakers
    with engine.connect() as conn:
        now = db_now(conn)
        workers = [dict(r) for r in conn.execute(sa.select(w).where(w.c.status.in_(("online", "offline")))).mappings()]
        breakers = [dict(r) for r in conn.execute(sa.select(b).where(b.c.state != "closed")).mappings()]
    return dead_workers(workers, now, rules) + open_breakers(breakers)


def evaluate(engine: Engine, *, scores: pd.DataFrame | None = None, spend: pd.DataFrame | None = None,
             spend_now: dt.datetime | None = None, rules: AlertRules = DEFAULT_RULES) -> dict[str, Any]:
    """Check every condition whose input is at hand and sync the alert rows; returns what fires (by kind)
    and what was resolved."""
    candidates = store_conditions(engine, rules)
    kinds = {WORKER_DEAD, CIRCUIT_OPEN}
    if scores is not None:
        candidates += velocity_outliers(scores, rules)
        kinds.add(VELOCITY_OUTLIER)
    if spend is not None and spend_now is not None:
        candidates += spend_pacing(spend, spend_now, rules)
        kinds.add(SPEND_PACING)
    done = sync(engine, candidates, kinds)
    by_kind: dict[str, int] = {}
    for c in candidates:
        by_kind[c.kind] = by_kind.get(c.kind, 0) + 1
    return {"checked": sorted(kinds), "firing": by_kind, "resolved": done["resolved"]}


def open_run_failures(engine: Engine) -> list[dict[str, Any]]:
    """(key, job, last_seen) of the open run-failure alerts: a later successful run of the job resolves one."""
    t = schema.alerts
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.key, t.c.details, t.c.last_seen)
                            .where(t.c.status == OPEN, t.c.kind == RUN_FAILURE)).mappings().all()
    return [{"key": r["key"], "job": (r["details"] or {}).get("job") or r["key"].partition(":")[2],
             "last_seen": r["last_seen"]} for r in rows]


def resolve_recovered(engine: Engine, keys: Iterable[str]) -> list[str]:
    keys = sorted(keys)
    resolve_many(engine, keys)
    return keys


def scores_if_changed(warehouse: Warehouse, seen: str | None) -> tuple[pd.DataFrame | None, str]:
    """(the `scores` table's columns the velocity check reads, its files' signature), or (None, signature)
    when the files are what `seen` says (nothing new to judge) or there are none."""
    try:
        files = warehouse.files("scores")
        signature = ";".join(f"{f.name}:{f.stat().st_mtime_ns}:{f.stat().st_size}" for f in files)
        if not files or signature == seen:
            return None, signature
        frame = warehouse.read("scores")
    except (FileNotFoundError, duckdb.IOException):  # a new version replaced the files meanwhile: next time
        return None, seen or ""
    return frame[[c for c in SCORE_COLUMNS if c in frame.columns]], signature
