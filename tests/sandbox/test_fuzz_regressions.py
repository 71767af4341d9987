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
