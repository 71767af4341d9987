"""market_items against hostile feeds: an empty answer keeps the stored day (and says so), hostile rows are
rejected while the run succeeds."""

import datetime as dt

import dagster as dg
import pytest

from actp_pipeline.research.market_items import stored_rows
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from assets.research import market_items
from resources import PlatformResource, StoreResource
from tests.core.test_market_items_hostile import GOOD, good_items, items_feed

DAY = "2026-11-10"


@pytest.fixture
def sandbox(tmp_path):
    start = dt.datetime(2026, 11, 10, 6, 0)
    with SandboxServer(WorldConfig(seed=3, start=start, speed=0.0), state_path=tmp_path / "sandbox.db") as sb:
        yield sb


def _materialize(store, url, instance, partition, run_config=None, api_key="sandbox-key"):
    res = {"store": store, "platform": PlatformResource(base_url=url, api_key=api_key)}
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
