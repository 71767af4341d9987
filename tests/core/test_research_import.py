"""File import (CSV and JSONL) and `actp research import`: every bad row is reported with its file, line, field
and problem and skipped; hypothesis-made junk never raises; an import merges into the day idempotently."""

import csv
import io
import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actp_pipeline.cli import main
from actp_pipeline.research import market_items as mi
from actp_pipeline.research.sources.base import SourceError
from actp_pipeline.research.sources.file_import import FileSource, read_items
from actp_pipeline.research.validation import UNEXPECTED
from actp_pipeline.store.warehouse import Warehouse

DAY = "2026-11-01"
GOOD = {"id": "p1", "platform": "tiktok", "kind": "post", "author": "a", "url": "https://x/1",
        "caption": "Why is this?", "hashtags": ["#glow", "skin"], "posted_at": "2026-11-01T10:00:00Z",
        "duration_s": 15.0, "views": 1000, "likes": 50, "comments": 5, "shares": 3, "saves": 2}
HEADER = "id,platform,kind,caption,hashtags,posted_at,duration_s,views,likes,comments,shares,saves,media_type\n"


def _jsonl(i: int, **kw) -> str:
    return json.dumps(GOOD | {"id": f"j{i}", "caption": f"caption {i}"} | kw)


def test_csv_rows_are_typed_and_bad_ones_named_by_line(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(HEADER
                    + 'c1,instagram,post,"Hello, world?","#a, #b",2026-11-01T00:00:00,12,100,5,1,0,0,\n'
                    + "c2,instagram,post,Hello?,#a,2026-11-01T00:00:00,12,many,5,1,0,0,\n"
                    + 'c3,youtube,post,"two\nlines",,2026-11-01T00:00:00,,100,5,1,0,0,image\n'
                    + "c4,myspace,post,Hi,,2026-11-01T00:00:00,12,100,5,1,0,0,\n"
                    + "c5,tiktok,ad,An ad,,2026-11-01T00:00:00,,,,,,,\n"
                    + "c6,tiktok,post,x,,2026-11-01,1,2,0,0,0,0,video,EXTRA\n")
    df, bad = mi.validate_items(read_items(path), source="file:items.csv", collected_for=DAY)
    assert list(df["item_id"]) == ["c1", "c3", "c5"]
    c1, c3 = df.iloc[0], df.iloc[1]
    assert list(c1["hashtags"]) == ["#a", "#b"] and c1["views"] == 100 and c1["caption"] == "Hello, world?"
    assert c3["media_type"] == "image" and pd.isna(c3["duration_s"]) and c3["caption"] == "two\nlines"
    assert df.iloc[2]["views"] == 0 and df.iloc[2]["kind"] == "ad"
    assert [(b.where, b.field) for b in bad] == [("items.csv line 3", "views"), ("items.csv line 6", "platform"),
                                                 ("items.csv line 8", "*")]  # c3 spans lines 4-5
    assert "'many'" in bad[0].problem and "14 cells" in bad[2].problem


def test_jsonl_bad_lines_are_reported_and_skipped(tmp_path):
    path = tmp_path / "items.jsonl"
    lines = [_jsonl(1), "", "{broken", _jsonl(2, views=-5), '"just text"', _jsonl(3, hashtags="#a #b"), _jsonl(4),
             _jsonl(4, caption="same id again"), json.dumps({"id": "x" + "9" * 5000})]
    path.write_bytes(("\n".join(lines) + "\n").encode() + _jsonl(9, caption="@@").replace("@@", "\udcff").encode("utf-8", "surrogateescape") + b"\n")  # a byte not UTF-8
    df, bad = mi.validate_items(read_items(path), source="file:items.jsonl", collected_for=DAY)
    assert list(df["item_id"]) == ["j1", "j4"]
    report = [(b.where, b.field) for b in bad]
    assert report == [("items.jsonl line 3", "*"), ("items.jsonl line 4", "views"), ("items.jsonl line 5", "*"),
                      ("items.jsonl line 6", "hashtags"), ("items.jsonl line 8", "id"), ("items.jsonl line 9", "id"),
                      ("items.jsonl line 10", "caption")]
    assert "unparseable JSON" in bad[0].problem and "UTF-8" in bad[-1].problem


def test_an_unreadable_file_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="no such file") as e:
        FileSource(tmp_path / "nope.csv").fetch(DAY)
    assert not e.value.retryable
    with pytest.raises(SourceError, match="is a directory"):
        read_items(tmp_path)


# ------------------------------------------------------------------ fuzzed files
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**12), st.floats(allow_nan=True), st.text(max_size=20),
                    st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
