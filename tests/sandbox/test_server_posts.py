"""The sandbox's shared Publishing layer seen through the dialects that post (TikTok's Direct Post,
Instagram's containers, YouTube's uploads) and its ground truth: every upload is probed the same way (a
non-MP4 or undecodable file is refused), a post is created once, a new post can be held in processing, its
counts grow on the simulated clock and agree with /sandbox/truth/metrics, and the state survives a restart.

Posts the pipeline's way go through tests/sandbox_posts.py (the native adapters); what an adapter would
hide (a refused upload, a replayed chunk, a second media_publish) through raw HTTP (dialect_http.py)."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from actp_pipeline import creative
from actp_pipeline.sandbox import SandboxServer, World
from actp_pipeline.sandbox.state import SeedMismatch
from actp_pipeline.sandbox.world import BASE_ER
from tests import sandbox_posts
from tests.media import other_variant, variant
from tests.sandbox.conftest import START, sandbox_config
from tests.sandbox.dialect_http import (
    ig_container,
    ig_finished,
    ig_publish,
    ig_put,
    ig_upload,
    media_id_of,
    reel,
    tiktok_init,
    tiktok_put,
    tiktok_status,
    tiktok_upload,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # facebook-business's type-checker notes
FIELDS = ("views", "likes", "comments", "shares", "saves", "watch_time_s", "followers_gained")


@pytest.fixture(scope="module")
def reel_a(tmp_path_factory) -> tuple[Path, dict]:
    """(path, variant) of a reel (3.5 s: Instagram's minimum is 3 s) carrying variant()'s descriptor."""
    v = variant()
    return reel(tmp_path_factory.mktemp("reels") / "a.mp4", creative.descriptor_json(v)), v


@pytest.fixture(scope="module")
def reel_b(tmp_path_factory) -> tuple[Path, dict]:
    v = other_variant()
    return reel(tmp_path_factory.mktemp("reels") / "b.mp4", creative.descriptor_json(v), color="white"), v


def _key(sandbox) -> str:
    return sandbox.config.api_keys[0]


def _advance(url: str, hours: float) -> None:
    httpx.post(url + "/sandbox/clock/advance", json={"hours": hours}, timeout=30).raise_for_status()


def _now(url: str) -> datetime:
    return datetime.fromisoformat(httpx.get(url + "/sandbox/clock").json()["now"])


def _refused_everywhere(sandbox, data: bytes) -> str:
    """Upload `data` through TikTok and Instagram: both refuse it and nothing is posted or kept. Returns
    Instagram's status text (the probe's reason)."""
    url, key = sandbox.url, _key(sandbox)
    publish_id, put = tiktok_upload(url, key, data)
    assert put.status_code == 201, put.text  # the bytes arrived; the probe refuses them afterwards
    status = tiktok_status(url, key, publish_id)
    assert status["status"] == "FAILED" and status["fail_reason"] == "file_format_check_failed", status
    container, up = ig_upload(url, key, data)
    assert up.status_code == 200, up.text
    ig = ig_finished(url, key, container)
    assert ig["status_code"] == "ERROR" and "2207026" in ig["status"], ig
    assert sandbox_posts.truth_posts(url) == [] and sandbox.state.get_media(media_id_of(data)) is None
    assert httpx.get(url + "/sandbox/health").status_code == 200
    return ig["status"]


# ------------------------------------------------------------------------------------ media
def test_an_upload_is_kept_byte_for_byte_with_its_descriptor(sandbox, mp4_with_descriptor):
    path, v = mp4_with_descriptor
    data = path.read_bytes()
    publish_id, put = tiktok_upload(sandbox.url, _key(sandbox), data)
    assert put.status_code == 201, put.text
    assert tiktok_status(sandbox.url, _key(sandbox), publish_id)["status"] == "PUBLISH_COMPLETE"
    media = sandbox.state.get_media(media_id_of(data))
    assert media["bytes"] == len(data) and media["sha256"] == hashlib.sha256(data).hexdigest()
    assert media["duration_s"] == pytest.approx(1.0, abs=0.1) and (media["width"], media["height"]) == (108, 192)
    assert media["descriptor"] == v
    [post] = sandbox_posts.truth_posts(sandbox.url)
    assert post["variant_id"] == v["variant_id"] and post["platform"] == "tiktok"


def test_uploads_streamed_with_chunked_encoding(sandbox, reel_a):
    data = reel_a[0].read_bytes()

    def chunks():
        for i in range(0, len(data), 700):
            yield data[i : i + 700]

    init = tiktok_init(sandbox.url, _key(sandbox), len(data)).json()["data"]
    assert tiktok_put(init["upload_url"], chunks(), len(data)).status_code == 201
    made = ig_container(sandbox.url, _key(sandbox), upload_type="resumable").json()
    assert ig_put(made["uri"], _key(sandbox), chunks(), len(data)).status_code == 200
    assert ig_finished(sandbox.url, _key(sandbox), made["id"])["status_code"] == "FINISHED"
    assert ig_publish(sandbox.url, _key(sandbox), made["id"]).status_code == 200
    assert sandbox.state.get_media(media_id_of(data))["bytes"] == len(data)
    assert len(sandbox_posts.truth_posts(sandbox.url)) == 2  # one video, a post on each platform


@pytest.mark.parametrize("content", [b"garbage" * 500, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 400])
def test_a_file_that_is_not_a_video_is_refused(sandbox, content):
    assert "MP4" in _refused_everywhere(sandbox, content)


def test_a_truncated_mp4_is_refused(sandbox, mp4_with_descriptor):
    data = mp4_with_descriptor[0].read_bytes()
    assert "MP4" in _refused_everywhere(sandbox, data[: len(data) // 2])


def test_an_empty_upload_or_one_of_another_type_is_refused(sandbox, mp4_with_descriptor):
    url, key = sandbox.url, _key(sandbox)
    data = mp4_with_descriptor[0].read_bytes()
    assert "video_size" in tiktok_init(url, key, 0).json()["error"]["message"]
    init = tiktok_init(url, key, len(data)).json()["data"]
    wrong = tiktok_put(init["upload_url"], data, len(data), content_type="application/json")
    assert wrong.status_code == 400 and "Content-Type" in wrong.json()["error"]["message"]
    uri = ig_container(url, key, upload_type="resumable").json()["uri"]
    empty = ig_put(uri, key, b"", 0)
    assert empty.status_code == 400 and "file_size" in empty.json()["error"]["message"]
    assert sandbox_posts.truth_posts(url) == []


def test_an_upload_over_the_size_limit_is_refused(mp4_with_descriptor):
    data = mp4_with_descriptor[0].read_bytes()
    with SandboxServer(sandbox_config(max_upload_bytes=1000)) as server:
        url, key = server.url, _key(server)
        assert "between 1 and 1000 bytes" in tiktok_init(url, key, len(data)).json()["error"]["message"]
        uri = ig_container(url, key, upload_type="resumable").json()["uri"]
        assert ig_put(uri, key, data, len(data)).status_code == 400  # announced over the limit
        over = ig_put(uri, key, data, 500)  # announced under it, sent over it
        assert over.status_code == 413 and over.json()["error"]["type"] == "OAuthException"
        assert httpx.get(url + "/sandbox/health").status_code == 200
        assert sandbox_posts.truth_posts(url) == []


def test_a_reel_names_a_kept_video_by_its_media_id(sandbox, reel_a):
    """video_url: the sandbox fetches nothing, but a URL ending in a media id it keeps is that video."""
    url, key = sandbox.url, _key(sandbox)
    data = reel_a[0].read_bytes()
    unknown = ig_container(url, key, video_url=f"https://cdn.example/{media_id_of(b'never uploaded')}").json()
    assert "Media download has failed" in ig_finished(url, key, unknown["id"])["status"]
    tiktok_upload(url, key, data)
    known = ig_container(url, key, video_url=f"https://cdn.example/videos/{media_id_of(data)}").json()
    assert ig_finished(url, key, known["id"])["status_code"] == "FINISHED"
    assert ig_publish(url, key, known["id"]).status_code == 200
    posts = sandbox.state.list_posts()
    assert len(posts) == 2 and {p["media_id"] for p in posts} == {media_id_of(data)}


def test_video_without_descriptor_is_a_neutral_creative(sandbox, tmp_path, mp4_without_descriptor, mp4_bad_descriptor):
    for path in (mp4_without_descriptor, mp4_bad_descriptor):
        sandbox_posts.publish(sandbox.url, _key(sandbox), path, tmp_path, platform="tiktok",
                              idempotency_key=f"plain-{path.name}")
    items = httpx.get(sandbox.url + "/sandbox/truth/descriptors",
                      headers={"X-Truth-Token": sandbox.truth_token}).json()["items"]
    assert len(items) == 2
    for item in items:
        assert item["variant_id"] is None
        assert all(v is None for v in item["factors"].values())
        assert item["true_er"] == pytest.approx(BASE_ER)  # the neutral rate (0.035 since issue 10; was 0.05)


# ------------------------------------------------------------------------------------ posts
_GOOD_INIT = {"post_info": {"title": "ok", "privacy_level": "SELF_ONLY"},
              "source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}}


@pytest.mark.parametrize("change,status,says", [
    ({"post_info": {"title": 12, "privacy_level": "SELF_ONLY"}}, 400, "post_info.title"),
    ({"post_info": {"title": "😀" * 1101, "privacy_level": "SELF_ONLY"}}, 400, "2200 UTF-16"),  # 2202 runes
    ({"post_info": {"title": "ok", "privacy_level": "EVERYONE"}}, 403, "privacy_level"),
    ({"post_info": {"title": "ok", "privacy_level": "SELF_ONLY", "disable_duet": "yes"}}, 400, "disable_duet"),
    ({"post_info": None}, 400, "post_info"),
    ({"source_info": {"source": "URL"}}, 400, "source_info.source"),
    ({"source_info": {"source": "FILE_UPLOAD", "video_size": 1000}}, 400, "chunk_size"),
])
def test_tiktok_post_fields_are_validated(sandbox, change, status, says):
    resp = httpx.post(sandbox.url + "/v2/post/publish/video/init/", json={**_GOOD_INIT, **change}, timeout=30,
                      headers={"Authorization": f"Bearer {_key(sandbox)}"})
    assert resp.status_code == status and says in resp.json()["error"]["message"], resp.text
    assert tiktok_init(sandbox.url, _key(sandbox), 1000).status_code == 200  # the good one goes through


@pytest.mark.parametrize("params,says", [
    ({"caption": "x" * 2201}, "caption"),
    ({"caption": " ".join(f"#t{i}" for i in range(31))}, "hashtags"),
    ({"caption": " ".join(f"@u{i}" for i in range(21))}, "mentions"),
    ({"media_type": "IMAGE"}, "media_type"),
    ({"upload_type": "chunked"}, "upload_type"),
    ({"upload_type": ""}, "video_url"),
])
def test_instagram_post_fields_are_validated(sandbox, params, says):
    resp = ig_container(sandbox.url, _key(sandbox), **{"upload_type": "resumable", **params})
    assert resp.status_code == 400 and says in resp.json()["error"]["message"], resp.text
    assert resp.json()["error"]["code"] == 100
    assert sandbox.state.get_meta("ig_container_seq") is None  # no container was made


def test_a_post_is_created_once_per_key(sandbox, tmp_path, reel_a):
    url, key = sandbox.url, _key(sandbox)
    first = sandbox_posts.publish(url, key, reel_a[0], tmp_path, idempotency_key="variant-a|instagram|main")
    assert first["status"] == "live" and first["live_at"] == "2025-03-01T12:00:00Z"
    again = sandbox_posts.publish(url, key, reel_a[0], tmp_path, idempotency_key="variant-a|instagram|main")
    assert (again["post_id"], again["sandbox_post_id"]) == (first["post_id"], first["sandbox_post_id"])

    truth = httpx.get(url + "/sandbox/truth/posts", headers={"X-Truth-Token": sandbox.truth_token}).json()
    [t] = truth["items"]
    assert t["post_id"] == first["sandbox_post_id"] and t["create_calls"] == 1  # the adapter found it again
    assert t["variant_id"] == reel_a[1]["variant_id"] and t["platform"] == "instagram"
    assert 0.005 < t["true_er"] < 0.3 and t["expected_views"] > 0
    assert set(truth["factor_effects"]) == {"hook_pattern", "angle", "cta_style", "format", "length_bucket"}
    assert set(truth["factor_effects"]["angle"]) == {"pain_point", "social_proof", "curiosity", "transformation",
                                                     "urgency"}
    # a container is published once; a final chunk sent again (an answer lost) is not a second post
    container = t["idempotency_key"].split(":", 1)[1]
    err = ig_publish(url, key, container).json()["error"]
    assert (err["code"], err["error_subcode"]) == (9007, 2207008)
    data = reel_a[0].read_bytes()
    init = tiktok_init(url, key, len(data)).json()["data"]
    assert [tiktok_put(init["upload_url"], data, len(data)).status_code for _ in range(2)] == [201, 201]
    assert len(sandbox_posts.truth_posts(url)) == 2


def test_scheduled_post_goes_live_when_the_clock_advances(sandbox, tmp_path, mp4_with_descriptor):
    url = sandbox.url
    pub = sandbox_posts.native(url, _key(sandbox), tmp_path)
    try:
        made = pub.publish(media_path=mp4_with_descriptor[0], platform="youtube", account="main", caption="later",
                           hashtags=[], scheduled_at=START + timedelta(hours=3), idempotency_key="sched-1")
        assert datetime.fromisoformat(made["live_at"]) == START + timedelta(hours=3)
        [post] = sandbox_posts.truth_posts(url)
        assert datetime.fromisoformat(post["live_at"]) == START + timedelta(hours=3)
        metrics = sandbox_posts.truth_metrics(url, post["post_id"])
        assert metrics["status"] == "scheduled" and all(metrics[k] == 0 for k in FIELDS)

        _advance(url, 2)
        assert sandbox_posts.truth_metrics(url, post["post_id"])["status"] == "scheduled"
        _advance(url, 1)
        at_live = sandbox_posts.truth_metrics(url, post["post_id"])
        assert at_live["status"] == "live" and at_live["views"] == 0

        # a scheduled time in the past: live as soon as YouTube has processed the video (5 simulated minutes)
        pub.publish(media_path=mp4_with_descriptor[0], platform="youtube", account="main", caption="past",
                    hashtags=[], scheduled_at=datetime(2020, 1, 1), idempotency_key="sched-2")
    finally:
        pub.close()
    past = next(p for p in sandbox_posts.truth_posts(url) if p["caption"].startswith("past"))
    assert datetime.fromisoformat(past["live_at"]) == _now(url) + timedelta(minutes=5)


def test_metrics_grow_as_the_clock_advances_and_match_the_truth(sandbox, tmp_path, reel_a):
    url = sandbox.url
    post = sandbox_posts.publish(url, _key(sandbox), reel_a[0], tmp_path, idempotency_key="grow-1")
    pub = sandbox_posts.native(url, _key(sandbox), tmp_path)
    series = [sandbox_posts.truth_metrics(url, post["sandbox_post_id"])]
    try:
        for hours in (1, 2, 6, 24, 72):
            _advance(url, hours)
            series.append(sandbox_posts.truth_metrics(url, post["sandbox_post_id"]))
            [ig] = pub.metrics_for("instagram", "main", [post["post_id"]])["items"]  # Instagram's insights
            assert {k: ig[k] for k in ("views", "likes", "comments", "shares", "saves")} == \
                {k: series[-1][k] for k in ("views", "likes", "comments", "shares", "saves")}
    finally:
        pub.close()
    for a, b in zip(series, series[1:]):
        assert all(b[k] >= a[k] for k in FIELDS)
        assert datetime.fromisoformat(b["as_of"]) > datetime.fromisoformat(a["as_of"])
    assert series[0]["views"] == 0
    assert 0 < series[1]["views"] < series[3]["views"] < series[-1]["views"]
    assert series[-1]["likes"] > 0 and series[-1]["watch_time_s"] > 0
    assert set(series[-1]) == {"post_id", "as_of", "status", *FIELDS}


def test_metrics_of_several_posts_at_once(sandbox, tmp_path, reel_a, reel_b):
    url = sandbox.url
    posts = [sandbox_posts.publish(url, _key(sandbox), path, tmp_path, idempotency_key=f"batch-{i}")
             for i, path in enumerate((reel_a[0], reel_b[0], reel_a[0]))]
    _advance(url, 5)
    ids = [p["post_id"] for p in posts]
    pub = sandbox_posts.native(url, _key(sandbox), tmp_path)
    try:
        body = pub.metrics_for("instagram", "main", [ids[2], "17989999999999999", ids[0], ids[1], ids[0]])
    finally:
        pub.close()
    assert sorted(m["post_id"] for m in body["items"]) == sorted(ids) and body["unknown"] == ["17989999999999999"]
    assert body["as_of"] == "2025-03-01T17:00:00Z"
    for post in posts:
        item = next(m for m in body["items"] if m["post_id"] == post["post_id"])
        truth = sandbox_posts.truth_metrics(url, post["sandbox_post_id"])
        assert item["views"] == truth["views"] > 0 and item["likes"] == truth["likes"]


def test_truth_descriptors_are_ranked(sandbox, tmp_path, reel_a, reel_b):
    for (path, _), label in ((reel_a, "a"), (reel_b, "b")):
        for platform in ("tiktok", "instagram"):
            sandbox_posts.publish(sandbox.url, _key(sandbox), path, tmp_path, platform=platform,
                                  idempotency_key=f"{label}-{platform}")
    truth = {"X-Truth-Token": sandbox.truth_token}
    items = httpx.get(sandbox.url + "/sandbox/truth/descriptors", headers=truth).json()["items"]
    assert [i["rank"] for i in items] == [1, 2]
    assert items[0]["true_er"] >= items[1]["true_er"]
    posts = sandbox_posts.truth_posts(sandbox.url)
    by_variant = {i["variant_id"]: i["true_er"] for i in items}
    assert len(posts) == 4
    world = World(sandbox.config)
    for p in posts:  # per post: the creative's platform-neutral rate, plus the rate on its platform
        assert p["true_er"] == pytest.approx(by_variant[p["variant_id"]])
        logit = lambda q: math.log(q / (1 - q))  # noqa: E731
        assert logit(p["platform_true_er"]) - logit(p["true_er"]) == pytest.approx(
            world.platform_er_shift[p["platform"]], abs=1e-9)
    assert {i["variant_id"] for i in items} == {reel_a[1]["variant_id"], reel_b[1]["variant_id"]}
    for item in items:
        assert item["posts"] == 2 and sorted(item["platforms"]) == ["instagram", "tiktok"]
        assert item["true_er"] == pytest.approx(world.true_appeal(item["descriptor"])["true_er"])


def test_a_new_post_is_held_in_processing_for_real_seconds(mp4_with_descriptor):
    """WorldConfig.processing_s holds every new post in processing for real seconds, whatever the simulated
    clock says: TikTok's status stays PROCESSING_UPLOAD until then."""
    data = mp4_with_descriptor[0].read_bytes()
    with SandboxServer(sandbox_config(processing_s=0.6)) as server:
        url, key = server.url, _key(server)
        publish_id, put = tiktok_upload(url, key, data)
        assert put.status_code == 201
        _advance(url, 1)  # simulated time does not end the hold
        assert tiktok_status(url, key, publish_id)["status"] == "PROCESSING_UPLOAD"
        time.sleep(0.7)
        done = tiktok_status(url, key, publish_id)
        assert done["status"] == "PUBLISH_COMPLETE" and len(done["publicaly_available_post_id"]) == 1


