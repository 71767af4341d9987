"""Contract: Meta's official SDK (`facebook-business`: IGUser, ShadowIGMediaBuilder, IGMedia), driven by
ACTP's Instagram adapter (publish/instagram.py), runs the sandbox's Instagram dialect unchanged, only its
base URL overridden: container -> resumable upload -> IN_PROGRESS -> FINISHED -> media_publish ->
permalink -> insights that grow over sandbox time; the publishing limit read at run time and enforced over
a rolling 24 h; an ERROR container; a duplicate publish and a lost media_publish answer with the same
idempotency key give the first reel; a bad token in Graph's error shape."""

from __future__ import annotations

import dataclasses
import warnings
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import requests
from facebook_business.adobjects.igmedia import IGMedia
from facebook_business.adobjects.iguser import IGUser
from facebook_business.adobjects.shadowigmediabuilder import ShadowIGMediaBuilder
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from actp_pipeline import creative
from actp_pipeline.publish.instagram import InstagramPublisher, key_marker
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError, SendRefused
from actp_pipeline.sandbox import SandboxServer
from actp_pipeline.sandbox.routes.ads import GraphDialect
from tests.media import make_mp4, other_variant, variant
from tests.sandbox.conftest import sandbox_config
from tests.sandbox_posts import truth_metrics

START = datetime.fromisoformat("2025-03-01T12:00:00+00:00")
V = "v21.0"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the SDK's type-checker notes


@pytest.fixture(scope="module")
def reel(tmp_path_factory) -> Path:
    """A 4-second MP4 with a creative descriptor (Reels last at least 3 seconds)."""
    return make_mp4(tmp_path_factory.mktemp("ig") / "reel.mp4", creative.descriptor_json(variant()), seconds=4)


@pytest.fixture(scope="module")
def other_reel(tmp_path_factory) -> Path:
    return make_mp4(tmp_path_factory.mktemp("ig") / "reel_b.mp4", creative.descriptor_json(other_variant()),
                    seconds=4, color="white")


@pytest.fixture
def sandbox():
    with SandboxServer(sandbox_config(seed=7, start=START)) as server:
        yield server


def key(server: SandboxServer) -> str:
    return server.config.api_keys[0]


def ig_service(server: SandboxServer):
    return next(d for d in server.api.dialects if isinstance(d, GraphDialect)).service.instagram


def ig_user_id(server: SandboxServer) -> str:
    r = httpx.get(f"{server.url}/graph/{V}/me", params={"access_token": key(server), "fields": "id,username"})
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "main"
    return r.json()["id"]


def sdk_api(server: SandboxServer, token: str | None = None) -> FacebookAdsApi:
    session = FacebookSession(access_token=token or key(server))
    session.GRAPH = server.url + "/graph"
    return FacebookAdsApi(session, V)


def advance(server: SandboxServer, hours: float) -> None:
    httpx.post(server.url + "/sandbox/clock/advance", json={"hours": hours}, timeout=30).raise_for_status()


class Sleeps:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, s: float) -> None:
        self.calls.append(s)


def make_publisher(server: SandboxServer, token: str | None = None, **kw) -> InstagramPublisher:
    kw.setdefault("poll_interval_s", 0.01)
    kw.setdefault("sleep", Sleeps())
    return InstagramPublisher(token or key(server), ig_user_id(server), graph_url=server.url + "/graph",
                              clock=server.clock.now, **kw)


def publish(pub: InstagramPublisher, path: Path, idem: str, **kw):
    return pub.publish(media_path=path, platform="instagram", account="main", caption="POV: the serum that works",
                       hashtags=["skincare"], scheduled_at=None, idempotency_key=idem, **kw)


def ig_posts(server: SandboxServer) -> list[dict]:
    return [p for p in server.state.list_posts() if p["platform"] == "instagram"]


def containers_made(server: SandboxServer) -> int:
    return int(server.state.get_meta("ig_container_seq") or 0)


def upload_container(server: SandboxServer, api: FacebookAdsApi, user: str, path: Path, caption: str = "c") -> str:
    """A FINISHED container made through the SDK and the resumable upload (no adapter)."""
    c = IGUser(user, api=api).create_media(params={"media_type": "REELS", "upload_type": "resumable",
                                                   "caption": caption})
    data = path.read_bytes()
    r = requests.post(c["uri"], data=data, headers={"Authorization": f"OAuth {key(server)}", "offset": "0",
                                                    "file_size": str(len(data))}, timeout=30)
    assert r.status_code == 200 and r.json() == {"success": True, "message": "Upload successful."}, r.text
    builder = ShadowIGMediaBuilder(c["id"], api=api)
    assert builder.api_get(fields=["status_code"])["status_code"] == "IN_PROGRESS"
    assert builder.api_get(fields=["status_code"])["status_code"] == "FINISHED"
    return c["id"]


