"""The publish path with an in-memory platform: exactly once through retries, ambiguity, poison, lost leases."""

import datetime as dt
import threading

import httpx
import pytest
import sqlalchemy as sa

from actp_pipeline.publish.posts import PublishReport, publish_due, publish_item
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import publish_queue
from actp_pipeline.store.schema import utcnow
from actp_pipeline.worker.loop import WorkerConfig, run_worker


class FakePlatform:
    """Dedupes on the idempotency key like a real platform; can be told to misbehave per key."""

    def __init__(self):
        self.posts: dict[str, dict] = {}
        self.calls: dict[str, int] = {}
        self.fail: dict[str, Exception] = {}
        self.accept_then_timeout: set[str] = set()

    def now(self):
        return utcnow()

    def publish(self, *, media_path, platform, account, caption, hashtags, scheduled_at, idempotency_key,
                before_send=None):
        if before_send is not None:
            before_send()
        self.calls[idempotency_key] = self.calls.get(idempotency_key, 0) + 1
        if idempotency_key in self.fail:
            raise self.fail[idempotency_key]
        post = self.posts.setdefault(idempotency_key, {"post_id": f"p-{len(self.posts)}", "url": "u",
                                                       "live_at": "2026-11-01T00:00:00Z"})
        if idempotency_key in self.accept_then_timeout:
            self.accept_then_timeout.discard(idempotency_key)
            raise AmbiguousOutcome("read timeout after sending", retryable=True)
        return post

    def find_post(self, key):
        return self.posts.get(key)


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


def _enqueue(engine, tmp_path, n):
    media = tmp_path / "v.mp4"
    media.write_bytes(b"not checked by the fake")
    publish_queue(engine).enqueue([
        {"variant_id": f"v{i}", "platform": "tiktok", "account": "main", "idempotency_key": f"k{i}",
         "scheduled_at": utcnow(), "payload": {"media_path": str(media), "caption": "c", "hashtags": ["#a"]}}
        for i in range(n)], unique_column="idempotency_key")


def _statuses(engine):
    t = schema.publish_queue
    with engine.connect() as c:
        return dict(c.execute(sa.select(t.c.idempotency_key, t.c.status)).all())


def test_each_item_posted_once_and_ledgered(engine, tmp_path):
    _enqueue(engine, tmp_path, 5)
    fake = FakePlatform()
    report = publish_due(engine, fake, worker_id="w")
    assert len(report.posted) == 5 and set(fake.calls.values()) == {1}
    assert set(_statuses(engine).values()) == {"posted"}
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(schema.posts)).scalar() == 5
    assert publish_due(engine, fake, worker_id="w").handled == 0


def test_ambiguous_outcome_is_reconciled_not_reposted(engine, tmp_path):
    _enqueue(engine, tmp_path, 1)
    fake = FakePlatform()
    fake.accept_then_timeout.add("k0")
    first = publish_due(engine, fake, worker_id="w")
    assert first.ambiguous == ["k0"] and _statuses(engine)["k0"] == "unknown"
    assert publish_due(engine, fake, worker_id="w").handled == 0  # the platform gets time to settle
    t = schema.publish_queue
    with engine.begin() as c:
        c.execute(t.update().values(available_at=utcnow() - dt.timedelta(seconds=1)))
    second = publish_due(engine, fake, worker_id="w")
    assert second.reconciled == ["k0"] and fake.calls["k0"] == 1  # looked up, never sent twice
    assert _statuses(engine)["k0"] == "posted"


def test_poison_item_goes_dead_after_its_attempts_and_the_rest_moves(engine, tmp_path):
    _enqueue(engine, tmp_path, 3)
    fake = FakePlatform()
    fake.fail["k1"] = PlatformError("HTTP 503 upstream", status=503, retryable=True, retry_after_s=0)
    for i in range(4):  # time travel past each backoff
        publish_due(engine, fake, worker_id="w", now=utcnow() + dt.timedelta(hours=i))
        t = schema.publish_queue
        with engine.begin() as c:
            c.execute(t.update().where(t.c.status == "failed").values(available_at=utcnow() - dt.timedelta(seconds=1)))
    st = _statuses(engine)
    assert st == {"k0": "posted", "k1": "dead", "k2": "posted"}
    assert fake.calls["k1"] == 3
    with engine.connect() as c:
        err = c.execute(sa.select(schema.publish_queue.c.last_error).where(schema.publish_queue.c.idempotency_key == "k1")).scalar()
    assert "503" in err


