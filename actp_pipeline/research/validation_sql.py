"""Validation of a JSONL answer in DuckDB, straight from its lines (issue 13: a day of 14,000 items in ~0.4 s).

A file or feed answer arrives as lines of JSON. Parsing each line into a Python dict, then reading every field
back out of it, costs more than all the checks; DuckDB parses and checks the lines in C++ without the GIL
(market_items.store_days overlaps days on that), so here the lines go to DuckDB as one Arrow column and come
back as the typed frame of the items it is CERTAIN about. "Certain" is deliberately narrow, so that DuckDB's
JSON reader (yyjson, more lenient than Python's json) and its string functions never disagree with the
reference:
- the line is strict JSON as Python reads it: no trailing comma, no control character (raw or escaped), no
  duplicate key, shallow nesting, no lone surrogate, one object;
- every text is exactly what the row validator would keep: no leading or trailing whitespace (Python's set),
  within its length; platform, media type and hashtags are ASCII (where DuckDB's lower() is Python's);
- the timestamp has the one plain ISO 8601 shape (validation_fast._PLAIN_ISO);
- every number is exactly typed and in range.
The content hash is computed here too for a caption of ASCII and plain symbols (`plain_symbols`), in Python
for any other. Every line not certain goes on to the bulk dict validator and from there to the row validator
(validation_fast.validate_items does that), so a rejection always reads as the row validator writes it.
tests/core/test_validation_sql.py holds the tiers equal, line for line, on hypothesis-made JSONL.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from actp_pipeline.creative import PLATFORMS
from actp_pipeline.research.validation import (
    COLUMNS, EARLIEST_POST, ENGAGEMENT_COUNTS, LATEST_POST, MAX_CAPTION, MAX_COUNT, MAX_HASHTAG, MEDIA_TYPES,
)


class JsonLines(Sequence):
    """A JSONL answer kept as its lines: validation reads them in DuckDB, and an item is parsed in Python (by
    `parse`, exactly as the reader would have) only when somebody asks for it."""

    def __init__(self, lines: list[str], parse: Callable[[int], Any]):
        self.lines = lines
        self._parse = parse
        self._items: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self.lines))[i]  # negative indexes and bounds, as a list has them
        if i not in self._items:
            self._items[i] = self._parse(i)
        return self._items[i]


_FIELDS = ("id", "platform", "kind", "author", "page_name", "url", "caption", "hashtags", "media_type",
           "posted_at", "duration_s", "views", *ENGAGEMENT_COUNTS, "impressions", "spend_usd")
# each field's JSON type (NULL when absent) and its value as text (strings unescaped); [1] is the line's own
# (taken out of the lists once, in `_strings_sql`: a list element costs a copy each time it is named)
_TYPE = {name: f"t[{n}]" for n, name in enumerate(_FIELDS, 2)}
_V = {name: f"v[{n}]" for n, name in enumerate(_FIELDS, 2)}
_T = {name: f"{name}_t" for name in _FIELDS}
_N = {name: f"{name}_n" for name in ("duration_s", "views", *ENGAGEMENT_COUNTS, "impressions", "spend_usd")}
_SURROGATE = re.compile("[\ud800-\udfff]")  # bytes that were not UTF-8: no UTF-8 form for Arrow
# Lines left to Python (RE2, run by DuckDB): what Python's json refuses and DuckDB's reader (yyjson) takes (a
# raw control character, a comma before a closing bracket, a byte-order mark), and any line with a control
# character in a string, raw (DEL) or escaped (validation._CONTROL's; an escaped backslash before "b" or
# "u0001" is caught too, which only costs that line the fast path). So no text here holds one.
_LENIENT = (r"[\x{00}-\x{08}\x{0b}\x{0c}\x{0e}-\x{1f}\x{7f}\x{feff}]|,[ \t\n\r]*[\]}]|"
            r"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\[bf]")
# text whose spaces str.split() + " ".join would change: two in a row, one that is not " ", one at an end
_UNEVEN_SPACE = re.compile(r"\s\s|[^\S ]|^ | $")
MAX_BRACKETS = 64  # deeper lines go to Python, whose parser has a recursion limit DuckDB's lacks
# RE2: what Python's str.strip() removes (str.isspace)
_WS = (r"[\t\n\x{0b}\x{0c}\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
       r"\x{205f}\x{3000}]")
_EDGES = f"(?:^|\\x{{01}}){_WS}|{_WS}(?:\\x{{01}}|$)"  # a space at an end of one of \x01-separated texts
_PLAIN_ISO = (r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
              r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?")


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _text(name: str, *, required: bool, max_len: int) -> tuple[str, str]:
    """(certain, value) SQL for a text field: a string kept as is by the row validator ('' when absent)."""
    j, s = _T[name], f"{name}_s"
    clean = f"length({s}) <= {max_len}"  # control characters: none in the line; spaces at an end: texts_ok
    if required:
        return f"({j} = 'VARCHAR' AND {clean} AND {s} <> '')", s
    return f"({j} IS NULL OR {j} = 'NULL' OR ({j} = 'VARCHAR' AND {clean}))", f"coalesce({s}, '')"


def _count(name: str) -> tuple[str, str, str]:
    """(certain, present, value) SQL for a count: an int or integral float in [0, MAX_COUNT]; absent is 0. As a
    double every such value is exact (MAX_COUNT < 2**53); -0 and -0.0 are 0, as in Python."""
    t, d = _T[name], _N[name]
    certain = (f"CASE WHEN {t} IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN {d} BETWEEN 0 AND {MAX_COUNT} AND "
               f"{d} = trunc({d}) ELSE {t} IS NULL OR {t} = 'NULL' END")
    value = f"CASE WHEN {t} IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN TRY_CAST({d} AS BIGINT) END"
    return certain, f"({t} IS NOT NULL AND {t} <> 'NULL')", f"coalesce({value}, 0)"


def _real(name: str) -> tuple[str, str, str]:
    """(absent, is a plain number, value) SQL for duration_s and spend_usd."""
    t = _T[name]
    return (f"({t} IS NULL OR {t} = 'NULL')",
            f"coalesce({t} IN ('UBIGINT', 'BIGINT', 'DOUBLE') AND isfinite({_N[name]}), false)", _N[name])


_TEXTS = (("item_id", "id", True, 200), ("platform", "platform", True, 32), ("kind", "kind", False, 16),
          ("media_type", "media_type", False, 16), ("caption", "caption", True, MAX_CAPTION),
          ("url", "url", False, 2000), ("author", "author", False, 200), ("page_name", "page_name", False, 200))
_ASCII = "coalesce(strlen({0}) = length({0}), true)"  # bytes = characters: ASCII, where DuckDB's lower() is Python's
# every tag ASCII, none with a space at an end, none longer than MAX_HASHTAG even with its "#"s (one string
# of them all, separated by \x01, which no text here holds: the line has no control character)
_TAGS_OK = (f"strlen(array_to_string(tags_s, chr(1))) = length(array_to_string(tags_s, chr(1))) AND NOT "
            f"regexp_matches(array_to_string(tags_s, chr(1)), '{_EDGES}') AND "
            f"coalesce(list_max(list_transform(tags_s, lambda t: strlen(t))), 0) <= {MAX_HASHTAG}")


# the numeric fields as doubles, read with the line (json_transform would also turn "12" or true into a
# number: a value is only used where its JSON type says it is one)
_NUMBERS = "{" + ", ".join(f'"{name}": "DOUBLE"' for name in _N) + "}"


def _line_sql() -> str:
    """Each line read for the types and the values of every field: one JSON object as Python reads it (not
    lenient, no key twice: Python keeps a repeated key's last value, DuckDB its first)."""
    paths = _quoted(["$", *(f"$.{name}" for name in _FIELDS)])
    return (f"SELECT i, try(json_type(line, [{paths}])) AS t, try(json_extract_string(line, [{paths}])) AS v, "
            f"try(json_keys(line)) AS k, try(json_transform(line, '{_NUMBERS}')) AS n FROM lines "
            f"WHERE NOT regexp_matches(line, '{_LENIENT}')")


def _strings_sql() -> str:
    texts = ", ".join([*(f"{_V[field]} AS {field}_s" for _, field, _, _ in _TEXTS),
                       *(f"{_TYPE[name]} AS {_T[name]}" for name in _FIELDS), *(f"n.{name} AS {_N[name]}" for name in _N)])
    h = _TYPE["hashtags"]
    tags = _V["hashtags"]  # the array's JSON text: its elements are read from it, not from the whole line again
    return (f"SELECT *, {texts}, {_V['posted_at']} AS posted_s, CASE WHEN {h} = 'ARRAY' THEN "
            f"json_extract_string({tags}, '$[*]') ELSE [] END AS tags_s, CASE WHEN {h} IS NULL OR {h} = 'NULL' "
            f"THEN true WHEN {h} = 'ARRAY' THEN list_bool_and(list_transform(json_type({tags}, '$[*]'), "
            "lambda e: e = 'VARCHAR')) IS NOT false ELSE false END AS tags_typed FROM parsed "
            "WHERE t[1] = 'OBJECT' AND len(k) = len(list_distinct(k))")


def _fields_sql() -> str:
    """Every rule of validation._validate_one as SQL over one row: `certain` and the normalised values."""
    ok, value = {}, {}
    for column, field, required, max_len in _TEXTS:
        ok[column], value[column] = _text(field, required=required, max_len=max_len)
    ok["posted_at"] = _text("posted_at", required=True, max_len=64)[0].replace("posted_at_s", "posted_s")
    ts = "CAST(TRY_CAST(posted_s AS TIMESTAMPTZ) AS TIMESTAMP)"
    counts = {name: _count(name) for name in ("views", *ENGAGEMENT_COUNTS, "impressions")}
    duration, spend = _real("duration_s"), _real("spend_usd")
    edges = ", ".join(f"coalesce({field}_s, '')" for _, field, _, _ in _TEXTS)
    tags = ("list_sort(list_distinct(list_transform(list_filter(tags_s, lambda t: ltrim(t, '#') <> ''), "
            "lambda t: '#' || lower(ltrim(t, '#')))))[1:30]")
    return (
        f"SELECT i, {value['item_id']} AS item_id, lower(platform_s) AS platform, "
        f"CASE WHEN {value['kind']} = '' THEN 'post' ELSE kind_s END AS kind, "
        f"CASE WHEN {value['author']} <> '' THEN author_s ELSE {value['page_name']} END AS author, "
        f"{value['url']} AS url, caption_s AS caption, {tags} AS hashtags, "
        f"lower(CASE WHEN {value['media_type']} = '' THEN 'video' ELSE media_type_s END) AS media_type, "
        f"{ts} AS posted_at, CASE WHEN {duration[0]} THEN NULL ELSE {duration[2]} END AS duration_s, "
        + "".join(f"{counts[n][2]} AS {n}, " for n in ("views", *ENGAGEMENT_COUNTS))
        + f"{counts['impressions'][2]} AS impressions_any, coalesce({spend[2]}, 0.0) AS spend_any, "
        f"{' AND '.join(v for k, v in ok.items() if k != 'page_name')} AND posted_s IS NOT NULL AND regexp_full_match(posted_s, '{_PLAIN_ISO}') "
        f"AND {_ASCII.format('platform_s')} AND {_ASCII.format('media_type_s')} AND "
        "tags_typed AND "
        f"{_TAGS_OK} AND NOT regexp_matches(concat_ws(chr(1), {edges}), '{_EDGES}') AS texts_ok, "
        + "".join(f"{c} AS {n}_ok, {p} AS {n}_present, " for n, (c, p, _) in counts.items())
        + f"{duration[0]} AS duration_absent, {duration[1]} AS duration_num, "
        f"{spend[0]} AS spend_absent, {spend[1]} AS spend_num, "
        f"({value['author']} <> '' OR {ok['page_name']}) AS author_ok "
        "FROM strings")


# Characters beyond ASCII that content_hash's NFKC and case folding leave as they are, that nothing composes
# with (no combining mark) and that are not spaces: punctuation and symbols (dashes, curly quotes, arrows,
# emoji) in the blocks captions use. DuckDB's lower() leaves them too (tested over every one).
SYMBOL_BLOCKS = ((0xA1, 0xBF), (0x2010, 0x205F), (0x20A0, 0x20CF), (0x2190, 0x23FF), (0x2500, 0x27BF),
                 (0x2B00, 0x2BFF), (0x1F000, 0x1FAFF))


def plain_symbols() -> list[str]:
    def plain(c: str) -> bool:
        return (unicodedata.category(c)[0] in "PS" and not unicodedata.combining(c) and not c.isspace()
                and unicodedata.normalize("NFKC", c) == c and c.casefold() == c.lower() == c.upper() == c)
    return [chr(cp) for lo, hi in SYMBOL_BLOCKS for cp in range(lo, hi + 1) if plain(chr(cp))]


def _re2_class(chars: list[str]) -> str:
    runs: list[list[int]] = []
    for cp in sorted(map(ord, chars)):
        if runs and runs[-1][1] == cp - 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    return "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" if hi > lo else f"\\x{{{lo:x}}}" for lo, hi in runs)


