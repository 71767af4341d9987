"""The platform host's own endpoints (`HttpPlatform`: its clock and its errors), and the guarantees every
posting adapter owes the publish worker, shown on the TikTok adapter (publish/tiktok.py) against the real
sandbox over HTTP: a timeout or a lost answer after the create call was sent is AmbiguousOutcome, never
retried blind by the adapter, and find_post then tells whether the post exists (reconciled, not re-posted);
a refusal is a PlatformError that says whether a retry may help (`retryable`, `retry_after_s`).

What tests/contract/test_tiktok.py covers already is not repeated here: the round trip, a lost answer to the
final chunk, 429 on video/init and the daily cap as SendRefused, a bad token, a file TikTok refuses, polling
through a status 429."""

import dataclasses
import datetime as dt
import threading
import time

import httpx
import pytest

from actp_pipeline.publish.platforms import HttpPlatform
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError, SendRefused
from actp_pipeline.publish.tiktok import TikTokPublisher
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.routes.tiktok import TikTokDialect

START = dt.datetime(2026, 11, 1, 6)
INIT, STATUS, CREATOR = ("/v2/post/publish/video/init/", "/v2/post/publish/status/fetch/",
                         "/v2/post/publish/creator_info/query/")


# ------------------------------------------------------------------------------ the host: clock, errors
def test_clock_falls_back_to_wall_time_without_a_clock_endpoint():
    def handler(request):
        return httpx.Response(404, json={"error": {"code": "unknown_route", "message": "no"}})

    api = HttpPlatform("http://platform.invalid", "k")
    api._http = httpx.Client(base_url="http://platform.invalid", transport=httpx.MockTransport(handler))
    wall = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert abs((api.now() - wall).total_seconds()) < 2


def test_the_clock_is_the_sandboxs_simulated_time():
    with SandboxServer(WorldConfig(seed=2, start=START)) as sb, HttpPlatform(sb.url, sb.config.api_keys[0]) as api:
        assert api.now() == START  # paused: the same instant however long the test takes
        httpx.post(sb.url + "/sandbox/clock/advance", json={"hours": 2}, timeout=30).raise_for_status()
        time.sleep(1.1)  # the clock is re-read at most once a second
        assert api.now() == START + dt.timedelta(hours=2)


@pytest.mark.parametrize("status,headers,retryable,retry_after_s", [
    (401, {}, False, None),  # a clear answer about this call: retrying will not help
    (400, {}, False, None),
    (429, {"Retry-After": "7"}, True, 7.0),  # the host's limit: wait as long as it says
    (503, {}, True, None),
])
def test_host_errors_say_whether_a_retry_helps(status, headers, retryable, retry_after_s):
    def handler(request):
        return httpx.Response(status, headers=headers, json={"error": {"code": "x", "message": "no"}})

    api = HttpPlatform("http://platform.invalid", "k")
    api._http = httpx.Client(base_url="http://platform.invalid", transport=httpx.MockTransport(handler))
    with pytest.raises(PlatformError) as e:
        list(api.market_feed("trending", "2026-10-31"))
    assert (e.value.status, e.value.retryable, e.value.retry_after_s) == (status, retryable, retry_after_s)
    assert not isinstance(e.value, AmbiguousOutcome)


def test_a_wrong_key_is_refused_and_an_unreachable_host_was_not_sent_to():
    with SandboxServer(WorldConfig(seed=2, start=START)) as sb, HttpPlatform(sb.url, "wrong-key") as api:
        with pytest.raises(PlatformError, match="401") as e:
            list(api.market_feed("trending", "2026-10-31"))
        assert e.value.status == 401 and not e.value.retryable
    with HttpPlatform("http://127.0.0.1:9", "k") as api, pytest.raises(PlatformError) as e:
        list(api.market_feed("ads", "2026-10-31"))
    assert e.value.retryable and not e.value.sent


