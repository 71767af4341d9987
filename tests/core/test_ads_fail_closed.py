"""The ads guard fails closed: an ambiguous listing (an id listed twice, an ad set outside the listed
campaigns) or an account the platform already reports over a cap gets no creation and no raise, with an
alert in the plan; caps count the budgets the platform reports; ids with path characters never reach HTTP."""

from __future__ import annotations

import datetime as dt

import httpx
import pandas as pd
import pytest

from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit
from actp_pipeline.ads.actions import execute_plan
from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.evidence import account_inputs
from actp_pipeline.ads.goals import AccountSettings, Goal, OrchestratorConfig
from actp_pipeline.ads.meta import (
    AD_SET_COLUMNS,
    CAMPAIGN_COLUMNS,
    MetaAdsClient,
    campaign_name,
    parse_campaign_name,
)
from actp_pipeline.ads.plan import plan, plan_frame, plan_summary
from actp_pipeline.ads.plan.inputs import account_views
from actp_pipeline.ads.plan.ledger import Ledger
from actp_pipeline.ads.plan.rules import DEPENDS_ON_BLOCKED, FAIL_CLOSED
from actp_pipeline.store import connect_store

NOW = dt.datetime(2025, 3, 10, 12)
CAP = 20.0  # the account's global daily budget and the goal's cap
SETTINGS = AccountSettings("A", global_daily_budget=CAP, max_daily_budget=CAP, auto_scale_winners=True,
                           auto_pause_losers=True)
CREATES = ("create_campaign", "create_ad_set", "duplicate_ad_set")


# -- an in-memory ad platform whose listing repeats rows ---------------------------------------------------
class ListingAds:
    """The ads client over dicts; `repeat` holds ids its listing returns twice (a paging glitch)."""

    def __init__(self, repeat: set[str] = frozenset()):
        self.repeat = set(repeat)
        self.camps: dict[str, dict] = {}
        self.sets: dict[str, dict] = {}
        self.seq = 100

    def _id(self) -> str:
        self.seq += 1
        return str(self.seq)

    def _listed(self, rows: dict[str, dict], columns) -> pd.DataFrame:
        out = []
        for r in rows.values():
            out += [r] * (2 if r["id"] in self.repeat else 1)
        return pd.DataFrame([{c: r.get(c) for c in columns} for r in out], columns=list(columns))

    def campaigns(self, account_id):
        return self._listed({k: v for k, v in self.camps.items() if v["account_id"] == account_id}, CAMPAIGN_COLUMNS)

    def ad_sets(self, account_id):
        return self._listed({k: v for k, v in self.sets.items() if v["account_id"] == account_id}, AD_SET_COLUMNS)

    def insights(self, account_id, since, until):
        return pd.DataFrame(columns=["ad_set_id", "account_id", "at", "spend", "impressions", "clicks",
                                     "smartlink_click"])

    def get(self, object_id, fields):
        obj = self.camps.get(object_id) or self.sets[object_id]
        return {f: obj.get(f) for f in fields}

    def find_campaign(self, account_id, name):
        return next((dict(c) for c in self.camps.values() if c["name"] == name), None)

    def find_ad_set(self, account_id, name):
        return next((dict(s) for s in self.sets.values() if s["name"] == name), None)

    def ensure_ad(self, account_id, ad_set_id, *, variant_id, post_id):
        return "ad-" + ad_set_id

    def create_campaign(self, account_id, *, name, objective, budget_mode, daily_budget, status="ACTIVE"):
        goal, kind = parse_campaign_name(name)
        cid = self._id()
        self.camps[cid] = {"id": cid, "account_id": account_id, "name": name, "goal": goal, "kind": kind,
                           "budget_mode": budget_mode, "daily_budget": daily_budget, "status": status,
                           "objective": objective, "created_at": pd.Timestamp(NOW)}
        return cid

    def create_ad_set(self, account_id, *, campaign_id, name, variant_id, post_id, daily_budget, status="ACTIVE"):
        sid = self._id()
        self.sets[sid] = {"id": sid, "campaign_id": campaign_id, "account_id": account_id, "name": name,
                          "variant_id": variant_id, "post_id": post_id, "daily_budget": daily_budget,
                          "status": status, "created_at": pd.Timestamp(NOW), "promoted_from": None}
        return sid

    def duplicate_ad_set(self, ad_set_id, *, campaign_id, name, daily_budget=None, status="ACTIVE"):
        src = self.sets[ad_set_id]
        return self.create_ad_set(src["account_id"], campaign_id=campaign_id, name=name,
                                  variant_id=src["variant_id"], post_id=src["post_id"], daily_budget=daily_budget,
                                  status=status)

    def set_budget(self, object_id, daily_budget):
        (self.camps.get(object_id) or self.sets[object_id])["daily_budget"] = daily_budget

    def set_status(self, object_id, status):
        (self.camps.get(object_id) or self.sets[object_id])["status"] = status

    def active_budget(self) -> float:
        """What the account really spends a day: ACTIVE CBO campaigns, ACTIVE ad sets in ACTIVE campaigns."""
        total = sum(c["daily_budget"] or 0 for c in self.camps.values() if c["status"] == "ACTIVE")
        return total + sum(s["daily_budget"] or 0 for s in self.sets.values() if s["status"] == "ACTIVE"
                           and self.camps.get(s["campaign_id"], {}).get("status") == "ACTIVE")


