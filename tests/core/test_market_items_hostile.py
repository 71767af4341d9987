"""Hostile research input (security review, defect class 3): a bad row costs that row, never the day; a
broken feed stops with a clear error; an empty or much smaller answer never replaces a stored day unless asked."""

import json
import threading

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actp_pipeline.publish.platforms import HttpPlatform
from actp_pipeline.publish.publisher import PlatformError
from actp_pipeline.research.sources.sandbox_feed import sources
from actp_pipeline.research.market_items import (
    EARLIEST_POST, LATEST_POST, SHRINK_LIMIT, UNEXPECTED, keep_previous, store_day, stored_rows, validate_items,
)
from actp_pipeline.serving import BackgroundServer
from actp_pipeline.store.warehouse import Warehouse

GOOD = {"id": "p1", "platform": "tiktok", "kind": "post", "author": "a", "url": "https://x/1",
        "caption": "Why is this?\nbody\nFollow for more", "hashtags": ["#SkinCare", "glow"],
        "posted_at": "2026-11-01T10:00:00Z", "duration_s": 15.0, "views": 1000, "likes": 50, "comments": 5,
        "shares": 3, "saves": 2}
AD = GOOD | {"id": "ad1", "kind": "ad", "impressions": 5000, "spend_usd": 12.5, "page_name": "Brand"}
DAY = "2026-11-01"


def good_items(n: int, prefix: str = "g") -> list[dict]:
    """`n` distinct good items (distinct captions too: the same caption on one platform is one creative)."""
    return [GOOD | {"id": f"{prefix}{i}", "caption": f"{GOOD['caption']} #{prefix}{i}"} for i in range(n)]


# ------------------------------------------------------------------ a feed server for the HTTP paths
class Feed:
    """A tiny /sandbox/research/trending + /sandbox/research/ad_library server: `pages(cursor) -> body` decides each answer."""

    def __init__(self, pages):
        self.pages, self.calls, self._lock = pages, 0, threading.Lock()

        def serve(request: Request) -> Response:
            with self._lock:
                self.calls += 1
            body = self.pages(request.url.path, request.query_params.get("cursor"))
            # json.dumps escapes a lone surrogate as \\ud800: the client decodes it back, as a real feed would
            text = body if isinstance(body, str) else json.dumps(body)
            return Response(text, media_type="application/json")

        app = Starlette(routes=[Route("/sandbox/research/trending", serve), Route("/sandbox/research/ad_library", serve)])
        self.server = BackgroundServer(app, name="feed")

    def __enter__(self) -> "Feed":
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url


def items_feed(trending: list) -> Feed:
    """One page: `trending` on /sandbox/research/trending, nothing on the ad library."""
    return Feed(lambda path, cursor: {"items": trending if path == "/sandbox/research/trending" else [], "next_cursor": None})


