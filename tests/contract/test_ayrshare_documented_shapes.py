"""The sandbox's Ayrshare answers against documented example responses (tests/contract/fixtures/ayrshare/,
written for this project after the examples of Ayrshare's API reference; README.md there says which page
each follows), and ACTP's adapter reading those documented answers without the sandbox (httpx.MockTransport).

Shapes are compared both ways: every documented field is served with the same JSON type, and the sandbox
serves no field the documents do not have, except the `error` copy every sandbox error carries for the
project's route fuzzer (see sandbox/ayrshare.py). Inside `analytics` the fixture's fields (remembered, not
in the consulted corpus) must be served; the sandbox may serve more. Values are compared where Ayrshare
fixes them: HTTP statuses, "success"/"error", code 156 for a network that is not linked, the rate-limit
headers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from actp_pipeline.publish.ayrshare import (
    AyrshareApiError,
    AyrsharePublisher,
    key_marker,
)
from actp_pipeline.publish.publisher import SendRefused
from actp_pipeline.sandbox.ayrshare import AyrsharePolicy
from tests.contract.test_ayrshare import (  # noqa: F401
    make_publisher,
    publish_two,
    raw,
    sandbox,
    service,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ayrshare"
SANDBOX_ONLY = {"error"}  # the route fuzzer's copy of code and message in every error body
OPTIONAL = {"notes", "shortenLinks", "description", "fileName"}


def documented(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {str: "string", float: "number", list: "array", dict: "object", type(None): "null"}[type(value)]


def shape_diff(doc: Any, got: Any, path: str = "$", *, subset: bool = False) -> list[str]:
    """Where `got` differs in shape from `doc` (JSON types; keys both ways unless `subset`; lists by their
    first element). Inside `analytics` only the documented keys are required."""
    if json_type(doc) != json_type(got):
        return [f"{path}: documented {json_type(doc)}, served {json_type(got)}"]
    out: list[str] = []
    if isinstance(doc, dict):
        for k in sorted(doc.keys() | got.keys()):
            if k not in got:
                if k not in OPTIONAL:
                    out.append(f"{path}.{k}: documented, not served")
            elif k not in doc:
                if not subset and k not in SANDBOX_ONLY and k not in OPTIONAL:
                    out.append(f"{path}.{k}: served, not documented")
            else:
                out += shape_diff(doc[k], got[k], f"{path}.{k}", subset=subset or k == "analytics")
    elif isinstance(doc, list) and doc and got:
        out += shape_diff(doc[0], got[0], f"{path}[0]", subset=subset)
    return out


def assert_shape(name: str, resp: httpx.Response) -> dict[str, Any]:
    doc = documented(name)
    assert resp.status_code == doc["http_status"], resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert shape_diff(doc["body"], body) == []
    return body


@pytest.fixture
def posted(sandbox, mp4_with_descriptor):  # noqa: F811
    """A post to tiktok and youtube through the adapter; (publisher, result)."""
    path, _ = mp4_with_descriptor
    with make_publisher(sandbox) as pub:
        yield pub, publish_two(pub, path, "k-documented")


# ----------------------------------------------------------------------------- the sandbox's shapes
def test_media_upload_and_post_answers(sandbox, mp4_with_descriptor):  # noqa: F811
    path, _ = mp4_with_descriptor
    up = raw(sandbox, "POST", "/api/media/upload", files={"file": ("serum_pov.mp4", path.read_bytes(), "video/mp4")},
             data={"fileName": "serum_pov.mp4", "description": "variant 3"})
    media = assert_shape("media_upload.json", up)
    assert media["url"].startswith("https://") and media["fileName"] == "serum_pov.mp4"
    ok = raw(sandbox, "POST", "/api/post", json={"post": "Three steps #skincare", "platforms": ["tiktok", "youtube"],
                                                 "mediaUrls": [media["url"]], "youTubeOptions": {"title": "Steps"}})
    body = assert_shape("post_success.json", ok)
    assert body["status"] == "success" and [p["status"] for p in body["postIds"]] == ["success", "success"]
    other = {"Profile-Key": service(sandbox).profile_keys()["main"]}  # a User Profile: not the Primary's posts
    assert raw(sandbox, "GET", "/api/history", headers=other).json() == {"history": []}

    no_video = raw(sandbox, "POST", "/api/post", json={"post": "x", "platforms": ["tiktok", "youtube"],
                                                       "mediaUrls": [media["url"]]})
    partial = assert_shape("post_partial.json", no_video)  # youtube without its required title
    assert [e["platform"] for e in partial["errors"]] == ["youtube"] and partial["postIds"][0]["platform"] == "tiktok"
    failed = raw(sandbox, "POST", "/api/post", json={"post": "x", "platforms": ["facebook", "linkedin"],
                                                     "mediaUrls": [media["url"]]})
    body = assert_shape("post_all_failed.json", failed)
    assert body["postIds"] == [] and {e["code"] for e in body["errors"]} == {156}


def test_get_post_history_delete_and_analytics_answers(sandbox, posted):  # noqa: F811
    _, result = posted
    ayr = result["ayrshare_id"]
    got = assert_shape("get_post.json", raw(sandbox, "GET", f"/api/post/{ayr}"))
    assert got["status"] == "success" and got["type"] == "now"
    assert shape_diff(documented("get_post.json")["body"], raw(sandbox, "GET", f"/api/history/{ayr}").json()) == []
    history = assert_shape("history.json", raw(sandbox, "GET", "/api/history", params={"limit": 5, "lastDays": 0}))
    assert history["history"][0]["notes"] == key_marker("k-documented")
    analytics = assert_shape("analytics_post.json", raw(sandbox, "POST", "/api/analytics/post",
                                                        json={"id": ayr, "platforms": ["tiktok", "youtube"]}))
    assert analytics["status"] == "success" and analytics["id"] == ayr
    only = raw(sandbox, "POST", "/api/analytics/post", json={"id": ayr, "platforms": ["youtube"]}).json()
    assert set(only) == {"youtube", "status", "id"}
    social = raw(sandbox, "POST", "/api/analytics/post", json={
        "id": result["posts"]["tiktok"]["social_id"], "platforms": ["tiktok"], "searchPlatformId": True}).json()
    assert social["tiktok"]["id"] == result["posts"]["tiktok"]["social_id"]
    # youtube can be deleted through its API, tiktok cannot (400 with the per-network answers)
    resp = raw(sandbox, "DELETE", "/api/post", json={"id": ayr})
    assert resp.status_code == 400
    body = resp.json()
    assert shape_diff(documented("delete.json")["body"]["youtube"], body["youtube"]) == []
    assert body["tiktok"]["status"] == "error" and isinstance(body["tiktok"]["code"], int)


def test_error_answers(sandbox):  # noqa: F811
    assert_shape("error_api_key.json", raw(sandbox, "GET", "/api/history", key="wrong"))
    svc = service(sandbox)
    svc.policy = AyrsharePolicy(requests_per_window=1)
    assert raw(sandbox, "GET", "/api/history").status_code == 200
    resp = raw(sandbox, "GET", "/api/history")
    assert_shape("error_rate_limit.json", resp)
    for name in documented("error_rate_limit.json")["headers"]:
        assert resp.headers[name].isdigit()
    assert "retry-after" not in resp.headers  # Ayrshare documents none
    for method, path, kw in [("GET", "/api/post/nope", {}), ("GET", "/api/nope", {}),
                             ("POST", "/api/post", {"content": b"{not json"}), ("PUT", "/api/post", {})]:
        svc.policy = AyrsharePolicy()
        resp = raw(sandbox, method, path, **kw)
        assert 400 <= resp.status_code < 500
        body = resp.json()
        assert body["status"] == "error" and isinstance(body["code"], int) and body["message"]


# --------------------------------------------------------------- the adapter on documented answers
def mock_publisher(answers: dict[tuple[str, str], dict[str, Any]], seen: list[httpx.Request] | None = None,
                   **kw) -> AyrsharePublisher:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        doc = answers.get((request.method, request.url.path))
        if doc is None:
            return httpx.Response(404, json={"action": "request", "status": "error", "code": 104, "message": "?"})
        return httpx.Response(doc["http_status"], json=doc["body"], headers=doc.get("headers"))

    return AyrsharePublisher("doc-key", base_url="https://api.ayrshare.test", transport=httpx.MockTransport(handle),
                             **kw)


EMPTY_HISTORY = {"http_status": 200, "body": {"history": []}}


def test_adapter_reads_documented_post_answers(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    seen: list[httpx.Request] = []
    answers = {("GET", "/api/history"): EMPTY_HISTORY, ("POST", "/api/media/upload"): documented("media_upload.json"),
               ("POST", "/api/post"): documented("post_success.json")}
    with mock_publisher(answers, seen, profile_key="PK-1") as pub:
        result = pub.publish_to(["tiktok", "youtube"], media_path=video, caption="Three steps", hashtags=["skincare"],
                                scheduled_at=None, idempotency_key="k1")
    assert result["ayrshare_id"] == "Kp3NwQ8zRt5YbV1mXc7D"
    assert result["posts"]["tiktok"]["social_id"] == "7345012345678901234"
    assert result["posts"]["youtube"]["url"] == "https://youtube.com/shorts/dQ3xYt9KpLm"
    sent = json.loads(seen[-1].content)
    assert sent["platforms"] == ["tiktok", "youtube"] and sent["notes"] == key_marker("k1")
    assert sent["mediaUrls"] == [documented("media_upload.json")["body"]["url"]]
    assert sent["youTubeOptions"]["title"] == "Three steps" and sent["post"] == "Three steps #skincare"
    assert all(r.headers["Authorization"] == "Bearer doc-key" and r.headers["Profile-Key"] == "PK-1" for r in seen)

    answers[("POST", "/api/post")] = documented("post_partial.json")
    with mock_publisher(answers) as pub:
        partial = pub.publish_to(["tiktok", "youtube"], media_path=video, caption="x", hashtags=[],
                                 scheduled_at=None, idempotency_key="k2")
    assert set(partial["posts"]) == {"tiktok"} and partial["errors"]["youtube"]["code"] == 156

    answers[("POST", "/api/post")] = documented("post_all_failed.json")
    with mock_publisher(answers) as pub, pytest.raises(AyrshareApiError) as e:
        pub.publish_to(["tiktok", "youtube"], media_path=video, caption="x", hashtags=[], scheduled_at=None,
                       idempotency_key="k3")
    assert e.value.code == 156 and not e.value.retryable and len(e.value.errors) == 2

    answers[("POST", "/api/post")] = documented("error_rate_limit.json")
    with mock_publisher(answers) as pub, pytest.raises(SendRefused) as limited:
        pub.publish_to(["tiktok"], media_path=video, caption="x", hashtags=[], scheduled_at=None,
                       idempotency_key="k4")
    assert limited.value.wait_s == 300
    assert pub.rate_limit == {"x-ratelimit-max": 300, "x-ratelimit-count": 300}

    answers[("POST", "/api/post")] = documented("error_api_key.json")
    with mock_publisher(answers) as pub, pytest.raises(AyrshareApiError) as bad_key:
        pub.publish_to(["tiktok"], media_path=video, caption="x", hashtags=[], scheduled_at=None,
                       idempotency_key="k5")
    assert bad_key.value.status == 401 and bad_key.value.code == 102


def test_adapter_reads_documented_history_and_analytics():
    history = documented("history.json")
    history["body"]["history"][0]["notes"] = key_marker("k-found")
    analytics = documented("analytics_post.json")
    answers = {("GET", "/api/history"): history, ("POST", "/api/analytics/post"): analytics}
    with mock_publisher(answers) as pub:
        found = pub.find_post("k-found")
        assert found is not None and found["ayrshare_id"] == "Kp3NwQ8zRt5YbV1mXc7D"
        assert set(found["posts"]) == {"tiktok", "youtube"}
        assert pub.find_post("k-other") is None
        ids = ["Kp3NwQ8zRt5YbV1mXc7D:tiktok", "Kp3NwQ8zRt5YbV1mXc7D:youtube"]
        items = {i["post_id"]: i for i in pub.metrics(ids)["items"]}
    assert (items[ids[0]]["views"], items[ids[0]]["likes"], items[ids[0]]["comments"], items[ids[0]]["shares"]) == (
        18234, 912, 48, 77)
    assert (items[ids[1]]["views"], items[ids[1]]["likes"], items[ids[1]]["comments"], items[ids[1]]["shares"]) == (
        5120, 201, 19, 12)
    # a count the answer does not carry is unknown, never 0
    del analytics["body"]["youtube"]["analytics"]["shares"]
    del analytics["body"]["tiktok"]
    with mock_publisher(answers) as pub:
        items = {i["post_id"]: i for i in pub.metrics(ids)["items"]}
    assert items[ids[1]]["shares"] is None and items[ids[1]]["views"] == 5120
    assert items[ids[0]]["status"] == "unavailable" and items[ids[0]]["views"] is None