def _learning_world(budgets=(10.0, 10.0), repeat=True) -> ListingAds:
    """Goal streams of account A: a learning campaign with two ad sets; the listing repeats the campaign
    and the first ad set."""
    ads = ListingAds()
    cid = ads.create_campaign("A", name=campaign_name("streams", "learning"), objective="OUTCOME_TRAFFIC",
                              budget_mode="ABO", daily_budget=None)
    first = ads.create_ad_set("A", campaign_id=cid, name="s1", variant_id="v1", post_id="p1", daily_budget=budgets[0])
    ads.create_ad_set("A", campaign_id=cid, name="s2", variant_id="v2", post_id="p2", daily_budget=budgets[1])
    for s in ads.sets.values():
        s["created_at"] = pd.Timestamp(NOW - dt.timedelta(hours=100))
    if repeat:
        ads.repeat = {cid, first}
    return ads


CANDIDATES = pd.DataFrame([{"variant_id": v, "account_id": "A", "goal": "streams"} for v in ("v1", "v2", "v3")])


def _plan(ads: ListingAds, engine=None, now=NOW, goals=(Goal("A", "streams", 5),), settings=SETTINGS):
    camps, sets, ins, errors = account_inputs(ads, ["A"], now)
    assert not errors
    history = ads_audit.history(engine, ["A"]) if engine is not None else None
    return plan(list(goals), camps, sets, ins, None, history, accounts=[settings], candidates=CANDIDATES, now=now)


def _spending(acts):
    """Executable actions that create something or raise a budget."""
    return [a for a in acts if a.executable and (a.action in CREATES or (
        a.action == "set_budget" and a.params["new_budget"] > a.params["old_budget"]))]


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


# -- (a) a listing with an id twice --------------------------------------------------------------------------
def test_the_fake_is_an_ads_client():
    assert isinstance(ListingAds(), AdsClient)


def test_a_campaign_and_ad_set_listed_twice_block_creations_and_raises_and_say_why():
    acts = _plan(_learning_world())
    assert _spending(acts) == [], plan_frame(acts)[["action", "rule", "target_id", "status", "blocked_by"]]
    alert = next(a for a in acts if a.action == "alert")
    assert alert.account_id == "A" and alert.blocked_by == FAIL_CLOSED and not alert.executable
    assert "listed 2 times" in alert.reason and "fails closed" in alert.reason
    assert plan_summary(acts)["alerts"] == [alert.reason]
    blocked = [a for a in acts if a.action in CREATES]
    assert blocked and all(a.blocked_by in (FAIL_CLOSED, DEPENDS_ON_BLOCKED) for a in blocked)
    assert any(a.blocked_by == FAIL_CLOSED and "listed 2 times" in a.note for a in blocked)
    frame = plan_frame(acts)
    assert "alert" in set(frame["action"]) and (frame["blocked_by"] == FAIL_CLOSED).any()


