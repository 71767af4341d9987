"""The sandbox HTTP API, exercised over real loopback HTTP with httpx."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from actp_pipeline.sandbox import SandboxServer, World
from actp_pipeline.sandbox.state import SeedMismatch
from actp_pipeline.sandbox.world import BASE_ER
from tests.sandbox.conftest import AUTH, KEY, START, sandbox_config

DAY = "2025-02-03"


def _error(resp: httpx.Response, status: int, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    err = resp.json()["error"]
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    if field is not None:
        assert err.get("field") == field, err
    return err


def _upload(client: httpx.Client, path: Path) -> dict:
    resp = client.post("/v1/media", content=path.read_bytes(), headers={"Content-Type": "video/mp4"})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _post_body(media_id: str, key: str, **kw) -> dict:
    body = {"media_id": media_id, "platform": "tiktok", "account": "main", "caption": "Try this\n#skincare",
            "hashtags": ["#skincare"], "scheduled_at": None, "idempotency_key": key}
    body.update(kw)
    return body


def _truth(sandbox, path: str, token: str | None = "use-real") -> httpx.Response:
    headers = {}
    if token == "use-real":
        headers["X-Truth-Token"] = sandbox.truth_token
    elif token is not None:
        headers["X-Truth-Token"] = token
    return httpx.get(sandbox.url + path, headers=headers, timeout=30)


def _now(client: httpx.Client) -> datetime:
    return datetime.fromisoformat(client.get("/v1/clock").json()["now"])


# ------------------------------------------------------------------------------------- basics
def test_health_and_clock_need_no_key(sandbox):
    h = httpx.get(sandbox.url + "/v1/health")
    assert h.status_code == 200 and h.json()["ok"] is True
    assert datetime.fromisoformat(h.json()["now"]) == START
    c = httpx.get(sandbox.url + "/v1/clock").json()
    assert c == {"now": "2025-03-01T12:00:00Z", "speed": 0.0}
    adv = httpx.post(sandbox.url + "/v1/clock/advance", json={"hours": 1.5})
    assert adv.status_code == 200
    assert adv.json()["now"] == "2025-03-01T13:30:00Z"
    assert httpx.get(sandbox.url + "/v1/clock").json()["now"] == "2025-03-01T13:30:00Z"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"},
                                     {"Authorization": "Bearer"}, {"Authorization": KEY}])
def test_platform_routes_need_a_valid_key(sandbox, headers):
    for method, path, kw in [
        ("GET", f"/v1/trending?date={DAY}&platform=tiktok", {}),
        ("GET", f"/v1/ads/library?date={DAY}", {}),
        ("POST", "/v1/media", {"content": b"\x00" * 10, "headers": {"Content-Type": "video/mp4"}}),
        ("POST", "/v1/posts", {"json": {}}),
        ("GET", "/v1/posts?idempotency_key=x", {}),
        ("GET", "/v1/posts/p_1", {}),
        ("GET", "/v1/posts/p_1/metrics", {}),
        ("POST", "/v1/metrics/batch", {"json": {"post_ids": []}}),
    ]:
        kw = dict(kw)
        kw["headers"] = {**kw.get("headers", {}), **headers}
        resp = httpx.request(method, sandbox.url + path, **kw)
        err = _error(resp, 401)
        assert err["code"] == "unauthorized"
        assert resp.headers["www-authenticate"].startswith("Bearer")


def test_unknown_routes_and_methods_are_json_errors(client):
    for path in ("/v1/nope", "/", "/v2/trending", "/v1/posts/p_1/metrics/extra"):
        _error(client.get(path), 404)
        _error(httpx.get(str(client.base_url) + path), 404)
    err = _error(client.delete("/v1/posts"), 405)
    assert err["code"] == "method_not_allowed"
    _error(client.get("/v1/metrics/batch"), 405)


def test_unknown_post_is_404_with_the_field(client):
    assert _error(client.get("/v1/posts/p_missing"), 404, "post_id")["code"] == "unknown_post"
    _error(client.get("/v1/posts/p_missing/metrics"), 404, "post_id")
    assert client.get("/v1/posts", params={"idempotency_key": "never-used"}).json() == {"items": []}


def test_requests_are_quiet(sandbox, client, capfd):
    capfd.readouterr()
    client.get("/v1/health")
    client.get("/v1/nope")
    client.post("/v1/media", content=b"garbage", headers={"Content-Type": "video/mp4"})
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# -------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"", b'"hours"', b"\xff\xfe", b'{"hours": NaN}'])
def test_malformed_json_is_400_on_body(client, content):
    _error(client.post("/v1/clock/advance", content=content, headers={"Content-Type": "application/json"}), 400, "body")
    _error(client.post("/v1/posts", content=content, headers={"Content-Type": "application/json"}), 400, "body")
    _error(client.post("/v1/metrics/batch", content=content, headers={"Content-Type": "application/json"}), 400, "body")


@pytest.mark.parametrize("hours", ["2", None, True, -1, [1], 1e9])
def test_clock_advance_validates_hours(client, hours):
    _error(client.post("/v1/clock/advance", json={"hours": hours}), 400, "hours")
    assert _now(client) == START


def test_clock_advance_needs_hours(client):
    _error(client.post("/v1/clock/advance", json={}), 400, "hours")


@pytest.mark.parametrize(
    "change,field",
    [
        ({"platform": 5}, "platform"),
        ({"platform": "myspace"}, "platform"),
        ({"account": ["main"]}, "account"),
        ({"media_id": None}, "media_id"),
        ({"caption": 12}, "caption"),
        ({"caption": "x" * 5001}, "caption"),
        ({"hashtags": "#skincare #fyp"}, "hashtags"),
        ({"hashtags": ["#ok", 3]}, "hashtags"),
        ({"scheduled_at": "tomorrow"}, "scheduled_at"),
        ({"scheduled_at": 1700000000}, "scheduled_at"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "k" * 201}, "idempotency_key"),
        ({"idempotency_key": 7}, "idempotency_key"),
    ],
)
def test_post_fields_are_validated(client, mp4_with_descriptor, change, field):
    media = _upload(client, mp4_with_descriptor[0])
    body = {**_post_body(media["media_id"], "k-validate"), **change}
    _error(client.post("/v1/posts", json=body), 400, field)
    assert client.get("/v1/posts", params={"idempotency_key": "k-validate"}).json()["items"] == []


def test_post_needs_an_idempotency_key(client, mp4_with_descriptor):
    media = _upload(client, mp4_with_descriptor[0])
    body = _post_body(media["media_id"], "x")
    del body["idempotency_key"]
    assert _error(client.post("/v1/posts", json=body), 400, "idempotency_key")["code"] == "missing_field"


def test_post_unknown_media_and_account(client, mp4_with_descriptor):
    _error(client.post("/v1/posts", json=_post_body("m_nope", "k1")), 404, "media_id")
    media = _upload(client, mp4_with_descriptor[0])
    _error(client.post("/v1/posts", json=_post_body(media["media_id"], "k1", account="someone")), 404, "account")


# ----------------------------------------------------------------------------------- market
def test_trending_pages_through_the_world(sandbox, client):
    expected = World(sandbox.config).market_items(DAY, "tiktok")
    items, cursor, pages = [], None, 0
    while True:
        params = {"date": DAY, "platform": "tiktok", "limit": 50}
        if cursor:
            params["cursor"] = cursor
        resp = client.get("/v1/trending", params=params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= 50
        items.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert items == expected
    assert len(items) == 120
    clean = [i for i in items if isinstance(i.get("caption"), str) and len(i["caption"]) < 5000]
    assert all(i.get("kind", "post") == "post" for i in clean)
    everything = client.get("/v1/trending", params={"date": DAY, "limit": 1000}).json()
    assert len(everything["items"]) == 360 and everything["next_cursor"] is None
    assert {i.get("platform") for i in everything["items"]} >= {"tiktok", "instagram", "youtube"}


@pytest.mark.parametrize(
    "params,field",
    [
        ({"date": "2025-13-01"}, "date"),
        ({"date": "yesterday"}, "date"),
        ({"date": "2025-2-3"}, "date"),
        ({}, "date"),
        ({"date": DAY, "platform": "myspace"}, "platform"),
        ({"date": DAY, "limit": "0"}, "limit"),
        ({"date": DAY, "limit": "ten"}, "limit"),
        ({"date": DAY, "cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_listing_parameters_are_validated(client, params, field):
    _error(client.get("/v1/trending", params=params), 400, field)
    _error(client.get("/v1/ads/library", params=params), 400, field)


def test_cursor_of_another_listing_is_rejected(client):
    first = client.get("/v1/trending", params={"date": DAY, "platform": "tiktok", "limit": 10}).json()
    _error(client.get("/v1/trending", params={"date": "2025-02-04", "platform": "tiktok",
                                              "cursor": first["next_cursor"]}), 400, "cursor")


def test_ads_library_serves_ad_items(sandbox, client):
    resp = client.get("/v1/ads/library", params={"date": DAY})
    assert resp.status_code == 200
    body = resp.json()
    assert body["next_cursor"] is None
    assert body["items"] == World(sandbox.config).ad_items(DAY)
    ads = [i for i in body["items"] if i.get("kind") == "ad" and "impressions" in i]
    assert len(ads) >= 25
    for ad in ads:
        assert {"impressions", "spend_usd", "active_days", "page_name", "views", "caption"} <= set(ad)
    insta = client.get("/v1/ads/library", params={"date": DAY, "platform": "instagram"}).json()["items"]
    assert insta and all(i["platform"] == "instagram" for i in insta)


def test_market_truth_lines_up_with_the_listing(sandbox, client):
    listing = client.get("/v1/trending", params={"date": DAY, "platform": "youtube", "limit": 500}).json()["items"]
    truth = _truth(sandbox, f"/v1/_truth/market?date={DAY}&platform=youtube").json()["items"]
    assert len(truth) == len(listing)
    for t, item in zip(truth, listing):
        assert t["id"] == item.get("id") or t["malformed"] == "missing_field"
        assert set(t["factors"]) == {"hook_pattern", "angle", "cta_style", "format", "length_bucket"}
    _error(_truth(sandbox, f"/v1/_truth/market?date={DAY}", token=None), 403)


# ------------------------------------------------------------------------------------ media
def test_upload_real_mp4(client, mp4_with_descriptor):
    path, variant = mp4_with_descriptor
    data = path.read_bytes()
    import hashlib

    resp = client.post("/v1/media", content=data, headers={"Content-Type": "video/mp4"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["bytes"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["duration_s"] == pytest.approx(1.0, abs=0.1)
    assert body["media_id"].startswith("m_")
    assert body["descriptor"] == variant
    again = client.get(f"/v1/media/{body['media_id']}")
    assert again.status_code == 200 and again.json()["sha256"] == body["sha256"]


def test_upload_streamed_with_chunked_encoding(client, mp4_with_descriptor):
    data = mp4_with_descriptor[0].read_bytes()

    def chunks():
        for i in range(0, len(data), 700):
            yield data[i : i + 700]

    resp = client.post("/v1/media", content=chunks(), headers={"Content-Type": "video/mp4"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["bytes"] == len(data)


@pytest.mark.parametrize("content", [b"garbage" * 500, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 400])
def test_upload_garbage_is_rejected(client, content):
    resp = client.post("/v1/media", content=content, headers={"Content-Type": "video/mp4"})
    assert resp.status_code in (415, 422), resp.text
    err = _error(resp, resp.status_code, "body")
    assert err["code"] in ("unsupported_media", "undecodable_media")
    assert "MP4" in err["message"] or "video" in err["message"]
    # the connection is still usable afterwards
    assert client.get("/v1/health").status_code == 200


def test_upload_truncated_mp4_is_rejected(client, mp4_with_descriptor):
    data = mp4_with_descriptor[0].read_bytes()
    resp = client.post("/v1/media", content=data[: len(data) // 2], headers={"Content-Type": "video/mp4"})
    assert resp.status_code in (415, 422), resp.text


def test_upload_empty_and_wrong_type(client, mp4_with_descriptor):
    _error(client.post("/v1/media", content=b"", headers={"Content-Type": "video/mp4"}), 400, "body")
    _error(client.post("/v1/media", content=mp4_with_descriptor[0].read_bytes(),
                       headers={"Content-Type": "application/json"}), 415, "Content-Type")


def test_upload_too_large_is_413(mp4_with_descriptor):
    with SandboxServer(sandbox_config(max_upload_bytes=1000)) as server, \
            httpx.Client(base_url=server.url, headers=AUTH) as client:
        _error(client.post("/v1/media", content=mp4_with_descriptor[0].read_bytes(),
                           headers={"Content-Type": "video/mp4"}), 413, "body")
        assert client.get("/v1/health").status_code == 200


def test_video_without_descriptor_is_a_neutral_creative(sandbox, client, mp4_without_descriptor, mp4_bad_descriptor):
    for path in (mp4_without_descriptor, mp4_bad_descriptor):
        media = _upload(client, path)
        assert media["descriptor"] is None
        resp = client.post("/v1/posts", json=_post_body(media["media_id"], f"plain-{path.name}"))
        assert resp.status_code == 201
    items = _truth(sandbox, "/v1/_truth/descriptors").json()["items"]
    assert len(items) == 2
    for item in items:
        assert item["variant_id"] is None
        assert all(v is None for v in item["factors"].values())
        assert item["true_er"] == pytest.approx(BASE_ER)  # the neutral rate (0.035 since issue 10; was 0.05)


# ------------------------------------------------------------------------------------ posts
def test_post_and_idempotent_replay(sandbox, client, mp4_with_descriptor):
    media = _upload(client, mp4_with_descriptor[0])
    body = _post_body(media["media_id"], "variant-a|tiktok|main")
    first = client.post("/v1/posts", json=body)
    assert first.status_code == 201, first.text
    post = first.json()
    assert post["status"] == "live"
    assert post["live_at"] == "2025-03-01T12:00:00Z"
    assert post["platform"] == "tiktok" and post["account"] == "main"
    assert post["idempotency_key"] == "variant-a|tiktok|main"
    assert post["url"] == f"https://sandbox.actp.local/tiktok/@main/video/{post['post_id']}"
    assert "idempotent-replay" not in first.headers

    second = client.post("/v1/posts", json=body)
    assert second.status_code == 200
    assert second.headers["idempotent-replay"] == "true"
    assert second.json()["post_id"] == post["post_id"]
    assert second.json()["live_at"] == post["live_at"]

    found = client.get("/v1/posts", params={"idempotency_key": "variant-a|tiktok|main"}).json()["items"]
    assert [p["post_id"] for p in found] == [post["post_id"]]
    assert client.get(f"/v1/posts/{post['post_id']}").json()["post_id"] == post["post_id"]

    truth = _truth(sandbox, "/v1/_truth/posts").json()
    assert len(truth["items"]) == 1
    t = truth["items"][0]
    assert t["create_calls"] == 2
    assert t["post_id"] == post["post_id"]
    assert t["variant_id"] == mp4_with_descriptor[1]["variant_id"]
    assert 0.005 < t["true_er"] < 0.3 and t["expected_views"] > 0
    assert set(truth["factor_effects"]) == {"hook_pattern", "angle", "cta_style", "format", "length_bucket"}
    assert set(truth["factor_effects"]["angle"]) == {"pain_point", "social_proof", "curiosity", "transformation",
                                                     "urgency"}


def test_scheduled_post_goes_live_when_the_clock_advances(client, mp4_with_descriptor):
    media = _upload(client, mp4_with_descriptor[0])
    when = START + timedelta(hours=3)
    resp = client.post("/v1/posts", json=_post_body(media["media_id"], "sched-1", scheduled_at=when.isoformat()))
    assert resp.status_code == 201
    post = resp.json()
    assert post["status"] == "scheduled"
    assert datetime.fromisoformat(post["live_at"]) == when
    metrics = client.get(f"/v1/posts/{post['post_id']}/metrics").json()
    assert metrics["status"] == "scheduled"
    assert all(metrics[k] == 0 for k in ("views", "likes", "comments", "shares", "saves", "followers_gained"))
    assert metrics["watch_time_s"] == 0

    client.post("/v1/clock/advance", json={"hours": 2})
    assert client.get(f"/v1/posts/{post['post_id']}").json()["status"] == "scheduled"
    client.post("/v1/clock/advance", json={"hours": 1})
    assert client.get(f"/v1/posts/{post['post_id']}").json()["status"] == "live"
    at_live = client.get(f"/v1/posts/{post['post_id']}/metrics").json()
    assert at_live["status"] == "live" and at_live["views"] == 0

    # a scheduled time in the past goes live now
    past = client.post("/v1/posts", json=_post_body(media["media_id"], "sched-2",
                                                    scheduled_at="2020-01-01T00:00:00Z")).json()
    assert past["status"] == "live" and datetime.fromisoformat(past["live_at"]) == _now(client)


def test_metrics_grow_as_the_clock_advances(client, mp4_with_descriptor):
    media = _upload(client, mp4_with_descriptor[0])
    post = client.post("/v1/posts", json=_post_body(media["media_id"], "grow-1")).json()
    series = [client.get(f"/v1/posts/{post['post_id']}/metrics").json()]
    for hours in (1, 2, 6, 24, 72):
        client.post("/v1/clock/advance", json={"hours": hours})
        series.append(client.get(f"/v1/posts/{post['post_id']}/metrics").json())
    fields = ("views", "likes", "comments", "shares", "saves", "watch_time_s", "followers_gained")
    for a, b in zip(series, series[1:]):
        assert all(b[k] >= a[k] for k in fields)
        assert datetime.fromisoformat(b["as_of"]) > datetime.fromisoformat(a["as_of"])
    assert series[0]["views"] == 0
    assert 0 < series[1]["views"] < series[3]["views"] < series[-1]["views"]
    assert series[-1]["likes"] > 0 and series[-1]["watch_time_s"] > 0
    assert set(series[-1]) == {"post_id", "as_of", "status", *fields}


def test_batch_metrics(client, mp4_with_descriptor):
    media = _upload(client, mp4_with_descriptor[0])
    ids = [client.post("/v1/posts", json=_post_body(media["media_id"], f"batch-{i}")).json()["post_id"]
           for i in range(3)]
    client.post("/v1/clock/advance", json={"hours": 5})
    resp = client.post("/v1/metrics/batch", json={"post_ids": [ids[2], "p_unknown", ids[0], ids[1], ids[0]]})
    assert resp.status_code == 200
    body = resp.json()
    assert [m["post_id"] for m in body["items"]] == [ids[2], ids[0], ids[1]]
    assert body["unknown"] == ["p_unknown"]
    assert all(m["as_of"] == body["as_of"] for m in body["items"])
    single = client.get(f"/v1/posts/{ids[0]}/metrics").json()
    assert single == next(m for m in body["items"] if m["post_id"] == ids[0])
    assert client.post("/v1/metrics/batch", json={"post_ids": []}).json()["items"] == []
    _error(client.post("/v1/metrics/batch", json={"post_ids": [f"p_{i}" for i in range(501)]}), 400, "post_ids")
    _error(client.post("/v1/metrics/batch", json={"post_ids": "p_1"}), 400, "post_ids")
    _error(client.post("/v1/metrics/batch", json={"post_ids": [1, 2]}), 400, "post_ids")
    _error(client.post("/v1/metrics/batch", json={}), 400, "post_ids")


# ------------------------------------------------------------------------------------ truth
@pytest.mark.parametrize("path", ["/v1/_truth/posts", "/v1/_truth/descriptors"])
def test_truth_needs_the_truth_token(sandbox, path):
    assert _error(_truth(sandbox, path, token=None), 403)["code"] == "forbidden"
    _error(_truth(sandbox, path, token="guess"), 403)
    # an API key is not a truth token
    _error(httpx.get(sandbox.url + path, headers={**AUTH, "X-Truth-Token": KEY}), 403)
    assert _truth(sandbox, path).status_code == 200


def test_truth_descriptors_are_ranked(sandbox, client, mp4_with_descriptor, mp4_other_descriptor):
    for path, key in ((mp4_with_descriptor[0], "a"), (mp4_other_descriptor[0], "b")):
        media = _upload(client, path)
        for platform in ("tiktok", "instagram"):
            client.post("/v1/posts", json=_post_body(media["media_id"], f"{key}-{platform}", platform=platform))
    items = _truth(sandbox, "/v1/_truth/descriptors").json()["items"]
    assert [i["rank"] for i in items] == [1, 2]
    assert items[0]["true_er"] >= items[1]["true_er"]
    posts = _truth(sandbox, "/v1/_truth/posts").json()["items"]
    by_variant = {i["variant_id"]: i["true_er"] for i in items}
    assert len(posts) == 4
    for p in posts:  # per post: the creative's platform-neutral rate, plus the rate on its platform
        assert p["true_er"] == pytest.approx(by_variant[p["variant_id"]])
        shift = World(sandbox.config).platform_er_shift[p["platform"]]
        logit = lambda q: math.log(q / (1 - q))  # noqa: E731
        assert logit(p["platform_true_er"]) - logit(p["true_er"]) == pytest.approx(shift, abs=1e-9)
    assert {i["variant_id"] for i in items} == {mp4_with_descriptor[1]["variant_id"], mp4_other_descriptor[1]["variant_id"]}
    world = World(sandbox.config)
    for item in items:
        assert item["posts"] == 2 and sorted(item["platforms"]) == ["instagram", "tiktok"]
        assert item["true_er"] == pytest.approx(world.true_appeal(item["descriptor"])["true_er"])


# ------------------------------------------------------------------------------ persistence
def test_state_survives_a_restart(tmp_path, mp4_with_descriptor):
    state = tmp_path / "sandbox.sqlite"
    with SandboxServer(sandbox_config(), state_path=state) as server, httpx.Client(base_url=server.url, headers=AUTH) as c:
        media = _upload(c, mp4_with_descriptor[0])
        post = c.post("/v1/posts", json=_post_body(media["media_id"], "persist-1")).json()
        c.post("/v1/clock/advance", json={"hours": 10})
        before = c.get(f"/v1/posts/{post['post_id']}/metrics").json()
        now_before = c.get("/v1/clock").json()["now"]
    assert before["views"] > 0
    assert (tmp_path / "sandbox.sqlite.media" / f"{media['media_id']}.mp4").exists()

    # same path and seed, a new truth token and a different configured start: the stored world wins
    later = sandbox_config(truth_token="another", start=START + timedelta(days=30))
    with SandboxServer(later, state_path=state) as server, httpx.Client(base_url=server.url, headers=AUTH) as c:
        assert c.get("/v1/clock").json()["now"] == now_before
        assert c.get(f"/v1/posts/{post['post_id']}").json()["post_id"] == post["post_id"]
        assert c.get(f"/v1/posts/{post['post_id']}/metrics").json() == before
        assert c.get(f"/v1/media/{media['media_id']}").status_code == 200
        replay = c.post("/v1/posts", json=_post_body(media["media_id"], "persist-1"))
        assert replay.status_code == 200 and replay.json()["post_id"] == post["post_id"]
        truth = _truth(server, "/v1/_truth/posts").json()["items"]
        assert [t["create_calls"] for t in truth] == [2]

    with pytest.raises(SeedMismatch):
        SandboxServer(sandbox_config(seed=8), state_path=state)


def test_in_memory_state_starts_empty(mp4_with_descriptor):
    for _ in range(2):
        with SandboxServer(sandbox_config()) as server, httpx.Client(base_url=server.url, headers=AUTH) as c:
            assert c.get("/v1/posts", params={"idempotency_key": "mem-1"}).json()["items"] == []
            media = _upload(c, mp4_with_descriptor[0])
            assert c.post("/v1/posts", json=_post_body(media["media_id"], "mem-1")).status_code == 201


# ------------------------------------------------------------------------------ concurrency
def test_concurrent_posting_creates_each_post_once(sandbox, mp4_with_descriptor):
    with httpx.Client(base_url=sandbox.url, headers=AUTH) as c:
        media_id = _upload(c, mp4_with_descriptor[0])["media_id"]
    barrier = threading.Barrier(16)
    results: list[tuple[str, int, str, str | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            key = f"concurrent-{n % 8}"
            with httpx.Client(base_url=sandbox.url, headers=AUTH, timeout=30) as c:
                barrier.wait(timeout=30)
                resp = c.post("/v1/posts", json=_post_body(media_id, key))
                metrics = c.get(f"/v1/posts/{resp.json()['post_id']}/metrics")
                assert metrics.status_code == 200
            with lock:
                results.append((key, resp.status_code, resp.json()["post_id"], resp.headers.get("idempotent-replay")))
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == 16
    assert sorted(status for _, status, _, _ in results) == [200] * 8 + [201] * 8
    by_key: dict[str, set[str]] = {}
    for key, _, post_id, _ in results:
        by_key.setdefault(key, set()).add(post_id)
    assert len(by_key) == 8 and all(len(ids) == 1 for ids in by_key.values())
    assert sum(1 for *_, replay in results if replay == "true") == 8
    truth = _truth(sandbox, "/v1/_truth/posts").json()["items"]
    assert len(truth) == 8
    assert all(t["create_calls"] == 2 for t in truth)
    assert {t["idempotency_key"] for t in truth} == set(by_key)


def test_concurrent_reads(sandbox):
    errors: list[BaseException] = []

    def reader(n: int) -> None:
        try:
            with httpx.Client(base_url=sandbox.url, headers=AUTH, timeout=30) as c:
                for i in range(5):
                    day = f"2025-01-{1 + (n + i) % 9:02d}"
                    r = c.get("/v1/trending", params={"date": day, "platform": "instagram", "limit": 500})
                    assert r.status_code == 200 and len(r.json()["items"]) == 120
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


def test_server_lifecycle():
    server = SandboxServer(sandbox_config())
    assert server.url.startswith("http://127.0.0.1:") and server.port > 0
    server.start()
    assert httpx.get(server.url + "/v1/health").status_code == 200
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/v1/health", timeout=2)


def test_clock_speed_runs_in_real_time_and_is_kept_across_restarts(tmp_path):
    state = tmp_path / "speedy.sqlite"
    with SandboxServer(sandbox_config(speed=3600.0), state_path=state) as server:
        first = httpx.get(server.url + "/v1/clock").json()
        assert first["speed"] == 3600.0
        time.sleep(0.3)
        later = datetime.fromisoformat(httpx.get(server.url + "/v1/clock").json()["now"])
        assert later - datetime.fromisoformat(first["now"]) >= timedelta(seconds=900)
    with SandboxServer(sandbox_config(), state_path=state) as server:
        now = datetime.fromisoformat(httpx.get(server.url + "/v1/clock").json()["now"])
        assert now >= later
        time.sleep(0.05)
        assert datetime.fromisoformat(httpx.get(server.url + "/v1/clock").json()["now"]) == now  # speed 0 now


def test_serve_forever_prints_url_and_token_and_stops_on_sigterm(tmp_path):
    code = (
        "from actp_pipeline.sandbox import serve_forever, WorldConfig\n"
        f"serve_forever(WorldConfig(truth_token='tt-cli'), '127.0.0.1', 0, {str(tmp_path / 'cli.sqlite')!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        lines = [proc.stderr.readline() for _ in range(4)]
        url = next(line.split()[-1] for line in lines if "listening on" in line)
        assert any("tt-cli" in line for line in lines)
        assert httpx.get(url + "/v1/health").json()["ok"] is True
        assert httpx.get(url + "/v1/_truth/posts", headers={"X-Truth-Token": "tt-cli"}).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_restart_never_goes_back_before_what_already_happened(tmp_path, mp4_with_descriptor):
    state = tmp_path / "lost-checkpoint.sqlite"
    with SandboxServer(sandbox_config(), state_path=state) as server, httpx.Client(base_url=server.url, headers=AUTH) as c:
        c.post("/v1/clock/advance", json={"hours": 5})
        media = _upload(c, mp4_with_descriptor[0])
        post = c.post("/v1/posts", json=_post_body(media["media_id"], "after-5h")).json()
        server.state.set_meta("clock_offset_s", "0.0")  # as if the last clock checkpoint had been lost
    with SandboxServer(sandbox_config(), state_path=state) as server, httpx.Client(base_url=server.url, headers=AUTH) as c:
        assert _now(c) == datetime.fromisoformat(post["created_at"])
        assert c.get(f"/v1/posts/{post['post_id']}").json()["status"] == "live"


def test_running_clock_checkpoints_itself():
    from actp_pipeline.sandbox.clock import SimClock

    real = [100.0]
    saved: list[float] = []
    clock = SimClock(START, speed=60.0, on_change=saved.append, monotonic=lambda: real[0], persist_every_s=1.0)
    assert clock.now() == START and saved == []
    real[0] += 0.5
    assert clock.now() == START + timedelta(seconds=30) and saved == []
    real[0] += 0.5
    assert clock.now() == START + timedelta(seconds=60) and saved == [60.0]
    assert clock.advance(1.0) == START + timedelta(seconds=3660) and saved[-1] == 3660.0
    with pytest.raises(ValueError):
        clock.advance(-1)
    still = SimClock(START, speed=0.0, on_change=saved.append, monotonic=lambda: real[0])
    real[0] += 100
    assert still.now() == START
