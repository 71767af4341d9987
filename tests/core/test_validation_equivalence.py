"""The bulk validator (validation_fast.validate_items) must give exactly what the row validator
(validation.validate_rows) gives: the same frame (columns, dtypes, values, order) and the same rejections
(index, id, field, message, source, location), whatever the input. Hypothesis builds the input: good items,
every corruption the sandbox makes, random junk per field, hostile text and duplicate ids."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actp_pipeline.research import validation, validation_fast
from actp_pipeline.research.sources import file_import
from actp_pipeline.research.validation import Unparseable
from actp_pipeline.sandbox.market import corrupt
from actp_pipeline.sandbox.model import WorldConfig
from actp_pipeline.sandbox.world import World

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large])
ODD = list("\x00\x01\x08\x0b\x0c\x1c\x1f\x7f\x85 \t\n\r\u00a0\u2028\u3000\ufeff#İKſ\ud800\udfff\U0001f600ﬁ")
TEXT = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(ODD)), max_size=24)
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10), st.integers(-10**20, 10**20), st.builds(pow, st.just(10), st.just(4000)),
    st.floats(), st.just(float("nan")), st.just(float("inf")), TEXT, st.lists(TEXT, max_size=3),
    st.dictionaries(TEXT, st.integers(), max_size=2), st.builds(Unparseable, TEXT), st.just(b"bytes"),
)


def _stamp(t: dt.datetime, form: int) -> str:
    forms = [t.strftime("%Y-%m-%dT%H:%M:%SZ"), t.isoformat(), t.strftime("%Y-%m-%dT%H:%M:%S+05:30"),
             t.strftime("%Y-%m-%d %H:%M:%S"), t.strftime("%Y-%m-%d"), t.strftime("%Y-%m-%dT%H:%M:%S.%f123Z"),
             t.strftime("%Y-%m-%dt%H:%M:%Sz"), t.strftime("%Y-%m-%dT%H:%M:%S-23:59"),
             t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), t.strftime("%Y-%m-%dT24:00:00Z")]
    return forms[form % len(forms)]


STAMPS = st.one_of(
    st.builds(_stamp, st.datetimes(min_value=dt.datetime(1960, 1, 1), max_value=dt.datetime(2110, 1, 1)),
              st.integers(0, 30)),
    st.builds(_stamp, st.datetimes(), st.integers(0, 30)),
    st.sampled_from(["2025-02-30T00:00:00Z", "2025-13-01T00:00:00Z", " 2025-03-01T10:00:00Z\x00 ", "now",
                     "٢٠٢٥-٠٣-٠١T00:00:00Z", "2025-03-01T10:00:00+25:00", "1969-12-31T23:59:59Z",
                     "2100-01-01T00:00:00Z", "2099-12-31T23:59:59.999999Z", "1970-01-01T00:00:00+01:00"]),
)
PLAIN = st.text(alphabet=st.sampled_from(list("abcXYZ019 .,!?'\n#é")), min_size=1, max_size=40)
WORDS = st.one_of(PLAIN, PLAIN, PLAIN, TEXT)  # mostly ordinary text, sometimes hostile
IDS = st.one_of(st.sampled_from(["a", "b", "c", " a ", "A", "a\x00"]), PLAIN, TEXT)
GOOD_STAMPS = st.builds(_stamp, st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2099, 1, 1)),
                        st.sampled_from([0, 1, 2, 8]))


@st.composite
def item(draw) -> dict:
    """A good post or ad, then some of its fields replaced by junk, odd text or removed."""
    views = draw(st.integers(0, 10**6))
    counts = [draw(st.integers(0, max(views // 5, 0))) for _ in range(4)]
    raw = {
        "id": draw(IDS), "platform": draw(st.one_of(st.sampled_from(["tiktok", "instagram", "youtube"]), st.sampled_from([" TikTok ", "x"]))),
        "kind": draw(st.one_of(st.sampled_from([None, "post", "ad"]), st.sampled_from([" ad ", "", "Ad"]))), "author": draw(WORDS),
        "url": draw(WORDS), "caption": draw(WORDS), "hashtags": draw(st.lists(WORDS, max_size=5)),
        "posted_at": draw(st.one_of(GOOD_STAMPS, GOOD_STAMPS, STAMPS)), "duration_s": draw(st.one_of(st.floats(0.5, 600), st.none(), st.floats(0, 700), st.integers(0, 700))),
        "media_type": draw(st.one_of(st.sampled_from([None, "video", "image"]), st.sampled_from(["IMAGE", "carousel ", "", "reel"]))), "views": views,
        **dict(zip(validation.ENGAGEMENT_COUNTS, counts)),
        "impressions": draw(st.one_of(st.none(), st.integers(0, 10**7))),
        "spend_usd": draw(st.one_of(st.none(), st.floats(0, 1e9), st.integers(0, 10**9))),
    }
    if draw(st.integers(0, 3)) == 0:  # counts as JSON floats: 12.0 is 12, 12.5 is absurd
        for name in draw(st.lists(st.sampled_from(["views", *validation.ENGAGEMENT_COUNTS, "impressions"]))):
            if isinstance(raw[name], int):
                raw[name] = raw[name] + draw(st.sampled_from([0.0, 0.5, -0.0]))
    if draw(st.booleans()):
        raw["page_name"] = draw(WORDS)
    damaged = draw(st.lists(st.sampled_from(sorted(raw)), max_size=2)) if draw(st.integers(0, 2)) == 0 else []
    for name in damaged:
        if draw(st.booleans()):
            raw.pop(name, None)
        else:
            raw[name] = draw(JUNK)
    if draw(st.booleans()):
        raw[validation.LOCATION] = draw(st.one_of(TEXT, JUNK))
    return raw


@st.composite
def entry(draw) -> object:
    """Mostly items, now and then anything at all (a junk line of a feed)."""
    return draw(JUNK) if draw(st.integers(0, 9)) == 0 else draw(item())


ITEMS = st.lists(entry(), max_size=25)


def assert_same(items: list) -> None:
    want_df, want_bad = validation.validate_rows(items, source="src", collected_for="2025-03-01")
    got_df, got_bad = validation_fast.validate_items(items, source="src", collected_for="2025-03-01")
    pd.testing.assert_frame_equal(got_df, want_df, check_exact=True)
    assert got_bad == want_bad


@SETTINGS
@given(ITEMS)
def test_bulk_equals_rows_on_random_items(items):
    assert_same(items)


@SETTINGS
@given(ITEMS, st.data())
def test_bulk_equals_rows_with_duplicates(items, data):
    """Items repeated (the same dict, or a copy under the same id) later in the list: the first one wins."""
    if items:
        again = data.draw(st.lists(st.sampled_from(items), max_size=5))
        items = items + [dict(x) if isinstance(x, dict) else x for x in again]
        items = data.draw(st.permutations(items))
    assert_same(items)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.lists(st.integers(0, 2**30), min_size=1, max_size=40))
def test_bulk_equals_rows_on_every_sandbox_corruption(seed, picks):
    """Each of the sandbox's corruptions (actp_pipeline.sandbox.market.corrupt) on a good item."""
    world = World(WorldConfig(seed=seed % 1000, market_items_per_day=len(picks), malformed_rate=0.0))
    good = [r.item for r in world.market_records("2025-03-01", "tiktok")]
    rng = np.random.default_rng(seed)
    items = []
    for n, raw in enumerate(good):
        raw = dict(raw)
        if picks[n % len(picks)] % 3:
            corrupt(rng, raw)
        items.append(raw)
    assert_same(items)


