"""Regressions of what the route fuzzer (tests/faults/route_fuzz.py) found in the sandbox: each was a
500 and is now a refusal that says what was wrong and where (a 4xx JSON error, or for an upload the
dialect's failed status)."""

from __future__ import annotations

import httpx
import pytest

from tests.media import make_mp4
from tests.sandbox.conftest import AUTH
from tests.sandbox.dialect_http import ig_finished, ig_publish, ig_upload, tiktok_status, tiktok_upload
from tests.sandbox.test_hostile_requests import _json_error


@pytest.fixture
def api(sandbox):
    with httpx.Client(base_url=sandbox.url, headers=AUTH, timeout=60, follow_redirects=False) as c:
        yield c


@pytest.fixture(scope="module")
def unknown_codec_mp4(tmp_path_factory) -> bytes:
    """A real MP4 whose video codec tag is mangled: PyAV opens it but has no codec context for the stream."""
    path = make_mp4(tmp_path_factory.mktemp("fuzz") / "plain.mp4", None)
    data = path.read_bytes()
    assert b"avc1" in data
    return data.replace(b"avc1", b"zzzz")


def test_an_mp4_with_an_unknown_codec_is_refused_not_a_500(sandbox, unknown_codec_mp4):
    """Uploaded through each dialect that posts, the probe's refusal (undecodable_media, "codec") reaches the
    uploader in the dialect's own terms: a FAILED TikTok publish, an ERROR Instagram container."""
    key = sandbox.config.api_keys[0]
    publish_id, put = tiktok_upload(sandbox.url, key, unknown_codec_mp4)
    assert put.status_code == 201, put.text[:300]
    status = tiktok_status(sandbox.url, key, publish_id)
    assert status["status"] == "FAILED" and status["fail_reason"] == "file_format_check_failed", status
    container, up = ig_upload(sandbox.url, key, unknown_codec_mp4)
    assert up.status_code == 200, up.text[:300]
    ig = ig_finished(sandbox.url, key, container)
    assert ig["status_code"] == "ERROR" and "codec" in ig["status"], ig
    err = _json_error(ig_publish(sandbox.url, key, container), 400)
    assert err["error_subcode"] == 2207032  # a container in ERROR cannot be published
    assert sandbox.state.list_posts() == []


DEEP = "[" * 5_000 + "]" * 5_000  # deeper than Python's parser recursion: a RecursionError, not a ValueError


def test_deeply_nested_json_in_a_dialects_parameters_is_a_4xx_not_a_500(api, sandbox):
    key = sandbox.config.api_keys[0]
    # TikTok's API for Business takes JSON-encoded lists in its GET parameters
    resp = api.get("/open_api/v1.3/campaign/get/", params={"advertiser_id": "7001", "fields": DEEP},
                   headers={"Access-Token": key})
    assert resp.status_code < 500 and resp.json()["code"] != 0, resp.text[:300]
    # the studio copies read a JSON body (logged out here: refused before the body, never a 500)
    resp = api.post("/web/tiktokstudio/api/post", content=DEEP.encode(), headers={"Content-Type": "application/json"})
    assert resp.status_code < 500, resp.text[:300]
