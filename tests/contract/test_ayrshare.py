"""Contract: ACTP's Ayrshare adapter (publish/ayrshare.py, httpx) drives the sandbox's Ayrshare dialect over
HTTP through the whole round trip: media upload -> one post to two networks -> a post id per network ->
analytics that grow over sandbox time; and the refusals: one network refusing while the other posts, the
per-profile rate limit, a bad API key or Profile-Key in Ayrshare's error shape, a post whose answer was
lost, a duplicate publish with the same idempotency key, a scheduled post, a delete.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest

from actp_pipeline.publish.ayrshare import (
    AyrshareApiError,
    AyrsharePublisher,
    key_marker,
)
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError, SendRefused
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.ayrshare import AyrsharePolicy
from actp_pipeline.sandbox.routes.ayrshare import AyrshareDialect
from actp_pipeline.sandbox.routes.tiktok import TikTokDialect

START = datetime.fromisoformat("2025-03-01T12:00:00+00:00")
# "solo" has a TikTok account only: its User Profile links tiktok and nothing else
ACCOUNTS = {"tiktok": ["main", "solo"], "instagram": ["main"], "youtube": ["main"]}


@pytest.fixture
def sandbox():
    with SandboxServer(WorldConfig(start=START, truth_token="truth-for-tests", accounts=ACCOUNTS)) as server:
        yield server


def service(server: SandboxServer):
    return next(d for d in server.api.dialects if isinstance(d, AyrshareDialect)).service


def advance(server: SandboxServer, hours: float) -> None:
    httpx.post(server.url + "/sandbox/clock/advance", json={"hours": hours}, timeout=30).raise_for_status()


def make_publisher(server: SandboxServer, key: str | None = None, **kw) -> AyrsharePublisher:
    return AyrsharePublisher(key or server.config.api_keys[0], base_url=server.url, clock=server.clock.now, **kw)


def raw(server: SandboxServer, method: str, path: str, key: str | None = None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or server.config.api_keys[0]}", **kw.pop("headers", {})}
    return httpx.request(method, server.url + path, headers=headers, timeout=30, **kw)


def publish_two(pub: AyrsharePublisher, path, key: str, **kw):
    return pub.publish_to(["tiktok", "youtube"], media_path=path, caption="POV: the serum that works",
                          hashtags=["skincare"], scheduled_at=kw.pop("scheduled_at", None), idempotency_key=key, **kw)


def world_posts(server: SandboxServer, ayrshare_id: str) -> list[dict]:
    return [p for p in server.state.list_posts() if p["idempotency_key"].startswith(f"ayrshare:{ayrshare_id}:")]


def by_post(metrics: dict) -> dict[str, dict]:
    return {i["post_id"]: i for i in metrics["items"]}


def test_round_trip_upload_post_to_two_networks_and_growing_analytics(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    calls: list[str] = []
    with make_publisher(sandbox) as pub:
        pub._http.event_hooks["request"].append(lambda r: calls.append(f"{r.method} {r.url.path}"))
        result = publish_two(pub, path, "k-round-trip", before_send=lambda: calls.append("before_send"))
        # look up the key, upload, then the fence immediately before the one call that creates the post
        assert calls == ["GET /api/history", "POST /api/media/upload", "before_send", "POST /api/post"]
        assert result["status"] == "success" and result["errors"] == {}
        ayr = result["ayrshare_id"]
        assert len(ayr) == 20 and ayr.isalnum()
        posts = result["posts"]
        assert set(posts) == {"tiktok", "youtube"}
        assert posts["tiktok"]["post_id"] == f"{ayr}:tiktok" and posts["youtube"]["post_id"] == f"{ayr}:youtube"
        assert posts["tiktok"]["social_id"].isdigit() and len(posts["tiktok"]["social_id"]) == 19
        assert posts["tiktok"]["url"].endswith(posts["tiktok"]["social_id"])
        assert len(posts["youtube"]["social_id"]) == 11 and posts["youtube"]["social_id"] in posts["youtube"]["url"]

        # each network is a real post of the world, made once, with the post text and the media's creative
        made = {p["platform"]: p for p in world_posts(sandbox, ayr)}
        assert set(made) == {"tiktok", "youtube"}
        assert all(p["create_calls"] == 1 and p["caption"] == "POV: the serum that works #skincare"
                   for p in made.values())
        assert all(p["hashtags"] == ["skincare"] for p in made.values())
        # the TikTok id is the one the sandbox's TikTok dialect gives the same world post
        tiktok = next(d for d in sandbox.api.dialects if isinstance(d, TikTokDialect)).service
        assert tiktok.video_id(made["tiktok"]["post_id"]) == posts["tiktok"]["social_id"]
        # the notes carry the key's marker, found again through /history
        assert raw(sandbox, "GET", f"/api/post/{ayr}").json()["notes"] == key_marker("k-round-trip")

        ids = [posts["tiktok"]["post_id"], posts["youtube"]["post_id"]]
        advance(sandbox, 2)
        early = by_post(pub.metrics(ids))
        advance(sandbox, 46)
        late = by_post(pub.metrics(ids))
        for pid in ids:
            for name in ("views", "likes", "comments", "shares"):
                assert isinstance(early[pid][name], int) and isinstance(late[pid][name], int)
            assert late[pid]["status"] == "live"
            assert late[pid]["views"] > early[pid]["views"] > 0
            assert late[pid]["likes"] >= early[pid]["likes"]
        # the analytics are the world's own counts for those posts
        truth = sandbox.api.publishing.metrics(made["tiktok"])
        assert late[ids[0]]["views"] == truth["views"] and late[ids[0]]["likes"] == truth["likes"]
        # a bare Ayrshare id reads the post across its networks: the sum, and each network under "networks"
        both = pub.metrics([ayr])["items"]
        assert [i["post_id"] for i in both] == [ayr]
        assert set(both[0]["networks"]) == {"tiktok", "youtube"}
        assert both[0]["views"] == late[ids[0]]["views"] + late[ids[1]]["views"]
        assert pub.metrics([f"{'Z' * 20}:tiktok"])["unknown"] == [f"{'Z' * 20}:tiktok"]


def test_single_network_publish_is_a_publisher(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    with make_publisher(sandbox) as pub:
        post = pub.publish(media_path=path, platform="instagram", account="main", caption="Glow in 3 steps",
                           hashtags=["#glow"], scheduled_at=None, idempotency_key="k-single")
        assert post["platform"] == "instagram" and post["post_id"].endswith(":instagram")
        assert post["url"] and post["live_at"] and post["status"] == "live"
        found = pub.find_post("k-single")
        assert found is not None and found["post_id"] == post["post_id"]
        assert pub.find_post("k-never-posted") is None
        advance(sandbox, 24)
        item = pub.metrics([post["post_id"]])["items"][0]
        assert item["views"] > 0 and all(isinstance(item[k], int) for k in ("likes", "comments", "shares"))


def test_one_network_refuses_and_the_other_posts(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    solo = service(sandbox).profile_keys()["solo"]
    with make_publisher(sandbox, profile_key=solo) as pub:
        result = publish_two(pub, path, "k-partial")
        assert set(result["posts"]) == {"tiktok"}
        assert result["status"] == "error"
        assert result["errors"]["youtube"]["code"] == 156  # not linked
        made = world_posts(sandbox, result["ayrshare_id"])
        assert [(p["platform"], p["account"]) for p in made] == [("tiktok", "solo")]
        # what Ayrshare answered: HTTP 400, the refused network in errors, the other in postIds
        with pytest.raises(AyrshareApiError) as e:
            pub.publish(media_path=path, platform="youtube", account="solo", caption="x", hashtags=[],
                        scheduled_at=None, idempotency_key="k-youtube-only")
        assert e.value.code == 156 and not e.value.retryable
    resp = raw(sandbox, "POST", "/api/post", headers={"Profile-Key": solo},
               json={"post": "hi", "platforms": ["tiktok", "youtube"],
                     "mediaUrls": [raw(sandbox, "GET", f"/api/post/{result['ayrshare_id']}",
                                       headers={"Profile-Key": solo}).json()["mediaUrls"][0]]})
    assert resp.status_code == 400
    body = resp.json()
    assert body["status"] == "error" and [p["platform"] for p in body["postIds"]] == ["tiktok"]
    assert [(e["platform"], e["action"], e["status"], e["code"]) for e in body["errors"]] == [
        ("youtube", "post", "error", 156)]
    # the profile's posts are its own: the Primary Profile does not see them
    assert raw(sandbox, "GET", f"/api/post/{result['ayrshare_id']}").status_code == 404


def test_rate_limit_refuses_the_create_call_and_defers_metrics(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    svc = service(sandbox)
    svc.policy = dataclasses.replace(svc.policy, requests_per_window=2)  # history + upload, then the post
    sent: list[str] = []
    with make_publisher(sandbox) as pub:
        with pytest.raises(SendRefused) as e:
            publish_two(pub, path, "k-limited", before_send=lambda: sent.append("before_send"))
        assert e.value.reason == "rate_limit" and e.value.wait_s == 300 and not e.value.sent
        assert sent == ["before_send"] and sandbox.state.list_posts() == []
        assert pub.rate_limit == {"x-ratelimit-max": 2, "x-ratelimit-count": 2}
        with pytest.raises(SendRefused) as again:  # now the look-up itself is refused: no fence, no post
            publish_two(pub, path, "k-limited", before_send=lambda: sent.append("before_send"))
        assert again.value.wait_s == 300 and sent == ["before_send"]
        resp = raw(sandbox, "GET", "/api/history")
        assert resp.status_code == 429 and resp.headers["x-ratelimit-max"] == "2"
        body = resp.json()
        assert body["status"] == "error" and isinstance(body["code"], int) and body["message"]

        advance(sandbox, 5 / 60)  # the 5-minute window passes
        svc.policy = AyrsharePolicy(requests_per_window=3)
        result = publish_two(pub, path, "k-limited")
        ids = [p["post_id"] for p in result["posts"].values()]
        out = pub.metrics(ids + ["Q" * 20 + ":tiktok"])  # the window is full: nothing is asked
        assert out["deferred"] == ids + ["Q" * 20 + ":tiktok"] and out["items"] == []
        with pytest.raises(AyrshareApiError) as e2:
            pub.find_post("k-limited")
        assert e2.value.status == 429 and e2.value.retryable and e2.value.retry_after_s == 300


def test_bad_key_and_bad_profile_key_in_ayrshare_shape(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    with make_publisher(sandbox, key="not-a-key") as pub:
        with pytest.raises(AyrshareApiError) as e:
            publish_two(pub, path, "k-bad-key")
        assert e.value.status == 401 and e.value.code == 102 and not e.value.retryable
    with make_publisher(sandbox, profile_key="AAAAAAAA-BBBBBBBB-CCCCCCCC-DDDDDDDD") as pub:
        with pytest.raises(PlatformError) as e3:
            pub.metrics(["x" * 20 + ":tiktok"])
        assert e3.value.status == 403 and not e3.value.retryable
    for headers in ({"Authorization": "Bearer not-a-key"}, {}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        resp = httpx.post(sandbox.url + "/api/post", json={"post": "x", "platforms": ["tiktok"]}, headers=headers)
        assert resp.status_code == 401
        body = resp.json()
        assert body["status"] == "error" and body["code"] == 102 and isinstance(body["message"], str)
    assert sandbox.state.list_posts() == []


class LoseTheAnswer(httpx.HTTPTransport):
    """Sends POST /api/post to the sandbox, then loses its answer (a read timeout) the first time."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = super().handle_request(request)
        if request.method == "POST" and request.url.path == "/api/post" and not self.lost:
            resp.read()
            resp.close()
            self.lost += 1
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return resp