# ------------------------------------------------------------------------------------- round trip
def test_the_adapter_runs_the_whole_round_trip_through_the_sdk(sandbox, reel):
    pub = make_publisher(sandbox)
    seen = []

    def before_send():  # the container is FINISHED and nothing is published yet
        user = ig_user_id(sandbox)
        seen.append((len(ig_posts(sandbox)), pub.publishing_limit()["quota_usage"], user))

    post = publish(pub, reel, "ig-round-trip", before_send=before_send)
    assert seen == [(0, 0, ig_user_id(sandbox))]
    assert pub._sleep.calls, "the adapter polled an IN_PROGRESS container"
    assert post["post_id"].isdigit() and post["platform"] == "instagram" and post["status"] == "live"
    assert post["url"].startswith("https://www.instagram.com/reel/") and post["live_at"] == "2025-03-01T12:00:00Z"

    api = sdk_api(sandbox)
    media = IGMedia(post["post_id"], api=api).api_get(fields=["id", "permalink", "timestamp", "media_type",
                                                              "media_product_type", "caption"])
    assert media["permalink"] == post["url"] and media["media_type"] == "VIDEO"
    assert media["media_product_type"] == "REELS"
    assert media["caption"].startswith("POV: the serum that works #skincare ") and key_marker("ig-round-trip") in \
        media["caption"]
    assert ShadowIGMediaBuilder(post["container_id"], api=api).api_get(
        fields=["status_code"])["status_code"] == "PUBLISHED"
    assert pub.publishing_limit() == {"quota_usage": 1, "quota_total": 50, "quota_duration": 86400.0}

    # the reel is a post of the sandbox's world: its counts evolve like every other post's
    (world_post,) = ig_posts(sandbox)
    assert world_post["account"] == "main" and world_post["caption"] == media["caption"]
    first = pub.metrics([post["post_id"]])
    advance(sandbox, 6)
    later = pub.metrics([post["post_id"]])
    advance(sandbox, 48)
    last = pub.metrics([post["post_id"]])
    (a,), (b,), (c,) = first["items"], later["items"], last["items"]
    for item in (a, b, c):
        assert set(item) >= {"post_id", "status", "views", "likes", "comments", "shares", "saves"}
        assert all(isinstance(item[k], int) for k in ("views", "likes", "comments", "shares", "saves"))
    assert a["views"] <= b["views"] < c["views"] and b["likes"] <= c["likes"]
    truth = truth_metrics(sandbox.url, world_post["post_id"], sandbox.truth_token)
    assert (c["views"], c["likes"], c["comments"], c["shares"], c["saves"]) == (
        truth["views"], truth["likes"], truth["comments"], truth["shares"], truth["saves"])
    assert last["as_of"] == "2025-03-03T18:00:00Z" and last["unknown"] == []

    # the insights edge in the documented shape, read through the SDK
    rows = [r.export_all_data() for r in IGMedia(post["post_id"], api=api).get_insights(
        params={"metric": ["views", "reach", "total_interactions"]})]
    assert [r["name"] for r in rows] == ["views", "total_interactions"]  # reach: not modelled, left out
    assert rows[0]["values"] == [{"value": c["views"]}] and rows[0]["period"] == "lifetime"
    assert rows[1]["values"][0]["value"] == c["likes"] + c["comments"] + c["shares"] + c["saves"]

    # the user's media edge pages with the SDK's cursor
    listed = [m.export_all_data() for m in IGUser(ig_user_id(sandbox), api=api).get_media(fields=["id", "caption"])]
    assert [m["id"] for m in listed] == [post["post_id"]]


def test_metrics_of_unknown_media_are_unknown_not_zero(sandbox):
    pub = make_publisher(sandbox)
    out = pub.metrics(["17980000000000001"])
    assert out["items"] == [] and out["unknown"] == ["17980000000000001"]


