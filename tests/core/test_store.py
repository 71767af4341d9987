"""The operational store on SQLite and on a throwaway PostgreSQL: schema, claim/lease/token, reaper."""

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from actp_pipeline.store import SCHEMA_REVISION, connect_store, migrate
from actp_pipeline.store import schema
from actp_pipeline.store.migrations import current_revision
from actp_pipeline.store.queues import publish_queue, render_queue
from actp_pipeline.store.schema import utcnow


def _jobs(n):
    return [{"variant_id": f"v{i}", "payload": {"i": i}} for i in range(n)]


def test_schema_is_created_and_versioned(store_url):
    engine = connect_store(store_url)
    with engine.connect() as c:
        assert current_revision(c) == SCHEMA_REVISION
    assert migrate(engine) == SCHEMA_REVISION  # idempotent
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == [SCHEMA_REVISION]
        tables = set(sa.inspect(c).get_table_names())
    assert {"render_jobs", "publish_queue", "posts", "approvals", "worker_heartbeats"} <= tables
    assert "schema_version" not in tables  # Alembic's alembic_version is the one record


def test_newer_schema_is_refused(store_url):
    engine = connect_store(store_url)
    with engine.begin() as c:
        c.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(RuntimeError, match="newer than this code"):
        migrate(engine)


def test_enqueue_is_idempotent(store_url):
    q = render_queue(connect_store(store_url))
    assert q.enqueue(_jobs(5), unique_column="variant_id") == 5
    assert q.enqueue(_jobs(7), unique_column="variant_id") == 2
    assert q.counts() == {"queued": 7}


def test_claim_complete_and_stale_token(store_url):
    q = render_queue(connect_store(store_url))
    q.enqueue(_jobs(3), unique_column="variant_id")
    got = q.claim("w1", limit=2)
    assert [g["variant_id"] for g in got] == ["v0", "v1"]
    assert all(g["status"] == "running" and g["attempts"] == 1 and g["claim_token"] for g in got)
    assert q.complete(got[0]["id"], got[0]["claim_token"], output_path="/x.mp4")
    assert not q.complete(got[1]["id"], "not-the-token")
    assert q.counts() == {"succeeded": 1, "running": 1, "queued": 1}


def test_expired_lease_is_reaped_and_old_worker_changes_nothing(store_url):
    q = render_queue(connect_store(store_url))
    q.enqueue(_jobs(1), unique_column="variant_id")
    old = q.claim("w-old", lease_s=1)[0]
    assert q.reap(now=utcnow() + dt.timedelta(seconds=5)) == 1
    new = q.claim("w-new")[0]
    assert new["id"] == old["id"] and new["attempts"] == 2 and new["claim_token"] != old["claim_token"]
    # the worker whose lease was taken away writes nothing
    assert not q.complete(old["id"], old["claim_token"], output_path="/stale.mp4")
    assert q.fail(old["id"], old["claim_token"], "stale") is None
    assert q.complete(new["id"], new["claim_token"], output_path="/fresh.mp4")
    with q.engine.connect() as c:
        assert c.execute(sa.select(schema.render_jobs.c.output_path)).scalar() == "/fresh.mp4"


def test_failures_back_off_then_go_dead(store_url):
    q = render_queue(connect_store(store_url))
    q.enqueue(_jobs(2), unique_column="variant_id")
    far = utcnow() + dt.timedelta(days=1)
    statuses = []
    for _ in range(3):
        item = q.claim("w", now=far, where=schema.render_jobs.c.variant_id == "v0")[0]
        statuses.append(q.fail(item["id"], item["claim_token"], "ffmpeg exploded", backoff_s=10))
    assert statuses == ["queued", "queued", "failed"]  # a render's final failure is `failed`
    # the rest of the queue keeps moving
    other = q.claim("w")
    assert [o["variant_id"] for o in other] == ["v1"]
    with q.engine.connect() as c:
        row = c.execute(sa.select(schema.render_jobs).where(schema.render_jobs.c.variant_id == "v0")).mappings().one()
    assert row["status"] == "failed" and "ffmpeg exploded" in row["last_error"] and row["attempts"] == 3