# validation.content_hash of a caption of ASCII and those symbols, where NFKC and case folding are lower() (the
# caption has no control character, so its whitespace is space, tab, newline and carriage return): the rest
# are Python's
_PLAIN_TEXT = f"[\\x{{00}}-\\x{{7f}}{_re2_class(plain_symbols())}]*"
_SPACED = "replace(replace(replace(lower(caption), chr(9), ' '), chr(10), ' '), chr(13), ' ')"  # each one a space
_FOLD = f"CASE WHEN contains({_SPACED}, '  ') THEN regexp_replace({_SPACED}, ' +', ' ', 'g') ELSE {_SPACED} END"
_HASH = (f"CASE WHEN regexp_full_match(caption, '{_PLAIN_TEXT}') THEN sha256(platform || chr(31) || {_FOLD} || chr(31) || "
         "array_to_string(hashtags, ' ')) END")


def _select_sql() -> str:
    engagements = " + ".join(ENGAGEMENT_COUNTS)
    counted = " AND ".join(f"{n}_ok AND ({n}_present OR kind = 'ad')" for n in ("views", *ENGAGEMENT_COUNTS))
    certain = (
        f"texts_ok AND author_ok AND platform IN ({_quoted(PLATFORMS)}) AND kind IN ('post', 'ad') AND "
        f"media_type IN ({_quoted(MEDIA_TYPES)}) AND posted_at >= TIMESTAMP '{EARLIEST_POST}' AND "
        f"posted_at < TIMESTAMP '{LATEST_POST}' AND {counted} AND (kind <> 'ad' OR impressions_ok) AND "
        "(duration_absent OR (duration_num AND duration_s > 0 AND duration_s <= 600)) AND "
        "(kind <> 'ad' OR spend_absent OR (spend_num AND spend_any >= 0 AND spend_any < 1e8)) AND "
        f"(kind = 'ad' OR views > 0) AND {engagements} <= views")
    # no ORDER BY: it would make DuckDB gather every row in one thread before handing any over (sure_lines sorts)
    return (
        "SELECT i, item_id, platform, kind, author, url, caption, hashtags, media_type, posted_at, duration_s, "
        f"views, {', '.join(ENGAGEMENT_COUNTS)}, CASE WHEN kind = 'ad' THEN impressions_any ELSE 0 END AS impressions, "
        "CASE WHEN kind = 'ad' AND NOT spend_absent THEN spend_any ELSE 0.0 END AS spend_usd, "
        f"{engagements} AS engagements, CASE WHEN views > 0 THEN ({engagements}) / views END AS engagement_rate, "
        f"{_HASH} AS content_hash FROM fields WHERE coalesce({certain}, false)")


