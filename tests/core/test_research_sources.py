"""Research sources behind one interface: the generic JSON feed (pagination, retries, timeouts, repeated cursors)
against httpx.MockTransport and a local Starlette server, the sandbox feeds' errors, dedupe across sources,
author baselines, idempotent re-runs, partial days, a 7-day backfill, and the per-account config."""

import datetime as dt
import json
import math

import httpx
import pandas as pd
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from actp_pipeline.publish.publisher import PlatformError
from actp_pipeline.research import market_items as mi
from actp_pipeline.research.sources import config, json_feed
from actp_pipeline.research.sources.base import Source, SourceError
from actp_pipeline.research.sources.file_import import FileSource
from actp_pipeline.research.sources.json_feed import JsonFeed
from actp_pipeline.research.sources.sandbox_feed import ADS, TRENDING, SandboxFeed
from actp_pipeline.serving import BackgroundServer
from actp_pipeline.store.warehouse import Warehouse

DAY = "2026-11-01"
GOOD = {"id": "p1", "platform": "tiktok", "kind": "post", "author": "a", "url": "https://x/1",
        "caption": "Why is this?", "hashtags": ["#glow"], "posted_at": "2026-11-01T10:00:00Z", "duration_s": 15.0,
        "views": 1000, "likes": 50, "comments": 5, "shares": 3, "saves": 2}


def item(i, **kw) -> dict:
    return GOOD | {"id": f"p{i}", "caption": f"caption {i}"} | kw


class ListSource:
    """A source answering fixed items (or raising), counting its calls."""

    def __init__(self, name, items=(), error=None):
        self.name, self.items, self.error, self.calls = name, list(items), error, 0

    def fetch(self, day, queries=()):
        self.calls += 1
        if self.error:
            raise self.error
        return [dict(i) for i in self.items]


def feed(handler, sleeps=None, **spec) -> JsonFeed:
    base = {"name": "feed:x", "url": "https://feed.test/v1/items", "backoff_s": 0.5}
    return JsonFeed(base | spec, transport=httpx.MockTransport(handler),
                    sleep=(sleeps.append if sleeps is not None else lambda s: None))


# ------------------------------------------------------------------ json_feed
def test_json_feed_follows_a_cursor_and_maps_fields():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        page = int(request.url.params.get("after", 0))
        body = {"data": {"rows": [{"vid": f"v{page}", "text": f"t{page}", "stats": {"plays": 100, "hearts": 7},
                                   "posted_at": "2026-11-01T00:00:00Z", "extra": "dropped"}]},
                "paging": {"next": str(page + 1) if page < 2 else None}}
        return httpx.Response(200, json=body)

    source = feed(handler, items_path="data.rows", next_cursor_path="paging.next", cursor_param="after",
                  fields={"vid": "id", "text": "caption", "stats.plays": "views", "stats.hearts": "likes"},
                  defaults={"platform": "youtube", "comments": 0, "shares": 0, "saves": 0}, params={"region": "US"})
    got = list(source.fetch(DAY))
    assert [g["id"] for g in got] == ["v0", "v1", "v2"] and got[0]["views"] == 100 and got[0]["likes"] == 7
    assert got[0]["platform"] == "youtube" and "extra" not in got[0]
    assert seen[0] == {"region": "US", "date": DAY} and seen[2]["after"] == "2"
    df, bad = mi.validate_items(got, source=source.name, collected_for=DAY)
    assert len(df) == 3 and not bad


def test_json_feed_follows_next_urls_relative_and_absolute():
    def handler(request):
        n = int(request.url.params.get("page", 1))
        nxt = {1: "/v1/items?page=2", 2: "https://feed.test/v1/items?page=3", 3: None}[n]
        return httpx.Response(200, json={"items": [item(n)], "links": {"next": nxt}})

    got = list(feed(handler, next_url_path="links.next").fetch(DAY))
    assert [g["id"] for g in got] == ["p1", "p2", "p3"]


