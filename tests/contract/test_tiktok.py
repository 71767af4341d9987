"""Contract: ACTP's TikTok adapter (publish/tiktok.py, httpx) drives the sandbox's TikTok dialect over HTTP
through the whole round trip: creator info -> video/init -> chunked upload -> status/fetch until
PUBLISH_COMPLETE -> the public video id after moderation -> metrics that grow over sandbox time; and the
refusals: 429 rate_limit_exceeded, the daily post cap, a bad token, a file TikTok's checks refuse, a
publish whose final chunk's answer was lost, a duplicate publish with the same idempotency key.

The chunk rules are TikTok's documented ones (5 MB minimum chunk): the several-chunk test pads a real MP4
to 11 MiB with a trailing `free` box (legal MP4, ignored by decoders), so no smaller chunk size is
configured anywhere.
"""

from __future__ import annotations

import dataclasses
import struct
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError, SendRefused
from actp_pipeline.publish.tiktok import TikTokPublisher, chunk_plan, key_marker
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.routes.tiktok import TikTokDialect
from tests.sandbox_posts import truth_metrics

START = datetime.fromisoformat("2025-03-01T12:00:00+00:00")
MiB = 1024 * 1024


@pytest.fixture
def sandbox():
    with SandboxServer(WorldConfig(start=START, truth_token="truth-for-tests")) as server:
        yield server


def service(server: SandboxServer):
    return next(d for d in server.api.dialects if isinstance(d, TikTokDialect)).service


def advance(server: SandboxServer, hours: float) -> None:
    httpx.post(server.url + "/sandbox/clock/advance", json={"hours": hours}, timeout=30).raise_for_status()


def make_publisher(server: SandboxServer, token: str | None = None, **kw) -> TikTokPublisher:
    kw.setdefault("poll_interval_s", 0.05)
    return TikTokPublisher(token or server.config.api_keys[0], base_url=server.url, clock=server.clock.now, **kw)


def raw(server: SandboxServer, path: str, body: dict | None = None, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or server.config.api_keys[0]}"}
    return httpx.post(server.url + path, json=body or {}, headers=headers, timeout=30)


def publish(pub: TikTokPublisher, path: Path, key: str, **kw):
    return pub.publish(media_path=path, platform="tiktok", account="main", caption="POV: the serum that works",
                       hashtags=["skincare"], scheduled_at=None, idempotency_key=key, **kw)


def tiktok_posts(server: SandboxServer) -> list[dict]:
    return [p for p in server.state.list_posts() if p["platform"] == "tiktok"]


@pytest.fixture(scope="session")
def padded_mp4(mp4_with_descriptor, media_dir) -> Path:
    """The descriptor MP4 followed by an 11 MiB `free` box: two documented chunks of 5 MiB and a remainder."""
    path, _ = mp4_with_descriptor
    pad = 11 * MiB
    out = media_dir / "tiktok_padded.mp4"
    out.write_bytes(path.read_bytes() + struct.pack(">I", pad + 8) + b"free" + bytes(pad))
    return out


