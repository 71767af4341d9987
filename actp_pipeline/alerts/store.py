"""Alerts in the operational store: one OPEN row per condition key, raised by upsert, resolved by key.

`open_key` is the key while the alert is open and NULL once resolved; its unique constraint makes the
raise one INSERT ... ON CONFLICT (open_key) DO UPDATE on SQLite and Postgres: two processes raising the
same condition at once still leave one open row (count 2). Times are naive UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from actp_pipeline.ads.plan.report import json_safe
from actp_pipeline.alerts.conditions import SEVERITIES, Candidate
from actp_pipeline.store import schema

OPEN, RESOLVED = "open", "resolved"
MAX_MESSAGE = 2000
MAX_KEY = 200


def _upsert(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the store runs on SQLite or Postgres
        raise NotImplementedError(f"no upsert for {conn.dialect.name}")
    return insert


def _raise_one(conn: Connection, c: Candidate, now: dt.datetime) -> None:
    t = schema.alerts
    if c.severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {c.severity!r}")
    key = c.key[:MAX_KEY]
    stmt = _upsert(conn)(t).values(
        key=key, open_key=key, kind=c.kind, severity=c.severity, status=OPEN, message=c.message[:MAX_MESSAGE],
        details=json_safe(dict(c.details)), first_seen=now, last_seen=now, count=1, notify_attempts=0)
    conn.execute(stmt.on_conflict_do_update(index_elements=[t.c.open_key], set_={
        "count": t.c.count + 1, "last_seen": now, "message": stmt.excluded.message,
        "details": stmt.excluded.details, "severity": stmt.excluded.severity}))


def raise_alerts(engine: Engine, candidates: Iterable[Candidate], *, now: dt.datetime | None = None) -> int:
    """Raise every candidate (one transaction); returns how many were given."""
    now = now or schema.utcnow()
    n = 0
    with engine.begin() as conn:
        for c in candidates:
            _raise_one(conn, c, now)
            n += 1
    return n


def raise_alert(engine: Engine, key: str, kind: str, severity: str, message: str,
                details: Mapping[str, Any] | None = None, *, now: dt.datetime | None = None) -> int:
    """Open the alert of `key`, or bump the open one (count + 1, last_seen, the newest message and details);
    returns the open row's id."""
    raise_alerts(engine, [Candidate(key, kind, severity, message, dict(details or {}))], now=now)
    t = schema.alerts
    with engine.connect() as conn:
        return conn.execute(sa.select(t.c.id).where(t.c.open_key == key[:MAX_KEY])).scalar_one()


def resolve(engine: Engine, key: str, *, now: dt.datetime | None = None) -> bool:
    """Resolve the open alert of `key`; False when none is open."""
    return bool(resolve_many(engine, [key], now=now))


def resolve_many(engine: Engine, keys: Sequence[str], *, now: dt.datetime | None = None) -> int:
    t = schema.alerts
    if not keys:
        return 0
    with engine.begin() as conn:
        return conn.execute(t.update().where(t.c.open_key.in_(list(keys)))
                            .values(status=RESOLVED, open_key=None, resolved_at=now or schema.utcnow())).rowcount


def sync(engine: Engine, candidates: Sequence[Candidate], kinds: Iterable[str], *,
         now: dt.datetime | None = None) -> dict[str, Any]:
    """Raise every candidate; resolve the open alerts of the `kinds` that were checked and are no longer
    among the candidates (a kind not checked this time keeps its alerts as they are)."""
    now = now or schema.utcnow()
    kinds = set(kinds)
    raise_alerts(engine, candidates, now=now)
    firing = {c.key[:MAX_KEY] for c in candidates}
    t = schema.alerts
    with engine.connect() as conn:
        open_keys = conn.execute(sa.select(t.c.open_key).where(t.c.status == OPEN, t.c.kind.in_(kinds))).scalars().all()
    cleared = sorted(set(open_keys) - firing)
    resolve_many(engine, cleared, now=now)
    return {"firing": sorted(firing), "resolved": cleared}


def open_alerts(engine: Engine, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The open alerts, most severe then newest first."""
    t = schema.alerts
    q = sa.select(t).where(t.c.status == OPEN)
    if kinds is not None:
        q = q.where(t.c.kind.in_(list(kinds)))
    rank = sa.case({s: i for i, s in enumerate(SEVERITIES)}, value=t.c.severity, else_=len(SEVERITIES))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(rank, t.c.last_seen.desc(), t.c.id)).mappings()]


# -- delivery bookkeeping (notify.py) -------------------------------------------------------------------
def due(engine: Engine, now: dt.datetime, repeat_s: float) -> list[dict[str, Any]]:
    """Open alerts a message should carry: never sent, or sent more than `repeat_s` ago AND seen again
    since (a condition still firing is reminded of once per window, never more)."""
    t = schema.alerts
    before = now - dt.timedelta(seconds=repeat_s)
    q = sa.select(t).where(t.c.status == OPEN, sa.or_(
        t.c.notified_at.is_(None), sa.and_(t.c.notified_at <= before, t.c.last_seen > t.c.notified_at)))
    rank = sa.case({s: i for i, s in enumerate(SEVERITIES)}, value=t.c.severity, else_=len(SEVERITIES))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(rank, t.c.first_seen, t.c.id)).mappings()]


def record_delivery(engine: Engine, ids: Sequence[int], *, sent_at: dt.datetime | None, attempts: int,
                    error: str | None) -> None:
    """What one webhook message did for these alerts: sent (notified_at) or not (the error, no URL in it)."""
    t = schema.alerts
    if not ids:
        return
    values: dict[str, Any] = {"notify_attempts": t.c.notify_attempts + attempts, "last_notify_error": error}
    if sent_at is not None:
        values["notified_at"] = sent_at
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id.in_(list(ids))).values(**values))