def test_429_with_retry_after_is_waited_out_then_succeeds():
    calls, sleeps = [], []

    def handler(request):
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "3"}, json={"error": "slow down"})
        if len(calls) == 2:
            return httpx.Response(503)
        return httpx.Response(200, json={"items": [item(1)]})

    assert [g["id"] for g in feed(handler, sleeps).fetch(DAY)] == ["p1"]
    assert sleeps == [3.0, 1.0]  # Retry-After, then backoff 0.5 * 2**1


def test_timeouts_exhaust_the_retries_as_a_retryable_error():
    calls, sleeps = [], []

    def handler(request):
        calls.append(1)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(SourceError, match="ReadTimeout after 3 attempts") as e:
        list(feed(handler, sleeps, max_retries=2).fetch(DAY))
    assert e.value.retryable and e.value.source == "feed:x" and len(calls) == 3 and sleeps == [0.5, 1.0]


def test_a_repeated_cursor_or_endless_feed_is_an_error_not_a_short_day():
    same = feed(lambda r: httpx.Response(200, json={"items": [item(1)], "next": "same"}), next_cursor_path="next")
    with pytest.raises(SourceError, match="repeated next page") as e:
        list(same.fetch(DAY))
    assert not e.value.retryable
    endless = feed(lambda r: httpx.Response(200, json={"items": [], "next": str(int(r.url.params.get("cursor", 0)) + 1)}),
                   next_cursor_path="next", max_pages=4)
    with pytest.raises(SourceError, match="after 4 pages"):
        list(endless.fetch(DAY))


@pytest.mark.parametrize("response, match", [
    (httpx.Response(401, text="bad token"), "refused"), (httpx.Response(200, text="<html>"), "not JSON"),
    (httpx.Response(200, json={"data": []}), "no list at items_path"),
])
def test_definitive_failures_are_not_retryable(response, match):
    with pytest.raises(SourceError, match=match) as e:
        list(feed(lambda r: response).fetch(DAY))
    assert not e.value.retryable


def test_json_feed_over_http_with_the_secret_from_the_environment():
    """A real local server: the token named by auth_env reaches the server, never the spec or an error."""
    secret = "s3cr3t-token-value"

    def serve(request: Request) -> JSONResponse:
        if request.headers.get("x-api-key") != f"Token {secret}":
            return JSONResponse({"error": "no"}, status_code=403)
        q = request.query_params.get("q")
        return JSONResponse({"items": [item(1, caption=f"about {q}", id=f"q-{q}")], "next": None})

    spec = {"type": "json_feed", "name": "feed:local", "url": "", "auth_env": "LOCAL_FEED_TOKEN",
            "auth_header": "X-Api-Key", "auth_scheme": "Token", "query_param": "q", "next_cursor_path": "next"}
    server = BackgroundServer(Starlette(routes=[Route("/items", serve)]), name="feed")
    server.start()
    try:
        spec["url"] = server.url + "/items"
        (s,) = config.parse({"accounts": {"tiktok:main": [spec]}})
        ok = config.build(s, env={"LOCAL_FEED_TOKEN": secret})
        assert [g["id"] for g in ok.fetch(DAY, ["serum", "spf"])] == ["q-serum", "q-spf"]
        wrong = config.build(s, env={"LOCAL_FEED_TOKEN": "other"})
        with pytest.raises(SourceError) as e:
            list(wrong.fetch(DAY))
        unset = config.build(s, env={})
        with pytest.raises(SourceError, match="LOCAL_FEED_TOKEN"):
            list(unset.fetch(DAY))
    finally:
        server.stop()
    assert secret not in json.dumps(spec) and secret not in str(e.value) and secret not in repr(ok)


def test_retry_after_as_an_http_date():
    assert json_feed.retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert json_feed.retry_after_s("junk") is None and json_feed.retry_after_s("2.5") == 2.5


# ------------------------------------------------------------------ sandbox feeds
class Broken:
    def __init__(self, retryable):
        self.retryable = retryable

    def market_feed(self, kind, date, platform=None):
        raise PlatformError(f"{kind} down", retryable=self.retryable)
        yield  # a generator, like HttpPlatform's


@pytest.mark.parametrize("retryable", [True, False])
def test_sandbox_feed_errors_become_source_errors(retryable):
    source = SandboxFeed(Broken(retryable), ADS)
    assert isinstance(source, Source) and source.name == "sandbox:ads"
    with pytest.raises(SourceError, match="sandbox:ads: ads down") as e:
        list(source.fetch(DAY))
    assert e.value.retryable is retryable


