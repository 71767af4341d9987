"""The run-failure sensor (both code locations: one alert per failing job) and the alerts sensor (conditions,
spend pacing read from the sandbox's ads API, resolution, one webhook message per tick)."""

import datetime as dt
import json

import dagster as dg
import pytest
import sqlalchemy as sa

from actp_pipeline.alerts import open_alerts
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import schema
from resources import AdsResource, AlertsResource, LoopSettings, PlatformResource, StoreResource
from sensors.alerts import alerts_sensor, run_failure_alerts
from tests.core.test_alerts import Hook

FAST = {"repeat_minutes": 60.0, "webhook_attempts": 3}


@dg.op(config_schema={"fail": dg.Field(bool, default_value=True)})
def flaky(context):
    if context.op_config["fail"]:
        raise RuntimeError("the platform said no\nsecond line")


@dg.job
def flaky_job():
    flaky()


def _fail(instance):
    return flaky_job.execute_in_process(instance=instance, raise_on_error=False)


@pytest.fixture
def store(tmp_path):
    return StoreResource(data_dir=str(tmp_path / "data"))


def test_a_failing_job_is_one_alert_however_many_runs_fail(store):
    with dg.instance_for_test() as instance:
        results = [_fail(instance) for _ in range(3)]
        for r in results:
            ctx = dg.build_run_status_sensor_context(
                sensor_name="run_failure_alerts", dagster_instance=instance, dagster_run=r.dagster_run,
                dagster_event=r.get_run_failure_event(), resources={"store": store})
            run_failure_alerts(ctx)
    (alert,) = open_alerts(store.engine())
    assert alert["key"] == "run_failure:flaky_job" and alert["count"] == 3 and alert["severity"] == "critical"
    assert alert["message"] == "run of flaky_job failed: flaky: RuntimeError: the platform said no"
    assert alert["details"]["run_id"] == results[-1].dagster_run.run_id


def test_the_sensor_sees_runs_of_another_code_location(store):
    """The tick as the daemon evaluates it, for a sensor of a repository that is not the run's: only
    monitor_all_code_locations lets it match (local_ops' renders and uploads fail in the other location)."""
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, repository_name="actp_pipeline", resources={"store": store})
        first = run_failure_alerts.evaluate_tick(ctx)  # the first tick starts the cursor at now
        _fail(instance)
        ctx = dg.build_sensor_context(instance=instance, repository_name="actp_pipeline", cursor=first.cursor,
                                      resources={"store": store})
        run_failure_alerts.evaluate_tick(ctx)
    assert [a["key"] for a in open_alerts(store.engine())] == ["run_failure:flaky_job"]


def _resources(store, platform_url, hook_url=None, ads_url=None):
    return {"store": store, "platform": PlatformResource(base_url=platform_url, api_key="sandbox-key"),
            "ads": AdsResource(base_url=ads_url or platform_url + "/graph", access_token="sandbox-key",
                               library="httpx"),
            "loop": LoopSettings(), "alerts": AlertsResource(webhook_url=hook_url, **FAST)}


def test_the_alerts_sensor_raises_resolves_and_sends_one_message_per_tick(store):
    engine = store.engine()
    old = schema.utcnow() - dt.timedelta(minutes=30)
    with engine.begin() as c:
        c.execute(schema.worker_heartbeats.insert(), [{"worker_id": f"w{i}", "status": "online", "started_at": old,
                                                       "last_heartbeat": old} for i in range(3)])
    with Hook([503]) as hook, dg.instance_for_test() as instance:
        _fail(instance)  # an alert the run-failure sensor raised, then the job recovers
        r = _fail(instance)
        run_failure_alerts(dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts", dagster_instance=instance, dagster_run=r.dagster_run,
            dagster_event=r.get_run_failure_event(), resources={"store": store}))
        res = _resources(store, "http://127.0.0.1:9", hook.url)  # no platform: spend is skipped, said once
        tick = alerts_sensor(dg.build_sensor_context(instance=instance, resources=res))
        assert "firing {'worker_dead': 3}" in tick.skip_reason.skip_message and "spend not read: platform at" in tick.skip_reason.skip_message
        assert len(hook.bodies) == 2 and hook.bodies[1]["text"].startswith("ACTP: 4 alerts")  # 503, then one digest
        flaky_job.execute_in_process(instance=instance, run_config={"ops": {"flaky": {"config": {"fail": False}}}})
        with engine.begin() as c:
            c.execute(schema.worker_heartbeats.update().values(last_heartbeat=schema.utcnow()))
        again = alerts_sensor(dg.build_sensor_context(instance=instance, resources=res, cursor=tick.cursor))
    assert "resolved 4" in again.skip_reason.skip_message and "0 due" in again.skip_reason.skip_message
    assert open_alerts(engine) == [] and len(hook.bodies) == 2
    assert json.loads(again.cursor)["spend_at"] == json.loads(tick.cursor)["spend_at"]  # read every 10 min only