def test_three_plans_in_a_row_never_take_active_budgets_past_the_cap(engine):
    ads = _learning_world()
    assert ads.active_budget() == CAP
    for i in range(3):
        now = NOW + dt.timedelta(hours=7 * i)
        acts = _plan(ads, engine, now)
        plan_id = ads_audit.record_plan(engine, acts, as_of=now, trigger="test")
        execute_plan(engine, ads, plan_id, now=now, approved={"A": "me"}, post_for_variant=lambda v: "p-" + v,
                     trigger="test")
        assert ads.active_budget() <= CAP, (i, plan_frame(acts)[["action", "target_id", "status", "blocked_by"]])
        assert len(ads.camps) == 1 and len(ads.sets) == 2  # nothing was re-created


def test_the_same_world_listed_cleanly_still_plans_as_before():
    ads = _learning_world(repeat=False)
    acts = _plan(ads)
    assert not [a for a in acts if a.action == "alert"]
    made = [a for a in acts if a.action == "create_ad_set"]  # v3 is new; the cap has room after the rebalance
    assert [a.variant_id for a in made] == ["v3"] and made[0].executable


def test_a_new_goal_still_gets_its_learning_campaign():
    acts = _plan(ListingAds())
    assert not [a for a in acts if a.action == "alert"]
    assert [a.rule for a in acts if a.action == "create_campaign" and a.executable] == ["ensure_learning"]
    assert len([a for a in acts if a.action == "create_ad_set" and a.executable]) == 3


def test_an_ad_set_outside_the_listed_campaigns_fails_closed_and_its_budget_still_counts():
    ads = _learning_world(repeat=False)
    stray = ads.create_ad_set("A", campaign_id="999", name="stray", variant_id="v9", post_id="p9", daily_budget=15.0)
    views, bad = account_views(["A"], ads.campaigns("A"), ads.ad_sets("A"), now=NOW)
    assert not bad
    led = Ledger(views["A"], SETTINGS.resolve(OrchestratorConfig()), [Goal("A", "streams", 5)],
                 OrchestratorConfig(), NOW)
    assert led.account_spend() == 3500  # 10 + 10 + the stray 15 the plan cannot place
    assert any(stray in r and "999" in r for r in led.alerts)
    assert _spending(_plan(ads)) == []


def test_two_active_learning_campaigns_for_one_goal_fail_closed():
    ads = _learning_world(repeat=False)
    ads.create_campaign("A", name=campaign_name("streams", "learning") + " | again", objective="OUTCOME_TRAFFIC",
                        budget_mode="ABO", daily_budget=None)
    acts = _plan(ads)
    assert _spending(acts) == []
    assert "2 active learning campaigns for goal streams" in next(a for a in acts if a.action == "alert").reason


def test_cuts_still_go_through_when_failing_closed():
    ads = _learning_world(budgets=(15.0, 15.0), repeat=False)  # over the cap
    other = ads.create_campaign("A", name="someone else's", objective="o", budget_mode="ABO", daily_budget=None)
    ads.repeat = {other}  # and the listing is ambiguous
    acts = _plan(ads)
    assert "listed 2 times" in next(a for a in acts if a.action == "alert").reason
    cuts = [a for a in acts if a.action == "set_budget" and a.executable]
    assert len(cuts) == 2 and all(a.params["new_budget"] < a.params["old_budget"] for a in cuts)
    assert _spending(acts) == []


# -- (c) active budgets already above the cap, set outside the plan ------------------------------------------
def test_budgets_already_over_the_cap_block_every_creation_and_raise_with_an_alert():
    ads = _learning_world(budgets=(15.0, 15.0), repeat=False)  # 30 a day against a cap of 20
    goals = (Goal("A", "streams", 5), Goal("A", "virality", 3))  # virality has no campaign yet
    acts = _plan(ads, goals=goals, settings=AccountSettings("A", global_daily_budget=CAP, max_daily_budget=CAP))
    assert _spending(acts) == [], plan_frame(acts)[["action", "rule", "goal", "status", "blocked_by"]]
    alert = next(a for a in acts if a.action == "alert")
    assert "$30.00/day" in alert.reason and "above" in alert.reason
    learning = next(a for a in acts if a.action == "create_campaign" and a.goal == "virality")
    assert learning.blocked_by == FAIL_CLOSED  # an ABO campaign adds no spend, but it is a creation
    assert all(a.params["new_budget"] < a.params["old_budget"] for a in acts
               if a.action == "set_budget" and a.executable)