# ------------------------------------------------------------------------------ persistence
def test_state_survives_a_restart(tmp_path, reel_a):
    state, data_dir = tmp_path / "sandbox.sqlite", tmp_path / "adapters"
    with SandboxServer(sandbox_config(), state_path=state) as server:
        post = sandbox_posts.publish(server.url, _key(server), reel_a[0], data_dir, idempotency_key="persist-1")
        _advance(server.url, 10)
        before = sandbox_posts.truth_metrics(server.url, post["sandbox_post_id"])
        now_before = httpx.get(server.url + "/sandbox/clock").json()["now"]
    assert before["views"] > 0
    assert (tmp_path / "sandbox.sqlite.media" / f"{media_id_of(reel_a[0].read_bytes())}.mp4").exists()

    # same path and seed, a new truth token and a different configured start: the stored world wins
    later = sandbox_config(truth_token="another", start=START + timedelta(days=30))
    with SandboxServer(later, state_path=state) as server:
        assert httpx.get(server.url + "/sandbox/clock").json()["now"] == now_before
        assert sandbox_posts.truth_metrics(server.url, post["sandbox_post_id"], token="another") == before
        replay = sandbox_posts.publish(server.url, _key(server), reel_a[0], data_dir, idempotency_key="persist-1",
                                       truth_token="another")
        assert (replay["post_id"], replay["sandbox_post_id"]) == (post["post_id"], post["sandbox_post_id"])
        assert [t["create_calls"] for t in sandbox_posts.truth_posts(server.url, "another")] == [1]

    with pytest.raises(SeedMismatch):
        SandboxServer(sandbox_config(seed=8), state_path=state)