# ------------------------------------------------------------------ validation: the specific cases
@pytest.mark.parametrize("item, field", [
    (GOOD | {"caption": "hi \ud800 there"}, "caption"),
    (GOOD | {"id": "p\udfff"}, "id"),
    (GOOD | {"hashtags": ["#ok", "bad\udc80"]}, "hashtags"),
    (GOOD | {"author": "\ud83d"}, "author"),
    (GOOD | {"platform": "tik\ud800tok"}, "platform"),
])
def test_lone_surrogate_is_a_rejected_row(item, field):
    df, bad = validate_items([item, GOOD | {"id": "fine"}], source="trending", collected_for=DAY)
    assert list(df["item_id"]) == ["fine"]
    assert [(b.field, "UTF-8" in b.problem) for b in bad] == [(field, True)]
    # the report itself must survive JSON/metadata: the id is shown escaped, not as a lone surrogate
    json.dumps(bad[0].as_dict(), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("posted_at", [
    "9999-12-31T00:00:00", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00", "1969-12-31T23:59:59Z",
    "2100-01-01T00:00:00", "NaT", "nat", "now", "today", "", "12345", "2026-13-45", None, 1700000000,
    pd.NaT, ["2026-11-01"], {"t": 1},
])
def test_posted_at_out_of_storable_range_is_rejected(posted_at):
    df, bad = validate_items([GOOD | {"posted_at": posted_at}], source="t", collected_for=DAY)
    assert df.empty and len(bad) == 1 and bad[0].field == "posted_at" and bad[0].problem


def test_posted_at_edges_and_offsets_are_naive_utc():
    items = [GOOD | {"id": "a", "posted_at": "1970-01-01T00:00:00Z"}, GOOD | {"id": "b", "posted_at": "2099-12-31T23:59:59"},
             GOOD | {"id": "c", "posted_at": "2026-11-01T10:00:00+02:00"}]
    df, bad = validate_items(items, source="t", collected_for=DAY)
    assert not bad and str(df["posted_at"].dtype) == "datetime64[us]"
    assert df["posted_at"].iloc[2] == pd.Timestamp("2026-11-01T08:00:00")


@pytest.mark.parametrize("patch, field", [
    ({"views": 10**5000}, "views"), ({"likes": -(10**5000)}, "likes"), ({"duration_s": 10**400}, "duration_s"),
    ({"duration_s": float("nan")}, "duration_s"), ({"views": float("inf")}, "views"),
    ({"caption": {"nested": [[[]]]}}, "caption"), ({"hashtags": ["x" * 500]}, "hashtags"),
])
def test_absurd_values_are_reported_not_raised(patch, field):
    df, bad = validate_items([GOOD | patch], source="t", collected_for=DAY)
    assert df.empty and bad[0].field == field and len(bad[0].problem) < 200


def test_changed_schema_rows_are_rejected_not_a_crash():
    renamed = [{"post_id": "x", "text": "hello", "metrics": {"views": 1}}, {"data": GOOD}, []]
    df, bad = validate_items(renamed, source="t", collected_for=DAY)
    assert df.empty and len(bad) == 3 and all(b.problem for b in bad)


# ------------------------------------------------------------------ validation: fuzzed
_LONE = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
_TEXT = st.text(st.one_of(st.characters(), _LONE), max_size=40)
_DATES = st.one_of(
    st.sampled_from(["NaT", "9999-12-31T23:59:59", "0001-01-01", "1677-09-21", "2262-04-12", "2100-01-01",
                     "1970-01-01T00:00:00+01:00", "2026-02-30", "now", "2026-11-01T10:00:00.123456789Z"]),
    st.datetimes().map(lambda t: t.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(0, 3).map(lambda k: 10 ** (5000 + k)), st.floats(), _TEXT, _DATES,
)
_ANY = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(_TEXT, inner, max_size=3)), max_leaves=8)
_FIELDS = [*AD, "impressions", "spend_usd", "page_name"]