def test_a_goal_over_its_own_cap_fails_closed():
    ads = _learning_world(budgets=(8.0, 8.0), repeat=False)
    low = Goal("A", "streams", 5, budget_cap=10.0)
    acts = _plan(ads, goals=(low,), settings=AccountSettings("A", global_daily_budget=50.0))
    assert _spending(acts) == []
    assert "goal streams" in next(a for a in acts if a.action == "alert").reason


# -- (b) ids with path characters never reach the wire -------------------------------------------------------
BAD_IDS = ["x/../act_B", "act_1/../act_2", "a%2Fb", "", "a b", "..", ".", "a?b", "a#b", "a\nb", "a/b", None, 7]


@pytest.fixture
def wire():
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"data": [], "id": "1", "copied_adset_id": "2"})

    with MetaAdsClient("https://graph.example", "tok", transport=httpx.MockTransport(handler)) as client:
        yield client, sent


def _calls(client: MetaAdsClient, bad):
    now = dt.datetime(2025, 3, 10)
    return [
        lambda: client.campaigns(bad), lambda: client.ad_sets(bad), lambda: client.insights(bad, now, now),
        lambda: client.find_campaign(bad, "n"), lambda: client.find_ad_set(bad, "n"),
        lambda: client.create_campaign(bad, name="n", objective="o", budget_mode="ABO", daily_budget=None),
        lambda: client.create_ad_set(bad, campaign_id="1", name="n", variant_id="v", post_id="p", daily_budget=5.0),
        lambda: client.create_ad_set("1", campaign_id=bad, name="n", variant_id="v", post_id="p", daily_budget=5.0),
        lambda: client.ensure_ad(bad, "1", variant_id="v", post_id="p"),
        lambda: client.ensure_ad("1", bad, variant_id="v", post_id="p"),
        lambda: client.duplicate_ad_set(bad, campaign_id="1", name="n"),
        lambda: client.duplicate_ad_set("1", campaign_id=bad, name="n"),
        lambda: client.get(bad, ["name"]), lambda: client.set_budget(bad, 5.0),
        lambda: client.set_status(bad, "PAUSED"),
    ]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_bad_id_is_refused_before_any_request(wire, bad):
    client, sent = wire
    for call in _calls(client, bad):
        with pytest.raises(ValueError, match="not a valid"):
            call()
    assert sent == []


@pytest.mark.parametrize("good", ["acc1", "act_1", "demo", "b_2", "A", "123456789", "act123"])
def test_the_ids_in_use_still_pass(wire, good):
    client, sent = wire
    client.campaigns(good)
    client.set_status(good, "PAUSED")
    assert [r.url.path for r in sent] == [f"/v21.0/act_{good}/campaigns", f"/v21.0/{good}"]


def test_an_id_the_platform_sends_back_is_checked_too():
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"copied_adset_id": "../act_B"})

    with MetaAdsClient("https://graph.example", "tok", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ValueError, match="copied_adset_id"):
            client.duplicate_ad_set("1", campaign_id="2", name="n")
    assert [r.url.path for r in sent] == ["/v21.0/1/copies"]


@pytest.mark.parametrize("bad", ["x/../act_B", "a%2Fb", "", "a b"])
def test_a_bad_account_id_is_refused_when_the_account_or_goal_is_created(engine, bad):
    with pytest.raises(ValueError, match="not a valid ad account id"):
        ad_accounts.set_account(engine, bad, global_daily_budget=10.0)
    with pytest.raises(ValueError, match="not a valid ad account id"):
        ad_accounts.set_goal(engine, bad, "streams", priority=3)
    assert ad_accounts.accounts(engine).empty and ad_accounts.goals(engine).empty
    ad_accounts.set_goal(engine, "act_123", "streams", priority=3)  # a good one still goes in
    assert list(ad_accounts.accounts(engine)["account_id"]) == ["act_123"]