# ------------------------------------------------------------------------------- publishing limit
def test_the_publishing_limit_is_read_at_run_time_and_enforced_over_a_rolling_day(sandbox, reel, other_reel):
    ig = ig_service(sandbox)
    ig.policy = dataclasses.replace(ig.policy, quota_total=2)
    pub = make_publisher(sandbox)
    publish(pub, reel, "limit-1")
    advance(sandbox, 1)
    publish(pub, other_reel, "limit-2")
    advance(sandbox, 1)
    made = containers_made(sandbox)
    stamped = []
    with pytest.raises(SendRefused) as refused:
        publish(pub, reel, "limit-3", before_send=lambda: stamped.append(1))
    assert refused.value.reason == "rate_limit" and not refused.value.sent and stamped == []
    assert 22 * 3600 <= refused.value.wait_s <= 22 * 3600 + 5  # the first post leaves the window in 22 h
    assert containers_made(sandbox) == made  # nothing was sent

    # Instagram itself refuses a media_publish over the limit: code 9, subcode 2207042
    api = sdk_api(sandbox)
    user = ig_user_id(sandbox)
    container = upload_container(sandbox, api, user, reel)
    with pytest.raises(FacebookRequestError) as err:
        IGUser(user, api=api).create_media_publish(params={"creation_id": container})
    assert (err.value.http_status(), err.value.api_error_code(), err.value.api_error_subcode()) == (400, 9, 2207042)
    assert err.value.api_error_type() == "OAuthException"
    limit = IGUser(user, api=api).get_content_publishing_limit(fields=["config", "quota_usage"])[0]
    assert limit["quota_usage"] == 2 and limit["config"] == {"quota_total": 2, "quota_duration": 86400}

    # the adapter maps that refusal (a slot taken between its check and media_publish) to SendRefused
    with pytest.raises(SendRefused):
        pub._call("media_publish", lambda: IGUser(user, api=pub.api).create_media_publish(
            params={"creation_id": container}), side_effect=True)

    advance(sandbox, 22.01)  # the first post has left the 24 h window
    assert pub.publishing_limit()["quota_usage"] == 1
    post = publish(pub, reel, "limit-3")
    assert post["post_id"].isdigit() and len(ig_posts(sandbox)) == 3


# ------------------------------------------------------------------------------------------ errors
def test_a_video_instagram_cannot_process_ends_in_an_error_container(sandbox, tmp_path):
    bad = tmp_path / "not_a_video.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 500)
    pub = make_publisher(sandbox)
    with pytest.raises(PlatformError) as err:
        publish(pub, bad, "bad-video")
    assert "ERROR" in str(err.value) and "2207026" in str(err.value) and not err.value.retryable
    assert pub.journal.recall("bad-video") is None and ig_posts(sandbox) == []

    # a video_url the sandbox cannot fetch: ERROR with the download failure, and media_publish refuses it
    api = sdk_api(sandbox)
    user = ig_user_id(sandbox)
    c = IGUser(user, api=api).create_media(params={"media_type": "REELS", "video_url": "https://example.com/v.mp4"})
    got = ShadowIGMediaBuilder(c["id"], api=api).api_get(fields=["status_code", "status"])
    assert got["status_code"] == "ERROR" and "2207052" in got["status"]
    with pytest.raises(FacebookRequestError) as refused:
        IGUser(user, api=api).create_media_publish(params={"creation_id": c["id"]})
    assert refused.value.api_error_code() == 9007

    # publishing before processing finished, and an expired container
    container = IGUser(user, api=api).create_media(params={"media_type": "REELS", "upload_type": "resumable"})
    with pytest.raises(FacebookRequestError) as early:
        IGUser(user, api=api).create_media_publish(params={"creation_id": container["id"]})
    assert (early.value.api_error_code(), early.value.api_error_subcode()) == (9007, 2207027)
    advance(sandbox, 24)
    assert ShadowIGMediaBuilder(container["id"], api=api).api_get(fields=["status_code"])["status_code"] == "EXPIRED"


def test_a_bad_token_is_refused_in_graphs_shape(sandbox, reel):
    api = sdk_api(sandbox, token="not-a-key")
    with pytest.raises(FacebookRequestError) as err:
        IGUser(ig_user_id(sandbox), api=api).get_content_publishing_limit(fields=["quota_usage"])
    e = err.value
    assert (e.http_status(), e.api_error_code(), e.api_error_type()) == (400, 190, "OAuthException")
    assert set(e.body()["error"]) >= {"message", "type", "code", "fbtrace_id"}
    pub = make_publisher(sandbox, token="not-a-key")
    with pytest.raises(PlatformError) as refused:
        publish(pub, reel, "bad-token")
    assert refused.value.status == 400 and not refused.value.retryable
    assert not isinstance(refused.value, (SendRefused, AmbiguousOutcome)) and containers_made(sandbox) == 0


