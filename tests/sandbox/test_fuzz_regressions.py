"""Regressions of what the route fuzzer (tests/faults/route_fuzz.py) found in the sandbox: each was a
500 and is now a 4xx JSON error that says what was wrong and where."""

from __future__ import annotations

import httpx
import pytest

from tests.media import make_mp4
from tests.sandbox.conftest import AUTH
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


def test_an_mp4_with_an_unknown_codec_is_a_422_not_a_500(api, unknown_codec_mp4):
    resp = api.post("/v1/media", content=unknown_codec_mp4, headers={"Content-Type": "video/mp4"})
    err = _json_error(resp, 422)
    assert err["code"] == "undecodable_media" and err["field"] == "body"
    assert "codec" in err["message"]


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
