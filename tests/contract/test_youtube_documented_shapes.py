"""The sandbox's YouTube responses against documented example responses (tests/contract/fixtures/youtube/:
a youtube#video, a videoListResponse, channel and playlistItem list responses, error bodies), written
for this project after the YouTube Data API reference's resource descriptions.

Shapes are compared both ways: every documented field of the parts asked for is served with the same
JSON type, and the sandbox serves no field the documents do not have, so it cannot drift into a dialect
of its own. Values are compared only where YouTube fixes them (kinds, enums, string-typed counts).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.test_youtube import (
    advance,
    publish,
    publisher,
    start_sandbox,
    youtube_of,
)
from tests.media import make_mp4

FIXTURES = Path(__file__).parent / "fixtures" / "youtube"
# members that appear only in some states (documented as optional): allowed to be absent on either side
OPTIONAL = {"publishAt", "processingProgress", "tags", "failureReason", "processingFailureReason",
            "nextPageToken", "prevPageToken"}


def documented(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def shape_diff(doc: Any, got: Any, path: str = "$") -> list[str]:
    """Where `got` differs in shape from `doc` (types, keys both ways; lists by their first element)."""
    if isinstance(doc, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected an object, got {type(got).__name__}"]
        out = []
        for k in doc.keys() | got.keys():
            if k not in got:
                if k not in OPTIONAL:
                    out.append(f"{path}.{k}: documented, not served")
            elif k not in doc:
                if k not in OPTIONAL:
                    out.append(f"{path}.{k}: served, not documented")
            else:
                out += shape_diff(doc[k], got[k], f"{path}.{k}")
        return out
    if isinstance(doc, list):
        if not isinstance(got, list):
            return [f"{path}: expected a list, got {type(got).__name__}"]
        if doc and got:
            return shape_diff(doc[0], got[0], f"{path}[0]")
        return []
    if isinstance(doc, bool) or isinstance(got, bool):
        return [] if isinstance(doc, bool) and isinstance(got, bool) else [f"{path}: boolean expected"]
    if type(doc) is not type(got):
        return [f"{path}: {type(doc).__name__} expected, got {type(got).__name__}"]
    return []


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One sandbox with a processed public video and a scheduled private one still processing."""
    server = start_sandbox()
    try:
        path = make_mp4(tmp_path_factory.mktemp("yt_shapes") / "v.mp4", None, color="white")
        pub = publisher(server)
        live = publish(pub, path, "shape-live")["post_id"]
        advance(server, 3)
        at = pub.clock() + dt.timedelta(days=1)
        scheduled = publish(pub, path, "shape-scheduled", scheduled_at=at.replace(tzinfo=None))["post_id"]
        yield server, pub, live, scheduled
    finally:
        server.stop()


def test_video_resource_matches_the_documented_video(world):
    _server, pub, live, _ = world
    got = pub.service.videos().list(part="snippet,contentDetails,status,statistics,processingDetails",
                                    id=live).execute()["items"][0]
    doc = documented("video.json")
    assert shape_diff(doc, got) == []
    assert got["kind"] == doc["kind"] and re.fullmatch(r"[A-Za-z0-9_-]{11}", got["id"])
    assert got["status"]["uploadStatus"] in ("uploaded", "processed", "failed", "rejected", "deleted")
    assert got["status"]["privacyStatus"] in ("public", "unlisted", "private")
    assert all(isinstance(v, str) and v.isdigit() for v in got["statistics"].values())
    assert re.fullmatch(r"PT(\d+H)?(\d+M)?(\d+S)?", got["contentDetails"]["duration"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", got["snippet"]["publishedAt"])


def test_video_list_response_matches_the_documented_list(world):
    _server, pub, _, scheduled = world
    got = pub.service.videos().list(part="status,statistics,processingDetails", id=scheduled).execute()
    doc = documented("video_list_response.json")
    assert shape_diff(doc, got) == []
    item = got["items"][0]
    assert item["processingDetails"]["processingStatus"] == "processing"
    assert set(item["processingDetails"]["processingProgress"]) == {"partsTotal", "partsProcessed", "timeLeftMs"}
    assert item["status"]["privacyStatus"] == "private" and item["status"]["publishAt"].endswith("Z")
    assert got["pageInfo"] == {"totalResults": 1, "resultsPerPage": 1}


def test_channel_list_response_matches_the_documented_list(world):
    _server, pub, _, _ = world
    got = pub.service.channels().list(part="snippet,contentDetails,statistics", mine=True).execute()
    assert shape_diff(documented("channel_list_response.json"), got) == []
    uploads = got["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
    assert uploads.startswith("UU") and uploads[2:] == got["items"][0]["id"][2:]


def test_playlist_item_list_response_matches_the_documented_list(world):
    _server, pub, _, _ = world
    got = pub.service.playlistItems().list(part="snippet,contentDetails,status", playlistId=pub.uploads_playlist(),
                                           maxResults=1).execute()
    assert shape_diff(documented("playlist_item_list_response.json"), got) == []
    assert "nextPageToken" in got


def test_quota_error_matches_the_documented_error(world):
    server, _pub, _, _ = world
    yt = youtube_of(server)
    saved = dict(yt.quota.policy.limits)
    yt.quota.policy.limits["default"] = 0
    try:
        r = httpx.get(server.url + "/youtube/v3/videos", params={"part": "statistics", "id": "AAAAAAAAAAA"},
                      headers={"Authorization": f"Bearer {server.config.api_keys[0]}"})
    finally:
        yt.quota.policy.limits.clear()
        yt.quota.policy.limits.update(saved)
    doc = documented("error_quota.json")
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/json")
    assert shape_diff(doc, r.json()) == []
    e = r.json()["error"]
    assert (e["code"], e["status"], e["errors"][0]["domain"], e["errors"][0]["reason"]) == \
        (403, "PERMISSION_DENIED", "youtube.quota", "quotaExceeded")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
def test_auth_error_matches_the_documented_error(world, headers):
    server = world[0]
    for method, path in (("GET", "/youtube/v3/videos?part=id&id=AAAAAAAAAAA"),
                         ("POST", "/upload/youtube/v3/videos?uploadType=resumable&part=snippet")):
        r = httpx.request(method, server.url + path, headers=headers)
        assert r.status_code == 401 and "WWW-Authenticate" in r.headers
        assert shape_diff(documented("error_auth.json"), r.json()) == []


def test_unknown_path_and_method_are_errors_in_googles_shape(world):
    server = world[0]
    auth = {"Authorization": f"Bearer {server.config.api_keys[0]}"}
    for method, path, status in (("GET", "/youtube/v3/nothing", 404), ("DELETE", "/youtube/v3/videos", 405)):
        r = httpx.request(method, server.url + path, headers=auth)
        assert r.status_code == status
        body = r.json()["error"]
        assert body["code"] == status and body["errors"][0]["reason"] and body["status"]
