"""Faults around every side effect of the publish workers, posting through TikTok's Content Posting API (the
native adapter the pipeline uses by default) to the sandbox, with a fault injector in front
(tests/faults/tiktok_faults.py).

Where a TikTok post is made: video/init creates a publish (no post yet), and the final chunk PUT to its
upload URL turns it into the post. The adapter journals the publish id under the item's idempotency key
right after init answers (before any byte) and puts a marker of the key in the title, so a retry first asks
status/fetch about the journalled publish, then the creator's video list for the marker.

Injected, each counted per call: at creator_info, init, the chunk PUT, status/fetch and video/list,
refusals before the platform acts (TikTok's 429, 503, a dropped connection, a gateway timeout) and, for
init and the chunk, the same after it acted (the answer lost as a 502, the connection dropped mid-answer,
a timeout after the work was done); calls slower than the lease (a paused worker, as SIGSTOP makes one);
worker clocks ten minutes ahead or three behind; and, in worker processes, kill -9 before and after the
send gate (failpoints), right after init took effect, and right before and right after the final chunk;
SIGSTOP past the lease before the send gate and (`mid_upload_stops`) between init and the final chunk.

What is measured at the end, from the sandbox's own truth (/sandbox/truth/posts: one post per publish,
its caption carrying the key's marker, `create_calls` per post) and the store: duplicate posts, items lost
(not posted, no post, or a post without its ledger row), and ledger rows whose external id is not the
sandbox post's publish id or video id (silent loss).

The sandbox's TikTok limits count simulated time (6 video/init a minute per token, 15 posts a day per
creator): the clock runs at SPEED and is moved a day on between rounds, while no upload is in flight.

Used by tests/faults/test_publish_faults.py (small, in CI) and benchmarks/faults.py (larger).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import imageio_ffmpeg
import sqlalchemy as sa

from actp_pipeline.publish.dialects import DialectContext, DialectPublisher
from actp_pipeline.publish.platforms import HttpPlatform
from actp_pipeline.publish.posts import PublishGuards, publish_due
from actp_pipeline.publish.tiktok import TikTokPublisher
from actp_pipeline.publish.tiktok_lookup import key_marker
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.routes.tiktok import TikTokDialect
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import PUBLISH_STATUSES, publish_queue
from tests.faults.tiktok_faults import SECRET, FaultCounts, Kill, TikTokFaults
from tests.sandbox_posts import dialect_settings

__all__ = ["SECRET", "FaultCounts", "run"]

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "main"  # the creator every token of the sandbox's first key posts as
LEASE_S = 2.0
CLIENT_TIMEOUT_S = 0.8  # the thread workers' TikTok client: an injected hang (HANG_S) times out
# simulated seconds per real second: TikTok's minute windows pass in 0.1 s, its upload URL (a simulated hour)
# lasts 6 s, longer than any pause of a worker between its init and its chunk in this suite
SPEED = 600.0
LIBFAKETIME = next((str(p) for p in Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1")), "libfaketimeMT.so.1")
# where the kill -9 rounds kill a worker process, in turn: failpoints around the send gate, and the injector
# at the calls that take effect (after init: a publish without bytes; around the final chunk: the post)
KILL_POINTS = ("init:after", "chunk:after", "failpoint:publish.before_call", "chunk:before",
               "failpoint:publish.after_call")
STALL_S = 1.5  # a worker process silent towards TikTok this long is waiting out a limit (wait_for)
MARKER = re.compile(r"ref:[0-9a-f]{10}")


@dataclass
class World:
    sb: SandboxServer
    engine: sa.engine.Engine
    url: str
    media: Path
    injector: TikTokFaults
    counts: FaultCounts
    home: Path  # ACTP_HOME of every worker: the TikTok adapter's journal is shared there
    keys: list[str] = field(default_factory=list)  # every item enqueued, in order
    kills_at: Counter = field(default_factory=Counter)  # kill -9 rounds per KILL_POINTS entry
    stalls: int = 0  # days passed for a worker process waiting out a TikTok limit (wait_for)
    timeouts: int = 0  # worker processes killed for not finishing in time (wait_for)

    def now(self) -> dt.datetime:
        raw = httpx.get(f"{self.sb.url}/sandbox/clock", timeout=30).json()["now"]
        return dt.datetime.fromisoformat(raw.replace("Z", "")).replace(tzinfo=None)

    def next_day(self) -> None:
        """A simulated day passes (POST /sandbox/clock/advance): TikTok's minute and daily windows clear."""
        httpx.post(f"{self.sb.url}/sandbox/clock/advance", json={"hours": 24}, timeout=30).raise_for_status()

    def truth(self) -> list[dict]:
        resp = httpx.get(f"{self.sb.url}/sandbox/truth/posts", headers={"X-Truth-Token": self.sb.truth_token},
                         timeout=60)
        resp.raise_for_status()
        return [p for p in resp.json()["items"] if p["platform"] == "tiktok"]

    def video_id(self, post_id: str) -> str:
        """The TikTok video id the sandbox gives its post `post_id` (what video/list and status/fetch name)."""
        tt = next(d.service for d in self.sb.api.dialects if isinstance(d, TikTokDialect))
        return tt.video_id(post_id)


