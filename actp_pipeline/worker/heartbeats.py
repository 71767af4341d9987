"""Worker liveness: heartbeat rows, leases kept alive while work is held, and dead-worker release.

A worker writes its heartbeat row every `interval_s` (30 s) and, in the same beat, extends the lease of
every item it holds. A worker silent for `offline_after_s` (2 min) is marked offline and its work is
released: claimed items go back to the queue, an upload that was in flight goes to `unknown` so it is
reconciled (looked up) before anyone posts it again.

Heartbeats and the offline check use the database's clock (store.clock): a worker whose own clock is
minutes off neither looks dead right after beating nor declares a beating worker dead.
"""

from __future__ import annotations

import datetime as dt
import os
import platform as _platform
import threading
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.store import schema
from actp_pipeline.store.clock import now_sql
from actp_pipeline.store.engine import insert_ignoring_conflict
from actp_pipeline.store.queues import WorkQueue, publish_queue, render_queue
from actp_pipeline.store.schema import utcnow

HEARTBEAT_S = 30.0
OFFLINE_AFTER_S = 120.0


def _system_info() -> dict[str, Any]:
    try:
        import psutil

        proc = psutil.Process(os.getpid())
        return {"cpu_percent": psutil.cpu_percent(interval=None), "memory_percent": psutil.virtual_memory().percent,
                "rss_mb": round(proc.memory_info().rss / 2**20, 1), "platform": _platform.platform(), "pid": os.getpid()}
    except Exception:  # psutil missing or a sandboxed /proc: the heartbeat still goes out
        return {"platform": _platform.platform(), "pid": os.getpid()}


def beat(engine: Engine, worker_id: str, *, jobs_completed: int, jobs_running: int, started_at: dt.datetime,
         status: str = "online") -> None:
    """Upsert this worker's heartbeat row."""
    t = schema.worker_heartbeats
    values = {"status": status, "last_heartbeat": now_sql(engine.dialect.name), "jobs_completed": jobs_completed,
              "jobs_running": jobs_running, "system_info": _system_info()}
    update = t.update().where(t.c.worker_id == worker_id).values(**values)
    with engine.begin() as conn:
        if conn.execute(update).rowcount == 0:
            inserted = insert_ignoring_conflict(conn, t, {"worker_id": worker_id, "started_at": started_at, **values})
            if inserted.rowcount == 0:  # a twin process inserted first
                conn.execute(update)


@dataclass
class Heartbeat:
    """Background heartbeat of one worker; `hold`/`drop` tell it which claimed items to keep leased."""

    engine: Engine
    worker_id: str
    interval_s: float = HEARTBEAT_S
    lease_s: float = 300.0
    jobs_completed: int = 0
    started_at: dt.datetime = field(default_factory=utcnow)
    _held: dict[tuple[str, int], tuple[WorkQueue, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def hold(self, queue: WorkQueue, items: list[dict[str, Any]]) -> None:
        with self._lock:
            for it in items:
                self._held[(queue.table.name, it["id"])] = (queue, it["claim_token"])

    def drop(self, queue: WorkQueue, item_id: int, *, completed: bool = True) -> None:
        """The worker is done with an item it held (`completed`: it finished it under its token)."""
        with self._lock:
            self._held.pop((queue.table.name, item_id), None)  # gone already when its lease was lost
            if completed:
                self.jobs_completed += 1

    @property
    def jobs_running(self) -> int:
        with self._lock:
            return len(self._held)

    def beat_once(self, status: str = "online") -> None:
        with self._lock:
            held = list(self._held.items())
        for key, (queue, token) in held:
            if not queue.extend(key[1], token, self.lease_s):
                # the lease was taken away (or the item is final already): stop renewing it; whatever the
                # worker writes under this token changes nothing
                with self._lock:
                    if self._held.get(key, (None, None))[1] == token:
                        del self._held[key]
        beat(self.engine, self.worker_id, jobs_completed=self.jobs_completed, jobs_running=self.jobs_running,
             started_at=self.started_at, status=status)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.beat_once()
            except Exception:  # a store hiccup must not kill the worker; the next beat retries
                pass

    def __enter__(self) -> "Heartbeat":
        self.beat_once()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{self.worker_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        try:
            self.beat_once(status="stopped")
        except Exception:
            pass


def release_offline_workers(engine: Engine, *, offline_after_s: float = OFFLINE_AFTER_S,
                            now: dt.datetime | None = None) -> dict[str, Any]:
    """Mark silent workers offline and give their work back; returns who went offline and what moved."""
    t = schema.worker_heartbeats
    # silent for offline_after_s on the database's clock (or before `now - offline_after_s` when given)
    cutoff = (now_sql(engine.dialect.name, -float(offline_after_s)) if now is None
              else now - dt.timedelta(seconds=offline_after_s))
    with engine.begin() as conn:
        gone = list(conn.execute(sa.select(t.c.worker_id).where(t.c.status == "online", t.c.last_heartbeat < cutoff)).scalars())
        if gone:
            conn.execute(t.update().where(t.c.worker_id.in_(gone)).values(status="offline"))
    moved = {"renders": 0, "uploads": 0}
    if gone:
        moved["renders"] = render_queue(engine).release(gone)
        moved["uploads"] = publish_queue(engine).release(gone)
    # expired leases of live workers (e.g. a hung process) go back too
    moved["reaped"] = render_queue(engine).reap(now) + publish_queue(engine).reap(now)
    return {"offline": gone, **moved}


def workers(engine: Engine) -> list[dict[str, Any]]:
    t = schema.worker_heartbeats
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.worker_id)).mappings()]
