"""Executing a stored plan against an in-memory AdsClient: a failure is recorded and its dependents are
skipped, an ambiguous error is reconciled by looking, a rerun sends nothing twice."""

from __future__ import annotations

import datetime as dt

import pytest

from actp_pipeline.ads import audit as ads_audit
from actp_pipeline.ads.actions import execute_plan
from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.meta import AdsError
from actp_pipeline.ads.plan.rules import (
    CREATE_AD_SET,
    CREATE_CAMPAIGN,
    ENSURE_LEARNING,
    REBALANCE,
    SET_BUDGET,
    TEST_CREATIVE,
    PlannedAction,
)
from actp_pipeline.store import connect_store

NOW = dt.datetime(2025, 3, 10, 12)
CAMPAIGN = "new:A:streams:learning"


class FakeAds:
    """The ads client's calls over dicts; `fail` maps a method to the AdsError it raises once."""

    def __init__(self, fail: dict[str, AdsError] | None = None, act_anyway: bool = False):
        self.fail, self.act_anyway = dict(fail or {}), act_anyway
        self.objects: dict[str, dict] = {"s1": {"daily_budget": 500, "status": "ACTIVE"}}
        self.calls: list[str] = []

    def _maybe_fail(self, method: str) -> None:
        err = self.fail.pop(method, None)
        if err is not None:
            raise err

    def _create(self, method: str, **fields) -> str:
        self.calls.append(method)
        if method in self.fail and not self.act_anyway:
            self._maybe_fail(method)
        oid = f"id{len(self.objects)}"
        self.objects[oid] = fields
        self._maybe_fail(method)  # the platform acted, then the answer was lost
        return oid

    def campaigns(self, account_id):
        raise NotImplementedError

    def ad_sets(self, account_id):
        raise NotImplementedError

    def insights(self, account_id, since, until):
        raise NotImplementedError

    def get(self, object_id, fields):
        return {f: self.objects[object_id].get(f) for f in fields}

    def find_campaign(self, account_id, name):
        return next(({"id": k} for k, o in self.objects.items() if o.get("name") == name), None)

    def find_ad_set(self, account_id, name):
        return self.find_campaign(account_id, name)

    def ensure_ad(self, account_id, ad_set_id, *, variant_id, post_id):
        return "ad"

    def create_campaign(self, account_id, *, name, objective, budget_mode, daily_budget, status="ACTIVE"):
        return self._create("create_campaign", name=name)

    def create_ad_set(self, account_id, *, campaign_id, name, variant_id, post_id, daily_budget, status="ACTIVE"):
        return self._create("create_ad_set", name=name, campaign_id=campaign_id)

    def duplicate_ad_set(self, ad_set_id, *, campaign_id, name, daily_budget=None, status="ACTIVE"):
        return self._create("duplicate_ad_set", name=name, campaign_id=campaign_id)

    def set_budget(self, object_id, daily_budget):
        self.calls.append("set_budget")
        self.objects[object_id]["daily_budget"] = round(daily_budget * 100)

    def set_status(self, object_id, status):
        self.calls.append("set_status")
        self.objects[object_id]["status"] = status


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


def _stored_plan(engine) -> str:
    actions = [
        PlannedAction("A", "streams", CREATE_CAMPAIGN, ENSURE_LEARNING, target_id=CAMPAIGN,
                      params={"kind": "learning", "budget_mode": "ABO", "objective": "OUTCOME_TRAFFIC",
                              "daily_budget": None, "status": "ACTIVE"}),
        PlannedAction("A", "streams", CREATE_AD_SET, TEST_CREATIVE, target_id="new:A:streams:adset:v1",
                      variant_id="v1", params={"campaign_id": CAMPAIGN, "variant_id": "v1", "daily_budget": 5.0}),
        PlannedAction("A", "streams", SET_BUDGET, REBALANCE, target_id="s1",
                      params={"old_budget": 5.0, "new_budget": 7.0}),
    ]
    return ads_audit.record_plan(engine, actions, as_of=NOW, trigger="test")


def _run(engine, client, plan_id):
    return execute_plan(engine, client, plan_id, now=NOW, approved={"A": "me"}, post_for_variant=lambda v: "post-1",
                        trigger="test")


def test_the_fake_is_an_ads_client():
    assert isinstance(FakeAds(), AdsClient)


def test_a_failed_action_skips_its_dependents_and_a_rerun_sends_nothing_twice(engine):
    plan_id = _stored_plan(engine)
    client = FakeAds(fail={"create_campaign": AdsError("bad objective", status=400, code=100)})
    first = _run(engine, client, plan_id)
    assert [r["status"] for r in first.results] == ["failed", "skipped", "success"]
    assert "depends on new:A:streams:learning" in first.results[1]["error"]
    assert "ads API error 100: bad objective" in first.failures[0]
    assert client.calls == ["create_campaign", "set_budget"] and client.objects["s1"]["daily_budget"] == 700
    again = _run(engine, client, plan_id)
    assert [r["status"] for r in again.results] == ["already_failed", "already_skipped", "already_success"]
    assert client.calls == ["create_campaign", "set_budget"]
    runs = ads_audit.runs(engine).set_index("run_id")["status"]
    assert runs[first.run_id] == "partial" and runs[again.run_id] == "success"  # the rerun failed nothing


def test_an_ambiguous_error_after_the_platform_acted_is_reconciled(engine):
    plan_id = _stored_plan(engine)
    client = FakeAds(fail={"create_campaign": AdsError("timed out", retryable=True)}, act_anyway=True)
    out = _run(engine, client, plan_id)
    assert [r["status"] for r in out.results] == ["success", "success", "success"]
    assert out.results[0]["recovered"] and client.calls.count("create_campaign") == 1
    made = client.objects[out.results[0]["result_id"]]
    ad_set = client.objects[out.results[1]["result_id"]]
    assert ad_set["campaign_id"] == out.results[0]["result_id"] and made["name"].startswith("ACTP | streams")