def _ads_world(tmp_path, sb, store):
    """One account with a goal and one ABO learning ad set at $10/day in the sandbox, 12 h delivered."""
    import httpx

    from actp_pipeline.ads import accounts as ad_accounts
    from actp_pipeline.ads.meta import MetaAdsClient
    from actp_pipeline.ads.meta_records import campaign_name
    from actp_pipeline.publish.platforms import HttpPlatform
    from tests.e2e.test_graduation import _publish

    engine = store.engine()
    with HttpPlatform(sb.url, "sandbox-key") as platform:
        ids = _publish(tmp_path, sb, platform, engine)[:1]
    with engine.connect() as c:
        post_id = c.execute(sa.select(schema.posts.c.external_id).where(schema.posts.c.variant_id == ids[0])).scalar_one()
    ad_accounts.set_goal(engine, "acc1", "streams", priority=3)
    with MetaAdsClient(sb.url + "/graph", "sandbox-key") as client:
        camp = client.create_campaign("acc1", name=campaign_name("streams", "learning"), objective="OUTCOME_TRAFFIC",
                                      budget_mode="ABO", daily_budget=None)
        ad_set = client.create_ad_set("acc1", campaign_id=camp, name=f"ACTP | streams | {ids[0]}",
                                      variant_id=ids[0], post_id=f"instagram:{post_id}", daily_budget=10.0)
    httpx.post(f"{sb.url}/sandbox/clock/advance", json={"hours": 12}).raise_for_status()
    return ad_set


def test_spend_is_read_from_the_sandbox_and_paced_against_the_days_plan(tmp_path, store):
    from actp_pipeline.ads.meta import MetaAdsClient

    world = WorldConfig(seed=4, start=dt.datetime(2026, 11, 10, 0, 5), speed=0.0)
    with SandboxServer(world) as sb, Hook() as hook, dg.instance_for_test() as instance:
        ad_set = _ads_world(tmp_path, sb, store)
        res = _resources(store, sb.url, hook.url)
        tick = alerts_sensor(dg.build_sensor_context(instance=instance, resources=res))
        spend = {(r["account_id"], r["goal"]): r for r in _spend_rows(store)}
        assert spend[("acc1", "*")]["planned"] == 10.0 and spend[("acc1", "streams")]["planned"] == 10.0
        assert spend[("acc1", "*")]["cap"] == 10.0 and spend[("acc1", "streams")]["cap"] == 50.0  # the defaults
        spent = spend[("acc1", "*")]["spend"]
        assert 3.0 < spent < 6.0 and spend[("*", "*")]["spend"] == spent  # about half of $10 by noon
        assert "spend_pacing" not in tick.skip_reason.skip_message  # spending at its plan's pace
        with MetaAdsClient(sb.url + "/graph", "sandbox-key") as client:
            client.set_budget(ad_set, 1.0)  # cut at noon: the morning's spend was within the day's plan
        cursor = json.dumps({**json.loads(tick.cursor), "spend_at": 0})
        again = alerts_sensor(dg.build_sensor_context(instance=instance, resources=res, cursor=cursor))
    assert "spend_pacing" not in again.skip_reason.skip_message and open_alerts(store.engine()) == []
    assert {(r["account_id"], r["goal"]): r["planned"] for r in _spend_rows(store)}[("acc1", "*")] == 10.0
    assert hook.bodies == []


def _spend_rows(store):
    from actp_pipeline.alerts.spend import latest_spend

    return latest_spend(store.engine())
