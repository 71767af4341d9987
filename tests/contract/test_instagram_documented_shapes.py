"""Contract: the sandbox's Instagram answers have the shapes of the documented example responses in
tests/contract/fixtures/instagram/*.json (written from Meta's Instagram Platform reference, see its README):
the same keys for the fields asked for, the same JSON types, Graph's time format, the documented status
codes and error codes. A sandbox that drifts into a dialect of its own fails."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from actp_pipeline import creative
from actp_pipeline.sandbox import SandboxServer
from actp_pipeline.sandbox.routes.ads import GraphDialect
from tests.contract.test_meta_documented_shapes import same_shape
from tests.media import make_mp4, variant
from tests.sandbox.conftest import sandbox_config

FIXTURES = Path(__file__).parent / "fixtures" / "instagram"
START = datetime.fromisoformat("2025-03-01T12:00:00+00:00")
G = "/graph/v21.0"
STATUS_CODES = {"EXPIRED", "ERROR", "FINISHED", "IN_PROGRESS", "PUBLISHED"}


def documented(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fields_of(doc: dict) -> str:
    return ",".join(doc)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A sandbox whose IG user published one reel (through the raw HTTP flow) 30 hours ago."""
    reel = make_mp4(tmp_path_factory.mktemp("ig_shapes") / "reel.mp4", creative.descriptor_json(variant()), seconds=4)
    with SandboxServer(sandbox_config(seed=9, start=START)) as sb:
        key = sb.config.api_keys[0]
        with httpx.Client(base_url=sb.url, params={"access_token": key}, timeout=30) as c:
            user = c.get(f"{G}/me", params={"fields": "id"}).json()["id"]
            created = c.post(f"{G}/{user}/media", data={"media_type": "REELS", "upload_type": "resumable",
                                                        "caption": "Three ways to wear it #style"}).json()
            data = reel.read_bytes()
            upload = httpx.post(created["uri"], content=data, headers={
                "Authorization": f"OAuth {key}", "offset": "0", "file_size": str(len(data))})
            status = [c.get(f"{G}/{created['id']}", params={"fields": "status_code,status"}).json() for _ in range(2)]
            published = c.post(f"{G}/{user}/media_publish", data={"creation_id": created["id"]}).json()
            assert c.post("/sandbox/clock/advance", json={"hours": 30}).status_code == 200
            yield {"c": c, "user": user, "created": created, "upload": upload.json(), "status": status,
                   "published": published, "key": key}


def test_publishing_answers_like_instagram(world):
    c, user = world["c"], world["user"]
    same_shape(world["created"], documented("container_resumable"))
    assert world["created"]["uri"].endswith("/ig-api-upload/" + world["created"]["id"])
    same_shape(world["upload"], documented("upload_done"))
    first, second = world["status"]
    same_shape(second, documented("container_status"))
    assert first["status_code"] == "IN_PROGRESS" and second["status_code"] == "FINISHED"
    same_shape(world["published"], documented("media_publish"))
    assert world["published"]["id"].isdigit() and world["created"]["id"].isdigit()
    by_url = c.post(f"{G}/{user}/media", data={"media_type": "REELS", "video_url": "https://example.com/a.mp4"}).json()
    same_shape(by_url, documented("container_created"))
    failed = c.get(f"{G}/{by_url['id']}", params={"fields": "status_code,status"}).json()
    same_shape(failed, documented("container_error"))
    assert failed["status"].startswith("Error: ")
    published = c.get(f"{G}/{world['created']['id']}", params={"fields": "status_code"}).json()
    assert published["status_code"] in STATUS_CODES and published["status_code"] == "PUBLISHED"


def test_the_publishing_limit_answers_like_instagram(world):
    c, user = world["c"], world["user"]
    full = c.get(f"{G}/{user}/content_publishing_limit", params={"fields": "config,quota_usage"}).json()
    same_shape(full, documented("content_publishing_limit"))
    assert full["data"][0]["config"] == {"quota_total": 50, "quota_duration": 86400}
    same_shape(c.get(f"{G}/{user}/content_publishing_limit").json(), documented("content_publishing_limit_default"))


def test_media_and_insights_read_like_instagram(world):
    c, user, media_id = world["c"], world["user"], world["published"]["id"]
    doc = documented("media")
    got = c.get(f"{G}/{media_id}", params={"fields": fields_of(doc)}).json()
    same_shape(got, doc)
    assert got["permalink"].startswith("https://www.instagram.com/reel/")
    assert c.get(f"{G}/{media_id}").json() == {"id": media_id}  # without fields: the id only, as Graph answers
    listing = c.get(f"{G}/{user}/media", params={"fields": "id,caption,timestamp"}).json()
    same_shape(listing, documented("user_media"))
    doc = documented("insights")
    names = [row["name"] for row in doc["data"]]
    got = c.get(f"{G}/{media_id}/insights", params={"metric": ",".join(names)}).json()
    same_shape(got, doc)
    assert [row["name"] for row in got["data"]] == names
    assert all(row["id"] == f"{media_id}/insights/{row['name']}/lifetime" for row in got["data"])
    assert got["data"][0]["values"][0]["value"] > 0


def test_errors_answer_like_instagram(world):
    c, user = world["c"], world["user"]
    bad = httpx.get(world["c"].base_url.join(f"{G}/{user}/content_publishing_limit"),
                    params={"access_token": "wrong"})
    assert bad.status_code == 400
    same_shape(bad.json(), documented("error_bad_token"), keys=False)
    deprecated = c.get(f"{G}/{world['published']['id']}/insights", params={"metric": "plays"})
    assert deprecated.status_code == 400 and deprecated.json()["error"]["code"] == 100


def test_the_limit_error_answers_like_instagram(tmp_path):
    reel = make_mp4(tmp_path / "r.mp4", None, seconds=4)
    with SandboxServer(sandbox_config(seed=9, start=START)) as sb:
        graph = next(d for d in sb.api.dialects if isinstance(d, GraphDialect)).service
        graph.instagram.policy = dataclasses.replace(graph.instagram.policy, quota_total=0)
        key = sb.config.api_keys[0]
        with httpx.Client(base_url=sb.url, params={"access_token": key}, timeout=30) as c:
            user = c.get(f"{G}/me").json()["id"]
            cid = c.post(f"{G}/{user}/media", data={"media_type": "REELS", "upload_type": "resumable"}).json()["id"]
            data = reel.read_bytes()
            assert c.post(f"/graph/ig-api-upload/{cid}", content=data, headers={
                "Authorization": f"OAuth {key}", "offset": "0", "file_size": str(len(data))}).status_code == 200
            c.get(f"{G}/{cid}", params={"fields": "status_code"})
            r = c.post(f"{G}/{user}/media_publish", data={"creation_id": cid})
    assert r.status_code == 400
    same_shape(r.json(), documented("error_publishing_limit"))
    assert (r.json()["error"]["code"], r.json()["error"]["error_subcode"]) == (9, 2207042)