_FIELD_NAMES = st.sampled_from([*GOOD, "impressions", "spend_usd", "media_type", "junk", ""])
_ROWS = st.one_of(
    st.fixed_dictionaries({}, optional={k: _VALUES for k in GOOD}).map(lambda d: {**GOOD, **d}),
    st.dictionaries(_FIELD_NAMES, _VALUES, max_size=6),
    st.builds(lambda d: {k: v for k, v in GOOD.items() if k not in d}, st.sets(st.sampled_from(list(GOOD)), max_size=4)),
)
_JUNK_LINES = st.one_of(st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t),
                        st.sampled_from(["{", "[]", "null", "1e999", '{"id": 1}', "\x00", "{}{}"]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(st.one_of(_ROWS.map(lambda r: ("row", r)), _JUNK_LINES.map(lambda j: ("junk", j))), max_size=8))
def test_fuzzed_jsonl_lines_are_each_a_row_or_a_rejection(rows, tmp_path_factory):
    path = tmp_path_factory.mktemp("f") / "fuzz.jsonl"
    text = "\n".join(json.dumps(r, default=str) if kind == "row" else r for kind, r in rows)
    path.write_text(text + "\n", encoding="utf-8", errors="surrogateescape")
    raw = read_items(path)
    df, bad = mi.validate_items(raw, source="file:fuzz.jsonl", collected_for=DAY)
    assert len(df) + len(bad) == len(raw) == sum(1 for line in text.splitlines() if line.strip())
    for b in bad:
        assert b.problem and UNEXPECTED not in b.problem and b.where.startswith("fuzz.jsonl line "), b


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(st.dictionaries(_FIELD_NAMES, _VALUES, max_size=8), max_size=6))
def test_fuzzed_csv_rows_are_each_a_row_or_a_rejection(rows, tmp_path_factory):
    out = io.StringIO()
    names = sorted({k for r in rows for k in r} | {"id", "caption"})
    writer = csv.DictWriter(out, fieldnames=names)
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    path = tmp_path_factory.mktemp("f") / "fuzz.csv"
    path.write_text(out.getvalue(), encoding="utf-8", errors="surrogateescape")
    raw = read_items(path)
    df, bad = mi.validate_items(raw, source="file:fuzz.csv", collected_for=DAY)
    assert len(df) + len(bad) == len(raw) == len(rows)
    assert all(b.problem and UNEXPECTED not in b.problem and b.where for b in bad)


# ------------------------------------------------------------------ actp research import
def test_research_import_merges_into_the_day_idempotently(tmp_path, capsys):
    data = tmp_path / "data"
    wh = Warehouse(data / "warehouse")
    feed = [GOOD | {"id": f"f{i}", "caption": f"feed {i}"} for i in range(3)]
    mi.store_day(wh, [ListSource("sandbox:trending", feed)], DAY)
    path = tmp_path / "mine.jsonl"
    # j0 re-posts feed 0's creative (same caption and tags, more views): it replaces it
    lines = [_jsonl(0, caption="feed 0", views=5000), _jsonl(1), "{oops", _jsonl(2, platform="myspace")]
    path.write_text("\n".join(lines) + "\n")
    argv = ["--data-dir", str(data), "research", "import", str(path), "--day", DAY]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 rows imported, 2 rejected, 1 merged" in out and "mine.jsonl line 3" in out and "mine.jsonl line 4" in out
    first = wh.read(mi.TABLE, partitions=[DAY])
    assert sorted(first["item_id"]) == ["f1", "f2", "j0", "j1"]
    assert main(argv) == 0  # again: identical rows
    capsys.readouterr()
    pd.testing.assert_frame_equal(first, wh.read(mi.TABLE, partitions=[DAY]))
    # the feed's next run keeps the imported rows (they are another source's)
    mi.store_day(wh, [ListSource("sandbox:trending", feed)], DAY)
    assert sorted(wh.read(mi.TABLE, partitions=[DAY])["item_id"]) == ["f1", "f2", "j0", "j1"]


def test_research_import_fails_only_on_an_unreadable_file(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "research", "import", str(tmp_path / "missing.csv"), "--day", DAY]) == 1
    assert "no such file" in capsys.readouterr().err
    junk = tmp_path / "junk.csv"
    junk.write_text("not,a,schema\n1,2,3\n")
    assert main([*data, "research", "import", str(junk), "--day", DAY, "--source", "file:junk"]) == 0
    out = capsys.readouterr().out
    assert "file:junk -> market_items 2026-11-01: 0 rows imported, 1 rejected" in out and "junk.csv line 2" in out


class ListSource:
    def __init__(self, name, items):
        self.name, self.items = name, items

    def fetch(self, day, queries=()):
        return [dict(i) for i in self.items]
