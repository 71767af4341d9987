"""The loop's edge back to research: the previous round's winners become search queries (iterate/search_terms,
research_queries), the host's keyword search (/sandbox/research/search) answers them, and market_items runs them
through the search source. The sandbox's truth says which creative factors each found item really has."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from actp_pipeline.iterate.research_queries import QUERY, next_round, queries_from
from actp_pipeline.iterate.search_terms import queries_for
from actp_pipeline.publish.platforms import HttpPlatform
from actp_pipeline.research import market_items as mi
from actp_pipeline.research.sources import sandbox_feed
from actp_pipeline.sandbox import SandboxServer
from actp_pipeline.store.warehouse import Warehouse
from tests.sandbox.conftest import AUTH, sandbox_config

DAY = "2025-02-27"


@pytest.fixture(scope="module")
def sb():
    with SandboxServer(sandbox_config(seed=5, market_items_per_day=60, malformed_rate=0.0)) as server:
        yield server


def _truth(sb) -> dict[str, dict]:
    r = httpx.get(sb.url + "/sandbox/truth/market", params={"date": DAY, "kind": "post"},
                  headers={"X-Truth-Token": sb.config.truth_token})
    return {t["id"]: t["factors"] for t in r.json()["items"]}


def test_search_requires_a_query_and_pages_with_its_own_cursor(sb):
    with httpx.Client(base_url=sb.url, headers=AUTH) as c:
        r = c.get("/sandbox/research/search", params={"date": DAY})
        assert r.status_code == 400 and "q" in r.text
        assert c.get("/sandbox/research/search", params={"date": DAY, "q": "x" * 201}).status_code == 400
        first = c.get("/sandbox/research/search", params={"date": DAY, "q": "skincare", "limit": 5}).json()
        assert len(first["items"]) == 5 and first["next_cursor"]
        # a search cursor is bound to its query: another query refuses it
        other = c.get("/sandbox/research/search", params={"date": DAY, "q": "secret", "cursor": first["next_cursor"]})
        assert other.status_code == 400


@pytest.mark.parametrize("angle", ["transformation", "curiosity", "urgency"])
def test_a_winning_angle_searched_finds_posts_with_that_angle(sb, angle):
    (query,) = queries_for("Skincare", {"angle": angle})
    truth = _truth(sb)
    with HttpPlatform(sb.url, sb.config.api_keys[0]) as client:
        found = list(sandbox_feed.SandboxFeed(client, sandbox_feed.SEARCH).fetch(DAY, [query, query]))
    assert found, f"{query!r} found nothing"
    assert len({i["id"] for i in found}) == len(found)  # a repeated query runs once
    share = sum(truth[i["id"]]["angle"] == angle for i in found) / len(found)
    assert share >= 0.9, (query, share)
    everyone = sum(f["angle"] == angle for f in truth.values()) / len(truth)
    assert share > everyone + 0.5  # the search narrows the market to the winning angle


def test_the_search_source_without_queries_fetches_nothing(sb):
    with HttpPlatform(sb.url, sb.config.api_keys[0]) as client:
        assert list(sandbox_feed.SandboxFeed(client, sandbox_feed.SEARCH).fetch(DAY, [])) == []


def test_winners_become_queries_that_market_items_runs(sb, tmp_path):
    winners = pd.DataFrame([{"platform": "tiktok", "account": "main", "variant_id": "v_1",
                             "hook_pattern": "pov", "angle": "transformation"}])
    rows = next_round(winners, pd.DataFrame(), None, None, "skincare", ["tiktok"])
    queries = queries_from(rows)
    assert set(queries) == {"skincare pov", "skincare before and after"}
    assert set(rows.loc[rows["kind"] == QUERY, "level"]) == {"pov", "transformation"}
    wh = Warehouse(tmp_path / "wh")
    with HttpPlatform(sb.url, sb.config.api_keys[0]) as client:
        only_search = [sandbox_feed.SandboxFeed(client, sandbox_feed.SEARCH)]
        day = mi.store_day(wh, only_search, DAY, queries=queries)
    stored = wh.read("market_items", partitions=[DAY])
    assert len(stored) == len(day.items) > 0 and set(stored["source"]) == {"sandbox:search"}
    truth = _truth(sb)
    assert all(truth[i]["angle"] == "transformation" or truth[i]["hook_pattern"] == "pov" for i in stored["item_id"])


def test_before_the_first_queries_the_search_source_is_skipped_not_an_answer(sb, tmp_path):
    """A wrong key fails every source that asks: the search source, with nothing to ask, must not turn that
    into a quiet, empty day."""
    from actp_pipeline.research.sources.base import SourceError

    with HttpPlatform(sb.url, "wrong-key") as client:
        with pytest.raises(SourceError) as e:
            mi.store_day(Warehouse(tmp_path / "wh"), sandbox_feed.sources(client), DAY)
    assert "sandbox:trending" in str(e.value) and "sandbox:search" not in e.value.source
    with HttpPlatform(sb.url, sb.config.api_keys[0]) as client, pytest.raises(SourceError, match="no research queries"):
        mi.store_day(Warehouse(tmp_path / "wh2"), [sandbox_feed.SandboxFeed(client, sandbox_feed.SEARCH)], DAY)