def test_non_retryable_refusal_is_dead_at_once(engine, tmp_path):
    _enqueue(engine, tmp_path, 1)
    fake = FakePlatform()
    fake.fail["k0"] = PlatformError("HTTP 415 not a video", status=415, retryable=False)
    report = publish_due(engine, fake, worker_id="w")
    assert report.dead == ["k0"] and fake.calls["k0"] == 1


def test_worker_whose_lease_was_taken_changes_nothing(engine, tmp_path):
    _enqueue(engine, tmp_path, 1)
    q = publish_queue(engine)
    stale = q.claim("old", lease_s=1)[0]
    q.reap(now=utcnow() + dt.timedelta(seconds=5))
    fresh = q.claim("new")[0]
    fake = FakePlatform()
    report = PublishReport()
    publish_item(engine, fake, stale, report)
    # the stale worker cannot even move the item to uploading: no platform call at all
    assert report.lost_lease == ["k0"] and fake.calls == {}
    publish_item(engine, fake, fresh, PublishReport())
    assert _statuses(engine)["k0"] == "posted" and fake.calls["k0"] == 1


def test_worker_serves_health_and_heartbeats(engine, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _enqueue(engine, tmp_path, 3)
    stop = threading.Event()
    out = {}
    cfg = WorkerConfig(renders=False, idle_sleep_s=0.1, heartbeat_s=0.2, health_port=port)
    th = threading.Thread(target=lambda: out.update(run_worker(engine, worker_id="w-health", media_dir=tmp_path,
                                                               publisher=FakePlatform(), cfg=cfg, stop=stop)))
    th.start()
    try:
        for _ in range(50):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()
                if health["jobs_processed"] == 3:
                    break
            except httpx.HTTPError:
                pass
            threading.Event().wait(0.1)
        assert health["worker_id"] == "w-health" and health["status"] == "online"
        assert health["jobs_processed"] == 3 and health["pending_uploads"] == 0 and "started_at" in health
        assert httpx.get(f"http://127.0.0.1:{port}/nope").status_code == 404
    finally:
        stop.set()
        th.join(10)
    assert out["posted"] == 3
    with engine.connect() as c:
        row = c.execute(sa.select(schema.worker_heartbeats)).mappings().one()
    assert row["worker_id"] == "w-health" and row["jobs_completed"] == 3 and row["status"] == "stopped"


def test_publish_due_reports_each_item_to_its_callback(engine, tmp_path):
    _enqueue(engine, tmp_path, 3)
    fake = FakePlatform()
    fake.accept_then_timeout.add("k1")
    fake.fail["k2"] = PlatformError("unsupported", status=400)
    seen = []
    report = publish_due(engine, fake, worker_id="w", on_publish=lambda key, outcome: seen.append((key, outcome)))
    assert sorted(seen) == [("k0", "posted"), ("k1", "ambiguous"), ("k2", "dead")]
    assert report.posted == ["k0"] and report.ambiguous == ["k1"] and report.dead == ["k2"]


def test_a_failing_progress_callback_does_not_stop_the_batch(engine, tmp_path):
    _enqueue(engine, tmp_path, 2)

    def broken(key, outcome):
        raise RuntimeError("the progress bar fell over")

    report = publish_due(engine, FakePlatform(), worker_id="w", on_publish=broken)
    assert sorted(report.posted) == ["k0", "k1"] and set(_statuses(engine).values()) == {"posted"}


def test_worker_reports_renders_and_uploads_to_on_item(engine, tmp_path, monkeypatch):
    from dataclasses import dataclass

    import actp_pipeline.renders.queue as render_queue_mod
    from actp_pipeline.renders import RenderError
    from actp_pipeline.store.queues import render_queue

    @dataclass
    class FakeProbe:
        duration_s: float = 1.0

    def fake_render(job, media_dir, render):  # the render itself is test_renders' business
        if job["variant_id"] == "r-bad":
            raise RenderError("no font")
        out = media_dir / f"{job['variant_id']}.mp4"
        out.write_bytes(b"x")
        return out, FakeProbe(), "sha"

    monkeypatch.setattr(render_queue_mod, "_render_one", fake_render)
    render_queue(engine).enqueue([{"variant_id": v, "payload": {}} for v in ("r-ok", "r-bad")],
                                 unique_column="variant_id")
    _enqueue(engine, tmp_path, 2)
    seen = []
    cfg = WorkerConfig(render_batch=2, idle_sleep_s=0.05, health_port=None, exit_when_idle=True)
    # a failed render is retried after a backoff: stop once every item was reported once
    stop = threading.Event()

    def on_item(kind, item, outcome):
        seen.append((kind, item, outcome))
        if len(seen) == 4:
            stop.set()

    totals = run_worker(engine, worker_id="w-progress", media_dir=tmp_path / "media", publisher=FakePlatform(),
                        cfg=cfg, stop=stop, on_item=on_item)
    assert sorted(seen) == [("render", "r-bad", "retried"), ("render", "r-ok", "succeeded"),
                            ("upload", "k0", "posted"), ("upload", "k1", "posted")]
    assert totals["rendered"] == 1 and totals["render_failures"] == 1 and totals["posted"] == 2


def test_rate_limit_is_taken_before_the_claim(engine, tmp_path):
    from actp_pipeline.publish.posts import PublishGuards
    from actp_pipeline.publish.rate_limits import RateLimit

    _enqueue(engine, tmp_path, 5)
    now = [utcnow()]
    guards = PublishGuards.for_store(engine, lambda: now[0], limits={"tiktok": [RateLimit(2, 60)]})
    fake = FakePlatform()
    first = publish_due(engine, fake, worker_id="w", clock=lambda: now[0], guards=guards)
    assert len(first.posted) == 2 and "rate limit: next slot in 60 s" in first.deferred["tiktok:main"]
    assert sorted(_statuses(engine).values()).count("queued") == 3  # nothing claimed beyond the limit
    assert publish_due(engine, fake, worker_id="w", clock=lambda: now[0], guards=guards).handled == 0
    now[0] += dt.timedelta(seconds=60)  # exactly when the oldest call leaves the window
    assert len(publish_due(engine, fake, worker_id="w", clock=lambda: now[0], guards=guards).posted) == 2


def test_breaker_opens_after_consecutive_failures_and_stops_calls(engine, tmp_path):
    from actp_pipeline.publish.posts import PublishGuards

    _enqueue(engine, tmp_path, 8)
    now = [utcnow()]
    guards = PublishGuards.for_store(engine, lambda: now[0], limits={})
    fake = FakePlatform()
    for i in range(8):
        fake.fail[f"k{i}"] = PlatformError("HTTP 503", status=503, retryable=True)
    report = publish_due(engine, fake, worker_id="w", clock=lambda: now[0], guards=guards)
    assert sum(fake.calls.values()) == 5 and len(report.retried) == 5  # then it rejects fast
    assert "circuit breaker open" in report.deferred["tiktok:main"]
    assert guards.breaker.state("tiktok", "main") == "open"
    assert sorted(_statuses(engine).values()).count("queued") == 3  # untouched, attempts not spent
    fake.fail.clear()
    now[0] += dt.timedelta(seconds=60)  # half-open: one trial at a time, two successes close it
    t = schema.publish_queue
    with engine.begin() as c:
        c.execute(t.update().values(available_at=utcnow() - dt.timedelta(seconds=1)))
    publish_due(engine, fake, worker_id="w", clock=lambda: now[0], guards=guards)
    assert guards.breaker.state("tiktok", "main") == "closed"


def test_429_blocks_the_key_and_does_not_spend_an_attempt(engine, tmp_path):
    from actp_pipeline.publish.posts import PublishGuards

    _enqueue(engine, tmp_path, 2)
    now = [utcnow()]
    guards = PublishGuards.for_store(engine, lambda: now[0], limits={})
    fake = FakePlatform()
    fake.fail["k0"] = PlatformError("HTTP 429", status=429, retryable=True, retry_after="120")
    report = publish_due(engine, fake, worker_id="w", clock=lambda: now[0], guards=guards)
    assert "Retry-After 120" in report.deferred["tiktok:main"] and fake.calls == {"k0": 1}
    with engine.connect() as c:
        row = c.execute(sa.select(schema.publish_queue).where(schema.publish_queue.c.idempotency_key == "k0")).mappings().one()
    assert row["status"] == "queued" and row["attempts"] == 0
    fake.fail.clear()
    now[0] += dt.timedelta(seconds=119)
    assert publish_due(engine, fake, worker_id="w", clock=lambda: now[0], guards=guards).handled == 0
    now[0] += dt.timedelta(seconds=1)
    assert len(publish_due(engine, fake, worker_id="w", clock=lambda: now[0], guards=guards).posted) == 2