# ------------------------------------------------------------------ merging sources
def test_dedupe_across_sources_by_id_and_by_content():
    a = ListSource("feed:a", [item(1, views=500), item(2), item(3, author="solo")])
    # p1 again with more views (kept); p9 is p2's caption and tags re-posted under another id (fewer views: merged)
    b = ListSource("feed:b", [item(1, views=900), item(9, caption="CAPTION   2", views=400, likes=1)])
    got = mi.collect([a, b], DAY, now=dt.datetime(2026, 11, 1, 12))
    assert got.counts == {"feed:a": 3, "feed:b": 2} and got.merged == 2
    rows = got.items.set_index("item_id")
    assert sorted(rows.index) == ["p1", "p2", "p3"] and rows.loc["p1", "views"] == 900
    assert rows.loc["p1", "source"] == "feed:b" and rows.loc["p2", "source"] == "feed:a"
    assert rows["content_hash"].is_unique and (rows["media_type"] == "video").all()
    assert (rows["fetched_at"] == pd.Timestamp("2026-11-01 12:00")).all()


def test_author_baseline_is_shrunk_toward_the_platform_mean():
    items = [item(i, author="big", likes=50 + i) for i in range(10)] + [item(99, author="one", likes=200)]
    got = mi.collect([ListSource("s", items)], DAY).items.set_index("item_id")
    er = got["engagement_rate"]
    platform_mean = er.mean()
    one = got.loc["p99"]
    expected = (one["engagement_rate"] + mi.PRIOR_ITEMS * platform_mean) / (1 + mi.PRIOR_ITEMS)
    assert math.isclose(one["author_baseline_er"], expected)
    assert platform_mean < one["author_baseline_er"] < one["engagement_rate"]  # not its own baseline
    assert math.isclose(one["engagement_lift"], one["engagement_rate"] / expected)
    big = er[[f"p{i}" for i in range(10)]]
    big_baseline = (big.sum() + mi.PRIOR_ITEMS * platform_mean) / (len(big) + mi.PRIOR_ITEMS)
    assert math.isclose(got.loc["p0", "author_baseline_er"], big_baseline)  # ten posts: mostly its own mean
    assert abs(big_baseline - big.mean()) < abs(big_baseline - platform_mean)


def test_an_ad_may_lack_counts_and_duration_but_a_post_needs_views():
    ad = {"id": "ad1", "platform": "instagram", "kind": "ad", "caption": "Buy", "posted_at": "2026-11-01T00:00:00Z",
          "page_name": "Brand", "media_type": "image"}
    post = {k: v for k, v in item(5).items() if k != "duration_s"} | {"views": 0, "likes": 0, "comments": 0,
                                                                       "shares": 0, "saves": 0}
    df, bad = mi.validate_items([ad, post, item(6, media_type="hologram")], source="s", collected_for=DAY)
    assert list(df["item_id"]) == ["ad1"] and df["views"].iloc[0] == 0 and math.isnan(df["duration_s"].iloc[0])
    assert df["author"].iloc[0] == "Brand" and df["media_type"].iloc[0] == "image"
    assert [(b.item_id, b.field) for b in bad] == [("p5", "views"), ("p6", "media_type")]
    rows = mi.collect([ListSource("s", [ad, item(1)])], DAY).items.set_index("item_id")
    assert math.isnan(rows.loc["ad1", "engagement_lift"]) and rows.loc["p1", "engagement_lift"] > 0


