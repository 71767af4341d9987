"""The HTTP posting API adapter against the real sandbox: upload, create, poll while processing, look up."""

import datetime as dt
import subprocess
import time

import imageio_ffmpeg
import pytest

from actp_pipeline.publish.platforms import HttpPlatform
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError
from actp_pipeline.sandbox import SandboxServer, WorldConfig


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("clip") / "c.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=s=108x192:d=1",
                    "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


def _world(**kw):
    return WorldConfig(seed=2, start=dt.datetime(2026, 11, 1, 6), **kw)


def test_publish_polls_until_processed(clip):
    with SandboxServer(_world(processing_s=0.6)) as sb, HttpPlatform(sb.url, "sandbox-key") as api:
        started = time.monotonic()
        post = api.publish(media_path=clip, platform="tiktok", account="main", caption="c", hashtags=[],
                           scheduled_at=None, idempotency_key="poll-1")
        assert time.monotonic() - started >= 0.5 and post["status"] in ("live", "scheduled")
        assert api.find_post("poll-1")["post_id"] == post["post_id"]


def test_processing_past_the_timeout_is_ambiguous(clip):
    with SandboxServer(_world(processing_s=30)) as sb, HttpPlatform(sb.url, "sandbox-key", processing_timeout_s=0.5) as api:
        with pytest.raises(AmbiguousOutcome):
            api.publish(media_path=clip, platform="tiktok", account="main", caption="c", hashtags=[],
                        scheduled_at=None, idempotency_key="poll-2")
        assert api.find_post("poll-2") is not None  # it exists: the worker will reconcile, not re-post


def test_refusals_are_clear_and_not_retryable(clip, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"definitely not a video")
    with SandboxServer(_world()) as sb, HttpPlatform(sb.url, "sandbox-key") as api:
        with pytest.raises(PlatformError) as e:
            api.publish(media_path=bad, platform="tiktok", account="main", caption="c", hashtags=[],
                        scheduled_at=None, idempotency_key="bad-1")
        assert e.value.status == 415 and not e.value.retryable
    with SandboxServer(_world()) as sb, HttpPlatform(sb.url, "wrong-key") as api:
        with pytest.raises(PlatformError, match="401"):
            api.find_post("x")


def test_clock_falls_back_to_wall_time_without_a_clock_endpoint(clip):
    import httpx

    def handler(request):
        return httpx.Response(404, json={"error": {"code": "unknown_route", "message": "no"}})

    api = HttpPlatform("http://platform.invalid", "k")
    api._http = httpx.Client(base_url="http://platform.invalid", transport=httpx.MockTransport(handler))
    wall = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert abs((api.now() - wall).total_seconds()) < 2
