"""MetaAdsClient against the real sandbox over HTTP (real uploaded MP4 posts), plus transport failures."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pandas as pd
import pytest

from actp_pipeline import creative
from actp_pipeline.ads.meta import (AD_SET_COLUMNS, ACTION_TYPES, CAMPAIGN_COLUMNS, INSIGHT_COLUMNS, AdsError,
                                      MetaAdsClient, campaign_name, parse_campaign_name)
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from tests.media import make_mp4, other_variant, variant
from tests.sandbox_posts import publish

KEY = "sandbox-key"
START = dt.datetime(2026, 11, 21, 10)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """(path, variant) of two MP4 creatives the world rates differently, long enough for a Reel (3 s)."""
    d = tmp_path_factory.mktemp("ads_clips")
    return [(make_mp4(d / f"{name}.mp4", creative.descriptor_json(v), seconds=3.5, color=color), v)
            for name, v, color in (("a", variant(), "black"), ("b", other_variant(), "white"))]


@pytest.fixture
def sandbox():
    with SandboxServer(WorldConfig(seed=7, start=START.replace(tzinfo=dt.UTC), truth_token="t")) as sb:
        yield sb


@pytest.fixture
def raw(sandbox):
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as c:
        yield c


@pytest.fixture
def ads(sandbox):
    with MetaAdsClient(sandbox.url + "/graph", KEY) as client:
        yield client


@pytest.fixture
def posts(sandbox, clips, tmp_path) -> list[tuple[str, str]]:
    """(sandbox post id, variant id) of two creatives published as Instagram Reels through the Graph dialect."""
    return [(publish(sandbox.url, KEY, path, tmp_path / "publish", idempotency_key=f"k{i}",
                     truth_token=sandbox.truth_token)["sandbox_post_id"], v["variant_id"])
            for i, (path, v) in enumerate(clips)]


def _advance(raw, hours):
    assert raw.post("/sandbox/clock/advance", json={"hours": hours}).status_code == 200


def _learning(ads, acc="acc1") -> str:
    return ads.create_campaign(acc, name=campaign_name("streams", "learning"), objective="OUTCOME_TRAFFIC",
                               budget_mode="ABO", daily_budget=None)


def test_names_carry_goal_and_kind():
    assert campaign_name("streams", "learning") == "ACTP | streams | learning"
    assert parse_campaign_name("ACTP | streams | learning") == ("streams", "learning")
    assert parse_campaign_name("ACTP|presave|scaling") == ("presave", "scaling")
    assert parse_campaign_name("ACTP | leads | learning | 4bd4d7df.0") == ("leads", "learning")  # a tagged name
    for foreign in ("Black Friday", "ACTP | streams", "Other | a | b", "", None):
        assert parse_campaign_name(foreign) == (None, None)
    with pytest.raises(ValueError):
        campaign_name("a|b", "learning")


def test_campaigns_and_ad_sets_round_trip_into_documented_frames(ads, raw, posts):
    empty = ads.campaigns("acc1")
    assert list(empty.columns) == list(CAMPAIGN_COLUMNS) and empty.empty
    learning = _learning(ads)
    scaling = ads.create_campaign("acc1", name=campaign_name("streams", "scaling"), objective="OUTCOME_TRAFFIC",
                                  budget_mode="CBO", daily_budget=30.0, status="PAUSED")
    raw.post("/graph/v21.0/act_acc1/campaigns", data={"name": "Holiday push", "objective": "OUTCOME_SALES"})
    camps = ads.campaigns("acc1")
    assert list(camps.columns) == list(CAMPAIGN_COLUMNS)
    assert camps["daily_budget"].dtype == "float64" and camps["created_at"].dtype == "datetime64[ns]"
    assert all(camps[c].dtype == object for c in ("id", "account_id", "name", "goal", "kind", "budget_mode", "status"))
    rows = {r["id"]: r for r in camps.to_dict("records")}
    assert (rows[learning]["goal"], rows[learning]["kind"], rows[learning]["budget_mode"]) == ("streams", "learning", "ABO")
    assert pd.isna(rows[learning]["daily_budget"]) and rows[learning]["status"] == "ACTIVE"
    assert (rows[scaling]["kind"], rows[scaling]["budget_mode"], rows[scaling]["daily_budget"]) == ("scaling", "CBO", 30.0)
    foreign = camps[camps["name"] == "Holiday push"].iloc[0]
    assert foreign["goal"] is None and foreign["kind"] is None and foreign["account_id"] == "acc1"
    assert rows[learning]["created_at"] == pd.Timestamp(START)

    targeting = {"geo_locations": {"countries": ["DE"]}}
    set_a = ads.create_ad_set("acc1", campaign_id=learning, name="learn a", variant_id=posts[0][1], post_id=posts[0][0],
                              daily_budget=12.34, targeting=targeting)
    set_b = ads.create_ad_set("acc1", campaign_id=learning, name="learn b", variant_id=posts[1][1], post_id=posts[1][0],
                              daily_budget=5.0)
    sets = ads.ad_sets("acc1")
    assert list(sets.columns) == list(AD_SET_COLUMNS)
    assert sets["daily_budget"].dtype == "float64" and sets["created_at"].dtype == "datetime64[ns]"
    a = sets.set_index("id").loc[set_a]
    assert (a["variant_id"], a["post_id"], a["daily_budget"]) == (posts[0][1], posts[0][0], 12.34)
    assert a["promoted_from"] is None and a["targeting"] == targeting and a["account_id"] == "acc1"
    assert sets.set_index("id").loc[set_b, "targeting"] == {"geo_locations": {"countries": ["US"]}}
    assert raw.get(f"/graph/v21.0/{set_a}").json()["daily_budget"] == "1234"  # minor units on the wire

    copy = ads.duplicate_ad_set(set_a, campaign_id=scaling, name="scale a")
    promoted = ads.ad_sets("acc1").set_index("id").loc[copy]
    assert promoted["promoted_from"] == set_a and pd.isna(promoted["daily_budget"])
    assert (promoted["name"], promoted["status"], promoted["campaign_id"]) == ("scale a", "ACTIVE", scaling)
    assert (promoted["variant_id"], promoted["post_id"], promoted["targeting"]) == (posts[0][1], posts[0][0], targeting)
    copied_ads = raw.get("/graph/v21.0/act_acc1/ads", params={"fields": "status", "filtering": json.dumps(
        [{"field": "adset.id", "operator": "EQUAL", "value": copy}])}).json()["data"]
    assert [ad["status"] for ad in copied_ads] == ["ACTIVE"]  # the copy's ad is activated with it
    back = ads.duplicate_ad_set(set_b, campaign_id=learning, name="b twice", daily_budget=7.5, status="PAUSED")
    assert ads.get(back, ["daily_budget", "status", "name"]) == {"id": back, "daily_budget": "750", "status": "PAUSED",
                                                                 "name": "b twice"}

    assert ads.find_campaign("acc1", campaign_name("streams", "scaling"))["id"] == scaling
    assert ads.find_campaign("acc1", "ACTP | streams") is None
    found = ads.find_ad_set("acc1", "learn b")
    assert (found["id"], found["variant_id"], found["daily_budget"]) == (set_b, posts[1][1], 5.0)
    assert ads.find_ad_set("acc1", "learn") is None


def test_insights_are_an_hourly_wide_frame(ads, raw, posts):
    learning = _learning(ads)
    sid = ads.create_ad_set("acc1", campaign_id=learning, name="s", variant_id=posts[0][1], post_id=posts[0][0],
                            daily_budget=24.0)
    empty = ads.insights("acc1", START, START + dt.timedelta(hours=6))
    assert list(empty.columns) == list(INSIGHT_COLUMNS) and empty.empty
    assert empty["at"].dtype == "datetime64[ns]" and empty["impressions"].dtype == "int64"
    _advance(raw, 6.5)
    df = ads.insights("acc1", START, START + dt.timedelta(days=1))
    assert list(df.columns) == list(INSIGHT_COLUMNS)
    assert list(df["at"]) == [pd.Timestamp(START + dt.timedelta(hours=h)) for h in range(6)]
    assert (df["ad_set_id"] == sid).all() and (df["account_id"] == "acc1").all()
    assert df["spend"].dtype == "float64" and df["clicks"].dtype == "int64"
    assert all(df[a].dtype == "float64" for a in ACTION_TYPES)
    assert (df["spend"] <= 1.0).all() and (df["spend"] >= 0.85 - 0.01).all()
    assert df["thruplay"].sum() > 0 and (df["impressions"] > 138 * df["spend"]).all()  # CPM <= $6 x 1.2
    window = ads.insights("acc1", START + dt.timedelta(hours=2, minutes=30), START + dt.timedelta(hours=4))
    assert list(window["at"]) == [pd.Timestamp(START + dt.timedelta(hours=h)) for h in (2, 3)]
    aware = ads.insights("acc1", (START + dt.timedelta(hours=3)).replace(tzinfo=dt.UTC), START + dt.timedelta(hours=4))
    assert aware.to_dict("records") == window.iloc[1:].to_dict("records")


def test_budget_rules_surface_as_ads_errors(ads, raw, posts):
    learning = _learning(ads)
    sid = ads.create_ad_set("acc1", campaign_id=learning, name="s", variant_id=posts[0][1], post_id=posts[0][0],
                            daily_budget=5.0)
    with pytest.raises(AdsError) as e:
        ads.set_budget(sid, 0.99)
    assert (e.value.status, e.value.code, e.value.subcode, e.value.retryable) == (400, 100, 1004, False)
    assert "minimum" in e.value.message
    with pytest.raises(AdsError) as e:
        ads.create_ad_set("acc1", campaign_id=learning, name="t", variant_id="v", post_id=posts[0][0], daily_budget=None)
    assert e.value.code == 100 and e.value.subcode == 1005
    for budget in (6, 7, 8, 9):
        ads.set_budget(sid, budget)
    with pytest.raises(AdsError) as e:
        ads.set_budget(sid, 10)
    assert e.value.code == 17 and e.value.retryable and "60 minutes" in e.value.message
    _advance(raw, 1)
    ads.set_budget(sid, 10)
    assert ads.get(sid, ["daily_budget"])["daily_budget"] == "1000"
    ads.set_status(sid, "paused")
    assert ads.get(sid, ["status", "effective_status"]) == {"id": sid, "status": "PAUSED", "effective_status": "PAUSED"}
    with pytest.raises(ValueError):
        ads.create_campaign("acc1", name="x", objective="OUTCOME_TRAFFIC", budget_mode="CBO", daily_budget=None)
    with pytest.raises(ValueError):
        ads.set_budget(sid, float("nan"))


def test_other_accounts_objects_are_refused(ads, posts):
    learning = _learning(ads, "acc1")
    with pytest.raises(AdsError) as e:
        ads.create_ad_set("acc2", campaign_id=learning, name="x", variant_id="v", post_id=posts[0][0], daily_budget=5.0)
    assert (e.value.code, e.value.subcode) == (100, 1006) and "does not belong" in e.value.message
    assert ads.campaigns("acc2").empty and ads.ad_sets("acc2").empty


def test_ensure_ad_completes_an_ad_set_left_without_its_ad(ads, raw, posts):
    learning = _learning(ads)
    with pytest.raises(AdsError) as e:  # the ad fails after the ad set was made (here: an unknown post)
        ads.create_ad_set("acc1", campaign_id=learning, name="half", variant_id=posts[0][1], post_id="p_gone",
                          daily_budget=5.0)
    assert e.value.status == 404 and (e.value.code, e.value.subcode) == (100, 33)
    assert any("ensure_ad" in note for note in e.value.__notes__)
    half = ads.find_ad_set("acc1", "half")
    assert half["variant_id"] is None and half["post_id"] is None  # reconciliation finds it, without an ad
    ad_id = ads.ensure_ad("acc1", half["id"], variant_id=posts[0][1], post_id=posts[0][0])
    assert ads.ensure_ad("acc1", half["id"], variant_id=posts[0][1], post_id=posts[0][0]) == ad_id  # now a no-op
    listed = raw.get("/graph/v21.0/act_acc1/ads").json()["data"]
    assert [a["id"] for a in listed] == [ad_id] and listed[0]["status"] == "ACTIVE"
    assert ads.find_ad_set("acc1", "half")["variant_id"] == posts[0][1]


def test_listings_follow_paging(ads, posts):
    names = [campaign_name(f"goal{i}", "learning") for i in range(5)]
    for name in names:
        ads.create_campaign("acc1", name=name, objective="OUTCOME_LEADS", budget_mode="CBO", daily_budget=2.0)
    ads.PAGE_LIMIT = 2
    camps = ads.campaigns("acc1")
    assert list(camps["name"]) == names and list(camps["goal"]) == [f"goal{i}" for i in range(5)]
    sid = ads.create_ad_set("acc1", campaign_id=camps["id"][0], name="s", variant_id=posts[0][1], post_id=posts[0][0],
                            daily_budget=None)
    assert list(ads.ad_sets("acc1")["id"]) == [sid]


def test_a_wrong_token_is_an_auth_error(sandbox):
    with MetaAdsClient(sandbox.url + "/graph", "wrong") as bad, pytest.raises(AdsError) as e:
        bad.campaigns("acc1")
    assert (e.value.status, e.value.code, e.value.retryable) == (400, 190, False)  # Meta: HTTP 400, OAuthException 190


def _scripted(*outcomes):
    """A transport answering each request with the next outcome (an httpx.Response or an exception)."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        out = outcomes[min(len(calls), len(outcomes)) - 1]
        if isinstance(out, Exception):
            raise out
        return out

    return httpx.MockTransport(handler), calls


