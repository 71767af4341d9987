"""Contract: Meta's official Python SDK (`facebook-business`) drives the sandbox's Graph dialect unchanged,
only its base URL overridden, through the whole round trip, batch, cursors, errors and rate-limit signals;
and ACTP's two Meta clients (meta.MetaAdsClient on httpx, meta_sdk.MetaSdkAdsClient on the SDK) agree."""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings

import httpx
import pandas as pd
import pytest
import requests
from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adcreative import AdCreative
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.campaign import Campaign
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from actp_pipeline import creative
from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.errors import AdsError
from actp_pipeline.ads.meta import MetaAdsClient, insight_frame
from actp_pipeline.ads.meta_sdk import MetaSdkAdsClient
from actp_pipeline.sandbox import SandboxServer
from tests.media import make_mp4, other_variant, variant
from tests.sandbox.conftest import sandbox_config
from tests.sandbox_posts import publish

START = dt.datetime(2026, 11, 21, 10, tzinfo=dt.UTC)
HOURLY = "hourly_stats_aggregated_by_advertiser_time_zone"
TARGETING = {"geo_locations": {"countries": ["US"]}}

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the SDK's type-checker notes


@pytest.fixture
def sandbox():
    with SandboxServer(sandbox_config(seed=11, start=START)) as server:
        yield server


@pytest.fixture
def key(sandbox) -> str:
    return sandbox.config.api_keys[0]


@pytest.fixture
def api(sandbox, key) -> FacebookAdsApi:
    """The SDK's own API object; the only change from talking to Meta is the base URL."""
    session = FacebookSession(access_token=key)
    session.GRAPH = sandbox.url + "/graph"
    return FacebookAdsApi(session, "v21.0")


@pytest.fixture
def http(sandbox, key):
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def reels(tmp_path_factory) -> list[tuple]:
    """(path, variant) of two Reels (Instagram refuses videos under 3 s) carrying two creatives' descriptors."""
    where = tmp_path_factory.mktemp("meta_sdk_reels")
    out = []
    for name, v, color in (("a", variant(), "black"), ("b", other_variant(), "white")):
        out.append((make_mp4(where / f"{name}.mp4", creative.descriptor_json(v), seconds=3.5, color=color), v))
    return out


@pytest.fixture
def posts(sandbox, key, reels, tmp_path) -> list[tuple[str, str]]:
    """Two Instagram posts made through ACTP's Instagram adapter: (the sandbox's post id, the variant), the post
    id being what a creative's object_story_id names."""
    out = []
    for (mp4, v), idem in zip(reels, ("sdk-a", "sdk-b")):
        post = publish(sandbox.url, key, mp4, tmp_path / "publish", platform="instagram", idempotency_key=idem,
                       truth_token=sandbox.truth_token)
        out.append((post["sandbox_post_id"], v["variant_id"]))
    return out


def _advance(http, hours: float) -> None:
    assert http.post("/sandbox/clock/advance", json={"hours": hours}).status_code == 200


def _rows(cursor) -> list[dict]:
    return [r.export_all_data() for r in cursor]


def _range(days: int = 3) -> dict:
    return {"since": START.date().isoformat(), "until": (START + dt.timedelta(days=days)).date().isoformat()}


