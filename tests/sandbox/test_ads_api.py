"""The sandbox's Graph-shaped ads API over real loopback HTTP, with real MP4 reels published through the
sandbox's Instagram dialect (tests/sandbox_posts.py) as creatives: an ad names its post by the sandbox post
id (object_story_id) or by the reel's IG media id (source_instagram_media_id)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from actp_pipeline import creative
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from tests import sandbox_posts
from tests.media import other_variant
from tests.media import variant as variant_a
from tests.sandbox.conftest import KEY, sandbox_config
from tests.sandbox.dialect_http import reel

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # facebook-business's type-checker notes

G = "/graph/v21.0"
START = datetime(2026, 11, 21, 10, tzinfo=UTC)
HOURLY = "hourly_stats_aggregated_by_advertiser_time_zone"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# insights return only the fields asked for (Meta's default is impressions and spend)
FIELDS = "account_id,campaign_id,adset_id,adset_name,spend,impressions,clicks,actions,video_thruplay_watched_actions"


def _config(seed: int = 7) -> WorldConfig:
    return sandbox_config(seed=seed, start=START)


@pytest.fixture
def world_config() -> WorldConfig:  # the shared `sandbox` fixture, in this module's world
    return _config()


@pytest.fixture(scope="module")
def reels(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """label -> (path, variant) of two reels (3.5 s: Instagram's minimum is 3 s) the world rates differently."""
    folder = tmp_path_factory.mktemp("ads_reels")
    a, b = variant_a(), other_variant()
    return {"a": (reel(folder / "a.mp4", creative.descriptor_json(a)), a),
            "b": (reel(folder / "b.mp4", creative.descriptor_json(b), color="white"), b)}


def _publish(url: str, mp4: Path, key: str, data_dir: Path) -> dict:
    """A reel published through the sandbox's Instagram dialect: the adapter's post (post_id = the IG media
    id) with sandbox_post_id."""
    return sandbox_posts.publish(url, KEY, mp4, data_dir, platform="instagram", idempotency_key=key)


def _post_of(url: str, mp4: Path, key: str, data_dir: Path) -> str:
    """The sandbox post id (an ad's object_story_id) of a reel published through Instagram's dialect."""
    return _publish(url, mp4, key, data_dir)["sandbox_post_id"]


@pytest.fixture
def published(sandbox, tmp_path, reels) -> dict[str, dict]:
    """label -> the published reel of each creative (the adapter's post, with sandbox_post_id)."""
    return {label: _publish(sandbox.url, path, f"ads-{label}", tmp_path) for label, (path, _) in reels.items()}


@pytest.fixture
def posts(published, reels) -> dict[str, tuple[str, str]]:
    """label -> (sandbox post id, variant id) of two creatives the world rates differently."""
    return {label: (post["sandbox_post_id"], reels[label][1]["variant_id"]) for label, post in published.items()}


def _ok(resp: httpx.Response) -> dict:
    assert resp.status_code == 200, resp.text
    return resp.json()


def _graph_error(resp: httpx.Response, status: int, code: int, subcode: int | None = None) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["type"] == "OAuthException" and err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"] and err["fbtrace_id"]
    assert isinstance(err["is_transient"], bool) and isinstance(err.get("error_subcode", 0), int)  # Meta omits none
    if subcode is not None:
        assert err["error_subcode"] == subcode, err
    return err


def _campaign(client, acc="a", *, name="learning", budget=None, status="ACTIVE") -> str:
    data = {"name": name, "objective": "OUTCOME_TRAFFIC", "status": status, "special_ad_categories": "[]"}
    if budget is not None:
        data["daily_budget"] = str(budget)
    return _ok(client.post(f"{G}/act_{acc}/campaigns", data=data))["id"]


def _adset(client, campaign_id, acc="a", *, name="set", budget=None, status="ACTIVE", targeting=None) -> str:
    data = {"name": name, "campaign_id": campaign_id, "status": status, "billing_event": "IMPRESSIONS",
            "optimization_goal": "LINK_CLICKS", "targeting": json.dumps(targeting or {"geo_locations": {"countries": ["US"]}})}
    if budget is not None:
        data["daily_budget"] = str(budget)
    return _ok(client.post(f"{G}/act_{acc}/adsets", data=data))["id"]


def _ad(client, adset_id, post_id, variant_id, acc="a", status="ACTIVE") -> str:
    creative = {"object_story_id": post_id, "url_tags": f"utm_source=actp&utm_medium=paid&utm_content={variant_id}"}
    return _ok(client.post(f"{G}/act_{acc}/ads", data={"name": "ad", "adset_id": adset_id, "status": status,
                                                          "creative": json.dumps(creative)}))["id"]


def _advance(client, hours: float) -> None:
    _ok(client.post("/sandbox/clock/advance", json={"hours": hours}))


def _all(client, path: str, params: dict) -> list[dict]:
    """Every item of a listing, following paging.next."""
    out, url, query = [], path, dict(params)
    while True:
        page = _ok(client.get(url, params=query))
        out.extend(page["data"])
        nxt = page["paging"].get("next")
        if not nxt:
            return out
        url, query = nxt, None


def _hourly(client, acc="a", since=START, until=START + timedelta(days=3), limit=500) -> list[dict]:
    params = {"level": "adset", "breakdowns": HOURLY, "time_increment": "1", "limit": str(limit), "fields": FIELDS,
              "time_range": json.dumps({"since": since.date().isoformat(), "until": until.date().isoformat()})}
    return _all(client, f"{G}/act_{acc}/insights", params)


def _at(row: dict) -> datetime:
    return datetime.fromisoformat(row["date_start"]).replace(tzinfo=UTC) + timedelta(hours=int(row[HOURLY][:2]))


def _actions(row: dict) -> dict[str, int]:
    """Action counts of a row, ThruPlays (Meta's video_thruplay_watched_actions) as "thruplay"."""
    out = {a["action_type"]: int(a["value"]) for a in row.get("actions", [])}
    assert "thruplay" not in out  # Meta has no action of that name
    thruplays = sum(int(a["value"]) for a in row.get("video_thruplay_watched_actions", []))
    return {**out, "thruplay": thruplays} if thruplays else out


def _truth(sandbox) -> dict[str, dict]:
    resp = httpx.get(sandbox.url + "/sandbox/truth/ads", headers={"X-Truth-Token": sandbox.truth_token}, timeout=30)
    return {i["adset_id"]: i for i in _ok(resp)["items"]}


# ------------------------------------------------------------------------------------------ delivery
def test_abo_learning_campaign_delivers_within_budget_and_the_better_creative_converts_more(sandbox, client, posts):
    camp = _campaign(client)
    sets = {}
    for label, (post_id, variant) in posts.items():
        sets[label] = _adset(client, camp, name=f"learn {label}", budget=2000)  # $20/day
        _ad(client, sets[label], post_id, variant)
    _advance(client, 48)

    rows = _hourly(client, limit=40)  # several pages
    assert rows and all(r["account_id"] == "a" and r["campaign_id"] == camp for r in rows)
    assert max(_at(r) for r in rows) == START + timedelta(hours=47)  # only completed hours
    truth = _truth(sandbox)
    rate = {}
    for label, sid in sets.items():
        mine = [r for r in rows if r["adset_id"] == sid]
        assert len(mine) == 48 and len({_at(r) for r in mine}) == 48
        assert all(float(r["spend"]) <= 20 / 24 for r in mine)  # never above the hourly budget
        spend = sum(float(r["spend"]) for r in mine)
        assert 0.85 * 40 - 0.48 <= spend <= 40  # pacing 0.85..1.0 of $20 x 48 h / 24, cents floored
        cpm = truth[sid]["cpm"]
        assert 6.00 * 0.8 <= cpm <= 6.00 * 1.2  # BASE_CPM x the account factor
        for r in mine:  # impressions = spend / CPM x 1000 (about $1 -> 167)
            assert abs(int(r["impressions"]) - float(r["spend"]) / cpm * 1000) <= 0.51
        impressions = sum(int(r["impressions"]) for r in mine)
        assert 138 * spend <= impressions <= 209 * spend
        assert truth[sid]["spend_to_date"] == pytest.approx(spend)
        assert truth[sid]["variant_id"] == posts[label][1] and truth[sid]["post_ids"] == [posts[label][0]]
        thruplays = sum(_actions(r).get("thruplay", 0) for r in mine)
        rate[label] = thruplays / impressions
        assert rate[label] == pytest.approx(truth[sid]["rates"]["thruplay"], rel=0.15)
        # published paid-social ranges (ads_world.BASE_RATES, BASE_CPM): ThruPlays a small fraction of
        # impressions (it was 20% x the creative multiplier, up to 72%), link CTR around 1%
        assert 0.03 <= rate[label] <= 0.20
        assert 0.004 <= sum(int(r["clicks"]) for r in mine) / impressions <= 0.025
    better, worse = sorted(sets, key=lambda lbl: -truth[sets[lbl]]["rates"]["thruplay"])
    assert truth[sets[better]]["multiplier"] > truth[sets[worse]]["multiplier"]
    assert rate[better] > rate[worse]

    # daily rows and the all-days total are sums of the same hours
    tr = json.dumps({"since": START.date().isoformat(), "until": (START + timedelta(days=2)).date().isoformat()})
    daily = _ok(client.get(f"{G}/act_a/insights", params={"level": "adset", "time_range": tr, "time_increment": "1",
                                                                    "fields": FIELDS}))["data"]
    total = _ok(client.get(f"{G}/act_a/insights", params={"level": "adset", "time_range": tr, "fields": FIELDS}))["data"]
    assert [r["date_start"] for r in daily if r["adset_id"] == sets["a"]] == ["2026-11-21", "2026-11-22", "2026-11-23"]
    for sid in sets.values():
        hourly_cents = sum(round(float(r["spend"]) * 100) for r in rows if r["adset_id"] == sid)
        assert sum(round(float(r["spend"]) * 100) for r in daily if r["adset_id"] == sid) == hourly_cents
        (tot,) = [r for r in total if r["adset_id"] == sid]
        assert round(float(tot["spend"]) * 100) == hourly_cents
        assert (tot["date_start"], tot["date_stop"]) == ("2026-11-21", "2026-11-23")


def test_past_hours_never_change_across_queries_changes_and_restarts(tmp_path, reels):
    path = tmp_path / "state.db"
    with SandboxServer(_config(), state_path=path) as sb, \
            httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {KEY}"}) as c:
        post_id = _post_of(sb.url, reels["a"][0], "restart", tmp_path / "first")
        camp = _campaign(c)
        sid = _adset(c, camp, budget=1500)
        _ad(c, sid, post_id, "v1")
        _advance(c, 30)
        first = _hourly(c)
        assert len(first) == 30
        assert _hourly(c) == first  # the same query again
        _ok(c.post(f"{G}/{sid}", data={"daily_budget": "900"}))  # a change now leaves the past alone
        _advance(c, 5)
        later = _hourly(c)
        assert later[:30] == first and len(later) == 35
    with SandboxServer(_config(), state_path=path) as sb, \
            httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {KEY}"}) as c:
        assert datetime.fromisoformat(_ok(c.get("/sandbox/clock"))["now"]) == START + timedelta(hours=35)
        assert _hourly(c) == later  # recomputed from the persisted change log: identical
        assert _ok(c.get(f"{G}/{sid}"))["daily_budget"] == "900"
        assert _ok(c.post(f"{G}/act_a/campaigns", data={"name": "new", "objective": "OUTCOME_LEADS"}))["id"] not in (camp, sid)
    with SandboxServer(_config(seed=8), state_path=tmp_path / "other.db") as sb, \
            httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {KEY}"}) as c:
        post_id = _post_of(sb.url, reels["a"][0], "restart", tmp_path / "other")
        sid8 = _adset(c, _campaign(c), budget=1500)
        _ad(c, sid8, post_id, "v1")
        _advance(c, 30)
        assert [r["spend"] for r in _hourly(c)] != [r["spend"] for r in first]  # another world, other draws


def test_partial_hours_pausing_and_effective_status(sandbox, client, posts):
    post_id, variant = posts["a"]
    camp = _campaign(client)
    sid = _adset(client, camp, budget=2400)  # $1 an hour
    ad = _ad(client, sid, post_id, variant)
    _advance(client, 0.5)
    assert _hourly(client) == []  # the hour in progress is not reported
    _advance(client, 2.0)
    _ok(client.post(f"{G}/{sid}", data={"status": "PAUSED"}))  # at 12:30
    _advance(client, 5.5)
    rows = _hourly(client)
    assert [_at(r) for r in rows] == [START, START + timedelta(hours=1), START + timedelta(hours=2)]
    assert float(rows[2]["spend"]) <= 0.50  # delivered half of the hour
    assert _ok(client.get(f"{G}/{ad}", params={"fields": "effective_status"}))["effective_status"] == "ADSET_PAUSED"

    _ok(client.post(f"{G}/{sid}", data={"status": "ACTIVE"}))
    _ok(client.post(f"{G}/{camp}", data={"status": "PAUSED"}))
    got = _ok(client.get(f"{G}/{sid}", params={"fields": "status,effective_status"}))
    assert got == {"id": sid, "status": "ACTIVE", "effective_status": "CAMPAIGN_PAUSED"}
    _advance(client, 3)
    assert len(_hourly(client)) == 3  # a paused campaign stops its ad sets
    _ok(client.post(f"{G}/{camp}", data={"status": "ACTIVE"}))
    _ok(client.post(f"{G}/{ad}", data={"status": "PAUSED"}))
    _advance(client, 3)
    assert len(_hourly(client)) == 3  # ... and so does an ad set without an active ad
    _ok(client.post(f"{G}/{ad}", data={"status": "ACTIVE"}))
    _advance(client, 2)
    assert len(_hourly(client)) == 5


def test_cbo_campaign_with_copies_of_learning_ad_sets(sandbox, client, posts):
    targeting = {"geo_locations": {"countries": ["US", "CA"]}, "age_min": 18}
    learning = _campaign(client, name="learning")
    sets = {}
    for label, (post_id, variant) in posts.items():
        sets[label] = _adset(client, learning, name=f"learn {label}", budget=500, targeting=targeting)
        _ad(client, sets[label], post_id, variant)
    scaling = _campaign(client, name="scaling", budget=3000)
    resp = client.post(f"{G}/act_a/adsets", data={"name": "x", "campaign_id": scaling, "daily_budget": "500"})
    assert "CBO" in _graph_error(resp, 400, 100, 1005)["message"]
    resp = client.post(f"{G}/{sets['a']}/copies", data={"campaign_id": scaling, "deep_copy": "true", "daily_budget": "700"})
    _graph_error(resp, 400, 100, 1005)

    copies = {}
    for label, sid in sets.items():
        out = _ok(client.post(f"{G}/{sid}/copies", data={"campaign_id": scaling, "deep_copy": "true",
                                                         "status_option": "ACTIVE"}))
        copies[label] = out["copied_adset_id"]
        assert {o["ad_object_type"] for o in out["ad_object_ids"]} == {"ad_set", "ad"}
    copy = _ok(client.get(f"{G}/{copies['a']}"))
    assert copy["source_adset_id"] == sets["a"] and copy["campaign_id"] == scaling
    assert copy["targeting"] == targeting and "daily_budget" not in copy
    assert copy["name"] == "learn a - Copy" and copy["status"] == "ACTIVE"
    ads = _ok(client.get(f"{G}/act_a/ads", params={"filtering": json.dumps(
        [{"field": "adset.id", "operator": "IN", "value": [sets["a"], copies["a"]]}])}))["data"]
    assert len(ads) == 2 and ads[0]["creative"]["object_story_id"] == ads[1]["creative"]["object_story_id"] == posts["a"][0]
    assert ads[1]["creative"]["url_tags"].endswith(posts["a"][1])

    # a copy back into an ABO campaign keeps (or overrides) the budget; a shallow copy has no ads
    named = _ok(client.post(f"{G}/{sets['b']}/copies", json={"campaign_id": learning, "deep_copy": False,
                                                            "name": "b again", "daily_budget": 700}))["copied_adset_id"]
    got = _ok(client.get(f"{G}/{named}", params={"fields": "name,daily_budget,status,source_adset_id"}))
    assert got == {"id": named, "name": "b again", "daily_budget": "700", "status": "PAUSED", "source_adset_id": sets["b"]}

    _advance(client, 24)
    rows = _hourly(client)
    by_set: dict[str, float] = {}
    for r in rows:
        by_set[r["adset_id"]] = by_set.get(r["adset_id"], 0.0) + float(r["spend"])
    assert named not in by_set
    for hour in {_at(r) for r in rows}:  # the campaign's hourly budget is shared, never exceeded
        assert sum(float(r["spend"]) for r in rows if _at(r) == hour and r["adset_id"] in copies.values()) <= 30 / 24
    assert 0.85 * 30 - 0.48 <= by_set[copies["a"]] + by_set[copies["b"]] <= 30
    truth = _truth(sandbox)
    better, worse = sorted(copies, key=lambda lbl: -truth[copies[lbl]]["multiplier"])
    assert by_set[copies[better]] > by_set[copies[worse]]  # CBO favours the performer
    assert truth[copies["a"]]["budget_mode"] == "CBO" and truth[sets["a"]]["budget_mode"] == "ABO"


# -------------------------------------------------------------------------------------------- rules
def test_budget_minimum_levels_and_the_change_rate_limit(sandbox, client, posts):
    camp = _campaign(client)
    resp = client.post(f"{G}/act_a/adsets", data={"name": "cheap", "campaign_id": camp, "daily_budget": "99"})
    assert "minimum" in _graph_error(resp, 400, 100, 1004)["message"]
    _graph_error(client.post(f"{G}/act_a/adsets", data={"name": "none", "campaign_id": camp}), 400, 100, 1005)
    _graph_error(client.post(f"{G}/act_a/campaigns", data={"name": "c", "objective": "OUTCOME_TRAFFIC",
                                                           "daily_budget": "50"}), 400, 100, 1004)
    sid = _adset(client, camp, budget=100)  # exactly $1.00 is allowed
    _graph_error(client.post(f"{G}/{sid}", data={"daily_budget": "50"}), 400, 100, 1004)
    _graph_error(client.post(f"{G}/{camp}", data={"daily_budget": "500"}), 400, 100, 1005)  # ABO campaign

    for budget in (200, 300, 300, 400, 500):  # the repeated 300 is no change and does not count
        _ok(client.post(f"{G}/{sid}", data={"daily_budget": str(budget)}))
    err = _graph_error(client.post(f"{G}/{sid}", data={"daily_budget": "600"}), 400, 17, 1701)
    assert err["is_transient"] and "4" in err["message"] and "60 minutes" in err["message"]
    assert _ok(client.get(f"{G}/{sid}"))["daily_budget"] == "500"
    _ok(client.post(f"{G}/{sid}", data={"status": "PAUSED", "name": "renamed"}))  # other fields are not limited
    _advance(client, 0.5)
    _graph_error(client.post(f"{G}/{sid}", data={"daily_budget": "600"}), 400, 17)  # still within the hour
    _advance(client, 0.5)
    _ok(client.post(f"{G}/{sid}", data={"daily_budget": "600"}))  # the first changes are an hour old now
    cbo = _campaign(client, name="cbo", budget=1000)
    for budget in (1100, 1200, 1300, 1400):
        _ok(client.post(f"{G}/{cbo}", data={"daily_budget": str(budget)}))
    _graph_error(client.post(f"{G}/{cbo}", json={"daily_budget": 1500}), 400, 17, 1701)


def test_objects_of_another_account_are_refused(sandbox, client, posts):
    camp_a = _campaign(client, "a")
    set_a = _adset(client, camp_a, "a", budget=500)
    camp_b = _campaign(client, "b_2")
    resp = client.post(f"{G}/act_b_2/adsets", data={"name": "x", "campaign_id": camp_a, "daily_budget": "500"})
    assert "does not belong to account act_b_2" in _graph_error(resp, 400, 100, 1006)["message"]
    resp = client.post(f"{G}/act_b_2/ads", data={"name": "x", "adset_id": set_a, "creative": json.dumps(
        {"object_story_id": posts["a"][0]})})
    _graph_error(resp, 400, 100, 1006)
    _graph_error(client.post(f"{G}/{set_a}/copies", data={"campaign_id": camp_b}), 400, 100, 1006)
    assert [c["id"] for c in _ok(client.get(f"{G}/act_b_2/campaigns"))["data"]] == [camp_b]
    assert _ok(client.get(f"{G}/act_nobody/adsets"))["data"] == []
    _graph_error(client.get(f"{G}/act_bad.id/campaigns"), 400, 2500)
    _graph_error(client.get(f"{G}/act_{'x' * 65}"), 400, 100)


def test_listing_pages_filters_and_fields(sandbox, client):
    ids = [_campaign(client, name=f"camp {i}", status="PAUSED" if i % 3 == 0 else "ACTIVE") for i in range(7)]
    pages = []
    url, query = f"{G}/act_a/campaigns", {"limit": "3", "fields": "id,name"}
    while url:
        page = _ok(client.get(url, params=query))
        pages.append([c["id"] for c in page["data"]])
        assert all(set(c) == {"id", "name"} for c in page["data"])
        url, query = page["paging"].get("next"), None
    assert [len(p) for p in pages] == [3, 3, 1] and sum(pages, []) == ids
    after = _ok(client.get(f"{G}/act_a/campaigns", params={"limit": "3"}))["paging"]["cursors"]["after"]
    assert [c["id"] for c in _ok(client.get(f"{G}/act_a/campaigns", params={"after": after}))["data"]] == ids[3:]

    flt = json.dumps([{"field": "name", "operator": "EQUAL", "value": "camp 4"}])
    assert [c["id"] for c in _ok(client.get(f"{G}/act_a/campaigns", params={"filtering": flt}))["data"]] == [ids[4]]
    flt = json.dumps([{"field": "effective_status", "operator": "IN", "value": ["PAUSED"]}])
    assert [c["id"] for c in _ok(client.get(f"{G}/act_a/campaigns", params={"filtering": flt}))["data"]] == ids[::3]

    err = _graph_error(client.get(f"{G}/act_a/campaigns", params={"filtering": '[{"field": "name",'}), 400, 100, 1003)
    assert "filtering" in err["message"]
    _graph_error(client.get(f"{G}/act_a/campaigns", params={"filtering": json.dumps(
        [{"field": "spend", "operator": "EQUAL", "value": 1}])}), 400, 100, 1002)
    _graph_error(client.get(f"{G}/act_a/campaigns", params={"after": "not-a-cursor"}), 400, 100, 1007)

    full = _ok(client.get(f"{G}/{ids[1]}"))
    assert full["account_id"] == "a" and full["objective"] == "OUTCOME_TRAFFIC"
    assert full["created_time"] == "2026-11-21T10:00:00+0000" and full["effective_status"] == "ACTIVE"
    account = _ok(client.get(f"{G}/act_a", params={"fields": "currency,timezone_name"}))
    assert account == {"id": "act_a", "currency": "USD", "timezone_name": "UTC"}


def test_request_errors_are_graph_shaped(sandbox, client, posts):
    # Meta answers a missing or wrong access token with HTTP 400, OAuthException 104 / 190
    no_token = httpx.get(f"{sandbox.url}{G}/act_a/campaigns")
    assert no_token.status_code == 400 and no_token.json()["error"]["code"] == 104
    bad = httpx.get(f"{sandbox.url}{G}/act_a/campaigns", params={"access_token": "wrong"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 190
    assert httpx.get(f"{sandbox.url}/sandbox/truth/ads").status_code == 403
    _graph_error(client.get(f"{G}/120210999999999999"), 404, 100, 33)
    _graph_error(client.get(f"{G}/act_a/nothing"), 400, 2500)
    _graph_error(client.post(f"{G}/act_a/campaigns", content=b'{"name": ', headers={"Content-Type": "application/json"}),
                 400, 100, 1003)
    _graph_error(client.post(f"{G}/act_a/campaigns", data={"objective": "OUTCOME_TRAFFIC"}), 400, 100, 1001)
    _graph_error(client.post(f"{G}/act_a/campaigns", data={"name": "x", "objective": "CONVERSIONS"}), 400, 100, 1002)
    camp = _campaign(client)
    sid = _adset(client, camp, budget=500)
    resp = client.post(f"{G}/act_a/ads", data={"name": "x", "adset_id": sid,
                                               "creative": json.dumps({"object_story_id": "p_missing"})})
    assert "p_missing" in _graph_error(resp, 404, 100, 33)["message"]
    resp = client.post(f"{G}/act_a/ads", data={"name": "x", "adset_id": sid, "creative": "{nope"})
    assert "creative" in _graph_error(resp, 400, 100, 1003)["message"]
    _graph_error(client.post(f"{G}/act_a/adsets", data={"name": "x", "campaign_id": sid}), 400, 100, 1002)
    _graph_error(client.post(f"{G}/{sid}", data={"status": "DELETED_FOREVER"}), 400, 100, 1002)
    # JSON bodies work as well as forms, and unknown parameters are ignored
    ad = _ok(client.post(f"{G}/act_a/ads", json={"name": "j", "adset_id": int(sid), "status": "ACTIVE", "bid_amount": 5,
                                                 "creative": {"object_story_id": posts["a"][0], "url_tags": "x=1"}}))["id"]
    assert _ok(client.get(f"{G}/{ad}"))["creative"]["object_story_id"] == posts["a"][0]


def test_an_instagram_creative_promotes_the_reel_behind_its_media_id(sandbox, client, published, posts):
    """Meta's way to promote an existing Instagram post: source_instagram_media_id (the IG media id the
    Instagram dialect answered) with its owner, resolved to the same sandbox post object_story_id names."""
    ig_user = _ok(client.get(f"{G}/me", params={"fields": "id"}))["id"]
    media_id, post_id = published["a"]["post_id"], posts["a"][0]
    assert media_id.isdigit() and media_id != post_id
    sid = _adset(client, _campaign(client), budget=2400)
    spec = {"source_instagram_media_id": media_id, "instagram_user_id": ig_user, "url_tags": f"utm_content={posts['a'][1]}"}
    ad = _ok(client.post(f"{G}/act_a/ads", data={"name": "ig", "adset_id": sid, "status": "ACTIVE",
                                                 "creative": json.dumps(spec)}))["id"]
    fields = "creative{source_instagram_media_id,instagram_user_id,object_story_id,effective_object_story_id}"
    shown = _ok(client.get(f"{G}/{ad}", params={"fields": fields}))["creative"]
    assert (shown["source_instagram_media_id"], shown["instagram_user_id"]) == (media_id, ig_user)
    assert shown["effective_object_story_id"] == post_id and "object_story_id" not in shown
    _advance(client, 6)
    truth = _truth(sandbox)[sid]
    assert truth["post_ids"] == [post_id] and truth["variant_id"] == posts["a"][1]
    assert len(_hourly(client)) == 6
    unknown = {**spec, "source_instagram_media_id": "17989999999999999"}
    resp = client.post(f"{G}/act_a/ads", data={"name": "x", "adset_id": sid, "creative": json.dumps(unknown)})
    _graph_error(resp, 404, 100, 33)


def test_insights_of_fifty_ad_sets_over_72_hours_are_computed_once(sandbox, client, posts, monkeypatch):
    camp = _campaign(client)
    cbo = _campaign(client, name="cbo", budget=5000)
    for i in range(50):
        sid = _adset(client, camp if i < 40 else cbo, name=f"s{i}", budget=500 if i < 40 else None)
        _ad(client, sid, *posts["ab"[i % 2]])
    _advance(client, 72)
    query = {"level": ["adset"], "breakdowns": [HOURLY], "time_increment": ["1"], "limit": ["1000"],
             "time_range": [json.dumps({"since": "2026-11-21", "until": "2026-11-24"})]}

    def every_page() -> int:
        rows, q = 0, dict(query)
        while True:
            body = _ok(client.get(f"{G}/act_a/insights", params=q))
            rows += len(body["data"])
            after = body["paging"].get("next") and body["paging"]["cursors"]["after"]
            if not after:
                return rows
            q = {**query, "after": [after]}

    draws: list[int] = []  # cells per call of the uncached ad set-hour computation
    real_draw = sandbox.api.ads_world._draw

    def counting_draw(cells):
        draws.append(len(cells))
        return real_draw(cells)

    monkeypatch.setattr(sandbox.api.ads_world, "_draw", counting_draw)
    assert every_page() == 50 * 72  # first query: computes and caches every hour
    cold = len(draws)
    for _ in range(3):
        assert every_page() == 50 * 72
    warm = len(draws) - cold
    assert cold > 0 and warm == 0, (draws, cold, warm)
