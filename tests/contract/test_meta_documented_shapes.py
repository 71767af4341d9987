"""Contract: the sandbox's Graph answers have the shapes of Meta's documented example responses
(tests/contract/fixtures/meta/*.json): the same keys for the fields asked for, the same JSON types, money
and counts as digit strings, times in Graph's format. A sandbox that drifts into a dialect of its own fails."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from actp_pipeline import creative
from actp_pipeline.sandbox import SandboxServer
from tests.media import make_mp4
from tests.media import variant as make_variant
from tests.sandbox.conftest import sandbox_config
from tests.sandbox_posts import publish

FIXTURES = Path(__file__).parent / "fixtures" / "meta"
START = dt.datetime(2026, 11, 21, 10, tzinfo=dt.UTC)
G = "/graph/v21.0"
HOURLY = "hourly_stats_aggregated_by_advertiser_time_zone"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000")
DAY = re.compile(r"\d{4}-\d\d-\d\d")
INTEGER = re.compile(r"-?\d+")
DECIMAL = re.compile(r"-?\d+\.\d+")


def documented(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def same_shape(got: Any, doc: Any, where: str = "$", *, keys: bool = True) -> None:
    """`got` has `doc`'s shape: objects the same keys (with `keys`; else doc's keys at least), lists items
    shaped like doc's first item, strings the same kind (Graph time, day, integer, decimal)."""
    if isinstance(doc, dict):
        assert isinstance(got, dict), (where, got)
        if keys:
            assert set(got) == set(doc), (where, sorted(set(got) ^ set(doc)))
        else:
            assert set(doc) <= set(got), (where, sorted(set(doc) - set(got)))
        for k in doc:
            same_shape(got[k], doc[k], f"{where}.{k}", keys=keys)
    elif isinstance(doc, list):
        assert isinstance(got, list), (where, got)
        for i, item in enumerate(got if doc else []):
            same_shape(item, doc[0], f"{where}[{i}]", keys=keys)
    elif isinstance(doc, bool):
        assert isinstance(got, bool), (where, got)
    elif isinstance(doc, (int, float)):
        assert isinstance(got, (int, float)) and not isinstance(got, bool), (where, got)
        assert isinstance(doc, float) or isinstance(got, int), (where, got)
    elif isinstance(doc, str):
        assert isinstance(got, str), (where, got)
        for kind in (TIME, DAY, DECIMAL, INTEGER):
            if kind.fullmatch(doc):
                assert kind.fullmatch(got), (where, got, kind.pattern)
                break
    else:
        assert got is None, (where, got)


