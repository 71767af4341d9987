"""One executor per ads plan: a claim in the store, held under a lease.

Why: the approvals sensor and eager automation may both start `ad_actions` for one stored plan; two
executions at once would both send it (and race on the action keys). So an execution first claims its
plan: one atomic INSERT ... ON CONFLICT DO NOTHING of the plan's row (SQLite and PostgreSQL). Whoever
finds the row taken sends nothing and says who holds it. The holder extends its lease before each action
and releases the row at the end; a holder whose lease ran out, or whose process on this host is gone (a
kill -9), is taken over by one conditional UPDATE on the run id it held, so a crashed execution's plan is
resumed (its pending actions reconciled) instead of being locked forever. A holder that lost its row
(its lease was taken over) learns it at its next extension and stops sending.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.store import schema
from actp_pipeline.store.clock import db_now, now_sql
from actp_pipeline.store.engine import insert_ignoring_conflict

LEASE_S = 600.0  # longer than any one action (a few HTTP calls with their timeouts); extended per action
ATTEMPTS = 3


@dataclass(frozen=True)
class Holder:
    """The execution that holds a plan."""

    run_id: str
    claimed_by: str
    claimed_at: dt.datetime
    lease_expires_at: dt.datetime

    def reason(self, plan_id: str) -> str:
        return (f"another execution of plan {plan_id} is running (run {self.run_id} since "
                f"{self.claimed_at:%Y-%m-%d %H:%M:%S} UTC, on {self.claimed_by}, its lease runs to "
                f"{self.lease_expires_at:%H:%M:%S} UTC); this one sent nothing")


def this_process() -> str:
    return f"{socket.gethostname()[:150]}:{os.getpid()}"


def _gone(claimed_by: str) -> bool:
    """Whether the holder is a process of this host that no longer runs (then its lease means nothing)."""
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname()[:150] or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


def holder(engine: Engine, plan_id: str) -> Holder | None:
    t = schema.ads_plan_claims
    with engine.connect() as conn:
        r = conn.execute(sa.select(t).where(t.c.plan_id == plan_id)).mappings().first()
    return None if r is None else Holder(r["run_id"], r["claimed_by"], r["claimed_at"], r["lease_expires_at"])


def claim(engine: Engine, plan_id: str, run_id: str, lease_s: float = LEASE_S) -> Holder | None:
    """Claim the plan for `run_id`: None when it is ours now, else the execution that holds it."""
    t = schema.ads_plan_claims
    seen = None
    for _ in range(ATTEMPTS):
        now = db_now(engine)  # leases run on the database's clock (store.clock), like the queues'
        row = {"plan_id": plan_id, "run_id": run_id, "claimed_by": this_process(), "claimed_at": now,
               "lease_expires_at": now + dt.timedelta(seconds=lease_s)}
        with engine.begin() as conn:
            if insert_ignoring_conflict(conn, t, row).rowcount == 1:
                return None
        seen = holder(engine, plan_id)
        if seen is None:  # released in between: try again
            continue
        dead = _gone(seen.claimed_by)
        if seen.lease_expires_at > now and not dead:
            return seen
        stale = (t.c.plan_id == plan_id) & (t.c.run_id == seen.run_id)
        if not dead:
            stale &= t.c.lease_expires_at <= now
        with engine.begin() as conn:  # take over the expired claim: one conditional UPDATE
            if conn.execute(t.update().where(stale).values(**row)).rowcount == 1:
                return None
    return seen or holder(engine, plan_id) or Holder("unknown", "unknown", schema.utcnow(), schema.utcnow())


def extend(engine: Engine, plan_id: str, run_id: str, lease_s: float = LEASE_S) -> bool:
    """Renew the lease; False when the plan is no longer ours (an expired lease was taken over)."""
    t = schema.ads_plan_claims
    until = now_sql(engine.dialect.name, float(lease_s))
    with engine.begin() as conn:
        res = conn.execute(t.update().where((t.c.plan_id == plan_id) & (t.c.run_id == run_id))
                           .values(lease_expires_at=until))
    return res.rowcount == 1


def release(engine: Engine, plan_id: str, run_id: str) -> None:
    t = schema.ads_plan_claims
    with engine.begin() as conn:
        conn.execute(t.delete().where((t.c.plan_id == plan_id) & (t.c.run_id == run_id)))