def start_world(store_url: str, tmp: Path, seed: int) -> tuple[World, SandboxServer]:
    media = tmp / "clip.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=s=108x192:d=1",
                    "-pix_fmt", "yuv420p", str(media)], check=True)
    cfg = WorldConfig(seed=seed, start=dt.datetime(2026, 11, 1, 6), speed=SPEED, accounts={"tiktok": [ACCOUNT]},
                      api_keys=(SECRET,))
    sb = SandboxServer(cfg, state_path=tmp / "sandbox.db").__enter__()
    counts = FaultCounts()
    injector = TikTokFaults(sb.api.app, random.Random(seed), counts)
    sb.api.app = injector
    return World(sb, connect_store(store_url), store_url, media, injector, counts, tmp / "home"), sb


def approve_variants(engine: sa.Engine, variant_ids: list[str], by: str = "test") -> int:
    """Content and strategy approvals, audited as decided by `by`, for variants queued by hand (no generated
    round recorded them): the publish gate posts nothing else. Schedules are approved at the gate by the
    default rules. Returns how many decisions were made."""
    from actp_pipeline.approvals import decisions
    from actp_pipeline.approvals.states import OPEN

    subjects = [("strategy", "*"), *(("content", str(v)) for v in variant_ids)]
    t = schema.approvals
    with engine.begin() as conn:
        decisions.create(conn, [{"scope": scope, "subject_id": sid, "account": "*",
                                 "variant_id": sid if scope == "content" else None} for scope, sid in subjects],
                         by=by, reason="queued by the test")
        waiting = conn.execute(sa.select(t.c.scope, t.c.subject_id, t.c.status).where(
            t.c.status.in_(OPEN), sa.tuple_(t.c.scope, t.c.subject_id).in_(subjects))).mappings().all()
        return len(decisions.move(conn, [dict(r) for r in waiting], "approved", by=by,
                                  reason="queued by the test"))


def enqueue(w: World, n: int) -> list[str]:
    now = w.now()
    first = len(w.keys)
    keys = [f"key-{i}" for i in range(first, first + n)]
    w.keys += keys
    approve_variants(w.engine, [f"v{i}" for i in range(first, first + n)])
    publish_queue(w.engine).enqueue([
        {"variant_id": f"v{i}", "platform": "tiktok", "account": ACCOUNT, "idempotency_key": f"key-{i}",
         "scheduled_at": now, "payload": {"media_path": str(w.media), "caption": f"post {i}", "hashtags": ["#t"]}}
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


def _short_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.2))  # TikTok's 60 s wait after a 429 is simulated time here


def thread_publisher(w: World, client: HttpPlatform, timeout_s: float = CLIENT_TIMEOUT_S) -> DialectPublisher:
    """The native publisher as a worker builds it (the sandbox's settings, the journal under ACTP_HOME, the
    platform's clock), its TikTok client timing out after `timeout_s` and sleeping briefly on a wait."""
    ctx = DialectContext(dialect_settings(w.sb.url, SECRET, w.home), w.home, client.now)

    def tiktok(ctx: DialectContext, account: str) -> TikTokPublisher:
        return TikTokPublisher(ctx.token("tiktok", account), base_url=ctx.settings.dialect_url("tiktok"),
                               account=account, journal_path=ctx.data_dir / "publish" / "tiktok_journal.sqlite",
                               clock=ctx.aware_clock(), poll_interval_s=0.2, timeout_s=timeout_s,
                               upload_timeout_s=timeout_s, sleep=_short_sleep)

    return DialectPublisher(ctx, registry={"tiktok": tiktok})


