"""The sandbox's TikTok responses against documented example responses (tests/contract/fixtures/tiktok/),
written for this project after the field tables of TikTok's Content Posting API reference (creator_info/
query, Direct Post video/init, status/fetch), the Display API's video/query and video/list, and the v2
error-handling page (error struct: code, message, log_id; codes with their HTTP statuses).

Shapes are compared both ways: every documented field is served with the same JSON type, and the sandbox
serves no field the documents do not have. Values are compared where TikTok fixes them: error codes and
HTTP statuses, "ok" with an empty message on success, status and privacy enums, a log_id on every answer,
the spelling `publicaly_available_post_id`, video ids as strings in video/query but int64 numbers in
status/fetch.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.tiktok import PRIVACY_LEVELS, STATUSES
from tests.contract.test_tiktok import START, advance, raw, service

FIXTURES = Path(__file__).parent / "fixtures" / "tiktok"
# present only in some answers: fail_reason (FAILED), publicaly_available_post_id (PUBLISH_COMPLETE);
# video/query's cursor/has_more (the sandbox sends them as video/list does; the query example has only videos)
OPTIONAL = {"fail_reason", "publicaly_available_post_id", "cursor", "has_more"}
LOG_ID = re.compile(r"^\d{14}[0-9A-F]{20}$")
QUERY_FIELDS = "id,create_time,view_count,like_count,comment_count,share_count"


@pytest.fixture
def sandbox():
    with SandboxServer(WorldConfig(start=START, truth_token="truth-for-tests")) as server:
        yield server


def documented(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {str: "string", float: "number", list: "array", dict: "object", type(None): "null"}[type(value)]


def shape_diff(doc: Any, got: Any, path: str = "$") -> list[str]:
    """Where `got` differs in shape from `doc` (JSON types, keys both ways; lists by their first element)."""
    if json_type(doc) != json_type(got):
        return [f"{path}: documented {json_type(doc)}, served {json_type(got)}"]
    if isinstance(doc, dict):
        out = []
        for k in sorted(doc.keys() | got.keys()):
            if k not in got and k not in OPTIONAL:
                out.append(f"{path}.{k}: documented, not served")
            elif k not in doc and k not in OPTIONAL:
                out.append(f"{path}.{k}: served, not documented")
            elif k in doc and k in got:
                out += shape_diff(doc[k], got[k], f"{path}.{k}")
        return out
    if isinstance(doc, list) and doc and got:
        return shape_diff(doc[0], got[0], f"{path}[0]")
    return []


def check_ok(doc_name: str, resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert shape_diff(documented(doc_name), body) == []
    assert body["error"]["code"] == "ok" and body["error"]["message"] == ""
    assert LOG_ID.match(body["error"]["log_id"])
    return body["data"]


def check_error(doc_name: str, resp: httpx.Response) -> None:
    doc = documented(doc_name)
    assert resp.status_code == doc["http_status"], resp.text
    body = resp.json()
    assert shape_diff(doc["body"], body) == []
    assert body["error"]["code"] == doc["body"]["error"]["code"] and body["data"] == {}
    assert LOG_ID.match(body["error"]["log_id"])


def test_fixtures_are_well_formed():
    names = sorted(p.name for p in FIXTURES.glob("*.json"))
    assert len(names) >= 12
    for name in names:
        doc = documented(name)
        body = doc.get("body", doc)
        assert set(body) == {"data", "error"} and set(body["error"]) == {"code", "message", "log_id"}


def test_publish_flow_answers_have_the_documented_shapes(sandbox, mp4_with_descriptor, tmp_path):
    path, _ = mp4_with_descriptor
    info = check_ok("creator_info_response.json", raw(sandbox, "/v2/post/publish/creator_info/query/"))
    assert set(info["privacy_level_options"]) <= set(PRIVACY_LEVELS)

    size = path.stat().st_size
    init = check_ok("video_init_response.json", raw(sandbox, "/v2/post/publish/video/init/", {
        "post_info": {"title": "shape check #skincare", "privacy_level": "PUBLIC_TO_EVERYONE",
                      "disable_comment": False, "disable_duet": False, "disable_stitch": True,
                      "video_cover_timestamp_ms": 0},
        "source_info": {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": size, "total_chunk_count": 1}}))
    status = check_ok("status_fetch_processing_upload.json",
                      raw(sandbox, "/v2/post/publish/status/fetch/", {"publish_id": init["publish_id"]}))
    assert status["status"] == "PROCESSING_UPLOAD" and status["uploaded_bytes"] == 0

    put = httpx.put(init["upload_url"], content=path.read_bytes(),
                    headers={"Content-Type": "video/mp4", "Content-Range": f"bytes 0-{size - 1}/{size}"})
    assert put.status_code == 201
    done = check_ok("status_fetch_publish_complete.json",
                    raw(sandbox, "/v2/post/publish/status/fetch/", {"publish_id": init["publish_id"]}))
    assert done["status"] in STATUSES and done["publicaly_available_post_id"] == []  # moderation still runs
    advance(sandbox, 1)
    done = check_ok("status_fetch_publish_complete.json",
                    raw(sandbox, "/v2/post/publish/status/fetch/", {"publish_id": init["publish_id"]}))
    [video_id] = done["publicaly_available_post_id"]
    assert isinstance(video_id, int) and 0 < video_id < 2**63

    query = check_ok("video_query_response.json", raw(sandbox, f"/v2/video/query/?fields={QUERY_FIELDS}",
                                                      {"filters": {"video_ids": [str(video_id)]}}))
    assert [v["id"] for v in query["videos"]] == [str(video_id)]
    listing = check_ok("video_list_response.json", raw(sandbox, "/v2/video/list/?fields=id,title,create_time,share_url",
                                                       {"max_count": 20}))
    assert listing["videos"][0]["id"] == str(video_id) and listing["has_more"] is False
    assert isinstance(listing["cursor"], int)

    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 50)
    n = junk.stat().st_size
    bad = raw(sandbox, "/v2/post/publish/video/init/", {
        "post_info": {"title": "junk", "privacy_level": "SELF_ONLY"},
        "source_info": {"source": "FILE_UPLOAD", "video_size": n, "chunk_size": n, "total_chunk_count": 1}}).json()
    httpx.put(bad["data"]["upload_url"], content=junk.read_bytes(),
              headers={"Content-Type": "video/mp4", "Content-Range": f"bytes 0-{n - 1}/{n}"}).raise_for_status()
    failed = check_ok("status_fetch_failed.json",
                      raw(sandbox, "/v2/post/publish/status/fetch/", {"publish_id": bad["data"]["publish_id"]}))
    assert failed["status"] == "FAILED" and failed["fail_reason"] == "file_format_check_failed"


def test_error_answers_have_the_documented_codes_and_statuses(sandbox):
    check_error("error_access_token_invalid.json", raw(sandbox, "/v2/post/publish/creator_info/query/", token="x"))
    check_error("error_invalid_params.json", raw(sandbox, "/v2/post/publish/video/init/", {"post_info": {}}))
    check_error("error_invalid_params.json", raw(sandbox, "/v2/video/query/", {"filters": {"video_ids": ["1"]}}))
    check_error("error_url_ownership_unverified.json", raw(sandbox, "/v2/post/publish/video/init/", {
        "post_info": {"title": "x", "privacy_level": "SELF_ONLY"},
        "source_info": {"source": "PULL_FROM_URL", "video_url": "https://example.com/a.mp4"}}))
    answers = [raw(sandbox, "/v2/post/publish/creator_info/query/") for _ in range(21)]  # 20 a minute
    assert [a.status_code for a in answers[:20]] == [200] * 20
    check_error("error_rate_limit_exceeded.json", answers[20])


def test_daily_cap_answer_has_the_documented_code(sandbox):
    tt = service(sandbox)
    tt.policy = dataclasses.replace(tt.policy, daily_post_cap=0)
    check_error("error_spam_risk_too_many_posts.json", raw(sandbox, "/v2/post/publish/creator_info/query/"))


@pytest.mark.parametrize("name", ["video_init_response.json", "status_fetch_publish_complete.json"])
def test_documented_examples_parse_with_the_adapter(name):
    """The adapter reads the documented examples themselves (not only the sandbox's answers)."""
    from actp_pipeline.publish.tiktok import TikTokPublisher

    doc = documented(name)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=doc))
    with TikTokPublisher("token", base_url="https://open.tiktokapis.com", transport=transport) as pub:
        if name.startswith("status"):
            post = pub._post("v_pub_file~v2-1.1", pub.fetch_status("v_pub_file~v2-1.1"), "k", live_at=None)
            assert post["video_id"] == "7350000000000000123" and post["status"] == "live"
        else:
            data = pub._call("/v2/post/publish/video/init/", body={}, side_effect=True)
            assert data["publish_id"].startswith("v_pub_file~")