# ------------------------------------------------------------------------------------- round trip
def test_the_sdk_runs_the_whole_round_trip(sandbox, api, http, posts):
    account = AdAccount("act_sdk", api=api)
    camp = account.create_campaign(params={"name": "ACTP | virality | learning", "objective": "OUTCOME_ENGAGEMENT",
                                           "status": Campaign.Status.active, "special_ad_categories": [],
                                           "bid_strategy": "LOWEST_COST_WITHOUT_CAP"})
    adset = account.create_ad_set(params={"name": "learn a", "campaign_id": camp["id"], "daily_budget": 2400,
                                          "billing_event": "IMPRESSIONS", "optimization_goal": "THRUPLAY",
                                          "targeting": TARGETING, "status": "ACTIVE", "bid_strategy": "COST_CAP",
                                          "bid_amount": 150})
    (post_id, variant), _ = posts
    creative = account.create_ad_creative(params={"name": "a", "object_story_id": post_id,
                                                  "url_tags": f"utm_content={variant}"})
    ad = account.create_ad(params={"name": "ad a", "adset_id": adset["id"], "status": "ACTIVE",
                                   "creative": {"creative_id": creative["id"]}})
    read = Ad(ad["id"], api=api).api_get(fields=["creative{object_story_id,url_tags}", "effective_status"])
    assert read["creative"]["id"] == creative["id"] and read["creative"]["object_story_id"] == post_id
    assert read["effective_status"] == "ACTIVE"
    assert AdCreative(creative["id"], api=api).api_get(fields=["object_story_id"])["object_story_id"] == post_id
    got = AdSet(adset["id"], api=api).api_get(fields=["bid_strategy", "bid_amount", "daily_budget"])
    assert (got["bid_strategy"], got["bid_amount"], got["daily_budget"]) == ("COST_CAP", 150, "2400")

    _advance(http, 6.5)
    fields = ["spend", "impressions", "clicks", "actions", "video_thruplay_watched_actions"]
    (acc_row,) = _rows(account.get_insights(fields=fields, params={"time_range": _range()}))  # level=account
    assert set(acc_row) <= {*fields, "date_start", "date_stop"} and float(acc_row["spend"]) > 0
    (set_row,) = _rows(AdSet(adset["id"], api=api).get_insights(fields=["adset_id", *fields],
                                                                    params={"time_range": _range()}))
    (camp_row,) = _rows(account.get_insights(fields=["campaign_id", "spend"],
                                             params={"level": "campaign", "time_range": _range()}))
    (ad_row,) = _rows(Ad(ad["id"], api=api).get_insights(fields=["ad_id", "spend"], params={"date_preset": "today"}))
    assert set_row["adset_id"] == adset["id"] and camp_row["campaign_id"] == camp["id"] and ad_row["ad_id"] == ad["id"]
    assert acc_row["spend"] == set_row["spend"] == camp_row["spend"] == ad_row["spend"]
    assert _rows(account.get_insights(fields=["spend"], params={"date_preset": "yesterday"})) == []
    (watched,) = set_row["video_thruplay_watched_actions"]  # Meta's ThruPlay field, never an action
    assert watched["action_type"] == "video_view" and int(watched["value"]) > 0
    assert "thruplay" not in {a["action_type"] for a in set_row.get("actions", [])}
    hourly = _rows(account.get_insights(fields=["adset_id", "spend"], params={
        "level": "adset", "breakdowns": [HOURLY], "time_increment": 1, "time_range": _range()}))
    assert len(hourly) == 6 and round(sum(float(r["spend"]) for r in hourly), 2) == float(set_row["spend"])

    # async: POST insights -> AdReportRun, poll async_status / async_percent_completion, read its insights
    job = account.get_insights(fields=fields, params={"level": "adset", "time_range": _range()}, is_async=True)
    polls = []
    while True:
        job.api_get(fields=["async_status", "async_percent_completion"])
        polls.append((job["async_status"], job["async_percent_completion"]))
        if job["async_status"] == "Job Completed":
            break
        assert len(polls) < 5
    assert polls[0] == ("Job Running", 50) and polls[-1] == ("Job Completed", 100)
    _advance(http, 2)  # the report is of the moment it was asked for
    (result,) = _rows(job.get_result())
    assert result == {k: v for k, v in set_row.items() if k != "adset_id"}

    # budget change, pause, archive, delete
    AdSet(adset["id"], api=api).api_update(params={"daily_budget": 3600})
    assert AdSet(adset["id"], api=api).api_get(fields=["daily_budget"])["daily_budget"] == "3600"
    Campaign(camp["id"], api=api).api_update(params={"status": "PAUSED"})
    assert Ad(ad["id"], api=api).api_get(fields=["effective_status"])["effective_status"] == "CAMPAIGN_PAUSED"
    AdSet(adset["id"], api=api).api_update(params={"status": "ARCHIVED"})
    with pytest.raises(FacebookRequestError) as e:
        AdSet(adset["id"], api=api).api_update(params={"status": "ACTIVE"})  # archived: only deletion is left
    assert e.value.api_error_code() == 100 and e.value.body()["error"]["error_user_title"]
    Ad(ad["id"], api=api).api_delete()
    Campaign(camp["id"], api=api).api_delete()
    assert Campaign(camp["id"], api=api).api_get(fields=["status"])["status"] == "DELETED"
    assert [c["id"] for c in account.get_campaigns()] == []  # deleted objects are not listed by default
    deleted = account.get_ads(fields=["status"], params={"effective_status": ["DELETED"]})
    assert [a["id"] for a in deleted] == [ad["id"]]