def thread_workers(w: World, passes: int, workers: int = 3, next_day: bool = True) -> None:
    """In-process workers (threads) with the real guards, working through injected faults; after each pass
    (all workers waiting, no upload of theirs in flight) backoffs are skipped and, with `next_day`, a
    simulated day passes."""
    def between() -> None:
        if next_day:
            w.next_day()
        fast_forward(w)

    barrier = threading.Barrier(workers, action=between)
    with HttpPlatform(w.sb.url, SECRET, timeout_s=10.0) as client:
        publisher = thread_publisher(w, client)
        guards = PublishGuards.for_store(w.engine, client.now)

        def work(name: str) -> None:
            try:
                for _ in range(passes):
                    publish_due(w.engine, publisher, worker_id=name, lease_s=LEASE_S, guards=guards, limit=4)
                    barrier.wait(timeout=120)
            except BaseException:
                barrier.abort()  # the others stop waiting for this one
                raise

        threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(workers)]
        try:
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        finally:
            publisher.close()


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
    """`actp worker --publish-only` as deployed: the native publisher, TikTok's token and host from the
    environment, the journal under ACTP_HOME."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ACTP_")},
           "ACTP_DATABASE_URL": w.url, "ACTP_PLATFORM_URL": w.sb.url, "ACTP_PLATFORM_API_KEY": SECRET,
           "ACTP_TIKTOK_ACCESS_TOKEN": SECRET, "ACTP_TIKTOK_BASE_URL": w.sb.url,
           "ACTP_HOME": str(w.home), "ACTP_PUBLISHER": "native"}
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
    (heartbeats every 0.5 s; silent for 3 s = offline, its work released). A process that has sent TikTok
    nothing for STALL_S is waiting out a limit (TikTok's daily cap, a 429's minute): a simulated day passes
    (no upload is in flight then: the upload URL is PUT milliseconds after its init)."""
    from actp_pipeline.worker.heartbeats import release_offline_workers

    deadline = time.monotonic() + timeout_s
    seen, quiet_since = w.injector.platform_calls(), time.monotonic()
    while p.poll() is None and time.monotonic() < deadline:
        fast_forward(w)
        release_offline_workers(w.engine, offline_after_s=3.0)
        time.sleep(0.2)
        if w.injector.platform_calls() != seen:
            seen, quiet_since = w.injector.platform_calls(), time.monotonic()
        elif time.monotonic() - quiet_since > STALL_S:
            w.next_day()
            w.stalls += 1
            quiet_since = time.monotonic()
    if p.poll() is None:
        p.kill()
        w.timeouts += 1
    p.communicate()
    return p.returncode


def kill_9_rounds(w: World, rounds: int) -> None:
    """A worker process is SIGKILLed at one of KILL_POINTS (in turn), `rounds` times, one new item each."""
    for i in range(rounds):
        w.next_day()
        enqueue(w, 1)
        point = KILL_POINTS[i % len(KILL_POINTS)]
        where, _, what = point.partition(":")
        w.injector.processes = True
        if where == "failpoint":
            p = worker_process(w, f"doomed-{i}", failpoint=what)
        else:
            p = worker_process(w, f"doomed-{i}")
            w.injector.kill = Kill(p.pid, where, what)
        if wait_for(w, p) == -signal.SIGKILL:
            w.counts.injected["kill_9"] += 1
            w.kills_at[point] += 1
        w.injector.kill, w.injector.processes = None, False


