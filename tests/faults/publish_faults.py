"""Faults around every side effect of the publish workers, against the sandbox with a fault injector in front.

Injected, each counted: 429 and 503 refusals before the platform acts; answers lost after it acted (502 for a
create that was carried out); uploads slower than the lease (a paused worker, as SIGSTOP makes one); worker
clocks ten minutes ahead or three behind; and, in worker processes, kill -9 right before and right after the
create call and SIGSTOP past the lease. What is measured at the end, from the platform's own truth
(`create_calls` per idempotency key) and the store: duplicate create calls, items lost (not posted, or a
live post without its ledger row), and rows whose external id is not the platform's post (silent loss).

Used by tests/faults/test_publish_faults.py (small, in CI) and benchmarks/faults.py (larger).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import imageio_ffmpeg
import sqlalchemy as sa

from actp_pipeline.publish.platforms import HttpPlatform
from actp_pipeline.publish.posts import PublishGuards, publish_due
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import PUBLISH_STATUSES, publish_queue

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = [f"acct{i:02d}" for i in range(12)]
SECRET = "plat-faults-7c1e9a04d2b35f68"  # the platform API key of every suite; scanned for afterwards
LEASE_S = 1.5
LIBFAKETIME = next((str(p) for p in Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1")), "libfaketimeMT.so.1")
SLOW_UPLOAD_S = 2.5  # longer than the lease: the worker is as good as paused


@dataclass
class FaultCounts:
    injected: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.injected.values())


class FaultInjector:
    """ASGI middleware in front of the sandbox: decides per request whether to fail it and how."""

    # (method, route kind) -> [(fault, probability)]
    RATES = {
        ("POST", "media"): [("refuse_429", 0.05), ("fail_503", 0.05), ("slow_upload", 0.06)],
        ("POST", "create"): [("refuse_429", 0.06), ("fail_503", 0.05), ("lost_answer", 0.12)],
        ("GET", "poll"): [("refuse_429", 0.10), ("fail_503", 0.05)],
        ("GET", "lookup"): [("fail_503", 0.05)],
    }

    def __init__(self, app, rng: random.Random, counts: FaultCounts, enabled: bool = True):
        self.app, self.rng, self.counts, self.enabled = app, rng, counts, enabled
        self.slow_next_media = 0  # forced slow uploads (for a worker about to be SIGSTOPped)

    @staticmethod
    def _kind(method: str, path: str, query: bytes) -> str | None:
        if path == "/v1/media":
            return "media"
        if path == "/v1/posts":
            return "create" if method == "POST" else ("lookup" if b"idempotency_key" in query else None)
        if path.startswith("/v1/posts/"):
            return "poll"
        return None

    def _pick(self, method: str, kind: str | None) -> str | None:
        if kind == "media" and method == "POST" and self.slow_next_media > 0:
            self.slow_next_media -= 1
            return "slow_upload"
        if not self.enabled or kind is None:
            return None
        roll = self.rng.random()
        for fault, p in self.RATES.get((method, kind), []):
            if roll < p:
                return fault
            roll -= p
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        fault = self._pick(scope["method"], self._kind(scope["method"], scope["path"], scope.get("query_string", b"")))
        if fault is None:
            return await self.app(scope, receive, send)
        self.counts.injected[fault] += 1
        if fault == "refuse_429":
            return await _json(send, 429, {"error": {"code": "rate_limited", "message": "injected 429"}},
                               [(b"retry-after", b"1")])
        if fault == "fail_503":
            return await _json(send, 503, {"error": {"code": "unavailable", "message": "injected 503"}})
        if fault == "slow_upload":
            await asyncio.sleep(SLOW_UPLOAD_S)
            return await self.app(scope, receive, send)
        # lost_answer: the platform acts, the answer never arrives
        async def swallow(message):
            return None

        await self.app(scope, receive, swallow)
        return await _json(send, 502, {"error": {"code": "bad_gateway", "message": "injected: answer lost"}})


async def _json(send, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


@dataclass
class World:
    sb: SandboxServer
    engine: sa.engine.Engine
    url: str
    media: Path
    injector: FaultInjector
    counts: FaultCounts
    home: Path
    keys: list[str] = field(default_factory=list)  # every item enqueued, in order

    def now(self) -> dt.datetime:
        raw = httpx.get(f"{self.sb.url}/v1/clock", timeout=30).json()["now"]
        return dt.datetime.fromisoformat(raw.replace("Z", "")).replace(tzinfo=None)

    def truth(self) -> dict[str, dict]:
        items = httpx.get(f"{self.sb.url}/v1/_truth/posts", headers={"X-Truth-Token": self.sb.truth_token},
                          timeout=60).json()["items"]
        return {i["idempotency_key"]: i for i in items}


def start_world(store_url: str, tmp: Path, seed: int) -> tuple[World, SandboxServer]:
    media = tmp / "clip.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=s=108x192:d=1",
                    "-pix_fmt", "yuv420p", str(media)], check=True)
    cfg = WorldConfig(seed=seed, start=dt.datetime(2026, 11, 1, 6), speed=3600.0, accounts={"tiktok": ACCOUNTS},
                      api_keys=(SECRET,))
    sb = SandboxServer(cfg, state_path=tmp / "sandbox.db").__enter__()
    counts = FaultCounts()
    injector = FaultInjector(sb.api.app, random.Random(seed), counts)
    sb.api.app = injector
    return World(sb, connect_store(store_url), store_url, media, injector, counts, tmp / "home"), sb


def enqueue(w: World, n: int) -> list[str]:
    now = w.now()
    first = len(w.keys)
    keys = [f"key-{i}" for i in range(first, first + n)]
    w.keys += keys
    publish_queue(w.engine).enqueue([
        {"variant_id": f"v{i}", "platform": "tiktok", "account": ACCOUNTS[i % len(ACCOUNTS)],
         "idempotency_key": f"key-{i}", "scheduled_at": now,
         "payload": {"media_path": str(w.media), "caption": f"post {i}", "hashtags": ["#t"]}}
        for i in range(first, first + n)], unique_column="idempotency_key")
    return keys


def fast_forward(w: World) -> None:
    """Time passes for backoffs and the reconcile delay (the harness does not sleep through them)."""
    t = schema.publish_queue
    with w.engine.begin() as c:
        c.execute(t.update().where(t.c.status.in_(PUBLISH_STATUSES.claimable))
                  .values(available_at=dt.datetime(2000, 1, 1)))


def statuses(w: World) -> Counter:
    t = schema.publish_queue
    with w.engine.connect() as c:
        return Counter(dict(c.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status)).all()))


def thread_workers(w: World, passes: int, workers: int = 3) -> None:
    """In-process workers (threads) with the real guards, working through injected faults."""
    import threading

    with HttpPlatform(w.sb.url, w.sb.config.api_keys[0], timeout_s=10.0) as client:
        guards = PublishGuards.for_store(w.engine, client.now)

        def work(name: str) -> None:
            for _ in range(passes):
                publish_due(w.engine, client, worker_id=name, lease_s=LEASE_S, guards=guards, limit=4)
                fast_forward(w)

        threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(workers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()


def skewed_pass(w: World, skew: dt.timedelta) -> None:
    """A worker whose own clock is off by `skew` runs the reaper and a pass (Python's clock patched)."""
    from unittest import mock

    fake = lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None) + skew  # noqa: E731
    patches = [mock.patch(f"{m}.utcnow", fake) for m in
               ("actp_pipeline.store.schema", "actp_pipeline.store.queues", "actp_pipeline.worker.heartbeats",
                "actp_pipeline.publish.posts")]
    for p in patches:
        p.start()
    try:
        w.counts.injected["clock_skew"] += 1
        thread_workers(w, passes=1, workers=1)
    finally:
        for p in patches:
            p.stop()