SQL = (f"WITH parsed AS MATERIALIZED ({_line_sql()}), strings AS ({_strings_sql()}), fields AS ({_fields_sql()}) "
       + _select_sql())


def _lines_table(lines: list[str]) -> pa.Table:
    """The lines DuckDB may read, as an Arrow table in batches (so that every thread gets a share). A line with
    a lone surrogate, or nested deeper than Python reads, is left to Python."""
    try:
        keep = [i for i, line in enumerate(lines) if line.count("[") + line.count("{") <= MAX_BRACKETS]
        table = pa.table({"i": pa.array(keep, pa.int64()), "line": pa.array([lines[i] for i in keep], pa.large_string())})
    except (UnicodeEncodeError, pa.ArrowException):
        keep = [i for i in keep if not _SURROGATE.search(lines[i])]
        table = pa.table({"i": pa.array(keep, pa.int64()), "line": pa.array([lines[i] for i in keep], pa.large_string())})
    return pa.Table.from_batches(table.to_batches(max_chunksize=2048), table.schema)


_NO_LINES = _lines_table([])


_LOCAL = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """This thread's connection (of this process: a forked child makes its own), with the statement prepared
    once: planning it costs more than checking a small day."""
    if getattr(_LOCAL, "pid", None) != os.getpid():
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")  # a timestamp without an offset is UTC (validation._posted_at)
        con.register("lines", _NO_LINES)
        con.execute(f"PREPARE validate_lines AS {SQL}")
        _LOCAL.con, _LOCAL.pid = con, os.getpid()
    return _LOCAL.con


