"""Ad accounts, goals, approvals and the audit log, on SQLite and PostgreSQL."""

import datetime as dt

import pandas as pd
import pytest

from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit
from actp_pipeline.ads.actions import refusals
from actp_pipeline.ads.goals import OrchestratorConfig, goals_from
from actp_pipeline.ads.plan import plan
from actp_pipeline.store import connect_store

NOW = dt.datetime(2026, 11, 20, 12, 0)


@pytest.fixture
def engine(store_url):
    e = connect_store(store_url)
    yield e
    e.dispose()


def test_accounts_and_goals_round_trip(engine):
    ad_accounts.set_goal(engine, "a1", "streams", priority=5)
    ad_accounts.set_goal(engine, "a1", "virality", priority=2, budget_cap=8.0)
    ad_accounts.set_goal(engine, "a2", "leads", priority=1, core_signal="lead", active=False)
    acc = ad_accounts.accounts(engine)
    assert set(acc["account_id"]) == {"a1", "a2"}
    assert not acc["auto_execute"].any()  # off by default
    goals = goals_from(ad_accounts.goals(engine))
    assert [(g.account_id, g.name, g.priority) for g in goals] == [("a1", "streams", 5), ("a1", "virality", 2)]
    ad_accounts.set_goal(engine, "a1", "streams", priority=4)  # replaces, no duplicate
    assert len(ad_accounts.goals(engine)) == 3
    row = ad_accounts.set_account(engine, "a1", global_daily_budget=25.0, auto_execute=True)
    assert row["auto_execute"] and row["global_daily_budget"] == 25.0
    row = ad_accounts.set_account(engine, "a1", max_daily_budget=30.0)  # other fields kept
    assert row["auto_execute"] and row["global_daily_budget"] == 25.0
    settings = ad_accounts.account_settings(engine)
    assert settings["a1"].resolve(OrchestratorConfig()).max_daily_budget == 30.0
    assert settings["a2"].global_daily_budget is None


@pytest.mark.parametrize("bad", [{"priority": 0}, {"priority": 6}, {"budget_cap": -1.0}])
def test_bad_goals_are_refused_with_the_reason(engine, bad):
    with pytest.raises(ValueError, match="goal 'streams' of account 'a1'"):
        ad_accounts.set_goal(engine, "a1", "streams", **bad)
    assert ad_accounts.goals(engine).empty


def test_bad_account_budget_is_refused(engine):
    with pytest.raises(ValueError, match="global_daily_budget"):
        ad_accounts.set_account(engine, "a1", global_daily_budget=-5)
    with pytest.raises(ValueError, match="account_id"):
        ad_accounts.set_account(engine, " ")


def _plan(engine, accounts=("a1",)):
    for acc in accounts:
        ad_accounts.set_goal(engine, acc, "streams", priority=3)
    actions = plan(ad_accounts.goals(engine), now=NOW)
    return actions, ads_audit.record_plan(engine, actions, as_of=NOW, trigger="test", config={"x": 1})


def test_a_plan_is_stored_as_a_dry_run_and_read_back_exactly(engine):
    actions, plan_id = _plan(engine, ("a1", "a2"))
    assert actions and all(a.executable for a in actions)
    run = ads_audit.plan_run(engine)
    assert run["plan_id"] == plan_id and run["mode"] == "dry_run" and run["accounts"] == ["a1", "a2"]
    back = [a for _, a in ads_audit.plan_actions(engine, plan_id)]
    assert back == actions
    log = ads_audit.log(engine, plan_id=plan_id)
    assert set(log["status"]) == {"dry_run"}
    # a dry run is not history: nothing reached a platform
    assert ads_audit.history(engine).empty


def test_approvals_and_auto_execute(engine):
    _, plan_id = _plan(engine, ("a1", "a2"))
    assert ad_accounts.approvals(engine, plan_id) == {}
    ad_accounts.approve(engine, plan_id, ["a1"], by="ana")
    ad_accounts.approve(engine, plan_id, ["a1"], by="ana")  # idempotent
    ad_accounts.set_account(engine, "a2", auto_execute=True)
    assert ad_accounts.approvals(engine, plan_id) == {"a1": "ana", "a2": "auto_execute"}


def test_refusals_not_approved_and_stale(engine):
    _, plan_id = _plan(engine, ("a1", "a2"))
    run = ads_audit.plan_run(engine, plan_id)
    why = refusals(engine, run, {"a1", "a2"}, {"a1": "ana"}, NOW + dt.timedelta(hours=1))
    assert set(why) == {"a2"} and "actp ads approve" in why["a2"]
    why = refusals(engine, run, {"a1"}, {"a1": "ana"}, NOW + dt.timedelta(hours=7))
    assert "stale" in why["a1"] and "7.0 h" in why["a1"]


def test_history_reports_created_objects_by_their_real_id(engine):
    actions, plan_id = _plan(engine)
    run_id = ads_audit.start_run(engine, plan_id, ["a1"], as_of=NOW, trigger="test")
    a = actions[0]
    ads_audit.begin_action(engine, run_id, plan_id, 0, a, a.target_id, a.params, NOW)
    assert ads_audit.executed(engine, plan_id)[f"{plan_id}:0"]["status"] == "pending"
    ads_audit.end_action(engine, f"{plan_id}:0", "success", result_id="c-123")
    hist = ads_audit.history(engine, ["a1"])
    assert list(hist["target_id"]) == ["c-123"] and list(hist["status"]) == ["success"]
    recorded = ads_audit.plan_run(engine, plan_id)["started_at"]
    assert ads_audit.reached_since(engine, "a1", recorded - dt.timedelta(seconds=1)) == NOW
    assert ads_audit.reached_since(engine, "a1", recorded - dt.timedelta(seconds=1), other_than_plan=plan_id) is None
    with pytest.raises(Exception):  # the action key is unique: one action cannot be begun twice
        ads_audit.begin_action(engine, run_id, plan_id, 0, a, a.target_id, a.params, NOW)


def test_history_keeps_rule_goal_and_time_of_executed_changes(engine):
    """What the next plan's cooldowns read: an executed scale with its rule, goal and platform time."""
    from actp_pipeline.ads.plan.rules import SCALE, SET_BUDGET, PlannedAction

    ad_accounts.set_goal(engine, "a1", "streams", priority=3)
    scale = PlannedAction("a1", "streams", SET_BUDGET, SCALE, target_id="camp-s",
                          params={"old_budget": 3.0, "new_budget": 3.6})
    pid = ads_audit.record_plan(engine, [scale], as_of=NOW, trigger="test")
    run_id = ads_audit.start_run(engine, pid, ["a1"], as_of=NOW, trigger="test")
    ads_audit.begin_action(engine, run_id, pid, 0, scale, "camp-s", scale.params, NOW)
    ads_audit.end_action(engine, f"{pid}:0", "success")
    hist = ads_audit.history(engine, ["a1"])
    assert len(hist) == 1 and pd.Timestamp(hist["at"].iloc[0]) == pd.Timestamp(NOW)
    assert hist.iloc[0][["action", "rule", "goal", "target_id"]].tolist() == [SET_BUDGET, SCALE, "streams", "camp-s"]