@st.composite
def hostile_item(draw):
    """A good item with some fields replaced by hostile values and some dropped, or any JSON-ish thing."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_ANY)
    base = dict(draw(st.sampled_from([GOOD, AD])))
    base["id"] = draw(st.one_of(st.just(base["id"]), _TEXT))
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=2)):
        base.pop(name, None)
    for name, value in draw(st.dictionaries(st.sampled_from(_FIELDS), _ANY, max_size=3)).items():
        base[name] = value
    if draw(st.booleans()):
        base["hashtags"] = draw(st.lists(_TEXT, max_size=4))
    if draw(st.booleans()):
        base["posted_at"] = draw(_DATES)
    return base


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(items=st.lists(hostile_item(), max_size=6))
def test_fuzzed_items_are_accepted_or_rejected_and_always_storable(items, tmp_path_factory):
    df, bad = validate_items(items, source="trending", collected_for=DAY)
    assert len(df) + len(bad) == len(items)
    assert sorted([*(b.index for b in bad)]) == sorted(set(b.index for b in bad))
    for b in bad:
        assert b.field and b.problem and UNEXPECTED not in b.problem, b
        json.dumps(b.as_dict(), ensure_ascii=False).encode("utf-8")
    if len(df):
        assert df["posted_at"].between(EARLIEST_POST, LATEST_POST).all()
    wh = Warehouse(tmp_path_factory.mktemp("wh"))
    wh.write("market_items", df, partition=DAY)
    back = wh.read("market_items", partitions=[DAY])
    assert len(back) == len(df) and set(back["item_id"]) == set(df["item_id"])


# ------------------------------------------------------------------ pagination
def test_repeated_cursor_stops_with_a_clear_error():
    with Feed(lambda path, cursor: {"items": [GOOD], "next_cursor": "same"}) as feed, \
            HttpPlatform(feed.url, "k") as client:
        with pytest.raises(PlatformError, match="repeated cursor 'same' after 2 pages"):
            list(client.market_feed("trending", DAY))
        assert feed.calls == 2


def test_page_cap_stops_an_endless_feed():
    with Feed(lambda path, cursor: {"items": [], "next_cursor": str(int(cursor or 0) + 1)}) as feed, \
            HttpPlatform(feed.url, "k") as client:
        client.MAX_PAGES = 5
        with pytest.raises(PlatformError, match="after 5 pages"):
            list(client.market_feed("ads", DAY))
        assert feed.calls == 5
    assert HttpPlatform.MAX_PAGES == 200


def test_paged_feed_ending_normally_is_followed():
    with Feed(lambda path, cursor: {"items": [GOOD | {"id": f"p{cursor or 0}"}],
                                    "next_cursor": None if cursor == "3" else str(int(cursor or 0) + 1)}) as feed, \
            HttpPlatform(feed.url, "k") as client:
        assert [i["id"] for i in client.market_feed("trending", DAY)] == ["p0", "p1", "p2", "p3"]


@pytest.mark.parametrize("body", [{"data": [GOOD]}, {"items": {"a": 1}}, [GOOD], "not json", {"items": [], "next_cursor": {"o": 1}}])
def test_changed_page_schema_is_an_error_not_an_empty_day(body):
    with Feed(lambda path, cursor: body) as feed, HttpPlatform(feed.url, "k") as client:
        with pytest.raises(PlatformError, match="not a feed page|not text"):
            list(client.market_feed("trending", DAY))


# ------------------------------------------------------------------ keeping the stored day
@pytest.mark.parametrize("previous, new, replace, kept", [
    (24, 0, False, True), (24, 11, False, True), (24, 12, False, False), (24, 30, False, False),
    (24, 0, True, False), (0, 0, False, False), (1, 0, False, True),
])
def test_keep_previous(previous, new, replace, kept):
    assert SHRINK_LIMIT == 0.5
    assert keep_previous(previous, new, replace_smaller=replace) is kept


def test_empty_answer_keeps_the_stored_day_unless_asked(tmp_path):
    wh = Warehouse(tmp_path)
    with items_feed(good_items(24)) as feed, HttpPlatform(feed.url, "k") as client:
        first = store_day(wh, sources(client), DAY)
    assert not first.kept_previous and stored_rows(wh, DAY) == 24
    schema_changed = [{"post_id": f"x{i}", "text": "hi"} for i in range(24)]
    for answer in ([], schema_changed, good_items(5)):
        with items_feed(answer) as feed, HttpPlatform(feed.url, "k") as client:
            day = store_day(wh, sources(client), DAY)
        assert day.kept_previous and day.previous_rows == 24 and stored_rows(wh, DAY) == 24
        assert "kept the stored 24" in day.warning()
    with items_feed([]) as feed, HttpPlatform(feed.url, "k") as client:
        day = store_day(wh, sources(client), DAY, replace_smaller=True)
    assert not day.kept_previous and stored_rows(wh, DAY) == 0


def test_hostile_rows_over_http_are_rejected_and_the_rest_stored(tmp_path):
    wh = Warehouse(tmp_path)
    hostile = [GOOD | {"id": "s", "caption": "a\ud800b"}, GOOD | {"id": "y", "posted_at": "9999-01-01T00:00:00Z"},
               GOOD | {"id": "n", "posted_at": "NaT"}, GOOD | {"id": "t", "hashtags": ["\udfff"]}]
    with items_feed(good_items(3) + hostile) as feed, HttpPlatform(feed.url, "k") as client:
        day = store_day(wh, sources(client), DAY)
    assert len(day.items) == 3 and sorted(r.item_id for r in day.rejected) == ["n", "s", "t", "y"]
    assert stored_rows(wh, DAY) == 3
