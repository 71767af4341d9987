"""The Ads page: per ad account goals, budget and switches, the newest plan action by action with guard verdicts,
settings changed by an account's admin only (written by ads.accounts.set_account and audited), and "Approve plan"
writing the approval the sensor and the executor read; nothing of another account is shown or writable."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit
from actp_pipeline.ads.plan import rules
from actp_pipeline.ads.plan.rules import PlannedAction
from actp_pipeline.approvals import ads as ads_scope, history
from actp_pipeline.store import schema
from actp_pipeline.store.engine import connect_store
from tests.studio.conftest import csrf_of

AS_OF = schema.utcnow() + dt.timedelta(hours=1)  # newer than the world's own plans


def _actions(account: str, token: str) -> list[PlannedAction]:
    """What the planner makes for one account: a learning campaign, a creative test, a pause blocked by a switch."""
    return [
        PlannedAction(account_id=account, goal="virality", action=rules.CREATE_CAMPAIGN, rule=rules.ENSURE_LEARNING,
                      target_id=f"new:{account}:virality:learning", reason=f"no learning campaign {token}",
                      params={"kind": "learning", "daily_budget": None}, metrics={"goal_budget": 50.0}),
        PlannedAction(account_id=account, goal="virality", action=rules.CREATE_AD_SET, rule=rules.TEST_CREATIVE,
                      target_id=f"new:{account}:virality:adset:v1", variant_id=f"v_{token}",
                      reason=f"test creative {token}", params={"daily_budget": 12.5},
                      metrics={"new_budget": 12.5, "ad_sets": 4}),
        PlannedAction(account_id=account, goal="virality", action=rules.PAUSE_AD_SET, rule=rules.PAUSE_LOSER,
                      target_id=f"adset-{token}", reason=f"loser {token}", status=rules.BLOCKED,
                      blocked_by=rules.AUTO_PAUSE_OFF, note="auto_pause_losers is off",
                      metrics={"p_below_floor": 0.97}),
    ]


@pytest.fixture(scope="module")
def engine(world):
    """The world's ad accounts with a goal each and one plan covering both, stored as the orchestrator does."""
    eng = connect_store(world.store_url)
    ad_accounts.set_goal(eng, "acct_a", "virality", priority=4, budget_cap=30.0)
    ad_accounts.set_goal(eng, "acct_b", "leads", priority=2)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def plan_id(engine):
    return ads_audit.record_plan(engine, _actions("acct_a", "alpha") + _actions("acct_b", "bravo"), as_of=AS_OF,
                                 trigger="test")


def _post(client, path: str, data: dict):
    token = csrf_of(client.get("/ads").text)
    return client.post(path, data={"csrf": token, **data}, follow_redirects=False)


def _account(engine, account_id: str) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(schema.ad_accounts).where(
            schema.ad_accounts.c.account_id == account_id)).mappings().one())


def _settings_audit(engine) -> list[dict]:
    t = schema.studio_audit
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).where(t.c.action == "settings").order_by(t.c.id)).mappings()]


def test_page_shows_goals_budget_switches_and_plan_of_own_account_only(engine, plan_id, as_user):
    page = as_user("alice").get("/ads")
    assert page.status_code == 200
    text = page.text
    assert "acct_a" in text and "virality" in text and "$30.00" in text  # the goal and its cap
    assert "thruplay" in text  # the goal's usual signal
    assert plan_id in text and "test creative alpha" in text and "no learning campaign alpha" in text
    assert "auto_pause_losers_off" in text and "loser alpha" in text  # the guard's verdict
    assert "new_budget 12.5" in text and "Approve plan" in text
    assert "acct_b" not in text and "bravo" not in text and "leads" not in text
    assert "bravo" in as_user("bob").get("/ads").text
    assert "Save settings" not in text  # alice is approver, not admin


def test_admin_changes_settings_through_set_account_and_audit(engine, as_user):
    before = _account(engine, "acct_a")
    assert not before["auto_execute"] and before["auto_scale_winners"] is None
    answer = _post(as_user("adam"), "/ads/settings", {"account_id": "acct_a", "global_daily_budget": "25",
                                                       "max_daily_budget": "", "auto_scale_winners": "on"})
    assert answer.status_code == 303
    after = _account(engine, "acct_a")
    assert after["global_daily_budget"] == 25.0 and after["auto_scale_winners"] is True
    assert after["max_daily_budget"] is None and after["auto_execute"] is False
    assert after["auto_pause_losers"] is None  # an unticked box equal to the default keeps the default
    row = _settings_audit(engine)[-1]
    assert (row["username"], row["account"]) == ("adam", "acct_a")
    assert row["details"] == {"old": {"global_daily_budget": None, "auto_scale_winners": None},
                              "new": {"global_daily_budget": 25.0, "auto_scale_winners": True}}
    assert _account(engine, "acct_b")["global_daily_budget"] is None