def test_rerunning_a_day_is_idempotent_and_keeps_the_first_fetch_time(tmp_path):
    wh = Warehouse(tmp_path)
    sources = [ListSource("feed:a", [item(i) for i in range(6)]), ListSource("feed:b", [item(3), item(7)])]
    first = mi.store_day(wh, sources, DAY, now=dt.datetime(2026, 11, 1, 8))
    rows1 = wh.read(mi.TABLE, partitions=[DAY])
    later = mi.store_day(wh, sources, DAY, now=dt.datetime(2026, 11, 1, 9))
    rows2 = wh.read(mi.TABLE, partitions=[DAY])
    assert first.merged == 1 and later.merged == 1 and len(rows1) == 7
    pd.testing.assert_frame_equal(rows1, rows2)
    assert (rows2["fetched_at"] == pd.Timestamp("2026-11-01 08:00")).all()
    # a new item later that day gets its own fetch time, the others keep theirs
    sources[1].items.append(item(8))
    mi.store_day(wh, sources, DAY, now=dt.datetime(2026, 11, 1, 10))
    rows3 = wh.read(mi.TABLE, partitions=[DAY]).set_index("item_id")
    assert rows3.loc["p8", "fetched_at"] == pd.Timestamp("2026-11-01 10:00")
    assert rows3.loc["p0", "fetched_at"] == pd.Timestamp("2026-11-01 08:00")


def test_a_failed_source_leaves_a_partial_day_with_its_stored_rows(tmp_path):
    wh = Warehouse(tmp_path)
    a, b = ListSource("feed:a", [item(i) for i in range(5)]), ListSource("feed:b", [item(i) for i in range(10, 14)])
    mi.store_day(wh, [a, b], DAY)
    b.error = SourceError("feed:b", "401 refused", retryable=False)
    a.items = [item(i) for i in range(6)]
    day = mi.store_day(wh, [a, b], DAY)
    assert set(day.errors) == {"feed:b"} and day.carried == 4 and "PARTIAL DAY" in day.failed_sources()
    assert "feed:b" in day.failed_sources() and mi.stored_rows(wh, DAY) == 10
    a.error = SourceError("feed:a", "timeout", retryable=True)
    with pytest.raises(SourceError) as e:  # nothing answered: the run fails, retryably (one of them may recover)
        mi.store_day(wh, [a, b], DAY)
    assert e.value.retryable and "feed:a" in str(e.value) and "feed:b" in str(e.value)
    assert mi.stored_rows(wh, DAY) == 10


def test_a_partial_answer_does_not_replace_a_bigger_stored_day(tmp_path):
    wh = Warehouse(tmp_path)
    a = ListSource("feed:a", [item(i) for i in range(20)])
    mi.store_day(wh, [a], DAY)
    a.items = a.items[:5]
    day = mi.store_day(wh, [a], DAY)
    assert day.kept_previous and mi.stored_rows(wh, DAY) == 20