# ------------------------------------------------------------------- the TikTok adapter's guarantees
class Faults(httpx.HTTPTransport):
    """The sandbox over real HTTP, with scripted faults by path: `lose[path]` answers lost after the sandbox
    carried the request out (a read timeout, or an HTTP `lost_as` error); `refuse[path]` statuses answered
    in its place without reaching the sandbox; `delay[path]` seconds each request waits before it is sent.
    `sent` lists the paths that reached it."""

    def __init__(self, *, lose: dict[str, int] | None = None, lost_as: int | None = None,
                 refuse: dict[str, list[int]] | None = None, delay: dict[str, list[float]] | None = None):
        super().__init__()
        self.lose, self.lost_as = dict(lose or {}), lost_as
        self.refuse = {k: list(v) for k, v in (refuse or {}).items()}
        self.delay = {k: list(v) for k, v in (delay or {}).items()}
        self.sent: list[str] = []
        self.lock = threading.Lock()

    @staticmethod
    def _error(status: int, request: httpx.Request) -> httpx.Response:
        code = "rate_limit_exceeded" if status == 429 else "internal_error"
        return httpx.Response(status, json={"data": {}, "error": {"code": code, "message": "injected",
                                                                  "log_id": "test"}}, request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self.lock:
            refused = self.refuse[path].pop(0) if self.refuse.get(path) else None
            wait = self.delay[path].pop(0) if self.delay.get(path) else 0.0
        if refused is not None:
            return self._error(refused, request)
        time.sleep(wait)
        with self.lock:
            self.sent.append(path)
        response = super().handle_request(request)
        with self.lock:
            lose = self.lose.get(path, 0) > 0
            if lose:
                self.lose[path] -= 1
        if lose:
            response.read()
            if self.lost_as is None:
                raise httpx.ReadTimeout("the answer was lost", request=request)
            return self._error(self.lost_as, request)
        return response


@pytest.fixture
def sandbox():
    with SandboxServer(WorldConfig(seed=2, start=START, truth_token="truth-for-tests")) as server:
        yield server


def _tiktok(sb: SandboxServer, **kw) -> TikTokPublisher:
    kw.setdefault("poll_interval_s", 0.05)
    kw.setdefault("sleep", lambda s: None)
    return TikTokPublisher(sb.config.api_keys[0], base_url=sb.url, clock=sb.clock.now, **kw)


def _publish(pub: TikTokPublisher, path, key: str) -> dict:
    return pub.publish(media_path=path, platform="tiktok", account="main", caption="c", hashtags=[],
                       scheduled_at=None, idempotency_key=key)


def _tiktok_posts(sb: SandboxServer) -> list[dict]:
    return [p for p in sb.state.list_posts() if p["platform"] == "tiktok"]


def _advance(sb: SandboxServer, hours: float) -> None:
    httpx.post(sb.url + "/sandbox/clock/advance", json={"hours": hours}, timeout=30).raise_for_status()


def test_processing_past_the_timeout_is_ambiguous_and_the_post_is_found(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    tt = next(d for d in sandbox.api.dialects if isinstance(d, TikTokDialect)).service
    tt.policy = dataclasses.replace(tt.policy, processing_s=600.0)  # the clock is paused: still processing
    with _tiktok(sandbox, processing_timeout_s=0.3, sleep=time.sleep) as pub:
        with pytest.raises(AmbiguousOutcome, match="still PROCESSING_UPLOAD") as e:
            _publish(pub, path, "poll-1")
        assert e.value.retryable
        found = pub.find_post("poll-1")  # it exists: the worker reconciles, it does not re-post
        assert found is not None and found["status"] == "processing" and found["post_id"].startswith("v_pub_file~")
        _advance(sandbox, 1)  # past processing and moderation
        live = pub.find_post("poll-1")
        assert live["post_id"] == found["post_id"] and live["status"] == "live" and live["video_id"].isdigit()
    assert len(_tiktok_posts(sandbox)) == 1


@pytest.mark.parametrize("lost_as", [None, 502, 504])
def test_a_lost_answer_to_the_create_call_is_ambiguous_and_never_retried_blind(sandbox, mp4_with_descriptor, lost_as):
    """video/init was carried out but its answer lost (a read timeout, a gateway error): ambiguous. With
    FILE_UPLOAD no byte was sent, so no post can follow: find_post says so, and the key can be posted once."""
    path, _ = mp4_with_descriptor
    faults = Faults(lose={INIT: 1}, lost_as=lost_as)
    with _tiktok(sandbox, transport=faults) as pub:
        with pytest.raises(AmbiguousOutcome) as e:
            _publish(pub, path, "lost-init")
        assert e.value.retryable and faults.sent.count(INIT) == 1  # the adapter did not try again on its own
        assert pub.find_post("lost-init") is None and _tiktok_posts(sandbox) == []
        post = _publish(pub, path, "lost-init")
        assert pub.find_post("lost-init")["post_id"] == post["post_id"]
    assert len(_tiktok_posts(sandbox)) == 1 and faults.sent.count(INIT) == 2


@pytest.mark.parametrize("status", [429, 503])
def test_a_status_that_cannot_be_read_after_the_upload_is_ambiguous_and_found(sandbox, mp4_with_descriptor, status):
    path, _ = mp4_with_descriptor
    faults = Faults(refuse={STATUS: [status] * 4})  # the first read and its three retries
    with _tiktok(sandbox, transport=faults) as pub:
        with pytest.raises(AmbiguousOutcome, match="was uploaded; reading its status failed") as e:
            _publish(pub, path, "lost-status")
        assert e.value.retryable and faults.refuse[STATUS] == []
        found = pub.find_post("lost-status")
        assert found is not None and found["status"] in ("moderation", "live")
    assert len(_tiktok_posts(sandbox)) == 1 and faults.sent.count(INIT) == 1


def test_refusals_before_the_create_call_say_whether_a_retry_helps(sandbox, mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    faults = Faults(refuse={CREATOR: [503, 429]})
    with _tiktok(sandbox, transport=faults) as pub:
        with pytest.raises(PlatformError) as unwell:  # TikTok is unwell, nothing was created: retry later
            _publish(pub, path, "refused")
        assert unwell.value.retryable and unwell.value.status == 503
        assert not isinstance(unwell.value, (AmbiguousOutcome, SendRefused))
        with pytest.raises(SendRefused) as limited:  # TikTok's per-minute limit: wait the window out
            _publish(pub, path, "refused")
        assert limited.value.reason == "rate_limit" and limited.value.wait_s == 60 and not limited.value.sent
    with _tiktok(sandbox, transport=faults, privacy_level="FOLLOWER_OF_CREATOR") as pub:
        with pytest.raises(PlatformError, match="not offered") as bad:  # this item will never post as asked
            _publish(pub, path, "refused")
        assert not bad.value.retryable and not bad.value.sent
    assert INIT not in faults.sent and _tiktok_posts(sandbox) == []