def test_round_trip_publish_status_public_id_and_growing_metrics(sandbox, mp4_with_descriptor):
    path, variant = mp4_with_descriptor
    calls: list[str] = []
    with make_publisher(sandbox) as pub:
        pub._http.event_hooks["request"].append(lambda r: calls.append(r.url.path))
        post = publish(pub, path, "k-round-trip", before_send=lambda: calls.append("before_send"))
        assert calls[:3] == ["/v2/post/publish/creator_info/query/", "before_send", "/v2/post/publish/video/init/"]
        assert calls[3:] and set(calls[3:]) == {"/v2/post/publish/status/fetch/"}
        assert post["post_id"].startswith("v_pub_file~") and post["status"] == "moderation"
        assert post["video_id"] is None and post["live_at"]

        # the uploaded MP4 became a real post of the sandbox's world, probed like every upload
        [stored] = tiktok_posts(sandbox)
        assert stored["account"] == "main" and key_marker("k-round-trip") in stored["caption"]
        assert "skincare" in stored["hashtags"]
        media = sandbox.state.get_media(stored["media_id"])
        assert media["descriptor"]["variant_id"] == variant["variant_id"]

        # before moderation ends: no public id, and metrics say so rather than report zeros
        early = pub.metrics([post["post_id"]])
        [item] = early["items"]
        assert item["status"] == "moderation" and item["views"] is None and item["likes"] is None

        advance(sandbox, 0.5)  # moderation is 120 simulated seconds
        status = pub.fetch_status(post["post_id"])
        assert status["status"] == "PUBLISH_COMPLETE" and len(status["publicaly_available_post_id"]) == 1
        video_id = str(status["publicaly_available_post_id"][0])
        assert video_id != post["post_id"] and video_id.isdigit()

        first = pub.metrics([post["post_id"]])
        [m1] = first["items"]
        assert m1["status"] == "live" and m1["video_id"] == video_id and m1["post_id"] == post["post_id"]
        advance(sandbox, 24)
        [m2] = pub.metrics([post["post_id"]])["items"]
        assert m2["views"] > m1["views"] >= 0 and m2["likes"] >= m1["likes"]
        assert all(isinstance(m2[k], int) for k in ("views", "likes", "comments", "shares"))
        # the public id works directly too, and the sandbox's own metrics agree with TikTok's counts
        [by_vid] = pub.metrics([video_id])["items"]
        assert by_vid["views"] == m2["views"]
        truth = truth_metrics(sandbox.url, stored["post_id"], sandbox.truth_token)
        assert truth["post_id"] == stored["post_id"] and truth["status"] == "live"
        assert truth["views"] == m2["views"] and truth["shares"] == m2["shares"]


def test_several_documented_chunks_in_order(sandbox, padded_mp4):
    size = padded_mp4.stat().st_size
    assert chunk_plan(size, 5 * MiB) == (5 * MiB, 2)
    ranges: list[str] = []
    with make_publisher(sandbox, chunk_size=5 * MiB) as pub:
        pub._upload_http.event_hooks["request"].append(lambda r: ranges.append(r.headers["Content-Range"]))
        post = publish(pub, padded_mp4, "k-chunks")
    assert ranges == [f"bytes 0-{5 * MiB - 1}/{size}", f"bytes {5 * MiB}-{size - 1}/{size}"]
    assert post["status"] == "moderation"
    [stored] = tiktok_posts(sandbox)
    assert sandbox.state.get_media(stored["media_id"])["bytes"] == size


def test_chunk_rules_are_enforced(sandbox):
    def init(source: dict) -> httpx.Response:
        return raw(sandbox, "/v2/post/publish/video/init/",
                   {"post_info": {"title": "x", "privacy_level": "SELF_ONLY"}, "source_info": source})

    big = 11 * MiB
    for source in (
        {"source": "FILE_UPLOAD", "video_size": big, "chunk_size": 4 * MiB, "total_chunk_count": 2},  # < 5 MB
        {"source": "FILE_UPLOAD", "video_size": big, "chunk_size": 5 * MiB, "total_chunk_count": 3},  # not floor
        {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 500, "total_chunk_count": 2},  # < 5 MB: whole
        {"source": "FILE_UPLOAD", "video_size": 100_000_000, "chunk_size": 64_000_000, "total_chunk_count": 1},
    ):
        r = init(source)
        assert r.status_code == 400, source
        assert r.json()["error"]["code"] == "invalid_params"
    r = init({"source": "PULL_FROM_URL", "video_url": "https://example.com/v.mp4"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "url_ownership_unverified")
    r = raw(sandbox, "/v2/post/publish/video/init/",
            {"post_info": {"title": "x", "privacy_level": "FOLLOWER_OF_CREATOR"},
             "source_info": {"source": "FILE_UPLOAD", "video_size": 10, "chunk_size": 10, "total_chunk_count": 1}})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "privacy_level_option_mismatch")

    # out of order and wrongly sized chunks are refused; the right one is taken
    advance(sandbox, 61 / 3600)  # seven inits so far: video/init allows 6 a minute
    ok = init({"source": "FILE_UPLOAD", "video_size": big, "chunk_size": 5 * MiB, "total_chunk_count": 2}).json()
    url = ok["data"]["upload_url"]
    r = httpx.put(url, content=b"x" * MiB, headers={"Content-Type": "video/mp4",
                                                    "Content-Range": f"bytes {5 * MiB}-{6 * MiB - 1}/{big}"})
    assert r.status_code == 416 and r.json()["error"]["code"] == "invalid_params"
    r = httpx.put(url, content=b"x" * MiB, headers={"Content-Type": "video/mp4",
                                                    "Content-Range": f"bytes 0-{MiB - 1}/{big}"})
    assert r.status_code == 400
    r = httpx.put(url, content=b"x" * 5 * MiB, headers={"Content-Type": "video/mp4",
                                                        "Content-Range": f"bytes 0-{5 * MiB - 1}/{big}"})
    assert r.status_code == 206
    st = raw(sandbox, "/v2/post/publish/status/fetch/", {"publish_id": ok["data"]["publish_id"]}).json()
    assert st["data"] == {"status": "PROCESSING_UPLOAD", "uploaded_bytes": 5 * MiB}