def test_non_admins_and_other_accounts_cannot_change_settings(engine, as_user):
    before_a, before_b = _account(engine, "acct_a"), _account(engine, "acct_b")
    logged = len(_settings_audit(engine))
    for name, account in (("alice", "acct_a"), ("victor", "acct_a"), ("adam", "acct_b"), ("bob", "acct_b")):
        answer = _post(as_user(name), "/ads/settings", {"account_id": account, "global_daily_budget": "999",
                                                         "auto_execute": "on"})
        assert answer.status_code == 403, (name, account)
    assert _account(engine, "acct_a") == before_a and _account(engine, "acct_b") == before_b
    assert len(_settings_audit(engine)) == logged


def test_bad_budget_is_400_and_writes_nothing(engine, as_user):
    before = _account(engine, "acct_a")
    for bad in ("lots", "-5", "nan"):
        answer = _post(as_user("adam"), "/ads/settings", {"account_id": "acct_a", "global_daily_budget": bad})
        assert answer.status_code == 400 and "global_daily_budget" in answer.text
    assert _account(engine, "acct_a") == before


def test_approve_plan_writes_the_approval_the_sensor_reads(engine, plan_id, as_user):
    assert ad_accounts.approvals(engine, plan_id) == {}
    answer = _post(as_user("alice"), "/ads/approve", {"plan_id": plan_id, "account_id": "acct_a",
                                                       "reason": "budgets look right"})
    assert answer.status_code == 303
    assert ad_accounts.approvals(engine, plan_id) == {"acct_a": "studio:alice"}  # what execute_pass passes on
    with engine.connect() as conn:  # the sensor's own query: the newest approval per plan
        t = schema.ad_plan_approvals
        assert conn.execute(sa.select(t.c.plan_id, sa.func.max(t.c.approved_at)).group_by(t.c.plan_id)).all()[0][0] \
            == plan_id
    assert ads_scope.status(engine, plan_id, "acct_a") == "approved"
    last = history(engine, scope="ads", subject_id=ads_scope.subject(plan_id, "acct_a")).iloc[-1]
    assert (last.decided_by, last.reason) == ("studio:alice", "budgets look right")
    page = as_user("alice").get("/ads").text
    assert "Approve plan" not in page and "by studio:alice" in page
    again = _post(as_user("alice"), "/ads/approve", {"plan_id": plan_id, "account_id": "acct_a"})
    assert again.status_code == 303 and ad_accounts.approvals(engine, plan_id) == {"acct_a": "studio:alice"}


def test_plan_approval_is_refused_off_account_and_to_viewers(engine, plan_id, as_user):
    for name, account in (("alice", "acct_b"), ("victor", "acct_a"), ("victor", "acct_b")):
        answer = _post(as_user(name), "/ads/approve", {"plan_id": plan_id, "account_id": account})
        assert answer.status_code == 403, (name, account)
    assert "acct_b" not in ad_accounts.approvals(engine, plan_id)
    assert _post(as_user("bob"), "/ads/approve", {"plan_id": "plan-nope", "account_id": "acct_b"}).status_code == 400
    assert _post(as_user("bob"), "/ads/approve", {"plan_id": plan_id, "account_id": "acct_b"}).status_code == 303
    assert ad_accounts.approvals(engine, plan_id)["acct_b"] == "studio:bob"


def test_recent_runs_and_actions_are_scoped(engine, plan_id, as_user):
    run_id = ads_audit.start_run(engine, plan_id, ["acct_a", "acct_b"], as_of=AS_OF, trigger="test")
    for seq, action in ads_audit.plan_actions(engine, plan_id):
        if action.account_id == "acct_b" and action.executable:
            ads_audit.begin_action(engine, run_id, plan_id, seq, action, action.target_id, action.params, AS_OF,
                                   status=ads_audit.SKIPPED, error="bravo secret error")
    ads_audit.finish_run(engine, run_id, "success", {"success": 0, "skipped": 2}, 0)
    alice = as_user("alice").get("/ads").text
    assert run_id in alice and "bravo secret error" not in alice and "acct_b" not in alice
    section = alice.split("Recent runs", 1)[1].split("Recent actions", 1)[0]
    assert '"tag">skipped' not in section  # acct_b's skipped actions are not counted for alice
    bob = as_user("bob").get("/ads").text
    assert "bravo secret error" in bob and "skipped 2" in bob