def worker_process(w: World, name: str, *, failpoint: str | None = None, faketime: str | None = None):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ACTP_")},
           "ACTP_DATABASE_URL": w.url, "ACTP_PLATFORM_URL": w.sb.url, "ACTP_PLATFORM_API_KEY": w.sb.config.api_keys[0],
           "ACTP_HOME": str(w.home), "ACTP_PUBLISHER": "api"}
    if failpoint:
        env["ACTP_FAILPOINTS"] = failpoint
    cmd = [sys.executable, "-m", "actp_pipeline.cli", "worker", "--publish-only", "--exit-when-idle",
           "--worker-id", name, "--lease", str(LEASE_S), "--heartbeat", "0.5", "--idle-sleep", "0.2",
           "--health-port", "0"]
    if faketime:  # libfaketime preloaded into the worker itself (the `faketime` wrapper would fork)
        # the wall clock only: a faked monotonic clock hangs condition waits (threading.Event.wait)
        env.update(LD_PRELOAD=LIBFAKETIME, FAKETIME=faketime, DONT_FAKE_MONOTONIC="1")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(w: World, p: subprocess.Popen, timeout_s: float = 120.0) -> int:
    """Wait for a worker process while time passes for the queue (backoffs) and the offline check runs
    (heartbeats every 0.5 s; silent for 3 s = offline, its work released)."""
    from actp_pipeline.worker.heartbeats import release_offline_workers

    deadline = time.monotonic() + timeout_s
    while p.poll() is None and time.monotonic() < deadline:
        fast_forward(w)
        release_offline_workers(w.engine, offline_after_s=3.0)
        time.sleep(0.2)
    if p.poll() is None:
        p.kill()
    p.communicate()
    return p.returncode


def kill_9_rounds(w: World, rounds: int) -> None:
    """A worker process SIGKILLs itself right before or right after a create call, `rounds` times."""
    for i in range(rounds):
        enqueue(w, 1)
        point = "publish.before_call" if i % 2 == 0 else "publish.after_call"
        if wait_for(w, worker_process(w, f"doomed-{i}", failpoint=point)) == -signal.SIGKILL:
            w.counts.injected["kill_9"] += 1