def test_rate_limit_429_is_send_refused_then_retry_succeeds(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    size = path.stat().st_size
    source = {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": size, "total_chunk_count": 1}
    for _ in range(6):  # video/init: 6 requests a minute per access token
        r = raw(sandbox, "/v2/post/publish/video/init/",
                {"post_info": {"title": "x", "privacy_level": "SELF_ONLY"}, "source_info": source})
        assert r.status_code == 200
    r = raw(sandbox, "/v2/post/publish/video/init/",
            {"post_info": {"title": "x", "privacy_level": "SELF_ONLY"}, "source_info": source})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limit_exceeded" and r.json()["data"] == {}

    sent: list[str] = []
    with make_publisher(sandbox) as pub:
        with pytest.raises(SendRefused) as exc:
            publish(pub, path, "k-limited", before_send=lambda: sent.append("x"))
        assert exc.value.reason == "rate_limit" and exc.value.wait_s == 60 and not exc.value.sent
        assert sent == ["x"] and tiktok_posts(sandbox) == [] and pub.find_post("k-limited") is None
        advance(sandbox, 61 / 3600)  # the one-minute window has passed (simulated time)
        post = publish(pub, path, "k-limited")
    assert post["status"] == "moderation" and len(tiktok_posts(sandbox)) == 1


def test_daily_post_cap_is_send_refused(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    tt = service(sandbox)
    tt.policy = dataclasses.replace(tt.policy, daily_post_cap=1)
    with make_publisher(sandbox) as pub:
        publish(pub, path, "k-cap-1")
        with pytest.raises(SendRefused) as exc:
            publish(pub, path, "k-cap-2")
    assert exc.value.reason == "rate_limit" and exc.value.wait_s >= 3600
    r = raw(sandbox, "/v2/post/publish/creator_info/query/")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "spam_risk_too_many_posts")
    advance(sandbox, 24.1)
    assert raw(sandbox, "/v2/post/publish/creator_info/query/").status_code == 200


def test_bad_token_is_401_in_tiktoks_envelope(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    r = raw(sandbox, "/v2/post/publish/creator_info/query/", token="act.not-a-key")
    assert r.status_code == 401
    body = r.json()
    assert body["data"] == {} and body["error"]["code"] == "access_token_invalid" and body["error"]["log_id"]
    r = httpx.post(sandbox.url + "/v2/video/query/?fields=id", json={"filters": {"video_ids": ["1"]}})
    assert (r.status_code, r.json()["error"]["code"]) == (401, "access_token_invalid")
    with make_publisher(sandbox, token="act.not-a-key") as pub, pytest.raises(PlatformError) as exc:
        publish(pub, path, "k-bad-token")
    assert exc.value.status == 401 and not exc.value.retryable and not isinstance(exc.value, SendRefused)


def test_duplicate_publish_with_the_same_key_returns_the_first_post(sandbox, mp4_with_descriptor, tmp_path):
    path, _ = mp4_with_descriptor
    journal = tmp_path / "tiktok.sqlite"
    with make_publisher(sandbox, journal_path=journal) as pub:
        first = publish(pub, path, "k-dup")
        # what the worker does before (re)publishing: look the key up; the journal knows the publish id
        again = pub.find_post("k-dup")
        assert again is not None and again["post_id"] == first["post_id"]
        assert pub.find_post("k-other") is None
    with make_publisher(sandbox, journal_path=journal) as restarted:  # the journal survives a restart
        assert restarted.find_post("k-dup")["post_id"] == first["post_id"]
    advance(sandbox, 1)
    with make_publisher(sandbox) as fresh:  # no journal at all: the key in the title finds the public video
        found = fresh.find_post("k-dup")
        status = fresh.fetch_status(first["post_id"])
        assert found is not None and found["video_id"] == str(status["publicaly_available_post_id"][0])
        assert found["status"] == "live"
    assert len(tiktok_posts(sandbox)) == 1


class LoseFinalChunkAnswer(httpx.HTTPTransport):
    """Sends every request; for the PUT of the last byte, drops the answer and raises a read timeout."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        rng = request.headers.get("Content-Range", "")
        if request.method == "PUT" and rng:
            last, total = rng.split("-")[1].split("/")
            if int(last) == int(total) - 1:
                response.read()
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def test_lost_answer_to_the_final_chunk_is_ambiguous_and_reconciled(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    with make_publisher(sandbox, transport=LoseFinalChunkAnswer()) as pub:
        with pytest.raises(AmbiguousOutcome):
            publish(pub, path, "k-ambiguous")
        found = pub.find_post("k-ambiguous")
    assert found is not None and found["post_id"].startswith("v_pub_file~")
    assert len(tiktok_posts(sandbox)) == 1


def test_a_file_tiktok_refuses_ends_failed_and_leaves_nothing(sandbox, tmp_path):
    junk = tmp_path / "not_a_video.mp4"
    junk.write_bytes(b"this is not an mp4" * 100)
    with make_publisher(sandbox) as pub:
        with pytest.raises(PlatformError) as exc:
            publish(pub, junk, "k-junk")
        assert "file_format_check_failed" in str(exc.value) and not exc.value.retryable
        assert pub.find_post("k-junk") is None
    assert tiktok_posts(sandbox) == []


def test_status_fetch_and_video_query_limits(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    with make_publisher(sandbox) as pub:
        post = publish(pub, path, "k-status")
    codes = [raw(sandbox, "/v2/post/publish/status/fetch/", {"publish_id": post["post_id"]}).status_code
             for _ in range(30)]
    assert codes[-1] == 429 and codes[0] == 200  # 30 a minute, the publish polled it already
    r = raw(sandbox, "/v2/video/query/?fields=id", {"filters": {"video_ids": [str(i) for i in range(21)]}})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_params")
    r = raw(sandbox, "/v2/video/query/?fields=id,nope", {"filters": {"video_ids": ["1"]}})
    assert r.status_code == 400


def test_polling_rides_out_processing_and_a_status_rate_limit(sandbox, mp4_with_descriptor):
    """Processing takes 30 simulated seconds and status/fetch allows 2 calls a minute here: the adapter polls
    through PROCESSING_UPLOAD, waits out the 429 (its sleep advances the sandbox clock) and ends complete."""
    path, _ = mp4_with_descriptor
    tt = service(sandbox)
    limits = {**tt.policy.requests_per_minute, "status_fetch": 2}
    tt.policy = dataclasses.replace(tt.policy, processing_s=30.0, requests_per_minute=limits)
    slept: list[float] = []
    seen: list[str] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        advance(sandbox, seconds / 3600)

    with make_publisher(sandbox, poll_interval_s=5.0, sleep=sleep) as pub:
        pub._http.event_hooks["response"].append(
            lambda r: seen.append(f"{r.status_code}") if r.request.url.path.endswith("/status/fetch/") else None)
        post = publish(pub, path, "k-poll")
    assert post["status"] == "moderation"
    assert seen == ["200", "200", "429", "200"] and slept == [5.0, 5.0, 60.0]