# --------------------------------------------------------------------------------- no double posts
def test_a_duplicate_publish_with_the_same_key_returns_the_first_reel(sandbox, reel):
    pub = make_publisher(sandbox)
    first = publish(pub, reel, "dup")
    again = publish(pub, reel, "dup")
    assert again["post_id"] == first["post_id"] and len(ig_posts(sandbox)) == 1 and containers_made(sandbox) == 1
    # another publisher without the journal (another machine) finds it by the caption marker
    fresh = make_publisher(sandbox)
    assert fresh.find_post("dup")["post_id"] == first["post_id"]
    assert publish(fresh, reel, "dup")["post_id"] == first["post_id"] and len(ig_posts(sandbox)) == 1
    assert fresh.find_post("never-published") is None


class _LostAnswer(IGUser):
    """media_publish whose answer is lost: `landed` says whether Instagram got the request."""

    landed = True

    def create_media_publish(self, *a, **kw):
        if self.landed:
            super().create_media_publish(*a, **kw)
        raise requests.ReadTimeout("read timed out")


@pytest.mark.parametrize("landed", [True, False])
def test_a_lost_media_publish_answer_is_ambiguous_and_settled_without_a_second_reel(sandbox, reel, landed,
                                                                                  monkeypatch):
    pub = make_publisher(sandbox)
    lost = type("Lost", (_LostAnswer,), {"landed": landed})
    monkeypatch.setattr(pub, "_user", lambda: lost(pub.ig_user_id, api=pub.api))
    with pytest.raises(AmbiguousOutcome):
        publish(pub, reel, "lost")
    monkeypatch.undo()
    assert len(ig_posts(sandbox)) == (1 if landed else 0)
    found = pub.find_post("lost")
    assert (found is not None) == landed
    post = publish(pub, reel, "lost")  # the worker's retry after the lookup
    assert len(ig_posts(sandbox)) == 1 and containers_made(sandbox) == 1  # the same container, one reel
    if landed:
        assert post["post_id"] == found["post_id"]


# ---------------------------------------------------------------------------------------- batches
def test_instagram_calls_run_in_a_graph_batch(sandbox, reel):
    pub = make_publisher(sandbox)
    post = publish(pub, reel, "batched")
    api = sdk_api(sandbox)
    batch = api.new_batch()
    got = {}
    IGMedia(post["post_id"], api=api).api_get(fields=["permalink"], batch=batch,
                                               success=lambda r: got.setdefault("media", r.json()))
    IGUser(ig_user_id(sandbox), api=api).get_content_publishing_limit(
        fields=["quota_usage"], batch=batch, success=lambda r: got.setdefault("limit", r.json()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch.execute()
    assert got["media"]["permalink"] == post["url"] and got["limit"] == {"data": [{"quota_usage": 1}]}


def test_a_resumable_upload_resumes_at_the_offset_the_container_reports(sandbox, reel):
    api = sdk_api(sandbox)
    user = ig_user_id(sandbox)
    c = IGUser(user, api=api).create_media(params={"media_type": "REELS", "upload_type": "resumable"})
    data = reel.read_bytes()
    half = len(data) // 2
    auth = {"Authorization": f"OAuth {key(sandbox)}", "file_size": str(len(data))}
    assert requests.post(c["uri"], data=data[:half], headers={**auth, "offset": "0"}, timeout=30).status_code == 200
    builder = ShadowIGMediaBuilder(c["id"], api=api)
    got = builder.api_get(fields=["status_code", "video_status"]).export_all_data()
    assert got["status_code"] == "IN_PROGRESS"
    assert got["video_status"]["uploading_phase"] == {"status": "in_progress", "bytes_transferred": half}
    wrong = requests.post(c["uri"], data=data[half:], headers={**auth, "offset": "0"}, timeout=30)
    assert wrong.status_code == 400 and wrong.json()["error"]["type"] == "OAuthException"
    done = requests.post(c["uri"], data=data[half:], headers={**auth, "offset": str(half)}, timeout=30)
    assert done.json() == {"success": True, "message": "Upload successful."}
    assert builder.api_get(fields=["status_code"])["status_code"] == "IN_PROGRESS"
    assert builder.api_get(fields=["status_code"])["status_code"] == "FINISHED"
    no_token = requests.post(c["uri"], data=b"x", headers={"offset": "0", "file_size": "1"}, timeout=30)
    assert no_token.status_code == 400 and no_token.json()["error"]["code"] == 104