def test_duplicate_publish_and_a_lost_answer_post_once(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    transport = LoseTheAnswer()
    with make_publisher(sandbox, transport=transport) as pub:
        with pytest.raises(AmbiguousOutcome):
            publish_two(pub, path, "k-lost")
        assert transport.lost == 1
        # the worker retries: the post is found by the marker in its notes, not made again
        again = publish_two(pub, path, "k-lost")
        assert set(again["posts"]) == {"tiktok", "youtube"}
        made = world_posts(sandbox, again["ayrshare_id"])
        assert len(made) == 2 and all(p["create_calls"] == 1 for p in made)
        # a second publish with the same key returns the first post
        third = publish_two(pub, path, "k-lost")
        assert third["ayrshare_id"] == again["ayrshare_id"]
        assert third["posts"]["tiktok"]["post_id"] == again["posts"]["tiktok"]["post_id"]
        assert len(sandbox.state.list_posts()) == 2
        history = pub.history()
        assert [h["id"] for h in history] == [again["ayrshare_id"]]


def test_scheduled_post_is_pending_then_live(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    with make_publisher(sandbox) as pub:
        when = sandbox.clock.now() + timedelta(hours=3)
        result = publish_two(pub, path, "k-later", scheduled_at=when)
        assert result["status"] == "scheduled"
        assert {p["status"] for p in result["posts"].values()} == {"scheduled"}
        ayr = result["ayrshare_id"]
        shown = raw(sandbox, "GET", f"/api/post/{ayr}").json()
        assert shown["status"] == "pending" and shown["postIds"] == [] and shown["type"] == "scheduled"
        ids = [p["post_id"] for p in result["posts"].values()]
        pending = pub.metrics(ids)
        assert [(i["status"], i["views"], i["likes"]) for i in pending["items"]] == [("scheduled", None, None)] * 2
        assert pub.find_post("k-later")["ayrshare_id"] == ayr  # found while still pending
        advance(sandbox, 4)
        shown = raw(sandbox, "GET", f"/api/post/{ayr}").json()
        assert shown["status"] == "success" and {p["platform"] for p in shown["postIds"]} == {"tiktok", "youtube"}
        live = pub.metrics(ids)["items"]
        assert all(i["status"] == "live" and i["views"] > 0 for i in live)


def test_delete_and_history_filters(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    with make_publisher(sandbox) as pub:
        yt = pub.publish(media_path=path, platform="youtube", account="main", caption="Title line\nmore",
                         hashtags=[], scheduled_at=None, idempotency_key="k-yt")
        tt = pub.publish(media_path=path, platform="tiktok", account="main", caption="tt", hashtags=[],
                         scheduled_at=None, idempotency_key="k-tt")
        assert [h["id"] for h in pub.history()] == [tt["ayrshare_id"], yt["ayrshare_id"]]  # newest first
        assert [h["id"] for h in pub.history(platforms="youtube")] == [yt["ayrshare_id"]]
        assert pub.delete(yt["ayrshare_id"])["youtube"]["status"] == "success"
        with pytest.raises(AyrshareApiError) as e:  # TikTok cannot delete a published post through its API
            pub.delete(tt["ayrshare_id"])
        assert e.value.status == 400
        assert [h["id"] for h in pub.history()] == [tt["ayrshare_id"]]
        assert [h["id"] for h in pub.history(status="deleted")] == [yt["ayrshare_id"]]
        assert pub.find_post("k-yt") is None  # a deleted post may be posted again
        gone = pub.metrics([yt["post_id"]])["items"][0]
        assert gone["status"] == "deleted" and gone["views"] is None


def test_platform_aggregator_posts_to_every_network_of_the_profile(sandbox, mp4_with_descriptor, monkeypatch):
    path, _ = mp4_with_descriptor
    monkeypatch.setenv("ACTP_AGGREGATOR_NETWORKS", "tiktok, instagram")
    monkeypatch.setenv("ACTP_AGGREGATOR_PROFILE_KEY_SOLO", service(sandbox).profile_keys()["solo"])
    ctx = SimpleNamespace(token=lambda platform: sandbox.config.api_keys[0],
                          settings=SimpleNamespace(dialect_url=lambda platform: sandbox.url),
                          aware_clock=lambda: sandbox.clock.now)
    with AyrsharePublisher.for_dialect(ctx, "main") as pub:
        assert pub.networks == ("tiktok", "instagram")
        post = pub.publish(media_path=path, platform="aggregator", account="main", caption="Day 3 of the routine",
                           hashtags=["skincare"], scheduled_at=None, idempotency_key="k-aggregate")
        assert post["platform"] == "aggregator" and post["post_id"] == post["ayrshare_id"] and post["live_at"]
        assert set(post["posts"]) == {"tiktok", "instagram"} and post["errors"] == {}
        assert pub.find_post("k-aggregate")["ayrshare_id"] == post["post_id"]
        advance(sandbox, 12)
        item = pub.metrics([post["post_id"]])["items"][0]
        assert item["views"] == sum(n["views"] for n in item["networks"].values()) > 0
    with AyrsharePublisher.for_dialect(ctx, "solo") as solo:  # this profile links tiktok only
        partial = solo.publish(media_path=path, platform="aggregator", account="solo", caption="x", hashtags=[],
                               scheduled_at=None, idempotency_key="k-aggregate-solo")
        assert set(partial["posts"]) == {"tiktok"} and partial["errors"]["instagram"]["code"] == 156
