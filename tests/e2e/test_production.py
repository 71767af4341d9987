"""The loop run the way production runs it (tests/e2e/production_stack.py): the instance and the store on a
throwaway PostgreSQL, both code locations as `dagster api grpc` servers, `dagster-daemon` evaluating the real
schedules and sensors, and `actp worker` as a separate process. Nothing is launched by the test: research
starts because research_schedule ticks (its cron moved to every minute by ACTP_RESEARCH_CRON), the rest of
the graph follows through the automation sensor and rendered_sensor, the worker renders and uploads from the store's queues,
metrics_schedule measures the posts and the automation scores them.

What must hold: every stage ran as a daemon-launched run recorded in the Postgres instance and none failed;
each variant was rendered to a real MP4 and posted exactly once (the sandbox's truth counts the platform's
create calls per key); the worker process did that work; the scores were materialized from those posts."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import time
from collections import Counter

import av
import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from actp_pipeline.definitions import newest_stage_runs
from actp_pipeline.publish.tiktok import key_marker
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import connect_store, schema
from tests.e2e.production_stack import ProductionStack

pytestmark = pytest.mark.postgres
_names = itertools.count()
WORKER = "prod-worker-1"
DEADLINE_S = 720  # the loop takes 5-6.5 minutes here (286 s alone on a quiet host)
# one small round: 2 hook patterns x 1 angle x 1 CTA x 1 format, videos of 4 s (the matrix comes from the
# same ACTP_LOOP_* variables a deployment sets)
LOOP_ENV = {"ACTP_LOOP_HOOK_PATTERNS": "2", "ACTP_LOOP_ANGLES": "1", "ACTP_LOOP_CTA_STYLES": "1",
            "ACTP_LOOP_FORMATS": "1", "ACTP_LOOP_MAX_LENGTH_S": "4",
            "ACTP_RESEARCH_CRON": "* * * * *", "ACTP_METRICS_CRON": "*/2 * * * *"}
# metrics every other minute: a metrics run (the step and its three checks, a process each) takes 40-70 s on
# this shared host, and while post_metrics is in progress scores' eager condition waits. The schedules skip a
# tick while their own previous run is in flight (sensors/schedules.py): without that, on a loaded host the
# research runs of every minute queued up behind each other and metrics was always in progress, so the loop
# "did not reach scores" with every post measured


def _store_state(engine) -> dict:
    with engine.connect() as conn:
        renders = conn.execute(sa.select(schema.render_jobs.c.variant_id, schema.render_jobs.c.status,
                                         schema.render_jobs.c.output_path, schema.render_jobs.c.claimed_by)).all()
        posts = conn.execute(sa.select(schema.posts.c.idempotency_key, schema.posts.c.external_id)).all()
        worker = conn.execute(sa.select(schema.worker_heartbeats.c.jobs_completed)
                              .where(schema.worker_heartbeats.c.worker_id == WORKER)).scalar()
    return {"renders": renders, "posts": posts, "worker_jobs": worker or 0}


def _materialized(instance: dg.DagsterInstance, key: str) -> dg.EventLogEntry | None:
    return instance.get_latest_materialization_event(dg.AssetKey(key))


def _loop_done(instance: dg.DagsterInstance, engine, posted_at: list[float]) -> bool:
    """Every render posted, then metrics measured after the last post and scores made after those metrics.
    `posted_at` keeps when the store first held every post (the worker's uploads are no Dagster event)."""
    state = _store_state(engine)
    if not state["renders"] or len(state["posts"]) < len(state["renders"]):
        return False
    if not posted_at:
        posted_at.append(time.time())
    metrics, scores = _materialized(instance, "post_metrics"), _materialized(instance, "scores")
    return bool(metrics and scores and metrics.timestamp > posted_at[0] and scores.timestamp > metrics.timestamp)


def _wait(stack: ProductionStack, instance: dg.DagsterInstance, engine) -> None:
    deadline, posted_at = time.monotonic() + DEADLINE_S, []
    while time.monotonic() < deadline:
        dead = {name: code for name, code in stack.alive().items() if code is not None}
        assert not dead, f"processes exited: {dead}\n{stack.logs()}"
        failed = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        assert not failed, f"runs failed: {_runs(instance)}\n{stack.logs()}"
        if _loop_done(instance, engine, posted_at):
            return
        time.sleep(3)
    pytest.fail(f"the loop did not reach scores in {DEADLINE_S} s: store {_store_state(engine)}\n"
                f"runs {_runs(instance)}\n{stack.logs()}")


def _runs(instance: dg.DagsterInstance) -> list[tuple]:
    """(job, status, launched by, assets selected) of every run, oldest first, for a failure's message."""
    return [(r.dagster_run.job_name, r.dagster_run.status.value,
             r.dagster_run.tags.get("dagster/schedule_name") or r.dagster_run.tags.get("dagster/sensor_name"),
             sorted(k.to_user_string() for k in (r.dagster_run.asset_selection or [])))
            for r in reversed(instance.get_run_records())]


def _launched_by(instance: dg.DagsterInstance) -> dict[str, set[str]]:
    """{what launched the run (schedule or sensor name): the assets its runs materialized}."""
    out: dict[str, set[str]] = {}
    for record in instance.get_run_records():
        run = record.dagster_run
        origin = run.tags.get("dagster/schedule_name") or run.tags.get("dagster/sensor_name") or "by hand"
        keys = {k.to_user_string() for k in (run.asset_selection or [])}
        if not keys:  # a job run: what it materialized
            events = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            keys = {e.event_log_entry.asset_materialization.asset_key.to_user_string() for e in events.records}
        out.setdefault(origin, set()).update(keys)
    return out


def test_the_loop_runs_in_production_layout(postgres_server, tmp_path, monkeypatch):
    n = f"{os.getpid()}_{next(_names)}"
    dagster_db = f"dagster_prod_{n}"
    postgres_server.create_database(dagster_db)
    store_url = postgres_server.create_database(f"actp_prod_{n}")
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    # the platform lives today from midnight (research asks for the platform's day), two simulated minutes a
    # real second: the test ends long before the platform's day does
    world = WorldConfig(seed=11, start=today, speed=120.0)
    with SandboxServer(world, state_path=tmp_path / "sandbox.db") as sb:
        stack = ProductionStack(root=tmp_path / "prod", pg_port=postgres_server.port, pg_user=postgres_server.user,
                                dagster_db=dagster_db, store_url=store_url, platform_url=sb.url,
                                platform_key=sb.config.api_keys[0],
                                loop_env={**LOOP_ENV, "ACTP_RESEARCH_START": (today.date() - dt.timedelta(days=3))
                                          .isoformat()})
        for key, value in stack.env().items():  # the test reads the same instance the daemon writes
            if key.startswith(("ACTP_DAGSTER_PG_", "DAGSTER_HOME")):
                monkeypatch.setenv(key, value)
        engine = connect_store(store_url)
        try:
            stack.start(WORKER)
            with dg.DagsterInstance.get() as instance:
                _wait(stack, instance, engine)
                _assert_production_loop(instance, engine, sb)
        except BaseException:
            print(stack.logs())
            raise
        finally:
            stack.stop()
            engine.dispose()


def _assert_production_loop(instance: dg.DagsterInstance, engine, sb) -> None:
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    launched = _launched_by(instance)
    assert "market_items" in launched.get("research_schedule", set()), launched
    assert "post_metrics" in launched.get("metrics_schedule", set()), launched
    automated = launched.get("actp_automation", set())
    assert {"blueprints", "variants", "scores"} <= automated, launched
    # the worker's renders are store rows, no Dagster event: the main location's rendered_sensor schedules them
    assert "publish_schedule" in launched.get("rendered_sensor", set()) | automated, launched
    assert "by hand" not in launched, launched  # the daemon launched everything
    # `actp status` names each stage's newest run, the automation's (Dagster's internal asset job) included
    stages = newest_stage_runs(instance)
    assert {"research_job", "extract_job", "generate_job", "publish_schedule_job", "metrics_job",
            "score_job"} <= set(stages), sorted(stages)

    state = _store_state(engine)
    assert len(state["renders"]) >= 2
    for variant_id, status, path, _ in state["renders"]:
        assert status == "succeeded", (variant_id, status)
        with av.open(path) as video:  # a real MP4 a decoder reads
            assert video.streams.video[0].frames > 0 or video.duration
    keys = [p.idempotency_key for p in state["posts"]]
    assert len(keys) == len(set(keys)) == len(state["renders"])
    truth = httpx.get(f"{sb.url}/sandbox/truth/posts", headers={"X-Truth-Token": sb.truth_token}, timeout=30)
    truth.raise_for_status()
    # TikTok has no idempotency key: the adapter marks each post's title with its key's hash (key_marker)
    markers = {key_marker(k): k for k in keys}
    per_key = Counter()
    for post in truth.json()["items"]:
        assert post["platform"] == "tiktok" and post["create_calls"] == 1, post
        per_key.update(markers[m] for m in re.findall(r"ref:[0-9a-f]{10}", post["caption"]) if m in markers)
    assert per_key == Counter(keys), per_key  # every post on the platform once, nothing else
    assert state["worker_jobs"] >= 1, "the worker process rendered or uploaded nothing"