def fields_of(doc: dict) -> str:
    return ",".join(k for k in doc if k != "id")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A sandbox with one account holding a campaign, an ad set, a creative (promoting an Instagram post made
    through ACTP's Instagram adapter), an ad and 30 hours of delivery."""
    where = tmp_path_factory.mktemp("meta_shapes")
    variant = make_variant()
    reel = make_mp4(where / "reel.mp4", creative.descriptor_json(variant), seconds=3.5)  # Instagram: >= 3 s
    with SandboxServer(sandbox_config(seed=5, start=START)) as sb:
        key = sb.config.api_keys[0]
        post = publish(sb.url, key, reel, where / "publish", platform="instagram", idempotency_key="shapes",
                       truth_token=sb.truth_token)["sandbox_post_id"]  # what object_story_id names
        with httpx.Client(base_url=sb.url, params={"access_token": key}, timeout=30) as c:
            ids = {"post": post}
            ids["campaign"] = c.post(f"{G}/act_1234/campaigns", data={
                "name": "Spring promo", "objective": "OUTCOME_TRAFFIC", "status": "ACTIVE", "special_ad_categories": "[]",
                "daily_budget": "5000", "bid_strategy": "LOWEST_COST_WITHOUT_CAP"}).json()["id"]
            lifetime_camp = c.post(f"{G}/act_1234/campaigns", data={
                "name": "abo", "objective": "OUTCOME_TRAFFIC", "status": "ACTIVE", "special_ad_categories": "[]"}
            ).json()["id"]
            ids["abo"] = lifetime_camp
            ids["adset"] = c.post(f"{G}/act_1234/adsets", data={
                "name": "US 18-34", "campaign_id": lifetime_camp, "status": "ACTIVE", "billing_event": "IMPRESSIONS",
                "daily_budget": "2000",
                "optimization_goal": "LINK_CLICKS", "targeting": '{"geo_locations": {"countries": ["US"]}}',
                "end_time": (START + dt.timedelta(days=7)).isoformat(), "bid_strategy": "COST_CAP",
                "bid_amount": "150"}).json()["id"]
            ids["lifetime"] = c.post(f"{G}/act_1234/adsets", data={
                "name": "life", "campaign_id": lifetime_camp, "billing_event": "IMPRESSIONS", "lifetime_budget": "10000",
                "end_time": (START + dt.timedelta(days=7)).isoformat(), "targeting": "{}"}).json()["id"]
            ids["creative"] = c.post(f"{G}/act_1234/adcreatives", data={
                "name": "Creative for post", "object_story_id": post, "url_tags": f"utm_content={variant['variant_id']}"}
            ).json()["id"]
            ids["ad"] = c.post(f"{G}/act_1234/ads", data={"name": "Ad 1", "adset_id": ids["adset"], "status": "ACTIVE",
                                                          "creative": json.dumps({"creative_id": ids["creative"]})}
                               ).json()["id"]
            assert c.post("/sandbox/clock/advance", json={"hours": 30}).status_code == 200
            yield sb, c, ids


def test_writes_answer_like_meta(world):
    sb, c, ids = world
    same_shape(c.post(f"{G}/act_1234/campaigns", data={"name": "x", "objective": "OUTCOME_LEADS",
                                                        "special_ad_categories": "[]"}).json(), documented("create"))
    same_shape(c.post(f"{G}/{ids['campaign']}", data={"name": "Spring promo"}).json(), documented("update"))
    copied = c.post(f"{G}/{ids['adset']}/copies", data={"deep_copy": "true"}).json()
    same_shape(copied, documented("copies"))


@pytest.mark.parametrize("kind", ["campaign", "adset", "adcreative", "ad"])
def test_objects_read_like_meta(world, kind):
    sb, c, ids = world
    doc = documented(kind)
    got = c.get(f"{G}/{ids[kind.replace('adcreative', 'creative')]}", params={"fields": fields_of(doc)}).json()
    same_shape(got, doc)


def test_expansions_lifetime_budgets_and_pages_read_like_meta(world):
    sb, c, ids = world
    doc = documented("ad_creative_expanded")
    same_shape(c.get(f"{G}/{ids['ad']}", params={"fields": "creative{object_story_id,url_tags}"}).json(), doc)
    doc = documented("adset_lifetime")
    same_shape(c.get(f"{G}/{ids['lifetime']}", params={"fields": "lifetime_budget,end_time,daily_budget"}).json(), doc)
    page = c.get(f"{G}/act_1234/campaigns", params={"fields": "name", "limit": "1", "summary": "true"}).json()
    same_shape(page, documented("list_page"))
    assert page["paging"]["next"].startswith(str(c.base_url).rstrip("/") + f"{G}/act_1234/campaigns?")


def test_insights_read_like_meta(world):
    sb, c, ids = world
    doc = documented("insights_adset_hourly")
    rows = c.get(f"{G}/act_1234/insights", params={
        "level": "adset", "fields": fields_of(doc["data"][0]).replace("," + HOURLY, "").replace(
            "date_start,date_stop,", ""),
        "breakdowns": HOURLY, "time_increment": "1", "date_preset": "maximum", "limit": "5"}).json()
    assert rows["data"]
    row_doc = doc["data"][0]
    for row in rows["data"]:  # actions appear only when some happened: a row holds at least doc's other keys
        same_shape({k: v for k, v in row.items() if k not in ("actions", "video_thruplay_watched_actions")},
                   {k: v for k, v in row_doc.items() if k not in ("actions", "video_thruplay_watched_actions")})
        for k in ("actions", "video_thruplay_watched_actions"):
            if k in row:
                same_shape(row[k], row_doc[k])
    assert any("video_thruplay_watched_actions" in r for r in rows["data"])
    same_shape(c.get(f"{G}/act_1234/insights", params={"date_preset": "maximum"}).json(), documented("insights_default"))
    costs = documented("insights_costs")
    same_shape(c.get(f"{G}/{ids['abo']}/insights", params={"fields": fields_of(costs["data"][0]).replace(
        "date_start,date_stop", "").strip(","), "date_preset": "maximum"}).json(), costs)


def test_async_reports_read_like_meta(world):
    sb, c, ids = world
    job = c.post(f"{G}/act_1234/insights", data={"level": "adset", "fields": "spend", "date_preset": "maximum"}).json()
    same_shape(job, documented("async_job"))
    doc = documented("report_run")
    c.get(f"{G}/{job['report_run_id']}")  # the first read finds it running
    same_shape(c.get(f"{G}/{job['report_run_id']}", params={"fields": fields_of(doc)}).json(), doc)


def test_batches_errors_and_usage_headers_read_like_meta(world):
    sb, c, ids = world
    batch = [{"method": "POST", "relative_url": "act_1234/campaigns",
              "body": "name=b&objective=OUTCOME_TRAFFIC&special_ad_categories=%5B%5D"},
             {"method": "POST", "relative_url": "act_1234/campaigns", "body": "name=b&objective=NOPE"}]
    got = c.post(f"{G}/", data={"batch": json.dumps(batch)}).json()
    doc = documented("batch")
    assert [g["code"] for g in got] == [d["code"] for d in doc]
    for g, d in zip(got, doc):
        same_shape(g, d, keys=False)
        same_shape(json.loads(g["body"]), json.loads(d["body"]), keys=False)
    same_shape(c.post(f"{G}/act_1234/campaigns", data={"name": "x", "objective": "OUTCOME_LEADS", "daily_budget": "5",
                                                        "special_ad_categories": "[]"}).json(),
               documented("error_validation"))
    bad = httpx.get(f"{sb.url}{G}/act_1234/campaigns", params={"access_token": "nope"})
    assert bad.status_code == 400
    same_shape(bad.json(), documented("error_token"), keys=False)
    assert set(bad.json()["error"]) <= {"message", "type", "code", "is_transient", "fbtrace_id", "error_subcode"}
    resp = c.get(f"{G}/act_1234/insights", params={"fields": "spend"})
    headers = documented("usage_headers")
    for name, doc in headers.items():
        got = json.loads(resp.headers[name])
        if name == "x-business-use-case-usage":
            (acc,) = doc
            got, doc = got["1234"], doc[acc]
            doc = [{**doc[0], "type": "ads_insights"}]
        same_shape(got, doc)
    sb.api.ads_objects.usage.limit = 1
    try:
        c.get(f"{G}/act_1234/campaigns")
        throttled = c.get(f"{G}/act_1234/campaigns")
    finally:
        sb.api.ads_objects.usage.limit = 100_000
    assert throttled.status_code == 400
    same_shape(throttled.json(), documented("error_throttle"))
