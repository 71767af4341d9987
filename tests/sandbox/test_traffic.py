"""The sandbox's visitors click the tracked links in posts' captions through a real hooks service, land and
sometimes buy; what they delivered is the ground truth the attribution is checked against."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import sqlalchemy as sa

from actp_pipeline import creative
from actp_pipeline.hooks.links import create_link, link_url, slug_for
from actp_pipeline.hooks.server import HooksServer
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.traffic import PRICE, Funnel, link_in
from actp_pipeline.store import schema
from tests.media import make_mp4, variant
from tests.sandbox_posts import publish

START = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(tmp_path):
    with SandboxServer(WorldConfig(start=START, truth_token="truth-for-tests")) as sb, \
            HooksServer(f"sqlite:///{tmp_path / 'store.db'}") as hooks:
        yield sb, hooks


def _linked_post(sb, hooks, tmp_path, key: str) -> str:
    url = link_url(hooks.url, slug_for(key))
    with hooks.engine.begin() as conn:
        create_link(conn, idempotency_key=key, variant_id=variant()["variant_id"], platform="instagram", account="main",
                    campaign="skincare", destination=sb.url + "/sandbox/health", now=START.replace(tzinfo=None))
    media = make_mp4(tmp_path / f"{key}.mp4", creative.descriptor_json(variant()), seconds=3.5)
    publish(sb.url, sb.config.api_keys[0], media, tmp_path, idempotency_key=key, caption=f"Try it {key}\nShop: {url}")
    return url


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar())


def _truth(sb) -> list[dict]:
    return httpx.get(sb.url + "/sandbox/truth/funnel", headers={"X-Truth-Token": "truth-for-tests"}).json()["items"]


def test_visitors_click_land_and_buy_through_the_hooks_service_once(world, tmp_path):
    sb, hooks = world
    url = _linked_post(sb, hooks, tmp_path, "k1")
    httpx.post(sb.url + "/sandbox/clock/advance", json={"hours": 72}).raise_for_status()
    first = httpx.post(sb.url + "/sandbox/traffic/run", timeout=120).json()
    assert first["posts"] == 1 and first["clicks"] > 10 and first["failures"] == 0
    [t] = _truth(sb)
    assert t["link"] == url and t["clicks"] == first["clicks"] and t["conversions"] == first["conversions"]
    assert t["revenue"] == pytest.approx(PRICE * t["conversions"])
    # the hooks service saw exactly what the visitors did: every click, its page view, every purchase
    assert _count(hooks.engine, schema.clicks) == t["clicks"] == _count(hooks.engine, schema.page_views)
    assert _count(hooks.engine, schema.conversions) == t["conversions"]
    # run again at the same instant: nothing new; later: more clicks, none repeated
    assert httpx.post(sb.url + "/sandbox/traffic/run").json()["clicks"] == 0
    assert 0.002 < t["true_click_per_view"] < 0.05 and 0.001 < t["true_conversion_rate"] < 0.3


def test_clicks_wait_while_the_hooks_service_is_down_and_are_not_lost(world, tmp_path):
    sb, hooks = world
    _linked_post(sb, hooks, tmp_path, "k2")
    httpx.post(sb.url + "/sandbox/clock/advance", json={"hours": 48}).raise_for_status()
    hooks.stop()
    down = httpx.post(sb.url + "/sandbox/traffic/run", timeout=60).json()
    assert down["clicks"] == 0 and down["failures"] == 1
    with HooksServer(str(hooks.engine.url), port=int(hooks.url.rsplit(":", 1)[1])) as again:
        up = httpx.post(sb.url + "/sandbox/traffic/run", timeout=120).json()
        assert up["clicks"] > 0 and _count(again.engine, schema.clicks) == up["clicks"] == _truth(sb)[0]["clicks"]


def test_the_funnel_is_seeded_and_only_loopback_links_are_visited():
    from actp_pipeline.sandbox.model import WorldModel

    a, b = Funnel(WorldModel(WorldConfig(seed=3))), Funnel(WorldModel(WorldConfig(seed=3)))
    assert a.conversion_effects == b.conversion_effects and a.rates(variant()) == b.rates(variant())
    assert Funnel(WorldModel(WorldConfig(seed=4))).conversion_effects != a.conversion_effects
    assert link_in("Shop: http://127.0.0.1:8788/r/abcdefghijk2 now") == "http://127.0.0.1:8788/r/abcdefghijk2"
    assert link_in("Shop: https://evil.example.com/r/abcdefghijk2") is None
    assert link_in("Shop: http://10.0.0.5/r/abcdefghijk2") is None and link_in(None) is None