def sigstop_rounds(w: World, rounds: int) -> None:
    """A worker process is paused (SIGSTOP) in a call before its send gate, past its lease; another worker
    takes its item over; then it resumes (SIGCONT): its init must not happen."""
    for i in range(rounds):
        w.next_day()
        enqueue(w, 1)
        w.injector.processes = True
        w.injector.slow_next["creator_info"] = 1
        p = worker_process(w, f"paused-{i}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and w.injector.slow_next["creator_info"] > 0 and p.poll() is None:
            time.sleep(0.05)
        if p.poll() is None:
            time.sleep(0.3)
            p.send_signal(signal.SIGSTOP)
            w.counts.injected["sigstop"] += 1
            time.sleep(LEASE_S + 0.5)  # the lease runs out while it is stopped
            thread_workers(w, passes=1, workers=1, next_day=False)
            p.send_signal(signal.SIGCONT)
        wait_for(w, p)
        w.injector.processes = False


def pause_mid_upload_rounds(w: World, rounds: int) -> None:
    """A worker process is paused (SIGSTOP) right after TikTok answered its video/init, before its final chunk,
    past its lease; another worker takes its item over and posts it; then it resumes (SIGCONT). Its chunk
    must not make a second post (the final chunk is the call that creates the post: it needs the lease)."""
    for i in range(rounds):
        w.next_day()
        enqueue(w, 1)
        w.injector.processes, enabled, w.injector.enabled = True, w.injector.enabled, False  # this pause alone
        p = worker_process(w, f"paused-mid-{i}")
        w.injector.kill = kill = Kill(p.pid, "init", "after", sig=signal.SIGSTOP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not kill.done and p.poll() is None:
            time.sleep(0.05)
        if kill.done and p.poll() is None:
            w.counts.injected["sigstop_mid_upload"] += 1
            time.sleep(LEASE_S + 0.5)  # the lease runs out while it is stopped
            thread_workers(w, passes=1, workers=1, next_day=False)  # its upload URL (an hour) stays valid
            p.send_signal(signal.SIGCONT)
        wait_for(w, p)
        w.injector.kill, w.injector.processes, w.injector.enabled = None, False, enabled


def skewed_process_rounds(w: World, rounds: int) -> None:
    """Worker processes whose clock runs 10 min ahead or 3 behind (libfaketime), while a slow call holds a
    lease; on PostgreSQL only: SQLite's clock is the process's own (the store is one machine's file)."""
    if not w.url.startswith("postgresql"):
        return
    with HttpPlatform(w.sb.url, SECRET, timeout_s=10.0) as client:
        publisher = thread_publisher(w, client, timeout_s=30.0)
        try:
            for i in range(rounds):
                w.next_day()
                enqueue(w, 2)
                w.injector.processes = True
                w.injector.slow_next["creator_info"] = 1  # a healthy worker holds a live 30 s lease through it
                holder = threading.Thread(target=publish_due, args=(w.engine, publisher),
                                          kwargs={"worker_id": f"holder-{i}", "lease_s": 30.0, "limit": 1})
                holder.start()
                deadline = time.monotonic() + 10
                while w.injector.slow_next["creator_info"] > 0 and time.monotonic() < deadline:
                    time.sleep(0.05)
                wait_for(w, worker_process(w, f"skewed-{i}", faketime="+10m" if i % 2 == 0 else "-3m"))
                holder.join()
                w.injector.processes = False
                w.counts.injected["clock_skew_process"] += 1
        finally:
            publisher.close()


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
    """Duplicates, lost items and silent loss, from the sandbox's truth and the store (module docstring)."""
    by_marker = {key_marker(k): k for k in keys}
    mine: dict[str, list[dict]] = defaultdict(list)
    stray = 0  # a TikTok post no item's marker names: made by nobody the store knows
    duplicates = 0
    for post in w.truth():
        duplicates += max(0, int(post["create_calls"]) - 1)
        key = next((by_marker[m] for m in MARKER.findall(post["caption"]) if m in by_marker), None)
        if key is None:
            stray += 1
        else:
            mine[key].append(post)
    duplicates += sum(len(posts) - 1 for posts in mine.values() if len(posts) > 1)
    q, ledger = schema.publish_queue, schema.posts
    with w.engine.connect() as c:
        status = dict(c.execute(sa.select(q.c.idempotency_key, q.c.status)).all())
        posts = dict(c.execute(sa.select(ledger.c.idempotency_key, ledger.c.external_id)).all())
    lost = sum(1 for k in keys if status.get(k) != "posted" or k not in posts or not mine[k])
    silent = stray
    for k, ext in posts.items():  # the ledger names the sandbox post by its publish id or its video id
        ids = {i for p in mine.get(k, []) for i in (p["idempotency_key"].removeprefix("tiktok:"),
                                                    w.video_id(p["post_id"]))}
        silent += int(str(ext) not in ids)
    return {"items": len(keys), "duplicate_platform_calls": duplicates, "items_lost": lost,
            "silent_data_loss": silent, "stray_posts": stray}


def run(store_url: str, tmp: Path, *, seed: int = 1, items: int = 40, thread_passes: int = 6, kills: int = 5,
        stops: int = 2, skews: int = 2, mid_upload_stops: int = 0) -> dict:
    """The whole publish fault suite on one store; returns its counts. `mid_upload_stops` rounds pause a
    worker between init and its final chunk (pause_mid_upload_rounds)."""
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
        pause_mid_upload_rounds(w, mid_upload_stops)
        skewed_process_rounds(w, skews)
        retried = drain(w)
        out = measure(w, w.keys)
        calls = {k: v for k, v in w.injector.calls.items() if k}
        return {**out, "dead_then_retried": retried, "faults": w.counts.total, "by_fault": dict(w.counts.injected),
                "kills_at": dict(w.kills_at), "stalls": w.stalls,
                "worker_timeouts": w.timeouts, "calls": calls,
                "seconds": round(time.monotonic() - started, 1)}
    finally:
        sb.__exit__(None, None, None)