def test_lifetime_budgets_end_and_spend_within_them(sandbox, api, http, posts):
    account = AdAccount("act_life", api=api)
    camp = account.create_campaign(params={"name": "c", "objective": "OUTCOME_TRAFFIC", "status": "ACTIVE",
                                           "special_ad_categories": []})
    base = {"campaign_id": camp["id"], "billing_event": "IMPRESSIONS", "optimization_goal": "LINK_CLICKS",
            "targeting": TARGETING, "status": "ACTIVE"}
    with pytest.raises(FacebookRequestError) as e:
        account.create_ad_set(params={**base, "name": "no end", "lifetime_budget": 5000})
    err = e.value.body()["error"]
    assert e.value.api_error_code() == 100 and "end_time" in err["message"]
    assert err["error_user_title"] and err["error_user_msg"]
    end = (START + dt.timedelta(days=2)).isoformat()
    adset = account.create_ad_set(params={**base, "name": "two days", "lifetime_budget": 5000, "end_time": end})
    account.create_ad(params={"name": "a", "adset_id": adset["id"], "status": "ACTIVE",
                              "creative": {"object_story_id": posts[0][0]}})
    got = AdSet(adset["id"], api=api).api_get(fields=["lifetime_budget", "daily_budget", "end_time"])
    assert got["lifetime_budget"] == "5000" and "daily_budget" not in got
    assert got["end_time"] == (START + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    _advance(http, 24 * 3)
    rows = _rows(account.get_insights(fields=["spend"], params={"level": "adset", "time_increment": 1,
                                                                "breakdowns": [HOURLY], "time_range": _range()}))
    last = max(dt.datetime.fromisoformat(r["date_start"]).replace(tzinfo=dt.UTC) + dt.timedelta(hours=int(r[HOURLY][:2]))
               for r in rows)
    assert last < START + dt.timedelta(days=2)  # nothing delivered after end_time
    assert 0.85 * 50 - 0.5 <= sum(float(r["spend"]) for r in rows) <= 50.0  # the lifetime budget, evenly paced


# ------------------------------------------------------------------------------- batch and cursors
def test_batch_requests_and_cursor_total(sandbox, api):
    account = AdAccount("act_batch", api=api)
    batch = api.new_batch()
    done, failed = [], []
    for i in range(4):
        params = {"name": f"b{i}", "objective": "OUTCOME_TRAFFIC" if i != 2 else "NOT_AN_OBJECTIVE",
                  "status": "PAUSED", "special_ad_categories": []}
        account.create_campaign(params=params, batch=batch, success=lambda r: done.append(r.json()),
                                failure=lambda r: failed.append(r))
    assert batch.execute() is None
    assert len(done) == 3 and len({d["id"] for d in done}) == 3
    (fail,) = failed
    assert fail.status() == 400 and fail.error().api_error_code() == 100
    reads = api.new_batch()
    names = []
    for d in done:
        Campaign(d["id"], api=api).api_get(fields=["name"], batch=reads, success=lambda r: names.append(r.json()["name"]))
    reads.execute()
    assert names == ["b0", "b1", "b3"]
    for i in range(4):
        account.create_campaign(params={"name": f"more{i}", "objective": "OUTCOME_TRAFFIC", "special_ad_categories": []})
    cursor = account.get_campaigns(fields=["name"], params={"limit": 3})
    assert cursor.total() == 7 and len(cursor) == 3  # summary.total_count on the first page
    assert [c["name"] for c in cursor] == ["b0", "b1", "b3", "more0", "more1", "more2", "more3"]


# ---------------------------------------------------------------------------------- errors, limits
def test_errors_are_graph_errors_the_sdk_understands(sandbox, api):
    account = AdAccount("act_err", api=api)
    with pytest.raises(FacebookRequestError) as e:
        account.create_campaign(params={"name": "x", "objective": "OUTCOME_TRAFFIC", "daily_budget": 50,
                                        "special_ad_categories": []})
    err = e.value
    assert (err.http_status(), err.api_error_code(), err.api_error_type()) == (400, 100, "OAuthException")
    assert err.api_error_subcode() == 1004 and err.api_transient_error() is False
    assert err.body()["error"]["error_user_title"] == "Budget Too Low" and "minimum" in err.body()["error"]["error_user_msg"]
    with pytest.raises(FacebookRequestError) as e:
        Campaign("120210999999999999", api=api).api_get(fields=["name"])
    assert e.value.api_error_code() == 100 and e.value.api_error_subcode() == 33
    session = FacebookSession(access_token="not-a-key")
    session.GRAPH = sandbox.url + "/graph"
    with pytest.raises(FacebookRequestError) as e:
        list(AdAccount("act_err", api=FacebookAdsApi(session, "v21.0")).get_campaigns())
    assert (e.value.http_status(), e.value.api_error_code()) == (400, 190)


def test_rate_limit_signals(sandbox, api, http, posts):
    account = AdAccount("act_busy", api=api)
    camp = account.create_campaign(params={"name": "c", "objective": "OUTCOME_TRAFFIC", "special_ad_categories": []})
    adset = account.create_ad_set(params={"name": "s", "campaign_id": camp["id"], "daily_budget": 500,
                                          "billing_event": "IMPRESSIONS", "optimization_goal": "LINK_CLICKS",
                                          "targeting": TARGETING})
    cursor = account.get_campaigns(fields=["name"])
    buc = json.loads(cursor.headers()["x-business-use-case-usage"])
    (usage,) = buc["busy"]
    assert usage["type"] == "ads_management" and {"call_count", "total_cputime", "total_time",
                                                    "estimated_time_to_regain_access"} <= set(usage)
    assert json.loads(cursor.headers()["x-ad-account-usage"])["acc_id_util_pct"] >= 0
    # the budget change limit: 4 changes of one object an hour, then code 17 (transient)
    for budget in (600, 700, 800, 900):
        AdSet(adset["id"], api=api).api_update(params={"daily_budget": budget})
    with pytest.raises(FacebookRequestError) as e:
        AdSet(adset["id"], api=api).api_update(params={"daily_budget": 1000})
    assert (e.value.api_error_code(), e.value.api_transient_error()) == (17, True)
    # the account's ads_management budget: once used up, 80004 (transient), usage at 100%
    sandbox.api.ads_objects.usage.limit = 12
    with pytest.raises(FacebookRequestError) as e:
        for _ in range(20):
            list(account.get_campaigns(fields=["name"]))
    err = e.value
    assert (err.api_error_code(), err.api_error_subcode(), err.api_transient_error()) == (80004, 2446079, True)
    usage = json.loads(err.http_headers()["x-business-use-case-usage"])["busy"][0]
    assert usage["call_count"] == 100 and usage["estimated_time_to_regain_access"] >= 1
    assert AdAccount("act_other", api=api).get_campaigns().total() == 0  # other accounts are not affected


# ---------------------------------------------------------------------------------- ACTP's adapter
def test_the_sdk_adapter_answers_like_the_httpx_client(sandbox, key, http, posts):
    with MetaSdkAdsClient(sandbox.url + "/graph", key) as sdk, MetaAdsClient(sandbox.url + "/graph", key) as raw:
        assert isinstance(sdk, AdsClient)
        camp = sdk.create_campaign("acc", name="ACTP | virality | learning", objective="OUTCOME_ENGAGEMENT",
                                   budget_mode="ABO", daily_budget=None)
        sids = [sdk.create_ad_set("acc", campaign_id=camp, name=f"learn {i}", variant_id=v, post_id=p,
                                  daily_budget=24.0) for i, (p, v) in enumerate(posts)]
        assert sdk.ensure_ad("acc", sids[0], variant_id=posts[0][1], post_id=posts[0][0]) == \
            raw.ensure_ad("acc", sids[0], variant_id=posts[0][1], post_id=posts[0][0])
        _advance(http, 6.5)
        until = START + dt.timedelta(days=1)
        pd.testing.assert_frame_equal(sdk.campaigns("acc"), raw.campaigns("acc"))
        pd.testing.assert_frame_equal(sdk.ad_sets("acc"), raw.ad_sets("acc"))
        ins = sdk.insights("acc", START, until)
        pd.testing.assert_frame_equal(ins, raw.insights("acc", START, until))
        assert len(ins) == 12 and ins["thruplay"].notna().any() and ins["thruplay"].sum() > 0
        # on loopback the custom-conversion signals default to the sandbox's stand-in action names
        assert ins["smartlink_click"].notna().all() and ins["smartlink_click"].sum() > 0
        assert sdk.signal_actions == raw.signal_actions
        assert sdk.ad_sets("acc").set_index("id").loc[sids[1], "variant_id"] == posts[1][1]
        assert sdk.find_campaign("acc", "ACTP | virality | learning")["id"] == camp
        assert sdk.find_ad_set("acc", "learn 1")["id"] == sids[1]
        scaling = sdk.create_campaign("acc", name="ACTP | virality | scaling", objective="OUTCOME_ENGAGEMENT",
                                      budget_mode="CBO", daily_budget=30.0)
        copy = sdk.duplicate_ad_set(sids[0], campaign_id=scaling, name="scale 0")
        assert sdk.get(copy, ["name", "status", "campaign_id"]) == {"id": copy, "name": "scale 0", "status": "ACTIVE",
                                                                    "campaign_id": scaling}
        sdk.set_budget(scaling, 45.0)
        sdk.set_status(sids[1], "PAUSED")
        assert raw.get(scaling, ["daily_budget"])["daily_budget"] == "4500"
        assert raw.get(sids[1], ["status"])["status"] == "PAUSED"
        with pytest.raises(AdsError) as e:
            sdk.set_budget(camp, 10.0)  # an ABO campaign has no budget of its own
        assert (e.value.status, e.value.code, e.value.subcode, e.value.retryable) == (400, 100, 1005, False)
    with MetaSdkAdsClient(sandbox.url + "/graph", "wrong") as bad, pytest.raises(AdsError) as e:
        bad.campaigns("acc")
    assert (e.value.status, e.value.code, e.value.retryable) == (400, 190, False)


def test_the_adapter_maps_timeouts_and_never_retries_writes(sandbox, key, monkeypatch):
    sdk = MetaSdkAdsClient(sandbox.url + "/graph", key)
    sdk.RETRY_BACKOFF_S = 0.0
    calls = []

    def timeout(method, url, **kw):
        calls.append(method)
        raise requests.ReadTimeout("no answer")

    monkeypatch.setattr(sdk.api._session.requests, "request", timeout)
    with pytest.raises(AdsError) as e:
        sdk.create_campaign("acc", name="x", objective="OUTCOME_TRAFFIC", budget_mode="ABO", daily_budget=None)
    assert e.value.retryable and "may or may not have happened" in e.value.message and calls == ["POST"]
    calls.clear()
    with pytest.raises(AdsError) as e:
        sdk.campaigns("acc")
    assert e.value.retryable and calls == ["GET"] * 3  # reads are retried twice
    with pytest.raises(ValueError):
        sdk.get("x/../act_other", ["name"])  # ids are checked before any request is built


def test_a_thruplay_field_no_row_of_an_ad_set_reports_is_unknown_not_zero():
    rows = [{"adset_id": "1", HOURLY: "10:00:00 - 10:59:59", "date_start": "2026-11-21", "spend": "1.00",
             "impressions": "100", "clicks": "2", "actions": [{"action_type": "link_click", "value": "2"},
                                                             {"action_type": "thruplay", "value": "9"}]},
            {"adset_id": "1", HOURLY: "11:00:00 - 11:59:59", "date_start": "2026-11-21", "spend": "1.00",
             "impressions": "100", "clicks": "1",
             "video_thruplay_watched_actions": [{"action_type": "video_view", "value": "7"}]}]
    # ad set 2 never reports the field: its ThruPlays are unknown, not zero
    rows.append({**rows[0], "adset_id": "2"})
    df = insight_frame(rows, "acc", dt.datetime(2026, 11, 21), dt.datetime(2026, 11, 22))
    # "thruplay" is not a Meta action; an hour without the field, in an ad set that reports it, is Meta
    # leaving out a zero
    assert list(df["thruplay"][:2]) == [0.0, 7.0] and math.isnan(df["thruplay"][2])
    assert list(df["link_click"]) == [2.0, 0.0, 2.0]
    # no mapping and no sandbox: a custom-conversion signal is unknown in every row, never 0
    assert df["smartlink_click"].isna().all() and df["presave_complete"].isna().all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert df["thruplay"].isna().sum() == 1
