"""The YouTube contract: Google's official client (google-api-python-client) drives the sandbox through
ACTP's adapter (actp_pipeline/publish/youtube.py) over its whole round trip: publish -> processing ->
succeeded -> public id -> statistics growing with sandbox time; resumable uploads interrupted and resumed;
quota; auth and request errors in Google's shape; one video per idempotency key."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httplib2
import httpx
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload

from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError, SendRefused
from actp_pipeline.publish.youtube import (
    QUOTA_COSTS,
    QUOTA_LIMITS,
    QuotaExceeded,
    YouTubePublisher,
    error_reason,
    ref_tag,
)
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.routes.youtube import YouTubeDialect
from actp_pipeline.sandbox.youtube import CHUNK_GRANULARITY, QuotaPolicy, YouTube
from tests.media import make_mp4
from tests.sandbox_posts import truth_metrics

START = dt.datetime(2025, 3, 3, 17, 0, tzinfo=dt.UTC)  # 09:00 Pacific: the quota day does not turn by accident


def start_sandbox(**kw: Any) -> SandboxServer:
    kw.setdefault("truth_token", "truth-for-tests")
    return SandboxServer(WorldConfig(**kw), start=START).start()


def youtube_of(server: SandboxServer) -> YouTube:
    return next(d for d in server.api.dialects if isinstance(d, YouTubeDialect)).service


def sandbox_clock(server: SandboxServer) -> Callable[[], dt.datetime]:
    def now() -> dt.datetime:
        return dt.datetime.fromisoformat(httpx.get(server.url + "/sandbox/clock").json()["now"])
    return now


def advance(server: SandboxServer, hours: float) -> None:
    httpx.post(server.url + "/sandbox/clock/advance", json={"hours": hours}).raise_for_status()


def publisher(server: SandboxServer, token: str | None = None, **kw: Any) -> YouTubePublisher:
    kw.setdefault("sleep", lambda s: None)
    return YouTubePublisher(Credentials(token=token or server.config.api_keys[0]), api_endpoint=server.url,
                            clock=sandbox_clock(server), **kw)


def noise_mp4(path: Path, seconds: float = 0.5) -> Path:
    """A lossless noise H.264 MP4 of several 256 KiB chunks (about 800 KB for half a second)."""
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"nullsrc=s=160x284:d={seconds},geq=random(1)*255:128:128", "-c:v", "libx264", "-qp", "0",
                    "-pix_fmt", "yuv420p", str(path)], check=True, capture_output=True, timeout=60)
    return path


class FlakyHttp(httplib2.Http):
    """httplib2 that fails chosen upload PUTs: `fail` maps the n-th chunk PUT (1-based, status queries not
    counted) to "before" (raise a timeout without sending), "after" (send, then lose the response) or an
    HTTP status to answer instead of sending. Every request is logged as (method, url, Content-Range)."""

    def __init__(self, fail: dict[int, str | int] | None = None, **kw: Any):
        super().__init__(**kw)
        self.redirect_codes = self.redirect_codes - {308}
        self.fail = dict(fail or {})
        self.puts = 0
        self.log: list[tuple[str, str, str | None]] = []

    def request(self, uri, method="GET", body=None, headers=None, *args, **kw):  # type: ignore[override]
        rng = {k.lower(): v for k, v in (headers or {}).items()}.get("content-range")
        self.log.append((method, uri, rng))
        if method == "PUT" and rng and not rng.startswith("bytes */"):
            self.puts += 1
            what = self.fail.get(self.puts)
            if what == "before":
                raise TimeoutError("timed out (test: before sending)")
            if isinstance(what, int):
                return httplib2.Response({"status": what, "content-type": "application/json"}), (
                    b'{"error":{"code":%d,"message":"test","errors":[{"message":"test","domain":"global",'
                    b'"reason":"backendError"}],"status":"UNAVAILABLE"}}' % what)
            result = super().request(uri, method, body, headers, *args, **kw)
            if what == "after":
                raise TimeoutError("timed out (test: response lost)")
            return result
        return super().request(uri, method, body, headers, *args, **kw)


# ----------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def server():
    s = start_sandbox()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def small_mp4(tmp_path_factory) -> Path:
    return make_mp4(tmp_path_factory.mktemp("yt") / "small.mp4", None, color="green")


@pytest.fixture(scope="module")
def big_mp4(tmp_path_factory) -> Path:
    return noise_mp4(tmp_path_factory.mktemp("yt") / "noise.mp4")


def publish(pub: YouTubePublisher, path: Path, key: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("caption", "Three serums, one winner\nWhich would you keep?")
    kw.setdefault("hashtags", ["skincare", "serum"])
    kw.setdefault("scheduled_at", None)
    return pub.publish(media_path=path, platform="youtube", account="main", idempotency_key=key, **kw)


def uploads(pub: YouTubePublisher) -> list[str]:
    page = pub.service.playlistItems().list(part="contentDetails", playlistId=pub.uploads_playlist(),
                                            maxResults=50).execute()
    return [i["contentDetails"]["videoId"] for i in page["items"]]


# ------------------------------------------------------------------------------------- round trip
def test_round_trip_publish_processing_public_id_and_growing_statistics(server, small_mp4):
    pub = publisher(server)
    calls = []
    post = publish(pub, small_mp4, "idem-1", before_send=lambda: calls.append(1))
    assert calls == [1]
    vid = post["post_id"]
    assert len(vid) == 11 and post["url"].endswith(vid) and post["status"] == "processing"

    video = pub.video(vid)
    assert video["kind"] == "youtube#video" and video["id"] == vid
    assert video["status"]["uploadStatus"] == "uploaded"
    assert video["processingDetails"]["processingStatus"] == "processing"
    assert video["snippet"]["title"] == "Three serums, one winner"
    assert ref_tag("idem-1") in video["snippet"]["tags"]

    advance(server, 1)
    video = pub.video(vid)
    assert video["processingDetails"]["processingStatus"] == "succeeded"
    assert video["status"]["uploadStatus"] == "processed" and video["status"]["privacyStatus"] == "public"

    first = pub.metrics([vid])["items"][0]
    advance(server, 12)
    later = pub.metrics([vid])["items"][0]
    advance(server, 48)
    last = pub.metrics([vid])["items"][0]
    assert first["status"] == later["status"] == "live" and later["shares"] is None  # YouTube reports no shares: unknown, not 0
    assert 0 <= first["views"] < later["views"] <= last["views"]
    assert later["likes"] <= last["likes"] and later["comments"] <= last["comments"]
    assert last["views"] > 0 and last["likes"] > 0

    # the video is a post of the sandbox world: the same counts as the world's own metrics
    yt = youtube_of(server)
    post_id = yt.get_video(vid)["post_id"]
    truth = truth_metrics(server.url, post_id, server.truth_token)
    assert truth["views"] == last["views"] and truth["likes"] == last["likes"]
    assert truth["comments"] == last["comments"]
    assert uploads(pub) == [vid]


def test_scheduled_video_is_private_until_publish_at_then_public(server, small_mp4):
    pub = publisher(server)
    at = START + dt.timedelta(hours=6)
    post = publish(pub, small_mp4, "idem-sched", scheduled_at=at.replace(tzinfo=None))
    video = pub.video(post["post_id"])
    assert video["status"]["privacyStatus"] == "private"
    assert video["status"]["publishAt"] == "2025-03-03T23:00:00Z"
    advance(server, 2)
    item = pub.metrics([post["post_id"]])["items"][0]
    assert item["status"] == "scheduled" and item["views"] == 0
    advance(server, 10)
    item = pub.metrics([post["post_id"]])["items"][0]
    assert item["status"] == "live" and item["privacy"] == "public" and item["views"] > 0


def test_duplicate_publish_with_the_same_key_returns_the_first_video(server, small_mp4):
    pub = publisher(server)
    sent = []
    first = publish(pub, small_mp4, "idem-dup", before_send=lambda: sent.append(1))
    again = publish(pub, small_mp4, "idem-dup", before_send=lambda: sent.append(1))
    other = publish(pub, small_mp4, "idem-other")
    assert again["post_id"] == first["post_id"] and sent == [1]
    assert other["post_id"] != first["post_id"]
    assert pub.find_post("idem-dup")["post_id"] == first["post_id"]
    assert pub.find_post("never-posted") is None
    assert sorted(uploads(pub)) == sorted([first["post_id"], other["post_id"]])
    # a second process (no cached state) finds it too
    assert publisher(server).find_post("idem-dup")["post_id"] == first["post_id"]


def test_before_send_refusal_sends_nothing(server, small_mp4):
    pub = publisher(server)

    def refuse() -> None:
        raise SendRefused("lease lost", reason="lease_lost")

    with pytest.raises(SendRefused):
        publish(pub, small_mp4, "idem-refused", before_send=refuse)
    yt = youtube_of(server)
    assert yt.quota.spent(server.config.api_keys[0], "videos.insert") == 0
    assert uploads(pub) == []


# ---------------------------------------------------------------------------------- resumable upload
@pytest.mark.parametrize("failure", ["before", "after"])
def test_upload_interrupted_after_a_chunk_resumes(server, big_mp4, failure):
    size = big_mp4.stat().st_size
    assert size > 3 * CHUNK_GRANULARITY
    http = FlakyHttp({2: failure})
    pub = publisher(server, http=http, chunk_size=CHUNK_GRANULARITY)
    post = publish(pub, big_mp4, f"idem-resume-{failure}")
    ranges = [r for m, _, r in http.log if m == "PUT"]
    assert any(r.startswith("bytes */") for r in ranges)  # the client asked where to resume
    record = youtube_of(server).get_video(post["post_id"])
    assert record["bytes"] == size and record["failure"] is None
    media = server.state.get_media(server.state.get_post(record["post_id"])["media_id"])
    assert media["sha256"] == hashlib.sha256(big_mp4.read_bytes()).hexdigest()
    assert uploads(pub) == [post["post_id"]]


def test_final_chunk_response_lost_completes_once(server, big_mp4):
    size = big_mp4.stat().st_size
    chunks = -(-size // CHUNK_GRANULARITY)
    http = FlakyHttp({chunks: "after"})
    pub = publisher(server, http=http, chunk_size=CHUNK_GRANULARITY)
    post = publish(pub, big_mp4, "idem-final-lost")
    assert uploads(pub) == [post["post_id"]]
    puts = [r for m, _, r in http.log if m == "PUT"]
    assert puts[-1] == f"bytes */{size}"  # the status query answered with the finished video


def test_final_chunk_5xx_is_ambiguous_and_reconciled_by_lookup(server, big_mp4):
    size = big_mp4.stat().st_size
    chunks = -(-size // CHUNK_GRANULARITY)
    pub = publisher(server, http=FlakyHttp({chunks: 503}), chunk_size=CHUNK_GRANULARITY, num_retries=0)
    with pytest.raises(AmbiguousOutcome):
        publish(pub, big_mp4, "idem-ambiguous")
    assert publisher(server).find_post("idem-ambiguous") is None  # the 503 never reached the sandbox


def test_non_final_chunk_failure_is_a_retryable_error_without_a_video(server, big_mp4):
    pub = publisher(server, http=FlakyHttp({1: 503}), chunk_size=CHUNK_GRANULARITY, num_retries=0)
    with pytest.raises(PlatformError) as err:
        publish(pub, big_mp4, "idem-nonfinal")
    assert not isinstance(err.value, AmbiguousOutcome) and err.value.retryable


def test_sandbox_commits_partial_chunks_in_256k_units(server, big_mp4):
    data = big_mp4.read_bytes()
    auth = {"Authorization": f"Bearer {server.config.api_keys[0]}"}
    with httpx.Client(base_url=server.url, headers=auth) as c:
        r = c.post("/upload/youtube/v3/videos", params={"uploadType": "resumable", "part": "snippet,status"},
                   json={"snippet": {"title": "raw"}}, headers={"X-Upload-Content-Length": str(len(data))})
        assert r.status_code == 200
        where = r.headers["Location"]
        r = c.put(where, content=data[:300_000], headers={"Content-Range": f"bytes 0-299999/{len(data)}"})
        assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{CHUNK_GRANULARITY - 1}"
        r = c.put(where, headers={"Content-Range": f"bytes */{len(data)}"})
        assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{CHUNK_GRANULARITY - 1}"
        r = c.put(where, content=data[CHUNK_GRANULARITY:],
                  headers={"Content-Range": f"bytes {CHUNK_GRANULARITY}-{len(data) - 1}/{len(data)}"})
        assert r.status_code == 200 and r.json()["kind"] == "youtube#video"
        again = c.put(where, headers={"Content-Range": f"bytes */{len(data)}"})
        assert again.status_code == 200 and again.json()["id"] == r.json()["id"]


def test_a_file_the_sandbox_cannot_decode_is_a_failed_upload(server, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    pub = publisher(server)
    with pytest.raises(PlatformError, match="failed"):
        publish(pub, junk, "idem-junk")
    [vid] = uploads(pub)
    video = pub.video(vid)
    assert video["status"]["uploadStatus"] == "failed" and video["status"]["failureReason"] == "invalidFile"
    assert video["processingDetails"]["processingStatus"] == "failed"


# ----------------------------------------------------------------------------------------- quota
def test_quota_exhaustion_is_403_quota_exceeded_then_refused_before_sending(server, small_mp4):
    yt = youtube_of(server)
    yt.quota.policy.limits["videos.insert"] = 1  # the sandbox's (the project's) limit, unknown to ACTP
    http = FlakyHttp()
    pub = publisher(server, http=http)
    publish(pub, small_mp4, "idem-q1")
    with pytest.raises(QuotaExceeded) as err:
        publish(pub, small_mp4, "idem-q2")
    assert err.value.status == 403 and err.value.retryable and err.value.retry_after_s > 0
    # the raw answer, through the official client, in Google's shape
    with pytest.raises(HttpError) as raw:
        pub.service.videos().insert(part="snippet,status", body={"snippet": {"title": "x"}},
                                    media_body=MediaFileUpload(str(small_mp4), mimetype="video/mp4",
                                                               resumable=True)).execute()
    body = json.loads(raw.value.content)
    assert raw.value.resp.status == 403
    assert body["error"]["errors"][0]["reason"] == "quotaExceeded"
    assert body["error"]["errors"][0]["domain"] == "youtube.quota" and body["error"]["code"] == 403

    before = len(http.log)
    with pytest.raises(SendRefused) as refused:
        publish(pub, small_mp4, "idem-q3")
    assert refused.value.reason == "quota" and refused.value.wait_s > 0 and not refused.value.sent
    assert len(http.log) == before  # nothing was sent

    advance(server, 24)  # a new Pacific day on both sides
    assert publish(pub, small_mp4, "idem-q3")["post_id"]


def test_configured_daily_quota_refuses_before_the_call(server, small_mp4):
    http = FlakyHttp()
    pub = publisher(server, http=http, quota_limits={"default": 2, "videos.insert": 100})
    called = []
    with pytest.raises(SendRefused) as refused:
        publish(pub, small_mp4, "idem-small-quota", before_send=lambda: called.append(1))
    assert refused.value.reason == "quota" and http.log == [] and called == []
    pub.metrics(["AAAAAAAAAAA"])
    assert pub.quota.spent() == 1


def test_every_call_costs_its_units_in_the_sandbox(server, small_mp4):
    yt, key = youtube_of(server), server.config.api_keys[0]
    pub = publisher(server)
    publish(pub, small_mp4, "idem-units")
    # channels.list + playlistItems.list (empty channel: no videos.list) before the upload
    assert yt.quota.spent(key, "default") == pub.quota.spent("default") == 2
    assert yt.quota.spent(key, "videos.insert") == pub.quota.spent("videos.insert") == 1
    pub.metrics(["AAAAAAAAAAA"])
    assert yt.quota.spent(key, "default") == pub.quota.spent("default") == 3


def test_legacy_cost_model_charges_1600_per_insert(server):
    yt = youtube_of(server)
    yt.quota.policy = QuotaPolicy.legacy()
    auth = {"Authorization": f"Bearer {server.config.api_keys[0]}"}
    statuses = []
    for _ in range(7):
        r = httpx.post(server.url + "/upload/youtube/v3/videos", params={"uploadType": "resumable", "part": "snippet"},
                       json={"snippet": {"title": "t"}}, headers=auth)
        statuses.append(r.status_code)
    assert statuses == [200] * 6 + [403]
    assert yt.quota.spent(server.config.api_keys[0]) == 9600


def test_adapter_and_sandbox_agree_on_documented_costs():
    sandbox = QuotaPolicy()
    for method, cost in QUOTA_COSTS.items():
        assert sandbox.cost(method) == cost
    assert {b: QUOTA_LIMITS[b] for b in sandbox.limits} == sandbox.limits


# ----------------------------------------------------------------------------------------- auth, errors
def test_bad_token_is_401_in_googles_shape(server):
    pub = publisher(server, token="not-a-sandbox-key")
    with pytest.raises(HttpError) as raw:
        pub.service.videos().list(part="statistics", id="AAAAAAAAAAA").execute()
    assert raw.value.resp.status == 401
    err = json.loads(raw.value.content)["error"]
    assert err["code"] == 401 and err["status"] == "UNAUTHENTICATED"
    assert err["errors"][0]["reason"] == "authError" and err["errors"][0]["locationType"] == "header"
    with pytest.raises(PlatformError) as mapped:
        pub.metrics(["AAAAAAAAAAA"])
    assert mapped.value.status == 401 and not mapped.value.retryable


def test_bad_requests_are_400_with_youtube_reasons(server):
    pub = publisher(server)
    cases = [
        ({"part": "statistics", "id": ",".join(["AAAAAAAAAAA"] * 51)}, "invalidFilters"),
        ({"part": "statistics", "id": "bad id"}, "invalidVideoId"),
        ({"part": "statistics,bogus", "id": "AAAAAAAAAAA"}, "unknownPart"),
    ]
    for params, reason in cases:
        with pytest.raises(HttpError) as raw:
            pub.service.videos().list(**params).execute()
        assert raw.value.resp.status == 400
        assert error_reason(raw.value)[0] == reason
    with pytest.raises(HttpError) as raw:
        pub.service.playlistItems().list(part="snippet", playlistId="UUnope", pageToken="!!").execute()
    assert raw.value.resp.status == 404 and error_reason(raw.value)[0] == "playlistNotFound"
    with pytest.raises(HttpError) as raw:
        pub.service.videos().insert(part="snippet,status", body={"snippet": {"title": "<b>"}},
                                    media_body=MediaFileUpload(__file__, mimetype="video/mp4",
                                                               resumable=True)).execute()
    assert raw.value.resp.status == 400 and error_reason(raw.value)[0] == "invalidTitle"
    assert pub.service.videos().list(part="statistics", id="AAAAAAAAAAA").execute()["items"] == []


def test_channels_and_uploads_playlist_page(server, small_mp4):
    pub = publisher(server)
    ids = [publish(pub, small_mp4, f"idem-page-{i}")["post_id"] for i in range(3)]
    ch = pub.service.channels().list(part="snippet,contentDetails,statistics", mine=True).execute()
    assert ch["kind"] == "youtube#channelListResponse"
    [channel] = ch["items"]
    assert channel["id"].startswith("UC") and channel["statistics"]["videoCount"] == "3"
    playlist = channel["contentDetails"]["relatedPlaylists"]["uploads"]
    seen, token = [], None
    while True:
        page = pub.service.playlistItems().list(part="snippet", playlistId=playlist, maxResults=2,
                                                pageToken=token).execute()
        seen += [i["snippet"]["resourceId"]["videoId"] for i in page["items"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == list(reversed(ids))  # newest first