def test_backoff_delays_next_claim(store_url):
    q = render_queue(connect_store(store_url))
    q.enqueue(_jobs(1), unique_column="variant_id")
    item = q.claim("w")[0]
    assert q.fail(item["id"], item["claim_token"], "temporary", backoff_s=60) == "queued"
    assert q.claim("w") == []  # not before its backoff
    assert len(q.claim("w", now=utcnow() + dt.timedelta(seconds=61))) == 1


def test_publish_attempt_failures_wait_as_failed_then_dead(store_url):
    q = publish_queue(connect_store(store_url))
    q.enqueue([{"variant_id": "v0", "platform": "tiktok", "account": "main", "idempotency_key": "k0",
                "scheduled_at": utcnow(), "payload": {}}], unique_column="idempotency_key")
    seen = []
    for i in range(3):
        item = q.claim("w", now=utcnow() + dt.timedelta(hours=i + 1))[0]
        seen.append(q.fail(item["id"], item["claim_token"], "HTTP 503", backoff_s=1))
    assert seen == ["failed", "failed", "dead"]


def test_in_flight_publish_item_is_reaped_to_unknown(store_url):
    q = publish_queue(connect_store(store_url))
    q.enqueue([{"variant_id": "v0", "platform": "tiktok", "account": "main", "idempotency_key": "k0",
                "scheduled_at": utcnow(), "payload": {}}], unique_column="idempotency_key")
    item = q.claim("w", lease_s=1)[0]
    assert q.set_status(item["id"], item["claim_token"], "uploading")
    assert q.reap(now=utcnow() + dt.timedelta(seconds=5)) == 1
    assert q.counts() == {"unknown": 1}


def test_cancel(store_url):
    q = render_queue(connect_store(store_url))
    q.enqueue(_jobs(2), unique_column="variant_id")
    ids = [r["id"] for r in q.claim("w", limit=1)]
    assert q.cancel(ids[0])
    assert q.counts() == {"cancelled": 1, "queued": 1}


def test_concurrent_claims_never_hand_out_an_item_twice(store_url):
    engine = connect_store(store_url)
    q = render_queue(engine)
    q.enqueue(_jobs(200), unique_column="variant_id")
    taken: list[str] = []
    lock = threading.Lock()

    def worker(name):
        while True:
            got = q.claim(name, limit=3)
            if not got:
                return
            with lock:
                taken.extend(g["variant_id"] for g in got)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 200 and len(set(taken)) == 200


def test_retry_gives_a_dead_item_fresh_attempts(store_url):
    q = render_queue(connect_store(store_url))
    q.enqueue(_jobs(1), unique_column="variant_id")
    item = q.claim("w")[0]
    assert q.fail(item["id"], item["claim_token"], "bad font", retryable=False) == "failed"
    assert q.retry(item["id"])
    again = q.claim("w")[0]
    assert again["attempts"] == 1 and again["last_error"] == "bad font"
    assert not q.retry(again["id"])  # a running item is not retried from outside


def test_concurrent_enqueues_of_the_same_keys_insert_each_once(store_url):
    engine = connect_store(store_url)
    q = render_queue(engine)
    assert q.enqueue(_jobs(3) + _jobs(3), unique_column="variant_id") == 3  # a key repeated in one call
    new: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def producer():
        try:
            start.wait()
            new.append(q.enqueue(_jobs(50), unique_column="variant_id"))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=producer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sum(new) == 47
    assert q.counts() == {"queued": 50}


def test_a_reused_where_is_claimed_with_its_params(store_url):
    q = publish_queue(connect_store(store_url))
    t = schema.publish_queue
    q.enqueue([{"variant_id": f"v{i}", "platform": "tiktok", "account": f"a{i % 2}", "idempotency_key": f"k{i}",
                "scheduled_at": utcnow(), "payload": {}} for i in range(4)], unique_column="idempotency_key")
    where = t.c.account == sa.bindparam("acct", type_=t.c.account.type)
    assert [r["idempotency_key"] for r in q.claim("w", limit=5, where=where, params={"acct": "a1"})] == ["k1", "k3"]
    assert [r["idempotency_key"] for r in q.claim("w", limit=5, where=where, params={"acct": "a0"})] == ["k0", "k2"]
    assert q.claim("w", where=where, params={"acct": "a0"}) == []
