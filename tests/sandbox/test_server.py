"""The sandbox's own endpoints (/sandbox: health, clock, research feeds, ground truth), its auth and error
shapes on each dialect, and the server's lifecycle, over real loopback HTTP with httpx. Posts, media and
metrics through the dialects: test_server_posts.py."""

from __future__ import annotations

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
from tests.sandbox.conftest import AUTH, KEY, START, sandbox_config
from tests.sandbox.dialect_http import TIKTOK_INIT, G, ig_container, ig_finished, tiktok, tiktok_init, tiktok_status

DAY = "2025-02-03"


def _error(resp: httpx.Response, status: int, field: str | None = None) -> dict:
    """The sandbox's own error shape (/sandbox and paths no dialect owns), or TikTok's envelope's error."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    err = resp.json()["error"]
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    if field is not None:
        assert err.get("field") == field, err
    return err


def _tiktok_error(resp: httpx.Response, status: int, code: str = "invalid_params") -> dict:
    err = _error(resp, status)
    assert resp.json()["data"] == {} and err["code"] == code and err["log_id"], resp.text
    return err


def _graph_error(resp: httpx.Response, status: int, *codes: int) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["type"] == "OAuthException" and err["message"] and err["fbtrace_id"], err
    if codes:
        assert err["code"] in codes, err
    return err


def _truth(sandbox, path: str, token: str | None = "use-real", **params) -> httpx.Response:
    headers = {}
    if token == "use-real":
        headers["X-Truth-Token"] = sandbox.truth_token
    elif token is not None:
        headers["X-Truth-Token"] = token
    return httpx.get(sandbox.url + path, headers=headers, params=params or None, timeout=30)


def _now(client: httpx.Client) -> datetime:
    return datetime.fromisoformat(client.get("/sandbox/clock").json()["now"])


# ------------------------------------------------------------------------------------- basics
def test_health_and_clock_need_no_key(sandbox):
    h = httpx.get(sandbox.url + "/sandbox/health")
    assert h.status_code == 200 and h.json()["ok"] is True
    assert datetime.fromisoformat(h.json()["now"]) == START
    c = httpx.get(sandbox.url + "/sandbox/clock").json()
    assert c == {"now": "2025-03-01T12:00:00Z", "speed": 0.0}
    adv = httpx.post(sandbox.url + "/sandbox/clock/advance", json={"hours": 1.5})
    assert adv.status_code == 200
    assert adv.json()["now"] == "2025-03-01T13:30:00Z"
    assert httpx.get(sandbox.url + "/sandbox/clock").json()["now"] == "2025-03-01T13:30:00Z"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"},
                                     {"Authorization": "Bearer"}, {"Authorization": KEY}])
def test_platform_routes_need_a_valid_key(sandbox, headers):
    for path in (f"/sandbox/research/trending?date={DAY}&platform=tiktok", f"/sandbox/research/ad_library?date={DAY}"):
        resp = httpx.get(sandbox.url + path, headers=headers)
        assert _error(resp, 401)["code"] == "unauthorized"
        assert resp.headers["www-authenticate"].startswith("Bearer")
    # each dialect refuses in its own shape: TikTok's envelope, Graph's OAuthException (Meta answers 400)
    for path, body in ((TIKTOK_INIT, {}), ("/v2/post/publish/creator_info/query/", {}),
                       ("/v2/video/list/", {"max_count": 5})):
        _tiktok_error(httpx.post(sandbox.url + path, json=body, headers=headers), 401, "access_token_invalid")
    for method, path in (("GET", f"{G}/me"), ("POST", f"{G}/me/media"), ("GET", f"{G}/act_a/campaigns")):
        form = {"data": {"media_type": "REELS"}} if method == "POST" else {}
        resp = httpx.request(method, sandbox.url + path, headers=headers, **form)
        _graph_error(resp, 400, 104, 190)
        assert resp.headers["www-authenticate"].startswith("OAuth")
    assert sandbox.state.list_posts() == []


def test_unknown_routes_and_methods_are_json_errors(client):
    # the retired /v1 posting API is gone like any unknown path
    for path in ("/v1/posts", "/v1/media", "/", "/sandbox/nope", "/sandbox/clock/extra"):
        assert _error(client.get(path), 404)["code"] == "unknown_route"
        _error(httpx.get(str(client.base_url) + path), 404)
    assert _error(client.post("/v1/posts", json={}), 404)["code"] == "unknown_route"
    _tiktok_error(client.get("/v2/trending"), 404)  # under /v2 it is TikTok's envelope
    err = _error(client.delete("/sandbox/clock/advance"), 405)
    assert err["code"] == "method_not_allowed" and "POST" in err["message"]
    _error(client.get("/sandbox/clock/advance"), 405)
    _error(client.post("/sandbox/truth/posts"), 405)


def test_unknown_post_is_404_with_the_field(sandbox):
    assert _error(_truth(sandbox, "/sandbox/truth/metrics", post_id="p_missing"), 404, "post_id")["code"] == "unknown_post"
    assert _error(_truth(sandbox, "/sandbox/truth/metrics"), 400, "post_id")["code"] == "missing_field"
    _graph_error(httpx.get(f"{sandbox.url}{G}/17980000000000000", params={"access_token": KEY}), 404, 100)
    resp = tiktok(sandbox.url, KEY, "/v2/post/publish/status/fetch/", {"publish_id": "v_pub_file~v2-1.7000"})
    assert "publish_id" in _tiktok_error(resp, 400)["message"]


def test_requests_are_quiet(sandbox, client, capfd):
    """Nothing on stdout or stderr, not even from the video decoder refusing garbage."""
    capfd.readouterr()
    client.get("/sandbox/health")
    client.get("/v1/nope")
    init = tiktok_init(sandbox.url, KEY, 400).json()["data"]
    put = httpx.put(init["upload_url"], content=b"garbage!" * 50,
                    headers={"Content-Type": "video/mp4", "Content-Range": "bytes 0-399/400"})
    made = ig_container(sandbox.url, KEY, upload_type="resumable").json()
    up = httpx.post(made["uri"], content=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 400,
                    headers={"Authorization": f"OAuth {KEY}", "offset": "0", "file_size": "412"})
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert put.status_code == 201 and up.status_code == 200  # both bodies reached the decoder, and were refused
    assert tiktok_status(sandbox.url, KEY, init["publish_id"])["status"] == "FAILED"
    assert ig_finished(sandbox.url, KEY, made["id"])["status_code"] == "ERROR"


# -------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"", b'"hours"', b"\xff\xfe", b'{"hours": NaN}'])
def test_malformed_json_is_400_on_body(sandbox, client, content):
    json_type = {"Content-Type": "application/json"}
    _error(client.post("/sandbox/clock/advance", content=content, headers=json_type), 400, "body")
    _tiktok_error(tiktok(sandbox.url, KEY, TIKTOK_INIT, content=content, headers=json_type), 400)
    _tiktok_error(tiktok(sandbox.url, KEY, "/v2/post/publish/status/fetch/", content=content, headers=json_type), 400)
    _graph_error(client.post(f"{G}/act_a/campaigns", content=content, headers=json_type), 400, 100)
    assert _now(client) == START and sandbox.state.list_posts() == []


@pytest.mark.parametrize("hours", ["2", None, True, -1, [1], 1e9])
def test_clock_advance_validates_hours(client, hours):
    _error(client.post("/sandbox/clock/advance", json={"hours": hours}), 400, "hours")
    assert _now(client) == START


def test_clock_advance_needs_hours(client):
    _error(client.post("/sandbox/clock/advance", json={}), 400, "hours")


# ----------------------------------------------------------------------------------- market
def test_trending_pages_through_the_world(sandbox, client):
    expected = World(sandbox.config).market_items(DAY, "tiktok")
    items, cursor, pages = [], None, 0
    while True:
        params = {"date": DAY, "platform": "tiktok", "limit": 50}
        if cursor:
            params["cursor"] = cursor
        resp = client.get("/sandbox/research/trending", params=params)
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
    everything = client.get("/sandbox/research/trending", params={"date": DAY, "limit": 1000}).json()
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
    _error(client.get("/sandbox/research/trending", params=params), 400, field)
    _error(client.get("/sandbox/research/ad_library", params=params), 400, field)


def test_cursor_of_another_listing_is_rejected(client):
    first = client.get("/sandbox/research/trending", params={"date": DAY, "platform": "tiktok", "limit": 10}).json()
    _error(client.get("/sandbox/research/trending", params={"date": "2025-02-04", "platform": "tiktok",
                                              "cursor": first["next_cursor"]}), 400, "cursor")


def test_ads_library_serves_ad_items(sandbox, client):
    resp = client.get("/sandbox/research/ad_library", params={"date": DAY})
    assert resp.status_code == 200
    body = resp.json()
    assert body["next_cursor"] is None
    assert body["items"] == World(sandbox.config).ad_items(DAY)
    ads = [i for i in body["items"] if i.get("kind") == "ad" and "impressions" in i]
    assert len(ads) >= 25
    for ad in ads:
        assert {"impressions", "spend_usd", "active_days", "page_name", "views", "caption"} <= set(ad)
    insta = client.get("/sandbox/research/ad_library", params={"date": DAY, "platform": "instagram"}).json()["items"]
    assert insta and all(i["platform"] == "instagram" for i in insta)


def test_market_truth_lines_up_with_the_listing(sandbox, client):
    listing = client.get("/sandbox/research/trending", params={"date": DAY, "platform": "youtube", "limit": 500}).json()["items"]
    truth = _truth(sandbox, f"/sandbox/truth/market?date={DAY}&platform=youtube").json()["items"]
    assert len(truth) == len(listing)
    for t, item in zip(truth, listing):
        assert t["id"] == item.get("id") or t["malformed"] == "missing_field"
        assert set(t["factors"]) == {"hook_pattern", "angle", "cta_style", "format", "length_bucket"}
    _error(_truth(sandbox, f"/sandbox/truth/market?date={DAY}", token=None), 403)


# ------------------------------------------------------------------------------------ truth
@pytest.mark.parametrize("path", ["/sandbox/truth/posts", "/sandbox/truth/descriptors", "/sandbox/truth/ads",
                                  f"/sandbox/truth/market?date={DAY}"])
def test_truth_needs_the_truth_token(sandbox, path):
    assert _error(_truth(sandbox, path, token=None), 403)["code"] == "forbidden"
    _error(_truth(sandbox, path, token="guess"), 403)
    # an API key is not a truth token
    _error(httpx.get(sandbox.url + path, headers={**AUTH, "X-Truth-Token": KEY}), 403)
    assert _truth(sandbox, path).status_code == 200


def test_truth_metrics_need_the_truth_token_before_anything_else(sandbox):
    for token in (None, "guess", KEY):
        _error(_truth(sandbox, "/sandbox/truth/metrics", token=token, post_id="p_missing"), 403)
    _error(_truth(sandbox, "/sandbox/truth/metrics", post_id="p_missing"), 404, "post_id")


def test_truth_of_an_empty_world(sandbox):
    posts = _truth(sandbox, "/sandbox/truth/posts").json()
    assert posts["items"] == []
    assert set(posts["factor_effects"]) == {"hook_pattern", "angle", "cta_style", "format", "length_bucket"}
    assert _truth(sandbox, "/sandbox/truth/descriptors").json()["items"] == []


# ------------------------------------------------------------------------------ lifecycle
def test_concurrent_reads(sandbox):
    errors: list[BaseException] = []

    def reader(n: int) -> None:
        try:
            with httpx.Client(base_url=sandbox.url, headers=AUTH, timeout=30) as c:
                for i in range(5):
                    day = f"2025-01-{1 + (n + i) % 9:02d}"
                    r = c.get("/sandbox/research/trending", params={"date": day, "platform": "instagram", "limit": 500})
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
    assert httpx.get(server.url + "/sandbox/health").status_code == 200
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/sandbox/health", timeout=2)


def test_clock_speed_runs_in_real_time_and_is_kept_across_restarts(tmp_path):
    state = tmp_path / "speedy.sqlite"
    with SandboxServer(sandbox_config(speed=3600.0), state_path=state) as server:
        first = httpx.get(server.url + "/sandbox/clock").json()
        assert first["speed"] == 3600.0
        time.sleep(0.3)
        later = datetime.fromisoformat(httpx.get(server.url + "/sandbox/clock").json()["now"])
        assert later - datetime.fromisoformat(first["now"]) >= timedelta(seconds=900)
    with SandboxServer(sandbox_config(), state_path=state) as server:
        now = datetime.fromisoformat(httpx.get(server.url + "/sandbox/clock").json()["now"])
        assert now >= later
        time.sleep(0.05)
        assert datetime.fromisoformat(httpx.get(server.url + "/sandbox/clock").json()["now"]) == now  # speed 0 now


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
        assert httpx.get(url + "/sandbox/health").json()["ok"] is True
        assert httpx.get(url + "/sandbox/truth/posts", headers={"X-Truth-Token": "tt-cli"}).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


# ------------------------------------------------------------------------------------ clock
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
