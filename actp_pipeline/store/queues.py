"""Pull queues with claim, lease and token (DESIGN section 4).

A claim is one conditional UPDATE that moves due items to the claimed status with a fresh token and a
lease; on Postgres the candidate rows are picked with FOR UPDATE SKIP LOCKED so concurrent workers never
wait on each other. Every later write names the token, so a worker whose lease was taken away changes
zero rows. The reaper returns expired work; after `max_attempts` an item is dead with its last error.

Leases, backoffs and the reaper run on the database's clock (store.clock), never the worker's: a worker
whose clock is wrong can neither reap a healthy lease nor keep an expired one. `fence` checks the lease
right before a side effect. A `now=` argument replaces that clock with a fixed time (tests simulate time).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.store import schema
from actp_pipeline.store.clock import now_sql
from actp_pipeline.store.engine import insert_or_ignore
from actp_pipeline.store.schema import utcnow


@dataclass(frozen=True)
class QueueStatuses:
    queued: str
    claimed: str
    done: str
    dead: str = "dead"  # out of attempts (or refused for good), with its last error
    retry: str = "queued"  # a failed attempt waiting out its backoff; claimable again after it
    cancelled: str = "cancelled"
    # Statuses whose expired lease means the side effect may have happened: reaped to `ambiguous`.
    in_flight: tuple[str, ...] = ()
    ambiguous: str | None = None

    @cached_property
    def claimable(self) -> tuple[str, ...]:
        """What a claim takes (once `available_at` has come): queued, waiting out a backoff, or ambiguous
        (an ambiguous item is claimed to be reconciled, never blindly retried)."""
        return tuple(dict.fromkeys((self.queued, self.retry, *((self.ambiguous,) if self.ambiguous else ()))))

    @cached_property
    def held(self) -> tuple[str, ...]:
        """Statuses of an item a worker holds under its claim token."""
        return (self.claimed, *self.in_flight)

    @cached_property
    def open(self) -> tuple[str, ...]:
        """Statuses of an item not yet final: claimable or held."""
        return (*self.claimable, *self.held)


# The claim and guarded UPDATEs, built once per shape with their values bound at execute time: building a
# statement and its cache key costs the client more CPU than the database spends running it.
_STATEMENTS: dict[tuple, sa.Update] = {}
# Claims narrowed by a caller's `where`, keyed by that object's id: (where, statement). The entry keeps its
# `where` alive, so the id is not reused while it is cached; a `where` built per call only cycles through.
_WHERE_STATEMENTS: dict[tuple, tuple[sa.ColumnElement[bool], sa.Update]] = {}
_WHERE_STATEMENTS_MAX = 64
_where_lock = threading.Lock()

# render job: queued -> running -> succeeded | failed | cancelled (a failed attempt is queued again)
RENDER_STATUSES = QueueStatuses(queued="queued", claimed="running", done="succeeded", dead="failed")
# publish item: queued -> claimed -> uploading -> posted | failed (retrying) | dead, and unknown when
# the outcome of the platform call is ambiguous (settled by looking the post up)
PUBLISH_STATUSES = QueueStatuses(
    queued="queued", claimed="claimed", done="posted", retry="failed", in_flight=("uploading",), ambiguous="unknown"
)


class WorkQueue:
    def __init__(self, engine: Engine, table: sa.Table, statuses: QueueStatuses):
        self.engine = engine
        self.table = table
        self.s = statuses

    # -- producer side -------------------------------------------------------------------------
    def enqueue(self, rows: list[dict[str, Any]], *, unique_column: str) -> int:
        """Insert rows whose `unique_column` value is not queued yet; returns how many were new.

        One INSERT ... ON CONFLICT (unique_column) DO NOTHING: a concurrent enqueue of the same key skips
        the row instead of failing, and a key repeated within `rows` is inserted once."""
        if not rows:
            return 0
        t = self.table
        now = utcnow()
        base = {"status": self.s.queued, "attempts": 0, "created_at": now, "updated_at": now}
        stmt = insert_or_ignore(self.engine.dialect.name, t, on=[unique_column]).returning(t.c.id)
        if not any("available_at" in r for r in rows):  # available from now on the database's clock
            stmt = stmt.values(available_at=self._now())
        with self.engine.begin() as conn:
            return len(conn.execute(stmt, [{**base, **r} for r in rows]).all())  # RETURNING: the inserted rows

    # -- worker side ---------------------------------------------------------------------------
    def claim(
        self,
        worker_id: str,
        *,
        limit: int = 1,
        lease_s: float = 300,
        now: dt.datetime | None = None,
        statuses: tuple[str, ...] | None = None,
        where: sa.ColumnElement[bool] | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Atomically take up to `limit` due items (in `statuses`, default the claimable ones); each comes
        back with its `claim_token`.

        `where` narrows the candidates. Build it once with `sa.bindparam`s and pass their values in
        `params` on each call: the claim statement is cached per `where` object, so a reused one costs
        nothing to build. A `where` built per call (literal values) works too, built and compiled anew."""
        claimable = tuple(statuses) if statuses else self.s.claimable
        db_clock = now is None
        if where is None:
            key = ("claim", self.engine.dialect.name, self.table.name, self.s.claimed, claimable, db_clock)
            stmt = _STATEMENTS.get(key)
            if stmt is None:
                stmt = _STATEMENTS[key] = self._claim_stmt(claimable, None, db_clock)
        else:
            key = ("claim", self.engine.dialect.name, self.table.name, self.s.claimed, claimable, db_clock, id(where))
            cached = _WHERE_STATEMENTS.get(key)
            if cached is not None and cached[0] is where:
                stmt = cached[1]
            else:
                stmt = self._claim_stmt(claimable, where, db_clock)
                with _where_lock:
                    while len(_WHERE_STATEMENTS) >= _WHERE_STATEMENTS_MAX:
                        _WHERE_STATEMENTS.pop(next(iter(_WHERE_STATEMENTS)))
                    _WHERE_STATEMENTS[key] = (where, stmt)
        params = {**(params or {}), "claim_limit": limit, "claim_token_": secrets.token_hex(16),
                  "claimed_by_": worker_id, "lease_s_": float(lease_s)}
        if not db_clock:
            params.update(claim_now=now, lease_until=now + dt.timedelta(seconds=lease_s))
        with self.engine.begin() as conn:
            rows = [dict(r._mapping) for r in conn.execute(stmt, params)]
        return sorted(rows, key=lambda r: r["id"])

    def _now(self, plus_s: sa.ColumnElement | float | None = None) -> sa.ColumnElement[dt.datetime]:
        """The database's clock (store.clock), plus `plus_s` seconds."""
        return now_sql(self.engine.dialect.name, plus_s)

    def _claim_stmt(self, claimable: tuple[str, ...], where: sa.ColumnElement[bool] | None, db_clock: bool) -> sa.Update:
        t = self.table
        if db_clock:
            now = self._now()
            lease_until = self._now(sa.bindparam("lease_s_", type_=sa.Float))
        else:
            now = sa.bindparam("claim_now", type_=t.c.available_at.type)
            lease_until = sa.bindparam("lease_until", type_=t.c.lease_expires_at.type)
        cond = sa.and_(t.c.status.in_(claimable), t.c.available_at <= now)
        if where is not None:
            cond = sa.and_(cond, where)
        limit = sa.bindparam("claim_limit", type_=sa.Integer)
        pick = sa.select(t.c.id).where(cond).order_by(t.c.available_at, t.c.id).limit(limit)
        if self.engine.dialect.name == "postgresql":
            # ARRAY(...) makes the locking pick run once (an InitPlan); a plain IN (subquery) may be
            # re-run by the planner and hand out more than `limit` rows
            picked = t.c.id == sa.any_(sa.func.array(pick.with_for_update(skip_locked=True).scalar_subquery()))
        else:
            picked = t.c.id.in_(pick.scalar_subquery())  # SQLite: the UPDATE holds the single write lock
        return (
            t.update()
            .where(picked, t.c.status.in_(claimable))
            .values(
                status=self.s.claimed,
                claim_token=sa.bindparam("claim_token_", type_=t.c.claim_token.type),
                claimed_by=sa.bindparam("claimed_by_", type_=t.c.claimed_by.type),
                lease_expires_at=lease_until,
                attempts=t.c.attempts + 1,
                updated_at=now,
            )
            .returning(*t.c)
        )

    def _guarded(self, item_id: int, token: str, values: dict[str, Any], from_statuses: tuple[str, ...] | None = None) -> bool:
        t = self.table
        values = {"updated_at": utcnow(), **values}
        allowed = tuple(from_statuses or self.s.held)
        if any(isinstance(v, sa.ClauseElement) for v in values.values()):  # e.g. attempts - 1: built each time
            stmt = t.update().where(t.c.id == item_id, t.c.claim_token == token, t.c.status.in_(allowed)).values(**values)
            params = {}
        else:
            key = ("guarded", self.engine.dialect.name, t.name, allowed, tuple(values))
            stmt = _STATEMENTS.get(key)
            if stmt is None:
                stmt = _STATEMENTS[key] = (
                    t.update()
                    .where(t.c.id == sa.bindparam("item_id_", type_=t.c.id.type),
                           t.c.claim_token == sa.bindparam("token_", type_=t.c.claim_token.type),
                           t.c.status.in_(allowed))
                    .values({k: sa.bindparam(f"v_{k}", type_=t.c[k].type) for k in values})
                )
            params = {"item_id_": item_id, "token_": token, **{f"v_{k}": v for k, v in values.items()}}
        with self.engine.begin() as conn:
            res = conn.execute(stmt, params)
        return res.rowcount == 1

    def save(self, item_id: int, token: str, **values: Any) -> bool:
        """Write fields of a claimed item, only while this token still holds it."""
        return self._guarded(item_id, token, values)

    def unclaim(self, item_id: int, token: str) -> bool:
        """Put a held item back untouched (its rate limit is used up, or the platform answered 429 so nothing
        was posted): the attempt does not count."""
        return self._guarded(item_id, token, {"status": self.s.queued, "claim_token": None, "lease_expires_at": None,
                                              "attempts": self.table.c.attempts - 1})

    def set_status(self, item_id: int, token: str, status: str, **values: Any) -> bool:
        """Move a held item to another status (e.g. `uploading`, or `unknown` with its token cleared)
        under its token; False when the token no longer holds it."""
        return self._guarded(item_id, token, {"status": status, **values})

    def extend(self, item_id: int, token: str, lease_s: float) -> bool:
        """Renew the lease from the database's clock, while this token still holds the item."""
        return self._guarded(item_id, token, {"lease_expires_at": self._now(float(lease_s))})

    def fence(self, item_id: int, token: str, lease_s: float, status: str | None = None) -> bool:
        """The last check before a side effect: True only while this token holds the item (in `status`, default
        any held status) AND its lease has not run out on the database's clock; the lease is then renewed
        for `lease_s` so the call that follows runs under a live lease. False: make no call."""
        t = self.table
        allowed = (status,) if status else self.s.held
        stmt = (t.update()
                .where(t.c.id == item_id, t.c.claim_token == token, t.c.status.in_(allowed),
                       t.c.lease_expires_at.is_not(None), t.c.lease_expires_at > self._now())
                .values(lease_expires_at=self._now(float(lease_s)), updated_at=utcnow()))
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def complete(self, item_id: int, token: str, **values: Any) -> bool:
        return self._guarded(item_id, token, {"status": self.s.done, "lease_expires_at": None, **values})

    def fail(self, item_id: int, token: str, error: str, *, backoff_s: float = 30.0, retryable: bool = True) -> str | None:
        """Record a failure: back to the queue after an exponential backoff (on the database's clock), or dead
        when out of attempts.

        Returns the new status, or None when the token no longer holds the item.
        """
        t = self.table
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t.c.attempts, t.c.max_attempts).where(t.c.id == item_id, t.c.claim_token == token)).first()
        if row is None:
            return None
        dead = (not retryable) or row.attempts >= row.max_attempts
        status = self.s.dead if dead else self.s.retry
        delay = backoff_s * (2 ** max(row.attempts - 1, 0))
        ok = self._guarded(
            item_id,
            token,
            {
                "status": status,
                "last_error": error[-4000:],
                "claim_token": None,
                "lease_expires_at": None,
                "available_at": self._now(0.0 if dead else float(delay)),
            },
        )
        return status if ok else None

    # -- housekeeping --------------------------------------------------------------------------
    def reap(self, now: dt.datetime | None = None) -> int:
        """Return items whose lease expired: to the queue, to `ambiguous` when a side effect may have
        happened, or to dead when out of attempts. Returns how many rows changed."""
        t = self.table
        if now is None:
            now = self._now()
        expired = sa.and_(t.c.lease_expires_at.is_not(None), t.c.lease_expires_at < now)
        changed = 0
        with self.engine.begin() as conn:
            if self.s.in_flight and self.s.ambiguous:
                changed += conn.execute(
                    t.update()
                    .where(expired, t.c.status.in_(self.s.in_flight))
                    .values(status=self.s.ambiguous, claim_token=None, lease_expires_at=None, updated_at=now,
                            last_error="lease expired during the platform call; reconcile before retrying")
                ).rowcount
            base = sa.and_(expired, t.c.status == self.s.claimed)
            changed += conn.execute(
                t.update().where(base, t.c.attempts >= t.c.max_attempts)
                .values(status=self.s.dead, claim_token=None, lease_expires_at=None, updated_at=now,
                        last_error=sa.func.coalesce(t.c.last_error, "lease expired on the last attempt"))
            ).rowcount
            changed += conn.execute(
                t.update().where(base, t.c.attempts < t.c.max_attempts)
                .values(status=self.s.queued, claim_token=None, lease_expires_at=None, updated_at=now)
            ).rowcount
        return changed

    def release(self, worker_ids: list[str]) -> int:
        """Give back everything these (dead) workers hold: claimed items to the queue, in-flight side
        effects to `ambiguous` for reconciliation. Attempts already counted stay counted."""
        t = self.table
        now = utcnow()
        held = sa.and_(t.c.claimed_by.in_(worker_ids), t.c.claim_token.is_not(None))
        changed = 0
        with self.engine.begin() as conn:
            if self.s.in_flight and self.s.ambiguous:
                changed += conn.execute(
                    t.update().where(held, t.c.status.in_(self.s.in_flight))
                    .values(status=self.s.ambiguous, claim_token=None, lease_expires_at=None, updated_at=now,
                            last_error="worker went offline during the platform call; reconcile before retrying")
                ).rowcount
            changed += conn.execute(
                t.update().where(held, t.c.status == self.s.claimed)
                .values(status=self.s.queued, claim_token=None, lease_expires_at=None, updated_at=now,
                        last_error="worker went offline; released")
            ).rowcount
        return changed

    def cancel(self, item_id: int) -> bool:
        """Cancel an item not done yet. Never an `ambiguous` one: the platform may hold its side effect (a live
        post), so it is looked up and settled by a worker first; cancelling it would leave that post unrecorded."""
        t = self.table
        live = tuple(s for s in (*self.s.claimable, self.s.claimed) if s != self.s.ambiguous)
        with self.engine.begin() as conn:
            res = conn.execute(
                t.update().where(t.c.id == item_id, t.c.status.in_(live))
                .values(status=self.s.cancelled, claim_token=None, lease_expires_at=None, updated_at=utcnow())
            )
        return res.rowcount == 1

    def retry(self, item_id: int) -> bool:
        """Give a dead (or failed) item a fresh set of attempts, e.g. after fixing what killed it. Its last error
        stays: a worker looks such an item up on the platform before any new side effect. An `ambiguous` item
        is not retried (it is looked up by the next worker anyway)."""
        t = self.table
        with self.engine.begin() as conn:
            res = conn.execute(
                t.update().where(t.c.id == item_id, t.c.status.in_((self.s.dead, self.s.retry, self.s.cancelled)))
                .values(status=self.s.queued, attempts=0, available_at=self._now(), claim_token=None,
                        lease_expires_at=None, updated_at=utcnow())
            )
        return res.rowcount == 1

    def counts(self) -> dict[str, int]:
        t = self.table
        with self.engine.connect() as conn:
            return {s: n for s, n in conn.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status))}


def render_queue(engine: Engine) -> WorkQueue:
    return WorkQueue(engine, schema.render_jobs, RENDER_STATUSES)


def publish_queue(engine: Engine) -> WorkQueue:
    return WorkQueue(engine, schema.publish_queue, PUBLISH_STATUSES)
