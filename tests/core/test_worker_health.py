"""Heartbeats keep leases alive; a silent worker is marked offline and its work released."""

import datetime as dt
import time


from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import publish_queue, render_queue
from actp_pipeline.store.schema import utcnow
from actp_pipeline.worker.heartbeats import Heartbeat, release_offline_workers, workers


def _setup(store_url):
    engine = connect_store(store_url)
    render_queue(engine).enqueue([{"variant_id": "v0", "payload": {}}], unique_column="variant_id")
    publish_queue(engine).enqueue([{"variant_id": "v0", "platform": "tiktok", "account": "main", "idempotency_key": "k0",
                                    "scheduled_at": utcnow(), "payload": {}}], unique_column="idempotency_key")
    return engine


def test_heartbeat_extends_held_leases(store_url):
    engine = _setup(store_url)
    q = render_queue(engine)
    job = q.claim("w1", lease_s=1)[0]
    with Heartbeat(engine, "w1", interval_s=0.2, lease_s=30) as hb:
        hb.hold(q, [job])
        time.sleep(0.6)
        assert q.reap(now=utcnow() + dt.timedelta(seconds=5)) == 0  # lease renewed to ~30 s
        hb.drop(q, job["id"])
        assert hb.jobs_completed == 1
    rows = workers(engine)
    assert rows[0]["worker_id"] == "w1" and rows[0]["status"] == "stopped" and rows[0]["system_info"]


def test_offline_worker_work_is_released(store_url):
    engine = _setup(store_url)
    rq, pq = render_queue(engine), publish_queue(engine)
    job = rq.claim("dead-worker", lease_s=3600)[0]
    item = pq.claim("dead-worker", lease_s=3600)[0]
    assert pq.set_status(item["id"], item["claim_token"], "uploading")
    with Heartbeat(engine, "dead-worker", interval_s=3600):
        pass
    with Heartbeat(engine, "live-worker", interval_s=3600):
        pass
    t = schema.worker_heartbeats
    with engine.begin() as c:  # dead-worker went silent 3 minutes ago; mark both online as if running
        c.execute(t.update().values(status="online"))
        c.execute(t.update().where(t.c.worker_id == "dead-worker").values(last_heartbeat=utcnow() - dt.timedelta(minutes=3)))
    moved = release_offline_workers(engine)
    assert moved["offline"] == ["dead-worker"] and moved["renders"] == 1 and moved["uploads"] == 1
    assert rq.counts() == {"queued": 1}
    assert pq.counts() == {"unknown": 1}  # in flight when it died: reconcile before any retry
    states = {w["worker_id"]: w["status"] for w in workers(engine)}
    assert states == {"dead-worker": "offline", "live-worker": "online"}
    # the dead worker's token is void
    assert not rq.complete(job["id"], job["claim_token"])


def test_a_lost_lease_is_no_longer_renewed(store_url):
    engine = _setup(store_url)
    q = render_queue(engine)
    job = q.claim("w1", lease_s=1)[0]
    with Heartbeat(engine, "w1", interval_s=3600, lease_s=30) as hb:
        hb.hold(q, [job])
        assert q.reap(now=utcnow() + dt.timedelta(seconds=5)) == 1  # taken away before the next beat
        taker = q.claim("w2", lease_s=1)[0]
        hb.beat_once()
        assert hb.jobs_running == 0  # dropped from the held set, not renewed any more
        assert q.reap(now=utcnow() + dt.timedelta(seconds=5)) == 1  # the new holder's lease was not extended
        hb.drop(q, job["id"], completed=q.complete(job["id"], job["claim_token"]))
        assert hb.jobs_completed == 0
    assert taker["claim_token"] != job["claim_token"]
    assert workers(engine)[0]["jobs_running"] == 0


def test_a_second_worker_on_the_machine_serves_health_on_a_free_port():
    """`actp worker` twice on one machine: the second one's default health port is taken; it says so and
    serves /health elsewhere instead of exiting with "address already in use"."""
    import httpx

    from actp_pipeline.serving import bind
    from actp_pipeline.worker.health import serve_health

    taken = bind("127.0.0.1", 0)  # the first worker's port
    port = taken.getsockname()[1]
    said: list[str] = []
    server = serve_health(lambda: {"worker_id": "w2"}, "127.0.0.1", port, said.append)
    try:
        assert server.port != port
        assert said == [f"health port {port} is in use (another worker on this machine?): "
                        f"serving http://127.0.0.1:{server.port}/health instead"]
        assert httpx.get(f"{server.url}/health", timeout=5).json() == {"worker_id": "w2"}
    finally:
        server.shutdown()
        taken.close()
