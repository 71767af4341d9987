"""Hostile research input through the real `market_items` asset (Dagster materializations over HTTP).

Rows come from the hypothesis strategy of tests/core/test_market_items_hostile.py (lone surrogates, dates out of
any storable range, absurd numbers, wrong types, changed schemas), drawn deterministically, mixed with good
rows on each day. Then a stored day is answered with an empty page and with a much smaller one. Measured: runs
that failed, good rows that did not arrive, a stored day replaced by a smaller answer (silent loss), and how
many distinct hostile rows validation rejected (each with its reason)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import time
from pathlib import Path

import dagster as dg
from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings

from actp_pipeline.research.market_items import stored_rows
from assets.research import market_items
from resources import PlatformResource, ResearchSourcesResource, StoreResource
from tests.core.test_market_items_hostile import GOOD, Feed, hostile_item


def _key(value) -> str:
    """A row's identity for counting distinct inputs (a 10**5000 is named by its size, not its digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**100:
        return f"int~10**{value.bit_length() * 0.30103:.0f}{'-' if value < 0 else '+'}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_key(k)}:{_key(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_key(v) for v in value) + "]"
    return repr(value)


def _dumps(value) -> str:
    """JSON text of any drawn value, as a hostile feed would send it: a 5,000-digit integer is written out in
    full (json.dumps refuses to), lone surrogates escaped, NaN and Infinity as Python's json writes them."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**4000:
        return str(decimal.Decimal(value))
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    return json.dumps(value)


def items_feed(trending: list) -> Feed:
    """One page of `trending` on /sandbox/research/trending, nothing on the ad library."""
    return Feed(lambda path, cursor: _dumps({"items": trending if path == "/sandbox/research/trending" else [],
                                            "next_cursor": None}))


def hostile_rows(n: int, seed: int = 0) -> list:
    """`n` distinct hostile items, the same ones for a seed on any machine."""
    drawn: list = []

    @hypothesis_seed(seed)
    @settings(max_examples=3 * n, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(hostile_item())
    def collect(item):
        drawn.append(item)

    collect()
    distinct, seen = [], set()
    for item in drawn:
        key = _key(item)
        if key not in seen:
            seen.add(key)
            distinct.append(item)
    return distinct[:n]


def _materialize(store: StoreResource, url: str, instance, day: str, run_config=None):
    res = {"store": store, "platform": PlatformResource(base_url=url, api_key="k"), "research": ResearchSourcesResource()}
    result = dg.materialize([market_items], resources=res, instance=instance, partition_key=day,
                            run_config=run_config, raise_on_error=False)
    meta = result.get_asset_materialization_events()[-1].materialization.metadata if result.success else {}
    return result.success, meta


def run(tmp: Path, *, rows: int = 600, per_day: int = 100, seed: int = 0) -> dict:
    started = time.monotonic()
    store = StoreResource(data_dir=str(tmp / "data"))
    wh = store.warehouse()
    hostile = hostile_rows(rows, seed)
    out = {"hostile_rows": len(hostile), "rejected_rows": 0, "runs": 0, "failed_runs": 0, "good_rows_missing": 0,
           "days_replaced_by_less": 0}
    first = dt.date(2026, 11, 1)
    with dg.instance_for_test() as instance:
        for i in range(0, len(hostile), per_day):
            day = (first + dt.timedelta(days=i // per_day)).isoformat()
            good = [GOOD | {"id": f"good-{day}-{k}", "caption": f"good {day} {k}"} for k in range(10)]  # distinct creatives
            with items_feed(good + hostile[i:i + per_day]) as feed:
                ok, meta = _materialize(store, feed.url, instance, day)
            out["runs"] += 1
            if not ok:
                out["failed_runs"] += 1
                continue
            out["rejected_rows"] += int(meta["rejected"].value)
            ids = set(wh.read("market_items", partitions=[day])["item_id"]) if stored_rows(wh, day) else set()
            out["good_rows_missing"] += sum(1 for g in good if g["id"] not in ids)
        # a stored day answered with nothing, then with a much smaller page: it keeps what it had
        day = first.isoformat()
        before = stored_rows(wh, day)
        for answer in ([], [GOOD | {"id": "only-one"}], [json.loads("{}")]):
            with items_feed(answer) as feed:
                ok, _ = _materialize(store, feed.url, instance, day)
            out["runs"] += 1
            out["failed_runs"] += 0 if ok else 1
            out["days_replaced_by_less"] += 0 if stored_rows(wh, day) == before else 1
    out["seconds"] = round(time.monotonic() - started, 1)
    return out
