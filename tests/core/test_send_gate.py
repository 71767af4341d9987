"""The send gate right before the create call (issue 9, classes 4a, 4b and 8). The worker's logic runs against
a publisher written here that does NOT dedupe idempotency keys, takes a scripted time to upload before its
create and logs when each create is made; the fence is also shown on the native publisher posting to the
sandbox's TikTok over real HTTP.

4a: a worker whose lease ran out during its upload makes no create call (the fence, by claim token and lease).
4b: leases, heartbeats and the reaper run on the database's clock, not a worker's skewed one.
8: rate limits count calls when they are sent: never more creates in a window than the limit, as the
   platform counts them (arrival times), however long the uploads before them took.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from actp_pipeline.publish import rate_limits
from actp_pipeline.publish.posts import PublishGuards, publish_due
from actp_pipeline.publish.rate_limits import RateLimit
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.clock import db_now
from actp_pipeline.store.queues import publish_queue
from actp_pipeline.store.schema import utcnow
from actp_pipeline.worker.heartbeats import beat, release_offline_workers
from tests.core.test_platforms import CREATOR, INIT, Faults
from tests.core.test_publish_ambiguity import faulty_native
from tests.sandbox_posts import truth_posts


class LoggingPublisher:
    """A `Publisher` without idempotency (every create is a new post): each publish first uploads for the next
    scripted delay (seconds; creates nothing), then calls `before_send` and makes its create, logged with the
    time it reached the platform. `find_post` finds what a create made."""

    def __init__(self, upload_delays: list[float] | None = None):
        self.creates: list[tuple[float, str]] = []  # (arrival time, idempotency key)
        self.delays = list(upload_delays or [])
        self.lock = threading.Lock()

    def publish(self, *, media_path, platform, account, caption, hashtags, scheduled_at, idempotency_key,
                before_send=None) -> dict:
        with self.lock:
            delay = self.delays.pop(0) if self.delays else 0.0
        time.sleep(delay)  # a slow upload; other workers go on meanwhile
        if before_send is not None:
            before_send()
        with self.lock:
            self.creates.append((time.time(), idempotency_key))
            n = len(self.creates)
        return {"post_id": f"p{n}", "status": "live", "url": "u", "live_at": "2026-11-01T00:00:00Z"}

    def find_post(self, idempotency_key: str) -> dict | None:
        with self.lock:
            hits = [k for _, k in self.creates if k == idempotency_key]
        return {"post_id": "p-found", "status": "live", "url": "u", "live_at": "2026-11-01T00:00:00Z"} if hits else None


def _enqueue(engine, tmp_path, n: int, account: str = "main", media=None) -> None:
    if media is None:
        media = tmp_path / "v.mp4"
        media.write_bytes(b"x")
    publish_queue(engine).enqueue(
        [{"variant_id": f"v{i}", "platform": "tiktok", "account": account, "idempotency_key": f"k{i}",
          "scheduled_at": utcnow() - dt.timedelta(minutes=1),
          "payload": {"media_path": str(media), "caption": "c"}} for i in range(n)],
        unique_column="idempotency_key")


def _wait_lease_gone(engine, key: str, timeout_s: float = 20.0) -> None:
    """Until the worker holding `key` has claimed it and its lease has run out on the database's clock (a fixed
    sleep raced a slow first claim on a loaded host: the reaper then found the lease still good)."""
    t, deadline = schema.publish_queue, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with engine.connect() as c:
            status, until = c.execute(sa.select(t.c.status, t.c.lease_expires_at)
                                      .where(t.c.idempotency_key == key)).one()
        if status in ("claimed", "uploading") and until is not None and until < db_now(engine):
            return
        time.sleep(0.05)
    raise AssertionError(f"{key}: no claim whose lease ran out within {timeout_s} s (status {status})")


def _statuses(engine) -> dict[str, str]:
    t = schema.publish_queue
    with engine.connect() as c:
        return dict(c.execute(sa.select(t.c.idempotency_key, t.c.status)).all())


# ------------------------------------------------------------------------------------------- 4a: fence
def test_a_worker_whose_lease_ran_out_during_its_upload_sends_no_create(store_url, tmp_path):
    engine = connect_store(store_url)
    _enqueue(engine, tmp_path, 1)
    platform = LoggingPublisher(upload_delays=[5.0, 0.0])  # the first worker's media upload outlives its lease
    first: dict = {}
    slow = threading.Thread(target=lambda: first.update(
        report=publish_due(engine, platform, worker_id="slow", lease_s=1.0, clock=utcnow)))
    slow.start()
    _wait_lease_gone(engine, "k0")  # the slow worker is still uploading; its lease is gone on the database's clock
    assert release_offline_workers(engine)["reaped"] == 1  # uploading -> unknown
    second = publish_due(engine, platform, worker_id="fast", lease_s=30.0, clock=utcnow)
    slow.join(timeout=30)
    assert second.posted == ["k0"]  # looked up (nothing there yet), then posted by its new holder
    assert first["report"].lost_lease == ["k0"] and "lease" in first["report"].errors["k0"]
    assert [k for _, k in platform.creates] == ["k0"]  # one create reached the platform, ever
    assert _statuses(engine) == {"k0": "posted"}


def test_the_native_tiktok_adapter_sends_no_create_once_the_lease_is_gone(store_url, tmp_path, mp4_with_descriptor):
    """The same fence on the native publisher posting to the sandbox's TikTok over HTTP: the slow worker's
    creator info query outlives its lease, its gate refuses, and its video/init is never sent."""
    engine = connect_store(store_url)
    _enqueue(engine, tmp_path, 1, media=mp4_with_descriptor[0])
    faults = Faults(delay={CREATOR: [5.0]})  # the first worker's query before the create outlives its lease
    with SandboxServer(WorldConfig(start=dt.datetime(2026, 11, 1), truth_token="truth-for-tests")) as sb:
        pub = faulty_native(sb, tmp_path, faults)
        try:
            first: dict = {}
            slow = threading.Thread(target=lambda: first.update(
                report=publish_due(engine, pub, worker_id="slow", lease_s=1.0, clock=utcnow)))
            slow.start()
            _wait_lease_gone(engine, "k0")
            assert release_offline_workers(engine)["reaped"] == 1  # uploading -> unknown
            second = publish_due(engine, pub, worker_id="fast", lease_s=30.0, clock=utcnow)
            slow.join(timeout=30)
        finally:
            pub.close()
        made = [p for p in truth_posts(sb.url) if p["platform"] == "tiktok"]
    assert second.posted == ["k0"], second.errors  # looked up (nothing there), then posted by its new holder
    assert first["report"].lost_lease == ["k0"] and "lease" in first["report"].errors["k0"]
    assert faults.sent.count(INIT) == 1 and faults.sent.count(CREATOR) == 2 and len(made) == 1
    assert _statuses(engine) == {"k0": "posted"}


def test_the_fence_checks_token_status_and_lease(store_url):
    engine = connect_store(store_url)
    q = publish_queue(engine)
    q.enqueue([{"variant_id": "v", "platform": "tiktok", "account": "a", "idempotency_key": "k",
                "scheduled_at": utcnow(), "payload": {}}], unique_column="idempotency_key")
    item = q.claim("w", lease_s=60)[0]
    assert not q.fence(item["id"], item["claim_token"], 60, status="uploading")  # not uploading yet
    assert q.set_status(item["id"], item["claim_token"], "uploading")
    assert not q.fence(item["id"], "not-the-token", 60)
    assert q.fence(item["id"], item["claim_token"], 60, status="uploading")
    t = schema.publish_queue
    with engine.begin() as c:  # the lease ran out on the database's clock
        c.execute(t.update().values(lease_expires_at=db_now(c) - dt.timedelta(seconds=1)))
    assert not q.fence(item["id"], item["claim_token"], 60, status="uploading")


# ------------------------------------------------------------------------------------- 4b: one clock
@pytest.mark.parametrize("skew", [dt.timedelta(minutes=10), dt.timedelta(minutes=-3)])
def test_a_skewed_worker_clock_decides_nothing(store_url, monkeypatch, skew):
    """A worker whose own clock is 10 min ahead (or 3 behind) neither reaps a healthy lease, nor marks a
    worker that just beat offline, nor hands out leases on its own time."""
    engine = connect_store(store_url)
    q = publish_queue(engine)
    q.enqueue([{"variant_id": "v", "platform": "tiktok", "account": "a", "idempotency_key": "k",
                "scheduled_at": utcnow(), "payload": {}}], unique_column="idempotency_key")
    healthy = q.claim("healthy", lease_s=120)[0]
    assert q.set_status(healthy["id"], healthy["claim_token"], "uploading")
    beat(engine, "healthy", jobs_completed=0, jobs_running=1, started_at=utcnow())

    skewed = lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None) + skew  # noqa: E731
    for module in ("actp_pipeline.store.schema", "actp_pipeline.store.queues", "actp_pipeline.worker.heartbeats"):
        monkeypatch.setattr(f"{module}.utcnow", skewed)
    beat(engine, "behind-or-ahead", jobs_completed=0, jobs_running=0, started_at=skewed())
    moved = release_offline_workers(engine)  # run by the skewed process
    assert moved["offline"] == [] and moved["reaped"] == 0 and moved["uploads"] == 0
    assert _statuses(engine) == {"k": "uploading"}

    q.enqueue([{"variant_id": "v2", "platform": "tiktok", "account": "a", "idempotency_key": "k2",
                "scheduled_at": utcnow(), "payload": {}}], unique_column="idempotency_key")
    mine = q.claim("skewed", lease_s=300)
    assert [i["idempotency_key"] for i in mine] == ["k2"]  # available on the database's clock
    with engine.connect() as c:
        lease = c.execute(sa.select(schema.publish_queue.c.lease_expires_at)
                          .where(schema.publish_queue.c.id == mine[0]["id"])).scalar_one()
        db = db_now(c)
        hb = dict(c.execute(sa.select(schema.worker_heartbeats.c.worker_id,
                                      schema.worker_heartbeats.c.last_heartbeat)).all())
    assert abs((lease - db).total_seconds() - 300) < 5  # the lease is 300 s of the database's time
    assert abs((hb["behind-or-ahead"] - db).total_seconds()) < 5


# ------------------------------------------------------------------------------- 8: count at send time
def _max_in_window(times: list[float], per_s: float) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t - per_s < u <= t) for t in times), default=0)


@pytest.mark.parametrize("workers", [1, 3])
def test_creates_in_any_window_never_exceed_the_limit_at_the_platform(store_url, tmp_path, workers):
    """Limit 3 creates per 2 s. The first upload takes 1.9 s, the next ones are instant: slots taken before
    the slow upload would let 4+ creates arrive within 2 s; stamped at send time they cannot."""
    engine = connect_store(store_url)
    _enqueue(engine, tmp_path, 9)
    limits = {"tiktok": [RateLimit(3, 2.0)]}
    guards = PublishGuards.for_store(engine, time.time, limits=limits)
    platform = LoggingPublisher(upload_delays=[1.9] + [0.0] * 8 if workers == 1 else [1.9, 1.5, 0.2] + [0.0] * 8)
    deadline = time.monotonic() + 40

    def work(name: str) -> None:
        while time.monotonic() < deadline and set(_statuses(engine).values()) != {"posted"}:
            publish_due(engine, platform, worker_id=name, clock=utcnow, guards=guards, lease_s=60, limit=1)
            time.sleep(0.05)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert set(_statuses(engine).values()) == {"posted"}
    keys = [k for _, k in platform.creates]
    assert sorted(keys) == sorted(f"k{i}" for i in range(9))  # each posted once
    # stamps are exact; a create is made a few ms after its stamp, so creates are checked over 1.95 s windows
    assert _max_in_window([t for t, _ in platform.creates], 1.95) <= 3


def test_calls_count_from_when_they_are_sent_not_granted(store_url):
    engine = connect_store(store_url)
    now = [1000.0]
    limiter = rate_limits.StoreRateLimiter(engine, limits={"tiktok": [RateLimit(2, 60.0)]}, clock=lambda: now[0])
    a, b = limiter.acquire("tiktok", "x"), limiter.acquire("tiktok", "x")
    assert a.allowed and b.allowed and not limiter.acquire("tiktok", "x").allowed
    now[0] = 1050.0  # both sent 50 s after their grants (slow uploads)
    assert limiter.stamp("tiktok", "x", a.ticket).allowed and limiter.stamp("tiktok", "x", b.ticket).allowed
    now[0] = 1061.0  # the grants (1000) would have left the window; the sends (1050) have not
    late = limiter.acquire("tiktok", "x")
    assert not late.allowed and late.wait_s == pytest.approx(1050 + 60 - 1061)


def test_stamp_refuses_what_the_platform_blocked_since_the_grant(store_url):
    engine = connect_store(store_url)
    now = [0.0]
    limiter = rate_limits.StoreRateLimiter(engine, limits={"tiktok": [RateLimit(6, 60.0)]}, clock=lambda: now[0])
    g = limiter.acquire("tiktok", "x")
    limiter.note_retry_after("tiktok", "x", "100")  # another worker's call got a 429 meanwhile
    now[0] = 10.0
    refused = limiter.stamp("tiktok", "x", g.ticket)
    assert not refused.allowed and refused.ticket is None and refused.wait_s == pytest.approx(90)
