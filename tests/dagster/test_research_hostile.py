"""market_items against hostile feeds: an empty answer keeps the stored day (and says so), hostile rows are
rejected while the run succeeds."""

import datetime as dt
import json

import dagster as dg
import pytest

from actp_pipeline.research.market_items import stored_rows
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from assets.research import market_items
from resources import PlatformResource, ResearchSourcesResource, StoreResource
from tests.core.test_market_items_hostile import GOOD, good_items, items_feed

DAY = "2026-11-10"


@pytest.fixture
def sandbox(tmp_path):
    start = dt.datetime(2026, 11, 10, 6, 0)
    with SandboxServer(WorldConfig(seed=3, start=start, speed=0.0), state_path=tmp_path / "sandbox.db") as sb:
        yield sb


def _materialize(store, url, instance, partition, run_config=None, api_key="sandbox-key"):
    res = {"store": store, "platform": PlatformResource(base_url=url, api_key=api_key), "research": ResearchSourcesResource()}
    result = dg.materialize([market_items], resources=res, instance=instance, partition_key=partition,
                            run_config=run_config)
    assert result.success
    return result.get_asset_materialization_events()[-1].materialization.metadata


def test_empty_answer_keeps_the_stored_day(sandbox, tmp_path):
    store = StoreResource(data_dir=str(tmp_path / "data"))
    wh = store.warehouse()
    with dg.instance_for_test() as instance:
        meta = _materialize(store, sandbox.url, instance, DAY, api_key=sandbox.config.api_keys[0])
        full = meta["dagster/row_count"].value
        assert full > 100 and meta["kept_previous"].value is False and stored_rows(wh, DAY) == full

        with items_feed([]) as empty:
            meta = _materialize(store, empty.url, instance, DAY)
            assert meta["kept_previous"].value is True and "warning" in meta
            assert meta["previous_rows"].value == full and meta["new_rows"].value == 0
            assert meta["dagster/row_count"].value == full and stored_rows(wh, DAY) == full

            # asked to: the empty day replaces the stored one
            meta = _materialize(store, empty.url, instance, DAY,
                                {"ops": {"market_items": {"config": {"replace_smaller": True}}}})
            assert meta["kept_previous"].value is False and stored_rows(wh, DAY) == 0


def test_hostile_rows_are_rejected_and_the_run_succeeds(tmp_path):
    store = StoreResource(data_dir=str(tmp_path / "data"))
    hostile = [GOOD | {"id": "surrogate", "caption": "a\ud800b"}, GOOD | {"id": "y9999", "posted_at": "9999-12-31T00:00:00Z"},
               GOOD | {"id": "tag", "hashtags": ["#ok", "\udfff"]}, GOOD | {"id": "nat", "posted_at": "NaT"}]
    with dg.instance_for_test() as instance, items_feed(good_items(5) + hostile) as feed:
        meta = _materialize(store, feed.url, instance, DAY)
    assert meta["dagster/row_count"].value == 5 and meta["rejected"].value == 4
    table = meta["rejected_items"].value
    assert all(name in table for name in ("surrogate", "y9999", "tag", "nat")) and "UTF-8" in table
    assert stored_rows(store.warehouse(), DAY) == 5


def _sources_config(tmp_path, entries) -> ResearchSourcesResource:
    path = tmp_path / "sources.json"
    path.write_text(json.dumps({"accounts": {"tiktok:main": entries}}))
    return ResearchSourcesResource(config_path=str(path))


def test_a_failed_source_beside_a_good_one_stores_a_partial_day_and_says_so(tmp_path):
    store = StoreResource(data_dir=str(tmp_path / "data"))
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(i | {"caption": f"c {i['id']}"}) for i in good_items(4)) + "\n")
    research = _sources_config(tmp_path, [{"type": "file", "path": str(good)},
                                          {"type": "file", "path": str(tmp_path / "gone.jsonl"), "name": "file:gone"}])
    res = {"store": store, "platform": PlatformResource(base_url="http://127.0.0.1:9"), "research": research}
    with dg.instance_for_test() as instance:
        result = dg.materialize([market_items], resources=res, instance=instance, partition_key=DAY)
    meta = result.get_asset_materialization_events()[-1].materialization.metadata
    assert meta["dagster/row_count"].value == 4 and meta["failed_sources"].value == ["file:gone"]
    assert "PARTIAL DAY" in meta["warning"].value and "file:gone" in meta["warning"].value
    assert "file:good.jsonl" in meta["fetched_per_source"].value and "no such file" in meta["source_errors"].value
    assert meta["accounts"].value == {"tiktok:main": ["file:good.jsonl", "file:gone"]}


def test_a_definitive_failure_of_every_source_is_a_failure_without_retries(tmp_path):
    store = StoreResource(data_dir=str(tmp_path / "data"))
    research = _sources_config(tmp_path, [{"type": "file", "path": str(tmp_path / "gone.jsonl")}])
    res = {"store": store, "platform": PlatformResource(base_url="http://127.0.0.1:9"), "research": research}
    with dg.instance_for_test() as instance:
        result = dg.materialize([market_items], resources=res, instance=instance, partition_key=DAY,
                                raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        assert "research source file:gone.jsonl failed" in failure.event_specific_data.error.message
        assert not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)  # no retry
    bad = _sources_config(tmp_path, [{"type": "json_feed", "name": "f", "url": "https://x", "token": "abc"}])
    with dg.instance_for_test() as instance:
        result = dg.materialize([market_items], resources=res | {"research": bad}, instance=instance,
                                partition_key=DAY, raise_on_error=False)
    assert not result.success  # a secret written in the config: refused, named
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "[0].token: a secret does not belong" in failure.event_specific_data.error.message
    assert "abc" not in failure.event_specific_data.error.message
