"""A seed and a clock start decide everything the sandbox serves: the real date never does.

The sandbox reads real time only through its clock module (clock.wall_time, clock.monotonic); here that
real clock is moved years apart between two sandboxes with the same seed and start, and both must serve
the same market, the same post (published through Instagram's dialect, tests/sandbox_posts.py) and the
same metrics; another seed is another world."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from actp_pipeline import creative
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox import clock as sandbox_clock
from tests import sandbox_posts
from tests.media import variant
from tests.sandbox.conftest import AUTH
from tests.sandbox.dialect_http import reel

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # facebook-business's type-checker notes

START = datetime(2025, 5, 5, 9, 30, tzinfo=UTC)
REAL_DAYS = (datetime(2024, 2, 29, 3, tzinfo=UTC), datetime(2031, 7, 14, 22, tzinfo=UTC))


def _fake_real_clock(monkeypatch, day: datetime) -> None:
    """The real clock as the sandbox reads it, moved to `day`."""
    shift = day.timestamp() - time.time()
    monkeypatch.setattr(sandbox_clock, "wall_time", lambda: time.time() + shift)
    monkeypatch.setattr(sandbox_clock, "monotonic", lambda: time.monotonic() + shift)


@pytest.fixture(scope="module")
def reel_mp4(tmp_path_factory) -> Path:
    return reel(tmp_path_factory.mktemp("repro") / "reel.mp4", creative.descriptor_json(variant()))


def _serve_once(mp4: Path, data_dir: Path, seed: int = 11) -> dict:
    """What one fresh sandbox serves: today's market (by its own clock), one Instagram reel (the platform's
    ids and the sandbox's), and its counts over time as the truth and Instagram's insights give them."""
    with SandboxServer(WorldConfig(seed=seed, truth_token="t"), start=START) as sb, \
            httpx.Client(base_url=sb.url, headers=AUTH, timeout=30) as c:
        now = c.get("/sandbox/clock").json()["now"]
        day = now[:10]
        out = {"now": now,
               "trending": c.get("/sandbox/research/trending", params={"date": day, "limit": 500}).json()["items"],
               "ads": c.get("/sandbox/research/ad_library", params={"date": day}).json()["items"]}
        key = sb.config.api_keys[0]
        out["post"] = sandbox_posts.publish(sb.url, key, mp4, data_dir, idempotency_key="repro-1", truth_token="t")
        out["metrics"], out["insights"] = [], []
        pub = sandbox_posts.native(sb.url, key, data_dir)
        try:
            for hours in (1, 6, 30):
                c.post("/sandbox/clock/advance", json={"hours": hours})
                out["metrics"].append(sandbox_posts.truth_metrics(sb.url, out["post"]["sandbox_post_id"], "t"))
                out["insights"].append(pub.metrics_for("instagram", "main", [out["post"]["post_id"]]))
        finally:
            pub.close()
        out["truth"] = httpx.get(sb.url + "/sandbox/truth/posts", headers={"X-Truth-Token": "t"}).json()
    return out


def test_same_seed_and_start_serve_the_same_world_on_any_real_day(monkeypatch, tmp_path, reel_mp4):
    runs, default_starts = [], []
    for n, day in enumerate(REAL_DAYS):
        _fake_real_clock(monkeypatch, day)
        assert abs(sandbox_clock.wall_time() - day.timestamp()) < 60
        default_starts.append(WorldConfig().start)
        runs.append(_serve_once(reel_mp4, tmp_path / f"run{n}"))
    assert runs[0] == runs[1]
    assert runs[0]["now"] == "2025-05-05T09:30:00Z" and runs[0]["post"]["live_at"] == "2025-05-05T09:30:00Z"
    assert len(runs[0]["trending"]) == 360 and runs[0]["ads"]
    assert 0 < runs[0]["metrics"][0]["views"] < runs[0]["metrics"][-1]["views"]
    assert [i["items"][0]["views"] for i in runs[0]["insights"]] == [m["views"] for m in runs[0]["metrics"]]
    # without an explicit start, the clock starts at one fixed instant whatever the real date
    assert default_starts[0] == default_starts[1] == sandbox_clock.DEFAULT_START


def test_another_seed_is_another_world(tmp_path, reel_mp4):
    one, other = _serve_once(reel_mp4, tmp_path / "a"), _serve_once(reel_mp4, tmp_path / "b", seed=12)
    assert one["now"] == other["now"]
    assert one["post"]["post_id"] != other["post"]["post_id"]  # Instagram's ids are drawn from the seed
    assert one["post"]["sandbox_post_id"] != other["post"]["sandbox_post_id"]
    assert one["trending"] != other["trending"]
    assert [m["views"] for m in one["metrics"]] != [m["views"] for m in other["metrics"]]


def test_an_explicit_start_overrides_the_config_but_not_a_kept_clock(tmp_path):
    state = tmp_path / "s.sqlite"
    config = WorldConfig(seed=3, truth_token="t", start=datetime(2030, 1, 1, tzinfo=UTC))
    with SandboxServer(config, state_path=state, start=datetime(2026, 6, 1, 12)) as sb:
        assert httpx.get(sb.url + "/sandbox/clock").json()["now"] == "2026-06-01T12:00:00Z"  # naive = UTC
        httpx.post(sb.url + "/sandbox/clock/advance", json={"hours": 2})
    assert config.start == datetime(2030, 1, 1, tzinfo=UTC)  # the caller's config is left as it was
    with SandboxServer(config, state_path=state, start=datetime(2027, 1, 1, tzinfo=UTC)) as sb:
        assert httpx.get(sb.url + "/sandbox/clock").json()["now"] == "2026-06-01T14:00:00Z"
