"""The standalone local worker (`actp worker`): pulls renders and uploads from the store until stopped.

It is the same work the local_ops code location does in Dagster runs, for a machine that should just
pull: it needs the store and the platform, never an inbound connection. Several can run at once, on one
machine or many sharing a Postgres store; the queue's claim protocol keeps each item with one of them.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.worker.health import serve_health
from actp_pipeline.publish.publisher import Publisher
from actp_pipeline.publish.posts import PublishGuards, publish_due
from actp_pipeline.renders.queue import render_due
from actp_pipeline.store import schema
from actp_pipeline.store.queues import PUBLISH_STATUSES, RENDER_STATUSES
from actp_pipeline.store.schema import utcnow
from actp_pipeline.worker.heartbeats import HEARTBEAT_S, Heartbeat
from actp_pipeline.worker.progress import OnItem, notify


def default_worker_id() -> str:
    """$ACTP_WORKER_ID, else host-pid: unique per process, readable in the heartbeat table."""
    return os.environ.get("ACTP_WORKER_ID") or f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class WorkerConfig:
    renders: bool = True
    publish: bool = True
    render_batch: int = 4
    render_concurrency: int = 2
    publish_batch: int = 10
    lease_s: float = 300.0
    heartbeat_s: float = HEARTBEAT_S
    idle_sleep_s: float = 5.0
    exit_when_idle: bool = False  # stop once no open work is left in the queues (tests, one-shot runs)
    health_host: str = "127.0.0.1"
    health_port: int | None = 8765  # None: no health endpoint


def open_work(engine: Engine) -> dict[str, int]:
    """Items not yet in a final state, per queue (including ones waiting out a backoff)."""
    rj, pq = schema.render_jobs, schema.publish_queue
    with engine.connect() as conn:
        renders = conn.execute(sa.select(sa.func.count()).where(rj.c.status.in_(RENDER_STATUSES.open))).scalar()
        uploads = conn.execute(sa.select(sa.func.count()).where(pq.c.status.in_(PUBLISH_STATUSES.open))).scalar()
    return {"pending_renders": renders, "pending_uploads": uploads}


def run_worker(engine: Engine, *, worker_id: str, media_dir: Path, publisher: Publisher | None,
               cfg: WorkerConfig = WorkerConfig(), stop: threading.Event | None = None,
               clock: Callable[[], dt.datetime] | None = None, guards: PublishGuards | None = None,
               log: Callable[[str], None] = lambda m: None, on_item: OnItem | None = None) -> dict[str, Any]:
    """Work until `stop` is set (or, with exit_when_idle, until the queues are drained).

    `on_item(kind, item, outcome)` hears of every finished item, e.g. for a progress bar: kind "render"
    (item: the variant id; outcome: one of renders.queue.RENDER_OUTCOMES) or "upload" (item: the
    idempotency key; outcome: one of publish.posts.PUBLISH_OUTCOMES)."""
    stop = stop or threading.Event()
    on_render = partial(notify, on_item, "render") if on_item is not None else None
    on_upload = partial(notify, on_item, "upload") if on_item is not None else None
    totals = {"rendered": 0, "render_failures": 0, "posted": 0, "reconciled": 0, "upload_failures": 0}
    with Heartbeat(engine, worker_id, interval_s=cfg.heartbeat_s, lease_s=cfg.lease_s) as hb:

        def stats() -> dict[str, Any]:
            return {"worker_id": worker_id, "status": "online" if not stop.is_set() else "stopping",
                    "started_at": hb.started_at.isoformat() + "Z", "jobs_processed": hb.jobs_completed,
                    "jobs_running": hb.jobs_running, **open_work(engine), "timestamp": utcnow().isoformat() + "Z"}

        health = serve_health(stats, cfg.health_host, cfg.health_port, log) if cfg.health_port is not None else None
        try:
            while not stop.is_set():
                did = 0
                if cfg.renders:
                    r = render_due(engine, media_dir, worker_id=worker_id, limit=cfg.render_batch,
                                   concurrency=cfg.render_concurrency, lease_s=cfg.lease_s, heartbeat=hb,
                                   on_render=on_render)
                    totals["rendered"] += len(r.succeeded)
                    totals["render_failures"] += len(r.retried) + len(r.dead)
                    did += r.handled
                if cfg.publish and publisher is not None:
                    p = publish_due(engine, publisher, worker_id=worker_id, limit=cfg.publish_batch,
                                    lease_s=cfg.lease_s, clock=clock, guards=guards, heartbeat=hb,
                                    on_publish=on_upload)
                    totals["posted"] += len(p.posted)
                    totals["reconciled"] += len(p.reconciled)
                    totals["upload_failures"] += len(p.retried) + len(p.dead) + len(p.ambiguous)
                    did += p.handled
                    for key, err in p.errors.items():
                        log(f"upload {key}: {err}")
                if did == 0:
                    remaining = open_work(engine)
                    if cfg.exit_when_idle and not any(remaining.values()):
                        break
                    stop.wait(cfg.idle_sleep_s)
        finally:
            if health is not None:
                health.shutdown()
                health.server_close()
    return {"worker_id": worker_id, **totals}
