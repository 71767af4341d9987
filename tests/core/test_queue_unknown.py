"""An item whose post may exist (`unknown`, or failed after reaching the platform) is never cancelled into a
live post with no ledger row, and never re-posted without a lookup: tested against a platform that does
NOT dedupe idempotency keys, counting create calls."""

import datetime as dt

import sqlalchemy as sa

from actp_pipeline.cli import main
from actp_pipeline.publish.posts import publish_due
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import publish_queue
from actp_pipeline.store.schema import utcnow


class NoDedupePlatform:
    """Every create makes a new post (no idempotency keys), like a browser upload; find_post searches by key."""

    def __init__(self):
        self.posts: list[dict] = []
        self.creates = 0
        self.script: list[Exception | None] = []  # what each create does after it posted: raise or return

    def now(self):
        return utcnow()

    def publish(self, *, media_path, platform, account, caption, hashtags, scheduled_at, idempotency_key,
                before_send=None):
        if before_send is not None:
            before_send()
        self.creates += 1
        post = {"post_id": f"p{self.creates}", "url": "u", "live_at": "2026-11-01T00:00:00Z", "key": idempotency_key}
        self.posts.append(post)
        then = self.script.pop(0) if self.script else None
        if then is not None:
            raise then
        return post

    def find_post(self, key):
        return next((p for p in self.posts if p["key"] == key), None)


def _store(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    media = tmp_path / "v.mp4"
    media.write_bytes(b"x")
    publish_queue(engine).enqueue([{"variant_id": "v0", "platform": "tiktok", "account": "main",
                                    "idempotency_key": "k0", "scheduled_at": utcnow(),
                                    "payload": {"media_path": str(media), "caption": "c"}}],
                                  unique_column="idempotency_key")
    return engine


def _row(engine):
    t = schema.publish_queue
    with engine.connect() as c:
        return c.execute(sa.select(t.c.id, t.c.status, t.c.attempts).where(t.c.idempotency_key == "k0")).one()


def _due_now(engine):
    t = schema.publish_queue
    with engine.begin() as c:
        c.execute(t.update().values(available_at=utcnow() - dt.timedelta(seconds=1)))


def test_an_unknown_item_cannot_be_cancelled_or_retried(tmp_path, capsys):
    engine = _store(tmp_path)
    platform = NoDedupePlatform()
    platform.script = [AmbiguousOutcome("read timeout after sending", retryable=True)]
    assert publish_due(engine, platform, worker_id="w").ambiguous == ["k0"]
    item_id, status, _ = _row(engine)
    assert status == "unknown"
    q = publish_queue(engine)
    assert not q.cancel(item_id) and not q.retry(item_id)
    assert _row(engine).status == "unknown"
    # the CLI says why, in one line, and exits 1
    assert main(["--data-dir", str(tmp_path), "queue", "cancel", "uploads", str(item_id)]) == 1
    err = capsys.readouterr().out.strip()
    assert err.startswith(f"uploads #{item_id}: cancel refused (it is unknown: the platform may already have it")
    _due_now(engine)
    assert publish_due(engine, platform, worker_id="w").reconciled == ["k0"]
    assert platform.creates == 1 and _row(engine).status == "posted"


def test_a_failed_item_given_fresh_attempts_is_looked_up_before_posting(tmp_path):
    engine = _store(tmp_path)
    platform = NoDedupePlatform()
    # the create reached the platform (a post exists) but the answer was a refusal the worker took as final
    platform.script = [PlatformError("HTTP 400 caption rejected", status=400, retryable=False)]
    assert publish_due(engine, platform, worker_id="w").dead == ["k0"]
    item_id, status, attempts = _row(engine)
    assert status == "dead" and platform.creates == 1
    assert publish_queue(engine).retry(item_id)  # an operator gives it fresh attempts
    assert _row(engine).attempts == 0
    report = publish_due(engine, platform, worker_id="w")
    assert report.reconciled == ["k0"] and platform.creates == 1  # found, not posted a second time
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(schema.posts)).scalar() == 1


def test_a_fresh_item_is_posted_without_a_lookup(tmp_path):
    engine = _store(tmp_path)
    platform = NoDedupePlatform()
    platform.find_post = None  # a lookup would fail the test: a first attempt goes straight to create
    assert publish_due(engine, platform, worker_id="w").posted == ["k0"] and platform.creates == 1