def test_a_seven_day_backfill_from_daily_files(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    days = [(dt.date(2026, 11, 1) + dt.timedelta(days=d)).isoformat() for d in range(7)]
    for n, day in enumerate(days):
        lines = [json.dumps(item(f"{day}-{k}", caption=f"{day} caption {k}", posted_at=f"{day}T0{k}:00:00Z"))
                 for k in range(4)]
        lines.insert(2, ["{broken", json.dumps(item("bad", views="many")), "[1, 2]", json.dumps(item("x", platform="myspace")),
                         json.dumps({"id": "only-id"}), json.dumps(item("neg", likes=-1)), "null"][n])
        (tmp_path / f"{day}.jsonl").write_text("\n".join(lines) + "\n")
    source = FileSource(tmp_path / "{day}.jsonl", "file:daily")
    results = [mi.store_day(wh, [source], day) for day in days]
    assert wh.partitions(mi.TABLE) == days
    for day, r in zip(days, results):
        assert len(r.items) == 4 and len(r.rejected) == 1 and r.rejected[0].where == f"{day}.jsonl line 3"
        stored = wh.read(mi.TABLE, partitions=[day])
        assert set(stored["collected_for"]) == {day} and set(stored["source"]) == {"file:daily"}
    with pytest.raises(SourceError, match="no such file"):
        mi.store_day(wh, [source], "2026-11-08")


# ------------------------------------------------------------------ config
def _err(data) -> str:
    with pytest.raises(config.ConfigError) as e:
        config.parse(data, "sources.json")
    return str(e.value)


def test_config_errors_name_the_account_index_and_field():
    acc = "tiktok:main"
    assert "accounts" in _err({"sources": []})
    assert "accounts['tiktok:main']: expected a list" in _err({"accounts": {acc: {"type": "file"}}})
    assert "[1]: expected an object" in _err({"accounts": {acc: [{"type": "sandbox_ads"}, "file"]}})
    assert "[0].type: unknown source type 'rss'" in _err({"accounts": {acc: [{"type": "rss"}]}})
    assert "[0].url: missing" in _err({"accounts": {acc: [{"type": "json_feed", "name": "feed:x"}]}})
    assert "[0].max_pages: expected int, got str" in _err(
        {"accounts": {acc: [{"type": "json_feed", "name": "f", "url": "https://x", "max_pages": "9"}]}})
    assert "[0].timeout_s: 0 outside" in _err(
        {"accounts": {acc: [{"type": "json_feed", "name": "f", "url": "https://x", "timeout_s": 0}]}})
    assert "[0].fields: 'plays' is not one of our fields" in _err(
        {"accounts": {acc: [{"type": "json_feed", "name": "f", "url": "https://x", "fields": {"a": "plays"}}]}})
    assert "[0].url: expected an http(s) URL" in _err({"accounts": {acc: [{"type": "json_feed", "name": "f", "url": "ftp://x"}]}})
    assert "[0].pth: unknown field" in _err({"accounts": {acc: [{"type": "file", "pth": "x"}]}})
    secret = _err({"accounts": {acc: [{"type": "meta_ad_library", "access_token": "EAAB..."}]}})
    assert "[0].access_token: a secret does not belong" in secret and "EAAB" not in secret
    assert "[0].token_env: expected the NAME" in _err({"accounts": {acc: [{"type": "meta_ad_library", "token_env": "EAAB xyz"}]}})


def test_config_names_are_unique_per_account_and_shared_sources_are_fetched_once(tmp_path):
    dup = config.parse({"accounts": {"a": [{"type": "file", "path": "x.csv"}, {"type": "file", "path": "y/x.csv"}]}})
    with pytest.raises(config.ConfigError, match=r"\[1\]\.name: 'file:x.csv' is already a source"):
        config.sources_by_account(dup, env={})
    clash = config.parse({"accounts": {"a": [{"type": "file", "path": "x.csv"}], "b": [{"type": "file", "path": "z/x.csv"}]}})
    with pytest.raises(config.ConfigError, match=r"accounts\['b'\]\[0\]\.name: 'file:x.csv' names a different source"):
        config.sources_by_account(clash, env={})
    shared = config.parse({"accounts": {"tiktok:main": [{"type": "sandbox_trending"}, {"type": "file", "path": "x.csv"}],
                                        "youtube:main": [{"type": "sandbox_trending"}]}})
    by_account = config.sources_by_account(shared, env={}, platform_feed=object())
    assert [s.name for s in config.distinct(by_account)] == [TRENDING, "file:x.csv"]


def test_default_config_is_the_sandbox_feeds_and_the_env_var_names_a_file(tmp_path, monkeypatch):
    from resources.research import ResearchSourcesResource

    monkeypatch.delenv(config.ENV, raising=False)
    specs = ResearchSourcesResource().specs()
    assert [(s.account, s.type) for s in specs] == [("default", "sandbox_trending"), ("default", "sandbox_ads"),
                                                      ("default", "sandbox_search")]
    path = tmp_path / "sources.json"
    path.write_text(json.dumps({"accounts": {"tiktok:main": [{"type": "file", "path": str(tmp_path / "{day}.csv")}]}}))
    monkeypatch.setenv(config.ENV, str(path))
    res = ResearchSourcesResource()
    assert res.config_path == str(path)
    (source,) = res.sources(platform_feed=None)["tiktok:main"]
    assert source.name == "file:{day}.csv"
    path.write_text("{not json")
    with pytest.raises(config.ConfigError, match="sources.json: not JSON"):
        res.specs()
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(tmp_path / "missing.json")


def test_a_type_whose_module_is_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(config.REGISTRY, "page", "actp_pipeline.research.sources.no_such_collector")
    (spec,) = config.parse({"accounts": {"a": [{"type": "page", "url": "https://x"}]}})
    with pytest.raises(config.ConfigError, match=r"accounts\['a'\]\[0\]\.type: source type 'page' needs "
                                                 r"actp_pipeline.research.sources.no_such_collector"):
        config.build(spec, env={})
