"""A promotion (duplicate_ad_set: copy + name/budget/status + its ads activated) against the real sandbox
ads API over HTTP is reconciled step by step: an ad activation that never reached the platform is never a
success with a paused ad (completed on reconciliation, or failed with the reason); a lost answer to the
copy call, however often, leaves exactly one copy, ACTIVE with ACTIVE ads; a half-made copy left by a crash
is found by its copy name and completed."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from actp_pipeline import creative
from actp_pipeline.ads import audit as ads_audit
from actp_pipeline.ads.actions import execute_plan, object_name
from actp_pipeline.ads.meta import MetaAdsClient, campaign_name
from actp_pipeline.ads.meta_copy import COPY_SUFFIX, RENAME, copy_name
from actp_pipeline.ads.plan.rules import DUPLICATE_AD_SET, PROMOTE, PlannedAction
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import connect_store
from tests.media import make_mp4, variant
from tests.sandbox_posts import publish

ACC = "promo1"
NOW = dt.datetime(2026, 11, 21, 10)


class Faults(httpx.HTTPTransport):
    """The sandbox over HTTP, with faults: `lose_copies` answers to POST .../copies lost after the copy was
    made (a 500, or the connection dropped); `fail_activation` POSTs to a copied ad answered 500 without
    reaching the platform; `fail_lookups` GETs of an ad set listing by name answered 500."""

    def __init__(self, lose_copies: int = 0, lose_how: str = "500", fail_activation: int = 0, fail_lookups: int = 0):
        super().__init__()
        self.lose_copies, self.lose_how = lose_copies, lose_how
        self.fail_activation, self.fail_lookups = fail_activation, fail_lookups
        self.copied_ads: set[str] = set()
        self.copies_sent = 0

    def handle_request(self, request):
        path = request.url.path
        if request.method == "POST" and path.rsplit("/", 1)[-1] in self.copied_ads and self.fail_activation > 0:
            self.fail_activation -= 1
            return httpx.Response(500, json={"error": {"message": "An unknown error occurred", "code": 1,
                                                       "is_transient": True}}, request=request)
        if (request.method == "GET" and path.endswith("/adsets") and "name" in request.url.params.get("filtering", "")
                and self.fail_lookups > 0):
            self.fail_lookups -= 1
            return httpx.Response(500, json={"error": {"message": "Service temporarily unavailable", "code": 2,
                                                       "is_transient": True}}, request=request)
        resp = super().handle_request(request)
        if request.method == "POST" and path.endswith("/copies"):
            resp.read()
            self.copies_sent += 1
            body = json.loads(resp.content)
            self.copied_ads |= {o["copied_id"] for o in body.get("ad_object_ids", []) if o["ad_object_type"] == "ad"}
            if self.lose_copies > 0:
                self.lose_copies -= 1
                if self.lose_how == "dropped":
                    raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
                return httpx.Response(500, json={"error": {"message": "An unexpected error has occurred", "code": 2,
                                                           "is_transient": True}}, request=request)
        return resp


@pytest.fixture
def sandbox():
    with SandboxServer(WorldConfig(seed=23, speed=0.0, start=NOW.replace(tzinfo=dt.UTC))) as sb:
        yield sb


@pytest.fixture
def reader(sandbox):
    with MetaAdsClient(sandbox.url + "/graph", sandbox.config.api_keys[0]) as client:
        yield client


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """An MP4 creative long enough for an Instagram Reel (3 s)."""
    return make_mp4(tmp_path_factory.mktemp("promo_clip") / "a.mp4", creative.descriptor_json(variant()), seconds=3.5)


@pytest.fixture
def world(sandbox, reader, clip, tmp_path) -> dict:
    """A learning ad set of creative v1 (with its ad: a Reel published through the Graph dialect) and a CBO
    scaling campaign to promote it into."""
    post = publish(sandbox.url, sandbox.config.api_keys[0], clip, tmp_path / "publish", idempotency_key="k",
                   truth_token=sandbox.truth_token)["sandbox_post_id"]
    learning = reader.create_campaign(ACC, name=campaign_name("streams", "learning"), objective="OUTCOME_TRAFFIC",
                                      budget_mode="ABO", daily_budget=None)
    scaling = reader.create_campaign(ACC, name=campaign_name("streams", "scaling"), objective="OUTCOME_TRAFFIC",
                                     budget_mode="CBO", daily_budget=20.0)
    source = reader.create_ad_set(ACC, campaign_id=learning, name="ACTP | streams | learning | v1 | 00000000.1",
                                  variant_id="v1", post_id=post, daily_budget=5.0)
    return {"post": post, "learning": learning, "scaling": scaling, "source": source}


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


def _plan(engine, world) -> str:
    promote = PlannedAction(ACC, "streams", DUPLICATE_AD_SET, PROMOTE, target_id=world["source"], variant_id="v1",
                            params={"source_ad_set_id": world["source"], "campaign_id": world["scaling"],
                                    "promoted_from": world["source"], "daily_budget": None})
    return ads_audit.record_plan(engine, [promote], as_of=NOW, trigger="test")


def _execute(engine, sandbox, world, plan_id, faults: Faults):
    with MetaAdsClient(sandbox.url + "/graph", sandbox.config.api_keys[0], transport=faults) as client:
        client.RETRY_BACKOFF_S = 0.0
        return execute_plan(engine, client, plan_id, now=NOW, approved={ACC: "me"},
                            post_for_variant={"v1": world["post"]}.get, trigger="test")


def _copies(reader, world) -> list[dict]:
    """Every copy of the source ad set, with the statuses of its ads."""
    sets = reader.ad_sets(ACC)
    out = []
    for r in sets[sets["promoted_from"] == world["source"]].to_dict("records"):
        ads = reader._ads(ACC, [{"field": "adset.id", "operator": "EQUAL", "value": r["id"]}])
        out.append({**r, "ad_statuses": [a["status"] for a in ads]})
    return out


def _row(engine, plan_id) -> dict:
    log = ads_audit.log(engine, plan_id=plan_id)
    return log[log["mode"] == "execute"].iloc[0].to_dict()


def test_an_ad_activation_that_failed_once_is_completed_by_reconciliation(engine, sandbox, reader, world):
    plan_id = _plan(engine, world)
    faults = Faults(fail_activation=1)
    done = _execute(engine, sandbox, world, plan_id, faults)
    assert done.counts == {"success": 1} and done.results[0]["recovered"] is True  # not a success at first
    row = _row(engine, plan_id)
    assert row["status"] == "success" and row["error"].startswith("recovered after: ads API error")
    (copy,) = _copies(reader, world)
    assert copy["id"] == done.results[0]["result_id"] and copy["status"] == "ACTIVE"
    assert copy["ad_statuses"] == ["ACTIVE"] and copy["campaign_id"] == world["scaling"]
    assert copy["name"] == object_name(PlannedAction(ACC, "streams", DUPLICATE_AD_SET, PROMOTE, variant_id="v1"),
                                       plan_id, 0)
    assert faults.copies_sent == 1


def test_an_ad_activation_that_keeps_failing_is_failed_never_a_success_with_a_paused_ad(engine, sandbox, reader,
                                                                                           world):
    plan_id = _plan(engine, world)
    done = _execute(engine, sandbox, world, plan_id, Faults(fail_activation=100))
    assert done.counts == {"failed": 1}
    row = _row(engine, plan_id)
    assert row["status"] == "failed" and row["result_id"] is None
    assert "ads API error" in row["error"] and "is PAUSED" in row["error"]  # the reason: its ad delivers nothing
    (copy,) = _copies(reader, world)  # the one copy, its ad still paused: the audit log does not call it a success
    assert copy["ad_statuses"] == ["PAUSED"]
    again = _execute(engine, sandbox, world, plan_id, Faults())
    assert again.counts == {"already_failed": 1}  # a failed action is not retried within its plan


@pytest.mark.parametrize("how", ["500", "dropped"])
def test_a_lost_answer_to_the_copy_call_never_makes_a_second_copy(engine, sandbox, reader, world, how):
    plan_id = _plan(engine, world)
    faults = Faults(lose_copies=3, lose_how=how)
    done = _execute(engine, sandbox, world, plan_id, faults)
    assert done.counts == {"success": 1} and not done.failures
    name = object_name(PlannedAction(ACC, "streams", DUPLICATE_AD_SET, PROMOTE, variant_id="v1"), plan_id, 0)
    with MetaAdsClient(sandbox.url + "/graph", sandbox.config.api_keys[0], transport=faults) as client:
        for _ in range(2):  # retried twice more, each copy answer lost too: the copy is found, not made again
            assert client.duplicate_ad_set(world["source"], campaign_id=world["scaling"], name=name,
                                           resume=True) == done.results[0]["result_id"]
    assert _execute(engine, sandbox, world, plan_id, faults).counts == {"already_success": 1}
    (copy,) = _copies(reader, world)
    assert copy["status"] == "ACTIVE" and copy["ad_statuses"] == ["ACTIVE"] and copy["name"] == name
    assert faults.copies_sent == 1


def test_a_lost_copy_answer_whose_lookup_fails_too_is_found_on_reconciliation(engine, sandbox, reader, world):
    plan_id = _plan(engine, world)
    faults = Faults(lose_copies=3, fail_lookups=3)  # the lookup after the lost answer fails (with its retries)
    done = _execute(engine, sandbox, world, plan_id, faults)
    assert done.counts == {"success": 1} and done.results[0]["recovered"] is True
    (copy,) = _copies(reader, world)
    assert copy["status"] == "ACTIVE" and copy["ad_statuses"] == ["ACTIVE"] and faults.copies_sent == 1


def test_a_half_made_copy_left_by_a_crash_is_completed_not_copied_again(engine, sandbox, reader, world):
    plan_id = _plan(engine, world)
    (seq, a), = ads_audit.plan_actions(engine, plan_id)
    name = object_name(a, plan_id, seq)
    # the crashed execution: its pending row, and the copy it made (paused, under its copy name) before dying
    run_id = ads_audit.start_run(engine, plan_id, [ACC], as_of=NOW, trigger="test")
    ads_audit.begin_action(engine, run_id, plan_id, seq, a, a.target_id, a.params, NOW)
    key = sandbox.config.api_keys[0]
    made = httpx.post(f"{sandbox.url}/graph/v21.0/{world['source']}/copies", headers={"Authorization": f"Bearer {key}"},
                      data={"campaign_id": world["scaling"], "deep_copy": "true", "status_option": "PAUSED",
                            "rename_options": json.dumps({"rename_strategy": RENAME,
                                                          "rename_suffix": COPY_SUFFIX.format(name=name)})}).json()
    half = reader.get(made["copied_adset_id"], ["name", "status"])
    assert half["name"] == copy_name("ACTP | streams | learning | v1 | 00000000.1", name) and half["status"] == "PAUSED"
    faults = Faults()
    done = _execute(engine, sandbox, world, plan_id, faults)
    assert done.counts == {"success": 1} and done.results[0]["result_id"] == made["copied_adset_id"]
    (copy,) = _copies(reader, world)
    assert (copy["name"], copy["status"], copy["ad_statuses"]) == (name, "ACTIVE", ["ACTIVE"])
    assert faults.copies_sent == 0


def _create_ad_set_plan(engine, world):
    """A stored plan of one action: an ad set (with its ad) of creative v1 in the learning campaign."""
    from actp_pipeline.ads.plan.rules import CREATE_AD_SET, TEST_CREATIVE

    create = PlannedAction(ACC, "streams", CREATE_AD_SET, TEST_CREATIVE, target_id=f"new:{ACC}:streams:adset:v1",
                           variant_id="v1", params={"campaign_id": world["learning"], "variant_id": "v1",
                                                    "daily_budget": 5.0, "status": "ACTIVE"})
    return create, ads_audit.record_plan(engine, [create], as_of=NOW, trigger="test")


class AdFaults(httpx.HTTPTransport):
    """POST .../ads: the first answered 503 before the platform acts, the second carried out and its answer
    lost (found by the fault suite, benchmarks/faults.py). Counts the POSTs that reached the platform."""

    def __init__(self):
        super().__init__()
        self.posts = 0
        self.script = ["refuse", "lose"]

    def handle_request(self, request):
        if request.method == "POST" and request.url.path.endswith("/ads") and self.script:
            step = self.script.pop(0)
            if step == "refuse":
                return httpx.Response(503, json={"error": {"message": "unavailable", "code": 2,
                                                           "is_transient": True}}, request=request)
            resp = super().handle_request(request)
            resp.read()
            self.posts += 1
            return httpx.Response(502, json={"error": {"message": "answer lost", "code": 2, "is_transient": True}},
                                  request=request)
        if request.method == "POST" and request.url.path.endswith("/ads"):
            self.posts += 1
        return super().handle_request(request)


def test_an_ad_made_while_completing_its_ad_set_is_found_not_failed(engine, sandbox, reader, world):
    create, plan_id = _create_ad_set_plan(engine, world)
    faults = AdFaults()
    with MetaAdsClient(sandbox.url + "/graph", sandbox.config.api_keys[0], transport=faults) as client:
        client.RETRY_BACKOFF_S = 0.0
        out = execute_plan(engine, client, plan_id, now=NOW, approved={ACC: "me"},
                           post_for_variant=lambda v: world["post"], trigger="test")
    assert out.counts.get(ads_audit.SUCCESS) == 1, out.results
    made = out.results[0]["result_id"]
    ads = reader._ads(ACC, [{"field": "adset.id", "operator": "EQUAL", "value": made}])
    assert [a["status"] for a in ads] == ["ACTIVE"] and faults.posts == 1  # one ad, made once, delivering


def test_an_ad_set_that_cannot_get_its_ad_is_failed_and_paused(engine, sandbox, reader, world):
    create, plan_id = _create_ad_set_plan(engine, world)
    faults = AdFaults()
    faults.script = ["refuse"] * 10  # the platform never takes the ad
    with MetaAdsClient(sandbox.url + "/graph", sandbox.config.api_keys[0], transport=faults) as client:
        client.RETRY_BACKOFF_S = 0.0
        out = execute_plan(engine, client, plan_id, now=NOW, approved={ACC: "me"},
                           post_for_variant=lambda v: world["post"], trigger="test")
    assert out.counts.get(ads_audit.FAILED) == 1 and "was paused" in out.results[0]["error"], out.results
    sets = reader.ad_sets(ACC)
    left = sets[sets["name"] == object_name(create, plan_id, 0)]
    assert list(left["status"]) == ["PAUSED"]  # nothing spends that the audit log calls failed
