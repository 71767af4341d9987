"""Approval rows and their audit log: create, move through the state machine, list what waits.

Every move is one conditional UPDATE (`... WHERE status = <the state it was read in>`) plus its row in
`approval_decisions` in the same transaction, so two people deciding at once cannot both win and no decision
is ever missing from the log (the pattern of the ads audit log: actp_pipeline/ads/audit.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from actp_pipeline.approvals.states import (OPEN, PENDING, ApprovalError, check_scope, check_transition)
from actp_pipeline.store import schema
from actp_pipeline.store.engine import insert_or_ignore
from actp_pipeline.store.schema import utcnow

T, LOG = schema.approvals, schema.approval_decisions
LIST_COLUMNS = ["scope", "subject_id", "status", "variant_id", "account", "round_id", "reason", "decided_by",
                "decided_at"]


def get(conn: Connection, scope: str, subject_id: str) -> dict[str, Any] | None:
    """The row of (scope, subject), or None."""
    row = conn.execute(sa.select(T).where(T.c.scope == scope, T.c.subject_id == str(subject_id))).mappings().first()
    return dict(row) if row else None


def create(conn: Connection, rows: Sequence[dict[str, Any]], *, by: str, reason: str) -> int:
    """Insert pending rows for subjects that have none (existing rows keep their state); returns how many."""
    if not rows:
        return 0
    now = utcnow()
    base = {"status": PENDING, "reason": reason, "decided_by": by, "decided_at": now, "quarantined": False}
    stmt = insert_or_ignore(conn.dialect.name, T, on=["scope", "subject_id"]).returning(T.c.subject_id)
    return len(conn.execute(stmt, [{**base, **r} for r in rows]).all())


def move(conn: Connection, rows: Iterable[dict[str, Any]], to_status: str, *, by: str, reason: str,
         fingerprint: str | None = None, strict: bool = True) -> list[dict[str, Any]]:
    """Move each row (as read: scope, subject_id, status) to `to_status`, audited; returns the rows moved.

    `strict`: an illegal move raises IllegalTransition; else it is skipped (bulk moves such as a cascade).
    A row whose state changed since it was read is skipped (someone else decided first)."""
    now, moved = utcnow(), []
    for row in rows:
        try:
            check_transition(row["scope"], row["subject_id"], row["status"], to_status)
        except ApprovalError:
            if strict:
                raise
            continue
        values = {"status": to_status, "reason": reason, "decided_by": by, "decided_at": now}
        if fingerprint is not None:
            values["fingerprint"] = fingerprint
        done = conn.execute(T.update().where(T.c.scope == row["scope"], T.c.subject_id == row["subject_id"],
                                             T.c.status == row["status"]).values(**values))
        if done.rowcount != 1:
            if strict:
                raise ApprovalError(f"{row['scope']} {row['subject_id']} changed while it was being decided; "
                                    "look again (`actp approve list`)")
            continue
        moved.append({**row, **values, "from_status": row["status"]})
    if moved:
        conn.execute(LOG.insert(), [
            {"scope": m["scope"], "subject_id": m["subject_id"], "from_status": m["from_status"], "to_status": to_status,
             "decided_by": by, "reason": reason, "decided_at": now, "fingerprint": m.get("fingerprint")}
            for m in moved])
    return moved


def decide_scope(engine: Engine, scope: str, subject_id: str, to_status: str, *, by: str,
                 reason: str) -> dict[str, Any]:
    """A person's decision on one subject of a scope kept in this table (all but ads: see approvals.decide);
    returns the row as it is now. Clear errors: an unknown subject (ApprovalError), a forbidden move
    (IllegalTransition)."""
    with engine.begin() as conn:
        row = get(conn, scope, subject_id)
        if row is None:
            raise ApprovalError(f"no {scope} approval for {subject_id!r} (see `actp approve list --scope {scope}`)")
        move(conn, [row], to_status, by=by, reason=reason)
        return get(conn, scope, subject_id)


def pending(engine: Engine, scope: str | None = None, status: str | None = None) -> pd.DataFrame:
    """What waits for a decision (pending and needs_review), or every row in `status`; oldest first."""
    q = sa.select(*[T.c[c] for c in LIST_COLUMNS]).order_by(T.c.decided_at, T.c.scope, T.c.subject_id)
    q = q.where(T.c.status == status) if status else q.where(T.c.status.in_(OPEN))
    if scope:
        q = q.where(T.c.scope == check_scope(scope))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=LIST_COLUMNS)


def counts(engine: Engine) -> dict[str, dict[str, int]]:
    """Rows per scope and state, e.g. {"content": {"approved": 40, "rejected": 2}}."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(T.c.scope, T.c.status, sa.func.count()).group_by(T.c.scope, T.c.status)).all()
    out: dict[str, dict[str, int]] = {}
    for scope, status, n in rows:
        out.setdefault(scope, {})[status] = int(n)
    return out


def history(engine: Engine, scope: str | None = None, subject_id: str | None = None,
            after_id: int = 0, limit: int = 1000) -> pd.DataFrame:
    """The audit log, oldest first: every decision after id `after_id` (of one subject if given)."""
    q = sa.select(LOG).where(LOG.c.id > after_id).order_by(LOG.c.id).limit(limit)
    if scope:
        q = q.where(LOG.c.scope == scope)
    if subject_id is not None:
        q = q.where(LOG.c.subject_id == str(subject_id))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=[c.name for c in LOG.columns])
