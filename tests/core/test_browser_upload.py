"""The Playwright browser uploader, driving Debian's Chromium against a real sandbox's web upload site.

Skipped when Chromium or the playwright package is missing, except under CI=true, where that fails.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from actp_pipeline import creative
from actp_pipeline.chromium import chromium_problem, default_chromium
from actp_pipeline.publish.browser import BrowserPublisher
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from tests.media import make_mp4, variant

START = datetime.fromisoformat("2025-03-01T12:00:00+00:00")
USER, PASSWORD = "creator", "sandbox-pass"


def require_browser(executable_path: str | None = None) -> None:
    """Skip without Chromium/playwright; under CI=true their absence is a failure, not a skip."""
    problem = chromium_problem(executable_path)
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true needs Chromium for the browser uploader tests: {problem}")
    pytest.skip(f"browser uploader tests need Chromium: {problem}")


@pytest.fixture(scope="module")
def browser_ok():
    require_browser()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser_media")
    a = make_mp4(d / "variant_a.mp4", creative.descriptor_json(variant()))
    b = make_mp4(d / "variant_b.mp4", creative.descriptor_json(variant(hook_pattern="question")), color="white")
    bad = d / "not_a_video.mp4"
    bad.write_bytes(b"this is text, not an MP4\n" * 50)
    return {"a": a, "b": b, "bad": bad}


@pytest.fixture
def sandbox():
    with SandboxServer(WorldConfig(start=START, truth_token="truth-for-tests")) as server:
        yield server


@pytest.fixture(scope="module")
def shared(browser_ok, tmp_path_factory):
    """One sandbox and one logged-in publisher (default pool of 3) for the tests that count no logins."""
    tmp = tmp_path_factory.mktemp("shared_publisher")
    with SandboxServer(WorldConfig(start=START, truth_token="truth-for-tests")) as server, \
            _publisher(server, tmp) as pub:
        yield server, pub, tmp


def _publisher(sandbox, tmp_path, **kw) -> BrowserPublisher:
    kw.setdefault("storage_state_path", tmp_path / "session" / "state.json")
    kw.setdefault("screenshot_dir", tmp_path / "shots")
    kw.setdefault("timeout_s", 15.0)
    kw.setdefault("submit_timeout_s", 30.0)
    return BrowserPublisher(sandbox.url, kw.pop("username", USER), kw.pop("password", PASSWORD), **kw)


def _publish(pub: BrowserPublisher, path: Path, key: str, **kw) -> dict:
    args = {"media_path": path, "platform": "tiktok", "account": "main", "caption": "Try this\nroutine",
            "hashtags": ["#skincare", "#routine"], "scheduled_at": None, "idempotency_key": key}
    args.update(kw)
    return pub.publish(**args)


def _sandbox_post(sandbox, key: str) -> dict | None:
    """The sandbox's own record of the post made with this key (post_id, url, live_at, caption, hashtags), checked
    against its ground truth (GET /sandbox/truth/posts); None when it has none."""
    made = [p for p in _truth_posts(sandbox) if p["idempotency_key"] == key]
    stored = sandbox.state.get_post_by_key(key)
    assert [p["post_id"] for p in made] == ([stored["post_id"]] if stored else [])
    if stored is not None:
        assert (made[0]["live_at"], made[0]["caption"]) == (stored["live_at"], stored["caption"])
    return stored


def _truth_posts(sandbox) -> list[dict]:
    return httpx.get(sandbox.url + "/sandbox/truth/posts", headers={"X-Truth-Token": sandbox.truth_token}).json()["items"]


def _assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------------- tests
def test_publish_reuses_the_stored_session_and_replays_idempotently(browser_ok, sandbox, videos, tmp_path):
    state = tmp_path / "session" / "state.json"
    with _publisher(sandbox, tmp_path) as pub:
        post = _publish(pub, videos["a"], "bu-1", scheduled_at=datetime(2025, 3, 2, 18, 0))
        made = _sandbox_post(sandbox, "bu-1")
        assert made is not None
        assert (post["post_id"], post["url"], post["live_at"]) == (made["post_id"], made["url"], made["live_at"])
        assert post["live_at"] == "2025-03-02T18:00:00Z" and post["status"] == "scheduled"
        assert made["caption"] == "Try this\nroutine" and made["hashtags"] == ["#skincare", "#routine"]
        # the session was stored (a secret: owner-only) and has the site's cookie
        assert state.is_file() and stat.S_IMODE(state.stat().st_mode) == 0o600
        assert any(c["name"] == "actp_session" for c in json.loads(state.read_text())["cookies"])
        assert pub.logins == 1 and sandbox.api.web.login_count() == 1
        # a second upload in the same publisher uses the logged-in context
        _publish(pub, videos["b"], "bu-2", platform="youtube")
        assert sandbox.api.web.login_count() == 1

    # a new publisher (a new process, say) starts from the stored session: no login page
    with _publisher(sandbox, tmp_path) as pub:
        third = _publish(pub, videos["b"], "bu-3", platform="instagram")
        assert third["post_id"] == _sandbox_post(sandbox, "bu-3")["post_id"]
        assert pub.logins == 0 and sandbox.api.web.login_count() == 1
        # replaying a key returns the same post and the sandbox still has one post for it
        replay = _publish(pub, videos["a"], "bu-1")
        assert replay["post_id"] == post["post_id"] and replay["url"] == post["url"]
        assert pub.find_post("bu-1") == {"post_id": post["post_id"], "url": post["url"], "live_at": post["live_at"],
                                         "status": "scheduled", "idempotency_key": "bu-1"}
        assert pub.find_post("never-posted") is None
    posts = {p["idempotency_key"]: p for p in _truth_posts(sandbox)}
    assert sorted(posts) == ["bu-1", "bu-2", "bu-3"]
    assert posts["bu-1"]["create_calls"] == 2 and posts["bu-2"]["create_calls"] == 1


def test_concurrent_publishes_from_threads_share_the_context_pool(shared, videos):
    sandbox, pub, _ = shared
    results: dict[str, dict] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[f"bu-thread-{i}"] = _publish(pub, videos["a" if i % 2 else "b"], f"bu-thread-{i}")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]  # more callers than contexts
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(pub._idle) <= pub.pool_size == 3  # never more contexts than the pool allows
    assert 1 <= pub.logins <= 3
    assert len({r["post_id"] for r in results.values()}) == 4
    for key, post in results.items():
        assert _sandbox_post(sandbox, key)["post_id"] == post["post_id"]


def test_a_wrong_password_raises_with_a_screenshot(browser_ok, sandbox, videos, tmp_path):
    with _publisher(sandbox, tmp_path, password="not-the-password") as pub:
        with pytest.raises(PlatformError) as info:
            _publish(pub, videos["a"], "bu-wrong-pw")
    err = info.value
    assert not isinstance(err, AmbiguousOutcome)
    assert err.status == 401 and err.retryable is False
    assert "wrong username or password" in str(err) and "not-the-password" not in str(err)
    shot = err.screenshot_path
    assert str(shot) in str(err) and shot.name.startswith("bu-wrong-pw-") and shot.parent == tmp_path / "shots"
    _assert_png(shot)
    assert not (tmp_path / "session" / "state.json").exists()
    assert _truth_posts(sandbox) == []


def test_a_non_mp4_file_is_refused_with_a_screenshot(shared, videos):
    sandbox, pub, _ = shared
    with pytest.raises(PlatformError) as info:
        _publish(pub, videos["bad"], "bu/not an mp4")
    err = info.value
    assert not isinstance(err, AmbiguousOutcome)  # the site said no: nothing was posted
    assert err.status == 415 and err.retryable is False and "video" in str(err)
    _assert_png(err.screenshot_path)
    assert err.screenshot_path.name.startswith("bu_not_an_mp4-")
    # the publisher stays usable after a failure
    assert _publish(pub, videos["a"], "bu-after-failure")["post_id"]
    keys = [p["idempotency_key"] for p in _truth_posts(sandbox)]
    assert "bu-after-failure" in keys and "bu/not an mp4" not in keys


def test_arguments_the_form_cannot_take_fail_before_submitting(shared, videos):
    sandbox, pub, tmp_path = shared
    with pytest.raises(PlatformError, match="no account") as info:
        _publish(pub, videos["a"], "bu-no-account", account="nobody")
    assert not isinstance(info.value, AmbiguousOutcome) and info.value.retryable is False
    _assert_png(info.value.screenshot_path)
    with pytest.raises(PlatformError, match="single words"):
        _publish(pub, videos["a"], "bu-spaces", hashtags=["#two words"])
    with pytest.raises(PlatformError, match="not a file"):
        _publish(pub, tmp_path / "missing.mp4", "bu-missing")
    keys = {p["idempotency_key"] for p in _truth_posts(sandbox)}
    assert not keys & {"bu-no-account", "bu-spaces", "bu-missing"}


def test_a_connection_lost_after_submit_is_ambiguous_and_reconciled(shared, videos, monkeypatch):
    sandbox, pub, tmp_path = shared
    real_app = sandbox.api.app

    async def handle_then_drop(scope, receive, send):
        if scope.get("method") == "POST" and scope.get("path") == "/web/upload":
            async def unsent(message):
                pass

            await real_app(scope, receive, unsent)  # the post is made ...
            send.__self__.transport.abort()  # ... and uvicorn's connection closes without answering
            raise ConnectionResetError("dropped after the post was made")
        await real_app(scope, receive, send)

    monkeypatch.setattr(sandbox.api, "app", handle_then_drop)
    with pytest.raises(AmbiguousOutcome) as info:
        _publish(pub, videos["a"], "bu-dropped")
    monkeypatch.undo()
    assert "may exist" in str(info.value) and info.value.retryable
    _assert_png(info.value.screenshot_path)
    made = _sandbox_post(sandbox, "bu-dropped")
    assert made is not None  # the post exists although the browser never saw the confirmation
    assert pub.lookup is None
    found = pub.find_post("bu-dropped")  # through the site's post list (/web/posts), as make_publisher builds it
    assert (found["post_id"], found["url"]) == (made["post_id"], made["url"])
    # Chromium itself may resend a POST whose kept-alive connection died without an answer: the key
    # makes that a replay, so there is still exactly one post
    assert [p["idempotency_key"] for p in _truth_posts(sandbox)].count("bu-dropped") == 1


def test_a_session_lost_while_submitting_logs_in_and_submits_once_more(shared, videos, monkeypatch):
    """The site expires the session as the form is posted: it answers with its login page, nothing is
    posted; the uploader opens the upload page again, is sent to log in, logs in, stores the new session
    and submits once more."""
    sandbox, pub, tmp_path = shared
    real_app, web = sandbox.api.app, sandbox.api.web
    logins_before, expired = sandbox.api.web.login_count(), []
    state = tmp_path / "session" / "state.json"
    cookie_before = [c["value"] for c in json.loads(state.read_text())["cookies"] if c["name"] == "actp_session"]

    async def expire_on_first_upload(scope, receive, send):
        if scope.get("method") == "POST" and scope.get("path") == "/web/upload" and not expired:
            expired.append(True)  # every session is past its expiry from now on: the site sends us to log in
            ttl = sandbox.config.web_session_ttl_s
            monkeypatch.setattr(web, "wall_clock", lambda: time.time() + ttl + 60)
        await real_app(scope, receive, send)

    monkeypatch.setattr(sandbox.api, "app", expire_on_first_upload)
    post = _publish(pub, videos["a"], "bu-relogin")
    assert expired and sandbox.api.web.login_count() == logins_before + 1
    assert post["post_id"] == _sandbox_post(sandbox, "bu-relogin")["post_id"]
    assert [p["create_calls"] for p in _truth_posts(sandbox) if p["idempotency_key"] == "bu-relogin"] == [1]
    cookie_after = [c["value"] for c in json.loads(state.read_text())["cookies"] if c["name"] == "actp_session"]
    assert len(cookie_after) == 1 and cookie_after != cookie_before  # the new session was stored


def test_missing_chromium_skips_locally_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium"):
        require_browser("/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_browser("/nonexistent/chromium")
    monkeypatch.setenv("ACTP_CHROMIUM", "/opt/other/chromium")
    assert default_chromium() == "/opt/other/chromium"


def test_a_closed_publisher_refuses_work_and_close_is_idempotent(sandbox, tmp_path, videos):
    pub = _publisher(sandbox, tmp_path)
    pub.close()
    pub.close()
    with pytest.raises(PlatformError, match="closed"):
        _publish(pub, videos["a"], "bu-closed")