def test_transient_failures_retry_gets_but_never_posts():
    graph_500 = httpx.Response(500, json={"error": {"message": "boom", "type": "OAuthException", "code": 2,
                                                    "is_transient": True}})
    transport, calls = _scripted(graph_500, httpx.ReadTimeout("slow"), httpx.Response(200, json={"id": "1", "name": "n"}))
    with MetaAdsClient("https://graph.example", "tok", transport=transport) as client:
        client.RETRY_BACKOFF_S = 0
        assert client.get("1", ["name"]) == {"id": "1", "name": "n"}
    assert len(calls) == 3 and str(calls[0].url).startswith("https://graph.example/v21.0/1?fields=name")
    assert calls[0].headers["Authorization"] == "Bearer tok"

    transport, calls = _scripted(httpx.Response(503, text="unavailable"))
    with MetaAdsClient("https://graph.example", "tok", transport=transport) as client:
        client.RETRY_BACKOFF_S = 0
        with pytest.raises(AdsError) as e:
            client.get("1", ["name"])
        assert e.value.retryable and e.value.status == 503 and len(calls) == 3
        with pytest.raises(AdsError) as e:
            client.set_status("1", "PAUSED")
        assert e.value.retryable and len(calls) == 4  # a POST is tried once
        assert calls[-1].headers["Content-Type"] == "application/x-www-form-urlencoded"

    transport, calls = _scripted(httpx.ConnectError("refused"))
    with MetaAdsClient("https://graph.example", "tok", transport=transport) as client:
        with pytest.raises(AdsError) as e:
            client.create_campaign("9", name="n", objective="OUTCOME_TRAFFIC", budget_mode="ABO", daily_budget=None)
        assert e.value.retryable and e.value.status is None and len(calls) == 1

    refusal = httpx.Response(400, json={"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                                                  "error_subcode": 1487, "is_transient": False, "fbtrace_id": "Ax"}})
    transport, calls = _scripted(refusal)
    with MetaAdsClient("https://graph.example", "tok", transport=transport) as client:
        with pytest.raises(AdsError) as e:
            client.get("1", ["name"])
    assert (e.value.code, e.value.subcode, e.value.fbtrace_id, e.value.retryable) == (100, 1487, "Ax", False)
    assert len(calls) == 1 and "(#100) Invalid parameter" in str(e.value)