@pytest.mark.parametrize("rate", [0.0, 0.2])
def test_bulk_equals_rows_on_the_sandbox_world(rate):
    world = World(WorldConfig(seed=7, market_items_per_day=300, malformed_rate=rate))
    for day in ("2025-03-01", "2025-03-02", "2025-03-03"):
        items = [r.item for p in world.config.platforms for r in world.market_records(day, p)]
        assert_same(items + items[:20])  # a feed that pages twice over some items
        df, bad = validation_fast.validate_items(items, source="s", collected_for=day)
        assert len(df) + len(bad) == len(items) and len(df) > 0
        assert (len(bad) > 0) == (rate > 0)


def test_whitespace_of_re_and_str_agree():
    """content_hashes collapses spaces with str.split where content_hash uses re's \\s: the same set."""
    space = re.compile(r"\s")
    assert [c for c in range(0x110000) if bool(space.match(chr(c))) != chr(c).isspace()] == []


def test_empty_and_unusual_inputs():
    for items in ([], [None], ["junk", Unparseable("line 1: bad", "line 1")], iter([{"id": "x"}]),
                  [type("D", (dict,), {})(id="a", platform="tiktok", caption="c", posted_at="2025-03-01")]):
        assert_same(list(items))


def _reference_jsonl(text: str, name: str) -> list:
    """file_import's JSONL reading as it was, one json.loads (with the long-integer hook) per line."""
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name} line {n}"
        try:
            item = json.loads(line, parse_int=file_import._json_int)
        except (json.JSONDecodeError, RecursionError) as e:
            why = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else "nested too deep"
            items.append((where, f"{where}: unparseable JSON ({why})"))
            continue
        items.append(item | {validation.LOCATION: where} if isinstance(item, dict)
                     else (where, f"{where}: expected a JSON object, got {type(item).__name__}"))
    return items


JSON_LINES = st.one_of(
    st.builds(json.dumps, st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.floats(), TEXT,
                                                                        st.none(), st.lists(st.integers())))),
    st.sampled_from(['{"a": 1} ', ' {"a": 1}', '{"a": 1} x', '{"a": 1}{"b": 2}', "[1, 2]", "12", '"s"', "{",
                     '{"a": 1', "", "   ", "\u2028", '{"a": NaN}', '{"a": -Infinity}', "[" * 3000,
                     '{"n": ' + "9" * 4500 + "}", '{"n": -' + "9" * 3990 + "}", '{"a": "\\ud800"}', "nul\x00l"]),
    TEXT,
)


@SETTINGS
@given(st.lists(JSON_LINES, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]))
def test_jsonl_reading_is_unchanged(lines, newline):
    text = newline.join(lines)
    got = [x if isinstance(x, dict) else (x.where, str(x)) for x in file_import._jsonl_items(text, "f.jsonl")]
    want = _reference_jsonl(text, "f.jsonl")
    assert repr(got) == repr(want)  # repr: NaN != NaN, but the same text