def test_in_memory_state_starts_empty(tmp_path, mp4_with_descriptor):
    for n in range(2):
        with SandboxServer(sandbox_config()) as server:
            assert sandbox_posts.truth_posts(server.url) == []
            sandbox_posts.publish(server.url, _key(server), mp4_with_descriptor[0], tmp_path / str(n),
                                  platform="tiktok", idempotency_key="mem-1")
            assert len(sandbox_posts.truth_posts(server.url)) == 1


def test_restart_never_goes_back_before_what_already_happened(tmp_path, reel_a):
    state = tmp_path / "lost-checkpoint.sqlite"
    with SandboxServer(sandbox_config(), state_path=state) as server:
        _advance(server.url, 5)
        post = sandbox_posts.publish(server.url, _key(server), reel_a[0], tmp_path, idempotency_key="after-5h")
        server.state.set_meta("clock_offset_s", "0.0")  # as if the last clock checkpoint had been lost
    with SandboxServer(sandbox_config(), state_path=state) as server:
        [stored] = sandbox_posts.truth_posts(server.url)
        assert _now(server.url) == datetime.fromisoformat(stored["live_at"]) == START + timedelta(hours=5)
        assert sandbox_posts.truth_metrics(server.url, post["sandbox_post_id"])["status"] == "live"


