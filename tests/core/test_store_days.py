"""market_items.store_days (a backfill's range in one run): the same partitions and results as store_day one
day after another, the sources asked in this thread in the days' order, and a day whose sources all fail
raised after the days before it are stored."""

from __future__ import annotations

import json
import threading

import pandas as pd
import pytest

from actp_pipeline.research import market_items as mi
from actp_pipeline.research.sources.base import SourceError
from actp_pipeline.research.sources.file_import import FileSource
from actp_pipeline.sandbox.model import WorldConfig
from actp_pipeline.sandbox.world import World
from actp_pipeline.store.warehouse import Warehouse

DAYS = ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-05"]
NOW = pd.Timestamp("2025-03-06T00:00:00").to_pydatetime()


class Recording:
    """A file source that records which thread asked it for which day, and fails on the days named."""

    name = "file:rec"

    def __init__(self, inner: FileSource, failing: tuple[str, ...] = ()):
        self.inner, self.failing, self.calls = inner, failing, []

    def fetch(self, day, queries=()):
        self.calls.append((day, threading.get_ident()))
        if day in self.failing:
            raise SourceError(self.name, f"{day}: refused", retryable=False)
        return self.inner.fetch(day, queries)


@pytest.fixture()
def folder(tmp_path):
    world = World(WorldConfig(seed=3, market_items_per_day=150, malformed_rate=0.05))
    for day in DAYS:
        rows = [r.item for p in world.config.platforms for r in world.market_records(day, p)]
        (tmp_path / f"{day}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path


def _source(folder, failing=()):
    return Recording(FileSource(str(folder / "{day}.jsonl"), name="file:rec"), failing)


def test_store_days_equals_store_day_in_turn(folder, tmp_path, monkeypatch):
    one, many = Warehouse(tmp_path / "one"), Warehouse(tmp_path / "many")
    src = _source(folder)
    serial = [mi.store_day(one, [src], day, now=NOW) for day in DAYS]
    monkeypatch.setattr(mi, "now_utc", lambda: NOW)  # the same stamp for both (store_days stamps with now_utc)
    threaded = list(mi.store_days(many, [src], DAYS, workers=3))
    assert [r.day for r in threaded] == DAYS
    for a, b in zip(serial, threaded):
        assert len(a.rejected) == len(b.rejected) > 0 and a.counts == b.counts
        pd.testing.assert_frame_equal(one.read("market_items", [a.day]), many.read("market_items", [b.day]))


def test_sources_are_asked_in_this_thread_in_order(folder, tmp_path):
    src = _source(folder)
    list(mi.store_days(Warehouse(tmp_path / "w"), [src], DAYS, workers=2))
    assert [day for day, _ in src.calls] == DAYS
    assert {thread for _, thread in src.calls} == {threading.get_ident()}


def test_a_failed_day_stops_after_the_days_before_it(folder, tmp_path):
    wh, src = Warehouse(tmp_path / "w"), _source(folder, failing=("2025-03-03",))
    done = []
    with pytest.raises(SourceError, match="2025-03-03: refused"):
        for result in mi.store_days(wh, [src], DAYS, workers=2):
            done.append(result.day)
    assert done == DAYS[:2] and wh.partitions("market_items") == DAYS[:2]
    assert [day for day, _ in src.calls] == DAYS[:3]  # nothing asked after the failed day
