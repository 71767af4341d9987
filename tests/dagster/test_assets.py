"""The loop's assets materialized with dg.materialize against a real sandbox, in temp dirs."""

import datetime as dt

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import schema
from assets import LOOP_ASSETS
from local_ops.posts import posts
from local_ops.renders import renders
from resources import LoopSettings, PlatformResource, StoreResource

ALL = [*LOOP_ASSETS, renders, posts]


@pytest.fixture
def world(tmp_path):
    start = dt.datetime(2026, 11, 10, 6, 0)
    with SandboxServer(WorldConfig(seed=3, start=start, speed=0.0), state_path=tmp_path / "sandbox.db") as sb:
        store = StoreResource(data_dir=str(tmp_path / "data"))
        res = {"store": store, "platform": PlatformResource(base_url=sb.url, api_key="sandbox-key"),
               "loop": LoopSettings(hook_patterns=1, angles=1, cta_styles=1, formats=2, max_length_s=4)}
        yield sb, store, res


def _run(names, res, instance, partition=None):
    result = dg.materialize(ALL, selection=names, resources=res, instance=instance, partition_key=partition)
    assert result.success
    return {n: result.asset_materializations_for_node(n)[-1].metadata for n in names}


def _truth(sb):
    return httpx.get(f"{sb.url}/v1/_truth/posts", headers={"X-Truth-Token": sb.truth_token}).json()["items"]


def test_loop_assets_post_each_variant_once(world):
    sb, store, res = world
    with dg.instance_for_test() as instance:
        meta = _run(["market_items"], res, instance, partition="2026-11-10")["market_items"]
        assert meta["dagster/row_count"].value > 100
        # the feed carries malformed items: reported in the metadata, skipped, the run succeeds
        assert meta["rejected"].value > 0 and "problem" in meta["rejected_items"].value

        meta = _run(["blueprints", "variants", "renders", "publish_schedule", "posts"], res, instance)
        assert meta["variants"]["renders_queued"].value == 2
        assert meta["renders"]["rendered"].value == 2 and meta["renders"]["failed"].value == 0
        assert meta["posts"]["posted"].value == 2

        # a second pass finds nothing new to render, schedule or post
        meta = _run(["variants", "renders", "publish_schedule", "posts"], res, instance)
        assert meta["renders"]["rendered"].value == 0 and meta["publish_schedule"]["newly_scheduled"].value == 0
        assert meta["posts"].get("posted") is None or meta["posts"]["posted"].value == 0
        truth = _truth(sb)
        assert len(truth) == 2 and all(t["create_calls"] == 1 for t in truth)
        with store.engine().connect() as c:
            assert c.execute(sa.select(sa.func.count()).select_from(schema.posts)).scalar() == 2

        httpx.post(f"{sb.url}/v1/clock/advance", json={"hours": 48}).raise_for_status()
        meta = _run(["post_metrics"], res, instance, partition="2026-11-12")["post_metrics"]
        assert meta["dagster/row_count"].value == 2 and meta["total_views"].value > 0
        meta = _run(["scores", "winners"], res, instance)
        assert meta["scores"]["dagster/row_count"].value == 2
        assert set(meta["winners"]["decisions"].value) <= {"winner", "not_yet", "insufficient_data"}


def test_platform_down_is_a_clear_retryable_error():
    from actp_pipeline.platforms import HttpPlatform, PlatformError

    with HttpPlatform("http://127.0.0.1:9", "k") as client, pytest.raises(PlatformError, match="cannot connect") as e:
        list(client.market_feed("trending", "2026-11-10"))
    assert e.value.retryable  # market_items' retry policy tries again
