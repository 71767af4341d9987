"""What waits on approvals and moves once they are given: renders of newly approved content, and publish
items the publish gate held back. The approvals sensor calls these when the audit log has new decisions."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.approvals.gate import HELD, refusal, states
from actp_pipeline.store import schema
from actp_pipeline.store.clock import now_sql
from actp_pipeline.store.queues import PUBLISH_STATUSES, render_queue
from actp_pipeline.store.schema import utcnow


def queue_approved_renders(engine: Engine, variants: pd.DataFrame, platform: str | None) -> int:
    """Queue renders for variants (the warehouse's `variants` rows) whose content and strategy are approved now
    and that have no render job yet; returns how many were queued."""
    from actp_pipeline.generate.round_record import render_jobs, renderable

    if variants is None or variants.empty:
        return 0
    rj = schema.render_jobs
    with engine.connect() as conn:
        ok = renderable(conn, variants["variant_id"].tolist())
        done = set(conn.execute(sa.select(rj.c.variant_id).where(rj.c.variant_id.in_(ok))).scalars()) if ok else set()
    todo = variants[variants["variant_id"].isin(ok - done)]
    return render_queue(engine).enqueue(render_jobs(todo, platform), unique_column="variant_id") if len(todo) else 0


def release_held(engine: Engine) -> int:
    """Publish items the gate held back whose scopes are all approved now become claimable at once (instead of
    at their next re-check); returns how many. "At once" is on the database's clock, the one claims compare
    with (store/clock.py): this process's clock, microseconds ahead of SQLite's milliseconds or skewed from a
    PostgreSQL server's, would leave the item unclaimable for a moment or for the skew."""
    pq = schema.publish_queue
    with engine.connect() as conn:  # one connection for the scan and every item's states (not one per item)
        held = conn.execute(sa.select(pq.c.id, pq.c.variant_id).where(
            pq.c.status == PUBLISH_STATUSES.queued, pq.c.last_error.like(f"{HELD}%"))).all()
        ready = [item_id for item_id, vid in held if refusal(states(conn, vid, item_id)) is None]
    if ready:
        with engine.begin() as conn:
            conn.execute(pq.update().where(pq.c.id.in_(ready), pq.c.status == PUBLISH_STATUSES.queued)
                         .values(available_at=now_sql(engine.dialect.name), last_error=None, updated_at=utcnow()))
    return len(ready)
