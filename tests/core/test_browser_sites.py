"""The browser publisher's per-platform page objects (publish/browser_sites/) against the sandbox's copies
of TikTok Studio, YouTube Studio and Instagram's create flow, in Debian's Chromium through Playwright.

The pages show each platform's own public link, so a post's id is the platform's public id (TikTok's video
id, YouTube's video id, Instagram's shortcode): the sandbox's truth names it as `public_id` of its post, and
each platform's native metrics reader measures the post by it.

Skipped when Chromium or the playwright package is missing, except under CI=true, where that fails.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

import httpx
import pytest

from actp_pipeline import creative
from actp_pipeline.publish.browser import BrowserPublisher
from actp_pipeline.publish.browser_sites import site_for
from actp_pipeline.publish.browser_sites.base import ref_marker
from actp_pipeline.publish.browser_sites.youtube import ref_tag
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from tests import sandbox_posts
from tests.core.test_browser_upload import require_browser
from tests.media import make_mp4, variant

START = datetime.fromisoformat("2025-03-01T12:00:00+00:00")
USER, PASSWORD = "creator", "sandbox-pass"
SITES = ("tiktok", "youtube", "instagram")
# each platform's public link of a post, and the shape of its id there
PUBLIC_LINKS = {"tiktok": (r"https://www\.tiktok\.com/@main/video/(\d{19})", r"\d{19}"),
                "youtube": (r"https://youtu\.be/([A-Za-z0-9_-]{11})", r"[A-Za-z0-9_-]{11}"),
                "instagram": (r"https://www\.instagram\.com/reel/(C[0-9a-f]{10})/", r"C[0-9a-f]{10}")}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("site_media")
    a = make_mp4(d / "variant_a.mp4", creative.descriptor_json(variant()))
    bad = d / "not_a_video.mp4"
    bad.write_bytes(b"this is text, not an MP4\n" * 50)
    return {"a": a, "bad": bad}


@pytest.fixture(scope="module")
def sandbox():
    require_browser()
    with SandboxServer(WorldConfig(start=START, truth_token="truth-for-tests")) as server:
        yield server


@pytest.fixture(scope="module")
def publishers(sandbox, tmp_path_factory):
    """One publisher per site, each with its own stored session, sharing the sandbox."""
    tmp = tmp_path_factory.mktemp("site_publishers")
    pubs = {name: BrowserPublisher(sandbox.url, USER, PASSWORD, site=name, pool_size=1, timeout_s=15.0,
                                   submit_timeout_s=30.0, storage_state_path=tmp / name / "state.json",
                                   screenshot_dir=tmp / name / "shots") for name in SITES}
    yield pubs
    for pub in pubs.values():
        pub.close()


def _publish(pub: BrowserPublisher, path, key: str, **kw) -> dict:
    args = {"media_path": path, "platform": pub.site.platform, "account": "main",
            "caption": "Try this\nroutine", "hashtags": ["#skincare", "#routine"], "scheduled_at": None,
            "idempotency_key": key}
    args.update(kw)
    return pub.publish(**args)


def _sandbox_post(sandbox, post: dict) -> dict:
    """The sandbox's own record of the browser's `post` (whose post_id is its platform's public id: the truth's
    `public_id` of the sandbox post), with its status now as the world's counts have it (GET
    /sandbox/truth/metrics) and checked against the ground truth's list of posts."""
    [truth] = [p for p in _truth_posts(sandbox) if p["public_id"] == post["post_id"]]
    link, _ = PUBLIC_LINKS[truth["platform"]]
    assert re.fullmatch(link, post["url"]) and re.fullmatch(link, post["url"]).group(1) == post["post_id"]
    post_id = truth["post_id"]
    stored = sandbox.state.get_post(post_id)
    assert stored is not None, post_id
    assert (truth["platform"], truth["account"], truth["caption"], truth["live_at"]) == (
        stored["platform"], stored["account"], stored["caption"], stored["live_at"])
    resp = httpx.get(f"{sandbox.url}/sandbox/truth/metrics", params={"post_id": post_id},
                     headers={"X-Truth-Token": sandbox.truth_token})
    assert resp.status_code == 200, resp.text
    return {**stored, "status": resp.json()["status"]}


def _truth_posts(sandbox) -> list[dict]:
    return httpx.get(sandbox.url + "/sandbox/truth/posts", headers={"X-Truth-Token": sandbox.truth_token}).json()["items"]


def _assert_png(path) -> None:
    assert path is not None and path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------ no browser
