"""Both code locations load; sensors pull from the queues; automation follows the loop."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from actp_pipeline.store import connect_store
from actp_pipeline.store.queues import render_queue
from resources import StoreResource

ROOT = Path(__file__).resolve().parents[2]


def test_asset_graph_is_the_loop():
    from actp_pipeline.definitions import defs as main
    from local_ops.definitions import defs as local

    main_keys = {k.to_user_string() for k in main.resolve_asset_graph().get_all_asset_keys()}
    local_keys = {k.to_user_string() for k in local.resolve_asset_graph().get_all_asset_keys()}
    loop = {"market_items", "hashtag_stats", "blueprints", "factor_lifts", "variants", "publish_schedule", "post_metrics",
            "timing_matrix", "scores", "factor_effects", "winners", "decisions", "allocation", "ad_plan",
            "paid_winners", "ad_actions", "attribution", "attribution_factors", "attribution_posts",
            "conversion_effects", "research_queries"}
    assert loop <= main_keys and {"renders", "posts"} <= local_keys
    # the other location's assets appear only as dependencies, never materialized twice
    main_materializable = {k.to_user_string() for k in main.resolve_asset_graph().materializable_asset_keys}
    assert main_materializable == loop


def test_workspace_validates():
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    res = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "All code locations passed validation" in res.stderr + res.stdout


def test_core_never_imports_dagster():
    """Only definitions.py imports dagster, at the top or lazily inside a function (the CLI runs jobs through it)."""
    offenders = []
    for path in (ROOT / "actp_pipeline").rglob("*.py"):
        if path.relative_to(ROOT).as_posix() == "actp_pipeline/definitions.py":
            continue
        for line in path.read_text().splitlines():
            if "import dagster" in line or "from dagster" in line:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_local_ops_never_imports_main_assets():
    for path in (ROOT / "local_ops").rglob("*.py"):
        text = path.read_text()
        assert "from assets" not in text and "import assets" not in text, path


def test_render_sensor_requests_one_run_for_a_backlog(tmp_path):
    from local_ops.sensors import render_queue_sensor

    store = StoreResource(data_dir=str(tmp_path))
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"store": store})
        empty = render_queue_sensor(ctx)
        assert not empty.run_requests and "empty" in empty.skip_reason.skip_message
        render_queue(connect_store(store.url)).enqueue(
            [{"variant_id": f"v{i}", "payload": {}} for i in range(5)], unique_column="variant_id")
        ctx = dg.build_sensor_context(instance=instance, resources={"store": store})
        result = render_queue_sensor(ctx)
        assert len(result.run_requests) == 1 and result.cursor == "5"


def test_automation_follows_research(tmp_path):
    from actp_pipeline.definitions import defs

    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        # a fresh deployment collects today's market at once; nothing downstream runs before it
        assert first.get_num_requested(dg.AssetKey("market_items")) == 1
        assert first.get_num_requested(dg.AssetKey("blueprints")) == 0
        instance.report_runless_asset_event(dg.AssetMaterialization("market_items", partition="2026-11-20"))
        # blueprints follow once market_items' blocking checks passed (tests/dagster/test_stage_checks.py
        # shows a failed one keeping them waiting)
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert second.get_num_requested(dg.AssetKey("blueprints")) == 0
        market = defs.resolve_asset_graph().get(dg.AssetKey("market_items"))
        for check_key in market.check_keys:
            instance.report_runless_asset_event(dg.AssetCheckEvaluation(
                asset_key=check_key.asset_key, check_name=check_key.name, passed=True))
        third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
        assert third.get_num_requested(dg.AssetKey("blueprints")) == 1


def test_publish_sensor_counts_what_publish_due_would_take_and_liveness_sweeps_rate_events(tmp_path):
    import datetime as dt

    from actp_pipeline.publish.platforms import HttpPlatform
    from actp_pipeline.publish.posts import UPLOAD_AHEAD
    from actp_pipeline.publish.rate_limits import to_epoch
    from actp_pipeline.sandbox import SandboxServer, WorldConfig
    from actp_pipeline.store import schema
    from actp_pipeline.store.queues import publish_queue
    from local_ops.sensors import publish_queue_sensor, worker_liveness_sensor
    from resources import PlatformResource

    with SandboxServer(WorldConfig(seed=4, start=dt.datetime(2026, 11, 10, 6), speed=0.0)) as sb:
        store = StoreResource(data_dir=str(tmp_path))
        res = {"store": store, "platform": PlatformResource(base_url=sb.url, api_key="sandbox-key")}
        engine = connect_store(store.url)
        with HttpPlatform(sb.url, "sandbox-key") as client:
            now = client.now()
        publish_queue(engine).enqueue(
            [{"variant_id": f"v{i}", "platform": "tiktok", "account": "main", "idempotency_key": f"k{i}",
              "scheduled_at": now + when, "payload": {}}
             for i, when in enumerate([dt.timedelta(0), UPLOAD_AHEAD - dt.timedelta(minutes=1),
                                       UPLOAD_AHEAD + dt.timedelta(minutes=1)])],
            unique_column="idempotency_key")
        with dg.instance_for_test() as instance:
            result = publish_queue_sensor(dg.build_sensor_context(instance=instance, resources=res))
            assert [r.run_key for r in result.run_requests] == ["publish_job:2:2:None"]  # k0 and k1 (id 2) are due

            events = schema.rate_events
            with engine.begin() as c:  # on the platform's clock: one call 3 days ago, one a minute ago
                c.execute(events.insert(), [{"platform": "tiktok", "account": "main", "at": to_epoch(now) - s}
                                            for s in (3 * 86_400, 60)])
            worker_liveness_sensor(dg.build_sensor_context(instance=instance, resources=res))
            with engine.connect() as c:
                left = list(c.execute(sa.select(events.c.at)).scalars())
            assert left == [to_epoch(now) - 60]


def test_rendered_sensor_schedules_what_workers_rendered(tmp_path):
    """A worker's render is a store row, not a Dagster event: the main location's sensor asks for one
    publish_schedule run per new state of the unscheduled renders, and none once every render is scheduled."""
    import datetime as dt

    from actp_pipeline.store import schema
    from actp_pipeline.store.queues import publish_queue
    from sensors.publish import rendered_sensor

    store = StoreResource(data_dir=str(tmp_path))
    engine = connect_store(store.url)
    render_queue(engine).enqueue([{"variant_id": f"v{i}", "payload": {}} for i in range(3)], unique_column="variant_id")
    with dg.instance_for_test() as instance:
        def tick():
            return rendered_sensor(dg.build_sensor_context(instance=instance, resources={"store": store}))

        assert not tick().run_requests  # queued, not rendered
        with engine.begin() as conn:
            conn.execute(sa.update(schema.render_jobs).where(schema.render_jobs.c.variant_id.in_(["v0", "v1"]))
                         .values(status="succeeded"))
        first = tick()
        assert [r.run_key for r in first.run_requests] == ["publish_schedule:2:2"]
        publish_queue(engine).enqueue([{"variant_id": "v0", "platform": "tiktok", "account": "main",
                                        "idempotency_key": "k0", "scheduled_at": dt.datetime(2026, 12, 1),
                                        "payload": {}}], unique_column="idempotency_key")
        assert [r.run_key for r in tick().run_requests] == ["publish_schedule:2:1"]  # v1 still waits
        publish_queue(engine).enqueue([{"variant_id": "v1", "platform": "tiktok", "account": "main",
                                        "idempotency_key": "k1", "scheduled_at": dt.datetime(2026, 12, 1),
                                        "payload": {}}], unique_column="idempotency_key")
        done = tick()
        assert not done.run_requests and "scheduled" in done.skip_reason.skip_message


def test_status_finds_each_stage_in_runs_not_under_its_job():
    """Production's automation sensor launches Dagster's internal asset job: `actp status` still names the
    stage by the assets the run materialized."""
    from actp_pipeline.definitions import newest_stage_runs

    @dg.asset(name="blueprints")
    def fake_blueprints() -> int:
        return 1

    with dg.instance_for_test() as instance:
        assert newest_stage_runs(instance) == {}
        job = dg.Definitions(assets=[fake_blueprints]).resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("blueprints")])
        assert not result.dagster_run.job_name.endswith("_job")  # not a stage job
        newest = newest_stage_runs(instance)
        assert set(newest) == {"extract_job"} and newest["extract_job"].dagster_run.run_id == result.run_id
