"""A seed and a clock start decide everything the sandbox serves: the real date never does.

The sandbox reads real time only through its clock module (clock.wall_time, clock.monotonic); here that
real clock is moved years apart between two sandboxes with the same seed and start, and both must serve
the same market, the same post and the same metrics."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox import clock as sandbox_clock
from tests.sandbox.conftest import AUTH

START = datetime(2025, 5, 5, 9, 30, tzinfo=UTC)
REAL_DAYS = (datetime(2024, 2, 29, 3, tzinfo=UTC), datetime(2031, 7, 14, 22, tzinfo=UTC))


def _fake_real_clock(monkeypatch, day: datetime) -> None:
    """The real clock as the sandbox reads it, moved to `day`."""
    shift = day.timestamp() - time.time()
    monkeypatch.setattr(sandbox_clock, "wall_time", lambda: time.time() + shift)
    monkeypatch.setattr(sandbox_clock, "monotonic", lambda: time.monotonic() + shift)


def _serve_once(mp4: Path) -> dict:
    """What one fresh sandbox serves: today's market (by its own clock), one post and its metrics over time."""
    with SandboxServer(WorldConfig(seed=11, truth_token="t"), start=START) as sb, \
            httpx.Client(base_url=sb.url, headers=AUTH, timeout=30) as c:
        now = c.get("/v1/clock").json()["now"]
        day = now[:10]
        out = {"now": now,
               "trending": c.get("/v1/trending", params={"date": day, "limit": 500}).json()["items"],
               "ads": c.get("/v1/ads/library", params={"date": day}).json()["items"]}
        media = c.post("/v1/media", content=mp4.read_bytes(), headers={"Content-Type": "video/mp4"}).json()
        out["post"] = c.post("/v1/posts", json={"media_id": media["media_id"], "platform": "instagram",
                                                "account": "main", "idempotency_key": "repro-1"}).json()
        out["metrics"] = []
        for hours in (1, 6, 30):
            c.post("/v1/clock/advance", json={"hours": hours})
            out["metrics"].append(c.get(f"/v1/posts/{out['post']['post_id']}/metrics").json())
        out["truth"] = httpx.get(sb.url + "/v1/_truth/posts", headers={"X-Truth-Token": "t"}).json()
    return out


def test_same_seed_and_start_serve_the_same_world_on_any_real_day(monkeypatch, mp4_with_descriptor):
    runs, default_starts = [], []
    for day in REAL_DAYS:
        _fake_real_clock(monkeypatch, day)
        assert abs(sandbox_clock.wall_time() - day.timestamp()) < 60
        default_starts.append(WorldConfig().start)
        runs.append(_serve_once(mp4_with_descriptor[0]))
    assert runs[0] == runs[1]
    assert runs[0]["now"] == "2025-05-05T09:30:00Z" and runs[0]["post"]["live_at"] == "2025-05-05T09:30:00Z"
    assert len(runs[0]["trending"]) == 360 and runs[0]["ads"]
    assert 0 < runs[0]["metrics"][0]["views"] < runs[0]["metrics"][-1]["views"]
    # without an explicit start, the clock starts at one fixed instant whatever the real date
    assert default_starts[0] == default_starts[1] == sandbox_clock.DEFAULT_START


def test_an_explicit_start_overrides_the_config_but_not_a_kept_clock(tmp_path):
    state = tmp_path / "s.sqlite"
    config = WorldConfig(seed=3, truth_token="t", start=datetime(2030, 1, 1, tzinfo=UTC))
    with SandboxServer(config, state_path=state, start=datetime(2026, 6, 1, 12)) as sb:
        assert httpx.get(sb.url + "/v1/clock").json()["now"] == "2026-06-01T12:00:00Z"  # naive = UTC
        httpx.post(sb.url + "/v1/clock/advance", json={"hours": 2})
    assert config.start == datetime(2030, 1, 1, tzinfo=UTC)  # the caller's config is left as it was
    with SandboxServer(config, state_path=state, start=datetime(2027, 1, 1, tzinfo=UTC)) as sb:
        assert httpx.get(sb.url + "/v1/clock").json()["now"] == "2026-06-01T14:00:00Z"