def test_the_markers_are_the_api_adapters_markers():
    key = "v_123:tiktok:main"
    assert ref_marker(key) == "ref:" + hashlib.sha256(key.encode()).hexdigest()[:10]
    from actp_pipeline.publish import tiktok

    assert ref_marker(key) == tiktok.key_marker(key)
    try:
        from actp_pipeline.publish import youtube
    except ImportError:  # google-api-python-client missing: the formula is checked above the same way
        pass
    else:
        assert ref_tag(key) == youtube.ref_tag(key)
    assert site_for("tiktok").marker(key) == ref_marker(key) and site_for("youtube").marker(key) == ref_tag(key)


def test_a_posts_id_is_the_public_id_in_its_link():
    from actp_pipeline.publish.browser_sites.base import id_of

    assert id_of("https://www.tiktok.com/@main/video/7345678901234567890?is_from_webapp=1") == "7345678901234567890"
    for link in ("https://youtu.be/dQw4w9WgXcQ", "https://www.youtube.com/shorts/dQw4w9WgXcQ",
                 "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=3"):
        assert id_of(link) == "dQw4w9WgXcQ"
    assert id_of("https://www.instagram.com/reel/C0ffee12345/") == id_of("/reel/C0ffee12345") == "C0ffee12345"
    assert id_of("https://sandbox.actp.local/tiktok/@main/video/p_0123abcd") == "p_0123abcd"  # the generic form's


def test_site_names_and_the_default():
    assert site_for(None).name == "generic" and site_for("TikTok-live").live
    with pytest.raises(ValueError, match="unknown upload site"):
        site_for("myspace")
    pub = BrowserPublisher("http://127.0.0.1:9", USER, PASSWORD)
    assert pub.site.name == "generic" and pub.site.keeps_key
    with BrowserPublisher("http://127.0.0.1:9", USER, PASSWORD, site="youtube") as yt:
        with pytest.raises(PlatformError, match="posts to youtube") as info:
            yt.publish(media_path=__file__, platform="tiktok", account="main", caption="", hashtags=[],
                       scheduled_at=None, idempotency_key="k")
        assert info.value.retryable is False and yt._loop is None  # refused before any browser work


# -------------------------------------------------------------------------------- with a browser
@pytest.mark.parametrize("name", SITES)
def test_each_site_logs_in_uploads_and_the_post_exists(name, sandbox, publishers, videos):
    pub = publishers[name]
    key = f"site-{name}-1"
    post = _publish(pub, videos["a"], key)
    made = _sandbox_post(sandbox, post)
    assert (made["platform"], made["account"]) == (name, "main") and made["post_id"].startswith("p_")
    assert re.fullmatch(PUBLIC_LINKS[name][1], post["post_id"])  # the platform's id, not the sandbox's
    assert post["live_at"] == made["live_at"] and post["status"] == made["status"] == "live"
    assert made["caption"].startswith("Try this")
    if name == "youtube":  # the reference is a tag (and the description's last line)
        assert ref_tag(key) in made["hashtags"] and made["caption"].endswith(ref_tag(key))
    else:
        assert made["caption"].endswith(ref_marker(key)) and "#skincare" in made["hashtags"]
    assert pub.logins == 1
    # the site's own list finds it by the key's marker, and publishing the key again posts nothing
    assert pub.find_post(key) == post
    assert _publish(pub, videos["a"], key) == post
    assert [p["create_calls"] for p in _truth_posts(sandbox) if p["public_id"] == post["post_id"]] == [1]
    assert pub.find_post(f"site-{name}-never") is None and pub.logins == 1


@pytest.mark.parametrize("name", ("tiktok", "youtube"))
def test_a_scheduled_post(name, sandbox, publishers, videos):
    post = _publish(publishers[name], videos["a"], f"site-{name}-later", scheduled_at=datetime(2025, 3, 3, 18, 30))
    made = _sandbox_post(sandbox, post)
    assert made["scheduled_at"] == made["live_at"] == post["live_at"] == "2025-03-03T18:30:00Z"
    assert made["status"] == "scheduled"
    assert post["status"] == "scheduled"


@pytest.mark.parametrize("name", SITES)
def test_a_refused_file_is_a_definite_failure_with_a_screenshot(name, sandbox, publishers, videos):
    pub = publishers[name]
    with pytest.raises(PlatformError) as info:
        _publish(pub, videos["bad"], f"site-{name}-bad")
    err = info.value
    assert not isinstance(err, AmbiguousOutcome) and err.retryable is False
    assert err.status == 415 and "MP4" in str(err)
    _assert_png(err.screenshot_path)
    assert err.screenshot_path.name.startswith(f"site-{name}-bad-")
    assert not [p for p in _truth_posts(sandbox) if ref_marker(f"site-{name}-bad") in str(p)]