def _fold(caption: str) -> str:
    """validation.content_hash's caption form: NFKC (the identity on ASCII), case folded, spaces collapsed."""
    if caption.isascii():
        text = caption.lower()
    else:
        text = (caption if unicodedata.is_normalized("NFKC", caption) else unicodedata.normalize("NFKC", caption)).casefold()
    return " ".join(text.split()) if _UNEVEN_SPACE.search(text) else text  # re's \\s and str.isspace are the same characters (tested)


def _tag_text(tags: list[str]) -> str:
    """content_hash's tag part of a cleaned list (sorted, lower case): ASCII tags are their own NFKC case fold,
    so the list already is that part; other tags are folded and sorted again."""
    text = " ".join(tags)
    if text.isascii():
        return text
    return " ".join(sorted(unicodedata.normalize("NFKC", t).casefold() for t in tags))


def content_hashes(platforms: list[str], captions: list[str], tag_lists: list[list[str]]) -> list[str]:
    """validation.content_hash for many items, each distinct hashtag normalised once."""
    return [hashlib.sha256(f"{p}\x1f{_fold(c)}\x1f{_tag_text(tags)}".encode("utf-8", "backslashreplace")).hexdigest()
            for p, c, tags in zip(platforms, captions, tag_lists)]


def sure_lines(lines: JsonLines, *, source: str, collected_for: str) -> tuple[np.ndarray, pd.DataFrame | None]:
    """The positions of the lines DuckDB is certain about, and their rows as the row validator would type
    them (None when there is none); every other line is the caller's to validate in Python."""
    con = _connection()
    try:
        con.register("lines", _lines_table(lines.lines))
        got = con.sql("EXECUTE validate_lines").to_arrow_table()
    finally:
        con.register("lines", _NO_LINES)  # the day's lines are not kept alive by the connection
    at = got.column("i").to_numpy().astype(np.int64)
    if not len(at):
        return at, None
    order = np.argsort(at, kind="stable")
    got, at = got.take(pa.array(order)), at[order]
    df = got.drop_columns(["i"]).to_pandas()
    tags = got.column("hashtags").to_pylist()
    df["hashtags"] = pd.Series(tags, dtype=object)
    unicode = np.flatnonzero(df["content_hash"].isna().to_numpy())  # captions beyond ASCII: hashed here
    if len(unicode):
        hashes = df["content_hash"].to_numpy(dtype=object)
        hashes[unicode] = content_hashes(df["platform"].take(unicode).tolist(), df["caption"].take(unicode).tolist(),
                                         [tags[i] for i in unicode.tolist()])
        df["content_hash"] = pd.Series(hashes, index=df.index, dtype=df["caption"].dtype)
    df["source"], df["collected_for"] = source, collected_for
    return at, df[COLUMNS]
