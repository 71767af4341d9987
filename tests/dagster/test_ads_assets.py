"""ad_plan, ad_actions and the approvals sensor, materialized against the sandbox's ads API."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit
from actp_pipeline.definitions import MULTI_ASSETS
from actp_pipeline.publish.platforms import HttpPlatform
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from assets import LOOP_ASSETS
from assets.ad_actions import ad_actions_succeeded
from resources import AdsResource, LoopSettings, PlatformResource, ResearchSourcesResource, StoreResource
from resources.llm import LLMResource
from sensors import ad_plan_approvals_sensor
from tests.e2e.test_graduation import _publish


@pytest.fixture
def world(tmp_path):
    with SandboxServer(WorldConfig(seed=4, start=dt.datetime(2026, 11, 10, 6), speed=0.0)) as sb:
        store = StoreResource(data_dir=str(tmp_path / "data"))
        res = {"store": store, "platform": PlatformResource(base_url=sb.url, api_key="sandbox-key"),
               "ads": AdsResource(base_url=sb.url + "/graph", access_token="sandbox-key"), "loop": LoopSettings(),
               "research": ResearchSourcesResource(), "llm": LLMResource()}
        yield sb, store, res


def _run(names, res, instance, run_config=None):
    """Materialize `names` (with the sibling keys of their multi-assets); each asset's newest metadata."""
    keys = set(names) | {k for group in MULTI_ASSETS if group & set(names) for k in group}
    result = dg.materialize(LOOP_ASSETS, selection=sorted(keys), resources=res, instance=instance,
                            run_config=run_config)
    assert result.success
    meta = {e.materialization.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    return {n: meta[n] for n in names}


def test_plan_waits_for_approval_and_the_sensor_executes_it(world, tmp_path):
    sb, store, res = world
    engine = store.engine()
    with dg.instance_for_test() as instance:
        meta = _run(["ad_plan"], res, instance)["ad_plan"]
        assert meta["plan_id"].value == "none" and "actp ads goal" in meta["note"].value

        with HttpPlatform(sb.url, "sandbox-key") as platform:
            ids = _publish(tmp_path, sb, platform, engine)[:2]
        store.warehouse().write("allocation", pd.DataFrame({"variant_id": ids, "share": [0.7, 0.3]}))
        ad_accounts.set_goal(engine, "acc1", "streams", priority=4)
        meta = _run(["ad_plan"], res, instance)["ad_plan"]
        plan_id = meta["plan_id"].value
        assert meta["summary"].value["campaigns_created"] == 1 and meta["summary"].value["ad_sets_created"] == 2
        assert f"actp ads approve {plan_id}" in meta["awaiting_approval"].value
        assert "streams" in meta["actions"].value and "test_creative" in meta["actions"].value

        meta = _run(["ad_actions"], res, instance)["ad_actions"]
        assert meta["run_id"].value == "none" and "not approved" in meta["refused"].value["acc1"]

        sensor_res = {"store": store, "platform": res["platform"]}
        ctx = dg.build_sensor_context(instance=instance, resources=sensor_res)
        first = ad_plan_approvals_sensor(ctx)
        assert not first.run_requests
        ad_accounts.approve(engine, plan_id, ["acc1"], by="test")
        ctx = dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=sensor_res)
        tick = ad_plan_approvals_sensor(ctx)
        assert len(tick.run_requests) == 1
        req = tick.run_requests[0]
        assert req.run_config["ops"]["ad_actions"]["config"]["plan_id"] == plan_id
        meta = _run(["ad_actions"], res, instance, run_config=req.run_config)["ad_actions"]
        assert meta["counts"].value == {"success": 3} and meta["failed"].value == 0
        assert "create_campaign" in meta["audit_log"].value
        # the next tick sees nothing new
        again = ad_plan_approvals_sensor(dg.build_sensor_context(instance=instance, cursor=tick.cursor,
                                                                 resources=sensor_res))
        assert not again.run_requests
        log = ads_audit.log(engine, plan_id=plan_id)
        assert set(log.loc[log["mode"] == "execute", "status"]) == {"success"}
        check = ad_actions_succeeded(store=store)
        assert check.passed and check.metadata["failed"].value == 0
        assert log["dagster_run_id"].notna().all()  # every row points at the Dagster run that wrote it

        # the next plan says where each ad set's core signal comes from: the platform's insights for streams
        meta = _run(["ad_plan"], res, instance)["ad_plan"]
        assert "| platform" in meta["signal_sources"].value and "smartlink_click" in meta["signal_sources"].value
        assert meta["attributed_ad_sets"].value == "0 of 2 ad sets, 0 without a paid link (unknown)"


def test_the_check_warns_about_failed_actions(tmp_path):
    from actp_pipeline.ads.plan.rules import CREATE_CAMPAIGN, ENSURE_LEARNING, PlannedAction

    store = StoreResource(data_dir=str(tmp_path))
    engine, now = store.engine(), dt.datetime(2026, 11, 20, 12)
    assert ad_actions_succeeded(store=store).passed  # nothing executed yet
    a = PlannedAction("acc1", "streams", CREATE_CAMPAIGN, ENSURE_LEARNING, target_id="new:acc1:streams:learning",
                      params={"kind": "learning"})
    plan_id = ads_audit.record_plan(engine, [a], as_of=now, trigger="test")
    run_id = ads_audit.start_run(engine, plan_id, ["acc1"], as_of=now, trigger="test")
    ads_audit.begin_action(engine, run_id, plan_id, 0, a, a.target_id, a.params, now)
    ads_audit.end_action(engine, f"{plan_id}:0", "failed", error="ads API error 100: invalid objective")
    check = ad_actions_succeeded(store=store)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "invalid objective" in check.metadata["errors"].value
