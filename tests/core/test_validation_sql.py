"""The DuckDB line validator (validation_sql) must give exactly what the row validator gives on the same
JSONL text: the same frame (columns, dtypes, values, order) and the same rejections. Hypothesis writes the
lines from the bulk validator's item strategy, in both of json.dumps' encodings, then damages some of them
in the ways DuckDB's JSON reader is more lenient than Python's (trailing commas, repeated keys, NaN, deep
nesting, lone surrogates, raw control characters). Another test checks that DuckDB does take the ordinary
lines, so the equality is not won by handing everything to Python."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from actp_pipeline.research import validation, validation_fast, validation_sql
from actp_pipeline.research.sources import file_import
from actp_pipeline.sandbox.model import WorldConfig
from actp_pipeline.sandbox.world import World
from tests.core.test_validation_equivalence import JSON_LINES, SETTINGS, item

DAY = "2025-03-01"
DAMAGE = [
    lambda line: line[:-1] + ",}",  # a trailing comma: Python refuses, yyjson reads it
    lambda line: '{"id": "first", ' + line[1:],  # the same key twice: Python keeps the last, DuckDB the first
    lambda line: line[:-1] + ', "views": NaN}',
    lambda line: line[:-1] + ', "deep": ' + "[" * 70 + "]" * 70 + "}",
    lambda line: line[:-1] + ', "x": "\\ud800"}',
    lambda line: line.replace('"', '"\x01', 1),
    lambda line: "\ufeff" + line,
    lambda line: line[:-1] + ', "hashtags": ["#a", 1]}',
]


# texts DuckDB is meant to take: inner spaces and newlines, accents, emoji, ligatures, quotes and backslashes
WORD = st.text(alphabet=st.sampled_from(list("abcXYZ09 .,!?'\"\\\n\t#é\u00dfİ\u2028\U0001f600\ufb01—“…™\u00a0\u200d")), max_size=30)
CLEAN = WORD.map(lambda t: t.strip()).filter(bool)
TAG = st.one_of(st.text(alphabet=st.sampled_from(list("abcXYZ09#_")), max_size=12), st.sampled_from(["#Glow", "glow", "#glow", "##", "é"]))
NUMBER = st.one_of(st.integers(0, 10**6), st.integers(0, 10**6).map(float), st.floats(0, 10**6))


@st.composite
def ordinary(draw) -> dict:
    """An item of the kind feeds send (the kind the DuckDB path must take and get exactly right)."""
    kind = draw(st.sampled_from([None, "post", "ad", ""]))
    views = draw(st.integers(1, 10**6))
    raw = {"id": draw(st.sampled_from(["a", "b", "c", "D1", "é"])), "platform": draw(st.sampled_from(["tiktok", "TikTok", "youtube", "instagram", "tiktok", "x"])),
           "caption": draw(CLEAN), "posted_at": draw(st.sampled_from(["2025-03-01T10:00:00Z", "2025-03-01T23:30:00.123-05:30",
                                                                    "2025-03-01T00:00:00", "1970-01-01T00:00:00+01:00", "2099-12-31T23:59:59.999999Z"])),
           "views": draw(st.sampled_from([views, views, views, float(views), None])),
           **{n: draw(st.sampled_from([views // 5, views // 7, 0, 0.0, float(views // 9), None])) for n in validation.ENGAGEMENT_COUNTS},
           "hashtags": draw(st.one_of(st.none(), st.lists(TAG, max_size=35))), "duration_s": draw(st.one_of(st.none(), st.floats(0.1, 600), st.integers(1, 600), st.sampled_from([0, 600.0000001]))),
           "media_type": draw(st.sampled_from([None, "video", "video", "IMAGE", "Carousel", "", "reel"])),
           "impressions": draw(st.one_of(st.none(), NUMBER)), "spend_usd": draw(st.one_of(st.none(), NUMBER, st.just(1e8)))}
    for name in ("kind", "author", "page_name", "url"):
        value = kind if name == "kind" else draw(st.one_of(st.none(), st.just(""), CLEAN, CLEAN))
        if value is not None or draw(st.booleans()):
            raw[name] = value
    return raw


def _line(raw: object, ascii_only: bool) -> str:
    return json.dumps(raw, ensure_ascii=ascii_only, allow_nan=True, default=str)


@st.composite
def jsonl(draw) -> str:
    """A JSONL text: items as lines, some damaged, now and then a junk line, with some repeated lines."""
    lines = []
    for _ in range(draw(st.integers(0, 20))):
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(JSON_LINES))
            continue
        line = _line(draw(st.one_of(item(), ordinary(), ordinary(), ordinary())), draw(st.booleans()))
        if draw(st.integers(0, 3)) == 0:
            line = draw(st.sampled_from(DAMAGE))(line)
        lines.append(line)
    if lines and draw(st.booleans()):
        lines += draw(st.lists(st.sampled_from(lines), max_size=4))
    return "\n".join(lines)


def assert_same_as_rows(text: str) -> tuple[pd.DataFrame, list]:
    lines = file_import._jsonl_items(text, "f.jsonl")
    parsed = list(file_import._jsonl_items(text, "f.jsonl"))  # every line parsed in Python: the plain path
    want_df, want_bad = validation.validate_rows(parsed, source="src", collected_for=DAY)
    got_df, got_bad = validation_fast.validate_items(lines, source="src", collected_for=DAY)
    pd.testing.assert_frame_equal(got_df, want_df, check_exact=True)
    assert got_bad == want_bad
    return got_df, got_bad


@SETTINGS
@given(jsonl())
def test_lines_in_duckdb_equal_rows(text):
    assert_same_as_rows(text)


def _world_text(rate: float, ascii_only: bool) -> str:
    world = World(WorldConfig(seed=5, market_items_per_day=200, malformed_rate=rate))
    return "\n".join(_line(r.item, ascii_only) for p in world.config.platforms for r in world.market_records(DAY, p))


def test_duckdb_takes_the_ordinary_lines():
    """On the sandbox world's clean feed DuckDB is certain about nearly every line (else the equality above
    would be Python's alone), and the result is still the row validator's."""
    for ascii_only in (False, True):
        text = _world_text(0.0, ascii_only)
        lines = file_import._jsonl_items(text, "f.jsonl")
        at, frame = validation_sql.sure_lines(lines, source="src", collected_for=DAY)
        assert len(at) >= 0.9 * len(lines), (len(at), len(lines))
        assert frame is not None and len(frame) == len(at)
        assert_same_as_rows(text)


def test_damaged_world_feed_equals_rows():
    df, bad = assert_same_as_rows(_world_text(0.2, False))
    assert len(bad) > 0 and len(df) > 0


def test_lenient_json_never_taken():
    """Each form yyjson accepts and Python's json refuses (or reads otherwise) stays Python's to judge."""
    good = _line({"id": "a", "platform": "tiktok", "caption": "c", "posted_at": "2025-03-01T10:00:00Z",
                  "views": 10, "likes": 1, "comments": 0, "shares": 0, "saves": 0}, False)
    assert len(validation_sql.sure_lines(file_import._jsonl_items(good, "f"), source="s", collected_for=DAY)[0]) == 1
    for damage in DAMAGE:
        text = damage(good)
        at, _ = validation_sql.sure_lines(file_import._jsonl_items(text, "f"), source="s", collected_for=DAY)
        assert not len(at), text
        assert_same_as_rows(text)


def test_symbols_hashed_in_duckdb_are_left_alone_by_lower():
    """The symbols whose captions DuckDB hashes itself: its lower() must leave every one as Python's NFKC and
    casefold do (plain_symbols checks Python's side)."""
    symbols = validation_sql.plain_symbols()
    assert "—" in symbols and "\U0001f600" in symbols and "…" not in symbols and "™" not in symbols
    con = duckdb.connect()
    assert con.execute("SELECT list_filter(?, lambda c: lower(c) <> c OR length(c) <> 1)", [symbols]).fetchall() == [([],)]


def test_lines_are_parsed_only_when_asked():
    calls = []
    lines = validation_sql.JsonLines(["a", "b", "c"], lambda i: calls.append(i) or i)
    assert lines[-1] == 2 and lines[1:] == [1, 2] and calls == [2, 1]
    assert list(lines) == [0, 1, 2] and calls == [2, 1, 0]
    assert np.array_equal(np.arange(3), [lines[i] for i in range(3)])