def test_instagram_refuses_a_schedule_before_uploading(publishers, videos):
    with pytest.raises(PlatformError, match="cannot schedule") as info:
        _publish(publishers["instagram"], videos["a"], "site-ig-later", scheduled_at=datetime(2025, 3, 3, 18))
    assert info.value.retryable is False and not isinstance(info.value, AmbiguousOutcome)
    _assert_png(info.value.screenshot_path)


def test_a_connection_lost_after_the_post_click_is_ambiguous_and_reconciled(sandbox, publishers, videos, monkeypatch):
    """TikTok: the post is made but the browser never sees the answer; the outcome is ambiguous, and the
    post is found again by its marker, in the browser and through TikTok's API adapter."""
    pub = publishers["tiktok"]
    real_app = sandbox.api.app
    before_send_calls = []

    async def handle_then_drop(scope, receive, send):
        if scope.get("method") == "POST" and scope.get("path") == "/web/tiktokstudio/api/post":
            async def unsent(message):
                pass

            await real_app(scope, receive, unsent)  # the post is made ...
            send.__self__.transport.abort()  # ... and the connection closes without an answer
            raise ConnectionResetError("dropped after the post was made")
        await real_app(scope, receive, send)

    monkeypatch.setattr(sandbox.api, "app", handle_then_drop)
    with pytest.raises(AmbiguousOutcome) as info:
        _publish(pub, videos["a"], "site-tiktok-dropped", before_send=lambda: before_send_calls.append(1))
    monkeypatch.undo()
    assert "may exist" in str(info.value) and info.value.retryable and before_send_calls == [1]
    _assert_png(info.value.screenshot_path)
    marker = ref_marker("site-tiktok-dropped")
    made = [p for p in _truth_posts(sandbox) if p["platform"] == "tiktok"]
    made = [p for p in made if marker in p["caption"]]
    assert len(made) == 1
    found = pub.find_post("site-tiktok-dropped")
    assert found["post_id"] == made[0]["public_id"]
    # publishing the key again is the found post, not a second post
    assert _publish(pub, videos["a"], "site-tiktok-dropped")["post_id"] == found["post_id"]
    assert len([p for p in _truth_posts(sandbox) if p["public_id"] == found["post_id"]]) == 1
    # and through the API: TikTok's Content Posting adapter finds the browser's post by the same marker
    from actp_pipeline.publish.tiktok import TikTokPublisher

    api = TikTokPublisher("sandbox-key", base_url=sandbox.url, account="main")
    with BrowserPublisher(sandbox.url, USER, PASSWORD, site="tiktok", lookup=api) as via_api:
        via = via_api.find_post("site-tiktok-dropped")  # TikTok's id for it: the public video id
        assert via is not None and via["idempotency_key"] == "site-tiktok-dropped"
        assert via["post_id"] == found["post_id"]  # the id the browser read from the page
        assert via_api._loop is None  # no browser for a lookup


# ------------------------------------------------------------- measured through the platform's own API
@pytest.mark.parametrize("name", SITES)
def test_a_browser_post_is_measured_by_the_platforms_native_reader(name, sandbox, publishers, videos, tmp_path):
    """What the loop does with a post made through a site: it measures the id the page showed through the
    platform's own API (TikTok's video/query, YouTube's videos.list, Instagram's insights after resolving the
    shortcode among the user's media), and gets the world's counts, not "unknown"."""
    key = f"site-{name}-measured"
    post = _publish(publishers[name], videos["a"], key)
    made = _sandbox_post(sandbox, post)
    httpx.post(sandbox.url + "/sandbox/clock/advance", json={"hours": 3}).raise_for_status()
    never = {"tiktok": "7000000000000000001", "youtube": "AAAAAAAAAAA", "instagram": "Cdeadbeef00"}[name]
    reader = sandbox_posts.native(sandbox.url, sandbox.config.api_keys[0], tmp_path)
    try:
        got = reader.metrics_for(name, "main", [post["post_id"], never])
        again = reader.metrics_for(name, "main", [post["post_id"]])  # Instagram: the shortcode's media id is kept
        via_api = reader.find_post_for(name, "main", key)  # the platform's API finds the browser's post by its marker
    finally:
        reader.close()
    assert got["unknown"] == [never] and got["pending"] == [] and again["unknown"] == []
    [item] = got["items"]
    truth = sandbox_posts.truth_metrics(sandbox.url, made["post_id"], sandbox.truth_token)
    assert item["post_id"] == post["post_id"] and item["status"] == "live"
    assert (item["views"], item["likes"], item["comments"]) == (truth["views"], truth["likes"], truth["comments"])
    assert item["views"] > 0 and again["items"][0]["views"] == item["views"]
    if name == "instagram":  # the API names the reel by its media id; the shortcode resolved to it
        assert via_api["post_id"] == item["media_id"] and via_api["url"] == post["url"]
    else:
        assert via_api["post_id"] == post["post_id"]
