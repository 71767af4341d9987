"""Hostile and malformed requests against a real sandbox server: each is a 4xx with an error body (JSON on
the API, a page or a safe redirect on the web site), never a 500. One test per defect of the security
review, and a bounded property test over random JSON-ish bodies."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sandbox.conftest import AUTH
from tests.sandbox.dialect_http import TIKTOK_INIT, G, ig_finished, ig_upload, tiktok_status, tiktok_upload

YOUTUBE_UPLOAD = "/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status"
USER, PASSWORD = "creator", "sandbox-pass"
JSON_HEADERS = {**AUTH, "Content-Type": "application/json"}


def _json_error(resp: httpx.Response, status: int | None = None) -> dict:
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:500])
    if status is not None:
        assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith("application/json")
    err = resp.json()["error"]
    assert isinstance(err, dict) and err["message"]
    return err


@pytest.fixture
def api(sandbox):
    with httpx.Client(base_url=sandbox.url, headers=AUTH, timeout=60, follow_redirects=False) as c:
        yield c


# ------------------------------------------------------------------------------------ 1. redirects
@pytest.mark.parametrize("next_path", [
    "/web/upload\r\nSet-Cookie: evil=1", "/web/x\nLocation: https://evil.example/", "/web/\x00x",
    "/web/\x7f", "//evil.example/web/", "/\\evil.example", "https://evil.example/web/", "/web/\u2028",
])
def test_login_next_is_a_same_site_path_or_the_default(sandbox, next_path):
    with httpx.Client(base_url=sandbox.url, timeout=30, follow_redirects=False) as c:
        resp = c.post("/web/login", data={"username": USER, "password": PASSWORD, "next": next_path})
        assert resp.status_code == 303
        assert resp.headers["location"] == "/web/upload"
        assert "evil" not in str(resp.headers.raw)
        form = c.get("/web/login", params={"next": next_path})
        assert form.status_code == 200 and 'value="/web/upload"' in form.text


# ----------------------------------------------------------------------------- 2. malformed inputs
def _youtube_open(api: httpx.Client, metadata: str) -> httpx.Response:
    """Open a YouTube resumable upload with this JSON metadata (snippet, status) as its body."""
    return api.post(YOUTUBE_UPLOAD, content=metadata.encode("utf-8", "surrogatepass"),
                    headers={**JSON_HEADERS, "X-Upload-Content-Type": "video/mp4", "X-Upload-Content-Length": "1000"})


def test_malformed_inputs_are_4xx_json_errors(api, sandbox):
    deep = "[" * 100_000 + "]" * 100_000
    for path in (TIKTOK_INIT, "/sandbox/clock/advance", "/v2/video/query/", f"{G}/me/media", f"{G}/act_a/campaigns"):
        _json_error(api.post(path, content='{"a":' + deep + "}", headers=JSON_HEADERS))
    _json_error(_youtube_open(api, '{"a":' + deep + "}"), 400)
    in_query = "[" * 5000 + "]" * 5000  # deeper than Python's recursion limit, short enough for a URL
    _json_error(api.get(f"{G}/act_a/insights", params={"time_range": in_query}))
    _json_error(api.get(f"{G}/act_a/campaigns", params={"filtering": in_query}))
    _json_error(api.post("/sandbox/clock/advance", content='{"hours": ' + "1" + "0" * 400 + "}",
                         headers=JSON_HEADERS), 400)
    _json_error(api.post("/sandbox/clock/advance", content='{"hours": 1e999}', headers=JSON_HEADERS), 400)
    for number in ("1" + "0" * 400, "1e999"):  # TikTok's video_size, Graph's daily_budget
        _json_error(api.post(TIKTOK_INIT, headers=JSON_HEADERS, content='{"post_info": {"privacy_level": "SELF_ONLY"}, '
                             '"source_info": {"source": "FILE_UPLOAD", "video_size": ' + number + "}}"), 400)
    for when in ("99999-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "9999-12-31T23:00:00Z"):
        meta = {"snippet": {"title": "t"}, "status": {"privacyStatus": "private", "publishAt": when}}
        _json_error(_youtube_open(api, json.dumps(meta)), 400)
    _json_error(api.get(f"{G}/act_a/insights",
                        params={"time_range": json.dumps({"since": "9999-12-30", "until": "9999-12-31"})}), 400)
    cursor = base64.urlsafe_b64encode(b'{"s":"x","o":1e999}').decode().rstrip("=")
    _json_error(api.get("/sandbox/research/trending", params={"date": "2025-03-01", "cursor": cursor}), 400)
    _json_error(api.get(f"{G}/act_a/campaigns", params={"after": "1e999"}), 400)
    surrogate = '{"name": "\\ud800", "objective": "OUTCOME_LEADS"}'
    _json_error(api.post(f"{G}/act_a/campaigns", content=surrogate, headers=JSON_HEADERS), 400)
    _json_error(api.post(f"{G}/me/media", content='{"media_type": "REELS", "caption": "\\udfff"}',
                         headers=JSON_HEADERS), 400)
    _json_error(api.post(TIKTOK_INIT, content='{"post_info": {"title": "\\udfff"}}', headers=JSON_HEADERS), 400)
    _json_error(_youtube_open(api, '{"snippet": {"title": "\\udfff"}}'), 400)
    assert sandbox.state.list_posts() == []


def test_hostile_times_in_the_web_form_are_a_400_page(sandbox):
    """The web form's scheduled_at goes through the shared Publishing layer's time parser."""
    with httpx.Client(base_url=sandbox.url, timeout=30, follow_redirects=False) as c:
        assert c.post("/web/login", data={"username": USER, "password": PASSWORD}).status_code == 303
        for when in ("99999-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "9999-12-31T23:00:00Z"):
            form = {"idempotency_key": "k", "platform": "instagram", "account": "main", "scheduled_at": when}
            resp = c.post("/web/upload", data=form, files={"video": ("a.mp4", b"\x00" * 64, "video/mp4")})
            assert resp.status_code == 400 and 'data-field="scheduled_at"' in resp.text, (when, resp.text[:500])
    assert sandbox.state.list_posts() == []


def test_the_simulated_clock_cannot_be_pushed_past_its_range(api):
    statuses = {api.post("/sandbox/clock/advance", json={"hours": 24 * 3650}).status_code for _ in range(30)}
    assert statuses <= {200, 400} and 400 in statuses
    _json_error(api.post("/sandbox/clock/advance", json={"hours": 24 * 3650}), 400)
    assert api.get("/sandbox/clock").status_code == 200


# ------------------------------------------------------------------------------- 3. login throttling
def test_password_guessing_is_throttled_per_user_and_per_address(sandbox):
    with httpx.Client(base_url=sandbox.url, timeout=30, follow_redirects=False) as c:
        statuses = [c.post("/web/login", data={"username": USER, "password": f"guess{i}"}).status_code
                    for i in range(8)]
        assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
        # the right password does not get through the throttle either
        blocked = c.post("/web/login", data={"username": USER, "password": PASSWORD})
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        assert 'id="error"' in blocked.text and "actp_session" not in blocked.headers.get("set-cookie", "")
        # one address spraying many usernames is throttled too
        spray = [c.post("/web/login", data={"username": f"user{i}", "password": "x"}).status_code
                 for i in range(40)]
        assert 429 in spray and set(spray) <= {401, 429}


# ------------------------------------------------------------------------------------- 4. huge frames
@pytest.fixture(scope="module")
def wide_mp4(tmp_path_factory) -> Path:
    """A tiny MP4 whose one frame is wider than any platform allows (8192 px)."""
    import imageio_ffmpeg

    path = tmp_path_factory.mktemp("hostile") / "wide.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "color=c=black:s=8192x64:d=0.04", "-frames:v", "1", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(path)], check=True, capture_output=True, timeout=120)
    return path


def test_frames_over_the_size_bound_are_refused_before_decoding(sandbox, wide_mp4):
    key, data = sandbox.config.api_keys[0], wide_mp4.read_bytes()
    publish_id, put = tiktok_upload(sandbox.url, key, data)
    assert put.status_code == 201, put.text[:500]
    status = tiktok_status(sandbox.url, key, publish_id)
    assert status["status"] == "FAILED" and status["fail_reason"] == "picture_size_check_failed", status
    container, up = ig_upload(sandbox.url, key, data)
    assert up.status_code == 200, up.text[:500]
    ig = ig_finished(sandbox.url, key, container)
    assert ig["status_code"] == "ERROR" and "8192" in ig["status"], ig
    assert sandbox.state.list_posts() == []


def test_a_hostile_descriptor_in_the_upload_is_no_descriptor(sandbox, tmp_path):
    """The MP4's comment metadata is the uploader's JSON too: nested past any limit, it is an unreadable
    descriptor (a neutral creative), not a 500."""
    from tests.media import make_mp4

    path = make_mp4(tmp_path / "deep.mp4", '{"actp_creative": ' + "[" * 3000 + "]" * 3000 + "}")
    key = sandbox.config.api_keys[0]
    publish_id, put = tiktok_upload(sandbox.url, key, path.read_bytes())
    assert put.status_code == 201, put.text[:500]
    assert tiktok_status(sandbox.url, key, publish_id)["status"] == "PUBLISH_COMPLETE"
    [post] = sandbox.state.list_posts()
    media = sandbox.state.get_media(post["media_id"])
    assert media["descriptor"] is None and media["descriptor_error"]


# ------------------------------------------------------------------------------------------ 5. budgets
@pytest.mark.parametrize("budget", ["\u0665\u0660\u0660", "\u0661\u0660\u0660\u0660", "\uff15\uff10\uff10",
                                    "10000001", "999999999999999", 10_000_001, 1e300, True])
def test_budgets_are_ascii_digits_within_a_bound(api, budget):
    form = {"name": "c", "objective": "OUTCOME_LEADS", "daily_budget": budget}
    if isinstance(budget, str):
        resp = api.post(f"{G}/act_a/campaigns", data=form)
    else:
        resp = api.post(f"{G}/act_a/campaigns", json=form)
    err = _json_error(resp, 400)
    assert "daily_budget" in err["message"]
    ok = api.post(f"{G}/act_a/campaigns", data={**form, "daily_budget": "10000000"})
    assert ok.status_code == 200, ok.text


# --------------------------------------------------------------------------------- property: no 5xx
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([10**400, -(10**400), 2**63, 2**64 + 1]), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["\ud800", "a\udfffb", "\u0665\u0660\u0660", "9999-12-31T23:59:59-14:00",
                                           "99999-01-01", "1e999", "", " ", "\x00"]),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                       max_leaves=12)
_FIELDS = ["hours", "post_info", "source_info", "title", "privacy_level", "video_size", "publish_id", "filters",
           "video_ids", "cursor", "max_count", "media_type", "caption", "video_url", "upload_type", "creation_id",
           "snippet", "status", "name", "objective", "daily_budget", "campaign_id", "targeting", "time_range",
           "filtering", "limit", "after", "fields"]
_bodies = st.dictionaries(st.sampled_from(_FIELDS), _values, max_size=6)
_ROUTES = [TIKTOK_INIT, "/v2/post/publish/status/fetch/", "/v2/video/query/", "/v2/video/list/",
           "/sandbox/clock/advance", f"{G}/me/media", f"{G}/me/media_publish", f"{G}/act_a/campaigns",
           f"{G}/act_a/adsets", f"{G}/123/copies", f"{G}/123", YOUTUBE_UPLOAD]


def _hostile_text(body: object, depth: int, raw_number: str | None) -> str:
    text = json.dumps(body, allow_nan=True)  # ensure_ascii: a lone surrogate becomes a \\ud800 escape
    if depth:
        text = "[" * depth + text + "]" * depth
    if raw_number is not None and text.startswith("{") and text != "{}":
        text = '{"hours": ' + raw_number + ", " + text[1:]
    return text


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=_bodies, path=st.sampled_from(_ROUTES), depth=st.sampled_from([0, 0, 0, 1, 50, 5000, 100_000]),
       raw_number=st.sampled_from([None, "1e999", "-1e999", "1" + "0" * 400, "1E400", "-0"]))
def test_random_json_bodies_never_give_a_5xx(sandbox, body, path, depth, raw_number):
    text = _hostile_text(body, depth, raw_number)
    resp = httpx.post(sandbox.url + path, content=text.encode("utf-8", "surrogatepass"), headers=JSON_HEADERS,
                      timeout=60)
    assert resp.status_code < 500, (path, text[:300], resp.text[:300])
    if resp.status_code >= 400:
        assert resp.headers["content-type"].startswith("application/json")
        assert resp.json()["error"]