# ------------------------------------------------------------------------------ concurrency
def test_concurrent_publishes_of_each_container_create_each_post_once(sandbox, reel_a):
    url, key = sandbox.url, _key(sandbox)
    first, _ = ig_upload(url, key, reel_a[0].read_bytes())
    video_url = f"https://cdn.example/{media_id_of(reel_a[0].read_bytes())}"
    containers = [first] + [ig_container(url, key, f"reel {n}", video_url=video_url).json()["id"] for n in range(7)]
    assert all(ig_finished(url, key, c)["status_code"] == "FINISHED" for c in containers)
    barrier = threading.Barrier(16)
    results: list[tuple[str, int, dict]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            container = containers[n % 8]
            barrier.wait(timeout=30)
            resp = ig_publish(url, key, container)
            with lock:
                results.append((container, resp.status_code, resp.json()))
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == 16 and sorted(status for _, status, _ in results) == [200] * 8 + [400] * 8
    for container in containers:
        mine = [body for c, _, body in results if c == container]
        assert len([b for b in mine if "id" in b]) == 1
        assert [b["error"]["error_subcode"] for b in mine if "error" in b] == [2207008]  # already published
    truth = sandbox_posts.truth_posts(url)
    assert len(truth) == 8 and all(t["create_calls"] == 1 for t in truth)
    assert {t["idempotency_key"] for t in truth} == {f"instagram:{c}" for c in containers}