def sigstop_rounds(w: World, rounds: int) -> None:
    """A worker process is paused (SIGSTOP) during its upload past its lease, the others take its item over,
    then it resumes (SIGCONT): its create must not happen."""
    for i in range(rounds):
        enqueue(w, 1)
        w.injector.slow_next_media = 1
        p = worker_process(w, f"paused-{i}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and w.injector.slow_next_media > 0 and p.poll() is None:
            time.sleep(0.05)
        if p.poll() is not None:
            continue
        time.sleep(0.3)
        p.send_signal(signal.SIGSTOP)
        w.counts.injected["sigstop"] += 1
        time.sleep(LEASE_S + 0.5)  # the lease runs out while it is stopped
        thread_workers(w, passes=1, workers=1)
        p.send_signal(signal.SIGCONT)
        wait_for(w, p)


def skewed_process_rounds(w: World, rounds: int) -> None:
    """Worker processes whose clock runs 10 min ahead or 3 behind (libfaketime), while a slow upload holds a
    lease; on PostgreSQL only: SQLite's clock is the process's own (the store is one machine's file)."""
    import threading

    if not w.url.startswith("postgresql"):
        return
    with HttpPlatform(w.sb.url, w.sb.config.api_keys[0], timeout_s=10.0) as client:
        for i in range(rounds):
            enqueue(w, 2)
            w.injector.slow_next_media = 1  # a healthy worker holds a live 30 s lease through a slow upload
            holder = threading.Thread(target=publish_due, args=(w.engine, client),
                                      kwargs={"worker_id": f"holder-{i}", "lease_s": 30.0, "limit": 1})
            holder.start()
            deadline = time.monotonic() + 10
            while w.injector.slow_next_media > 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            wait_for(w, worker_process(w, f"skewed-{i}", faketime="+10m" if i % 2 == 0 else "-3m"))
            holder.join()
            w.counts.injected["clock_skew_process"] += 1


def drain(w: World, max_rounds: int = 40) -> int:
    """Fault-free passes until nothing is open (unknown items are looked up and settled). An item that ran
    out of attempts (a worker killed on it three times is a poison pill to the queue) is given fresh ones as
    an operator would (`actp queue retry`): it is looked up before anything is sent. Returns how many."""
    q = publish_queue(w.engine)
    with w.engine.connect() as c:
        dead = list(c.execute(sa.select(q.table.c.id).where(q.table.c.status == q.s.dead)).scalars())
    retried = sum(1 for item_id in dead if q.retry(item_id))
    w.injector.enabled = False
    for _ in range(max_rounds):
        fast_forward(w)
        if not any(statuses(w)[s] for s in PUBLISH_STATUSES.open):
            return retried
        thread_workers(w, passes=1, workers=1)
        time.sleep(0.1)
    return retried


def measure(w: World, keys: list[str]) -> dict[str, int]:
    truth = w.truth()
    q, ledger = schema.publish_queue, schema.posts
    with w.engine.connect() as c:
        items = {r.idempotency_key: r for r in c.execute(sa.select(q.c.idempotency_key, q.c.status, q.c.external_id))}
        posts = {r.idempotency_key: r.external_id for r in c.execute(sa.select(ledger.c.idempotency_key, ledger.c.external_id))}
    duplicates = sum(max(0, int(t["create_calls"]) - 1) for t in truth.values())
    lost = sum(1 for k in keys if items.get(k) is None or items[k].status != "posted" or k not in posts)
    lost += sum(1 for k in truth if k not in posts)  # a live post nobody recorded
    silent = sum(1 for k, ext in posts.items() if k not in truth or truth[k]["post_id"] != ext)
    return {"items": len(keys), "duplicate_platform_calls": duplicates, "items_lost": lost, "silent_data_loss": silent}


def run(store_url: str, tmp: Path, *, seed: int = 1, items: int = 40, thread_passes: int = 6, kills: int = 4,
        stops: int = 2, skews: int = 2) -> dict:
    """The whole publish fault suite on one store; returns its counts."""
    started = time.monotonic()
    w, sb = start_world(store_url, tmp, seed)
    try:
        enqueue(w, items)
        thread_workers(w, passes=thread_passes)
        for skew in (dt.timedelta(minutes=10), dt.timedelta(minutes=-3)):
            enqueue(w, 2)
            skewed_pass(w, skew)
        kill_9_rounds(w, kills)
        sigstop_rounds(w, stops)
        skewed_process_rounds(w, skews)
        retried = drain(w)
        out = measure(w, w.keys)
        return {**out, "dead_then_retried": retried, "faults": w.counts.total, "by_fault": dict(w.counts.injected),
                "seconds": round(time.monotonic() - started, 1)}
    finally:
        sb.__exit__(None, None, None)
