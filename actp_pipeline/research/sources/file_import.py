"""File import: market items from a CSV or JSONL file, as a Source and for `actp research import FILE`.

Schema (one item per CSV row or JSONL line; names as in `base.RAW_FIELDS`):

| field        | required            | type and meaning                                                        |
|--------------|---------------------|-------------------------------------------------------------------------|
| id           | yes                 | the item's id on its platform (text, at most 200 characters)             |
| platform     | yes                 | tiktok, instagram or youtube                                             |
| caption      | yes                 | the post's text (at most 5,000 characters)                               |
| posted_at    | yes                 | ISO 8601 timestamp; with an offset it is converted to UTC, without one it is taken as UTC |
| views        | yes for a post      | integer >= 1 for a post; an ad may omit it (0)                           |
| likes, comments, shares, saves | yes for a post | integers >= 0; together never more than views; an ad may omit them (0) |
| kind         | no (post)           | post or ad                                                               |
| author       | no                  | the account that posted it (an ad's page name)                           |
| url          | no                  | a link to the item                                                       |
| hashtags     | no                  | JSONL: a list of strings; CSV: tags in one cell separated by spaces or commas ("#a #b") |
| media_type   | no (video)          | video, image or carousel                                                 |
| duration_s   | no (unknown)        | video length in seconds, 0 < s <= 600; empty = unknown                  |
| impressions, spend_usd | no (0)    | ads only: impressions (integer) and spend in USD (number)               |

CSV: UTF-8 (a byte-order mark is allowed), a header row naming the columns (any order; unknown columns are
ignored), an empty cell is an absent field. JSONL: UTF-8, one JSON object per line; blank lines are skipped.

Every bad row is reported and skipped, never fatal: the report names the file, the line, the field and the
problem (e.g. `items.csv line 7: views: expected a number, got 'many'`). Only a file that cannot be read at all
(missing, a directory, no permission) is a SourceError.

As a configured source ({"type": "file", "path": ...}) the path may contain "{day}" (e.g.
"/data/research/{day}.jsonl"): each day reads its own file. Without it every day reads the same file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from actp_pipeline.research.sources.base import SourceError
from actp_pipeline.research.validation import LOCATION, Unparseable
from actp_pipeline.research.validation_sql import JsonLines

TYPE = "file"
INTEGERS = ("views", "likes", "comments", "shares", "saves", "impressions")
REALS = ("duration_s", "spend_usd")
_TAG_SPLIT = re.compile(r"[\s,]+")
MAX_DIGITS = 4000  # Python refuses to turn a longer digit string into an int; such a number is absurd anyway


def _json_int(digits: str) -> int | float:
    """A JSON integer; one too long for Python becomes an infinity, which validation rejects in that row."""
    if len(digits.lstrip("-")) > MAX_DIGITS:
        return float("-inf") if digits.startswith("-") else float("inf")
    return int(digits)


def _read_text(path: Path, source: str) -> str:
    """The file's text; bytes that are not UTF-8 survive as lone surrogates, which validation rejects in
    their own row only."""
    try:
        return path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    except FileNotFoundError:
        raise SourceError(source, f"{path}: no such file", retryable=False) from None
    except IsADirectoryError:
        raise SourceError(source, f"{path}: is a directory, not a file", retryable=False) from None
    except OSError as e:
        raise SourceError(source, f"{path}: cannot read ({e.strerror or e})", retryable=False) from None


def _number(name: str, text: str) -> Any:
    """A CSV cell as the number the schema wants; text that is not one stays text, so validation names it."""
    try:
        value = float(text)
    except ValueError:
        return text
    if name in INTEGERS and value.is_integer():
        return int(value)
    return value


def _csv_row(row: dict, header_len: int) -> dict[str, Any] | Unparseable:
    if None in row:  # more cells than the header has names
        return Unparseable(f"{len(row[None]) + header_len} cells, the header names {header_len}")
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or value is None or value.strip() == "":
            continue
        key = key.strip()
        if key in INTEGERS or key in REALS:
            out[key] = _number(key, value.strip())
        elif key == "hashtags":
            out[key] = [t for t in _TAG_SPLIT.split(value) if t]
        else:
            out[key] = value
    return out


def _csv_items(text: str, name: str) -> list[Any]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    items: list[Any] = []
    start = 2  # line 1 is the header
    try:
        header_len = len(reader.fieldnames or [])
        for row in reader:
            item = _csv_row(row, header_len)
            where = f"{name} line {start}"
            if isinstance(item, Unparseable):
                item = Unparseable(f"{where}: {item}", where)
            else:
                item[LOCATION] = where
            items.append(item)
            start = reader.line_num + 1
    except csv.Error as e:  # e.g. a quote never closed: the rest of the file cannot be split into rows
        where = f"{name} line {start}"
        items.append(Unparseable(f"{where}: unreadable CSV from here on ({e})", where))
    return items


# json.loads with its defaults parses integers in C; only a line long enough to hold an integer too long for
# Python (more than MAX_DIGITS digits) needs the decoder that turns one into an infinity
_LONG_LINE = json.JSONDecoder(parse_int=_json_int).decode
_SCAN = json.JSONDecoder().scan_once  # the C scanner json.loads runs, without its per-call Python wrapper


def _parse(line: str) -> Any:
    """One line's JSON value, exactly as json.loads gives it (or raises, with its message)."""
    if len(line) <= MAX_DIGITS:
        try:
            item, end = _SCAN(line, 0)
            if end == len(line):  # a whole line with nothing around it: what json.loads would return
                return item
        except (StopIteration, ValueError, RecursionError):
            pass
        return json.loads(line)  # leading or trailing space, extra data or an error: json.loads decides
    return _LONG_LINE(line)


def _jsonl_item(line: str, where: str) -> Any:
    """One line as its item (a dict carrying its line), or the Unparseable that reports it."""
    try:
        item = _parse(line)
    except (json.JSONDecodeError, RecursionError) as e:
        why = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else "nested too deep"
        return Unparseable(f"{where}: unparseable JSON ({why})", where)
    if type(item) is dict:
        item[LOCATION] = where
        return item
    return Unparseable(f"{where}: expected a JSON object, got {type(item).__name__}", where)


def _jsonl_items(text: str, name: str) -> JsonLines:
    """The non-blank lines, each parsed only when asked for (validation reads most of them in DuckDB)."""
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line and not line.isspace()]
    lines = [line for _, line in numbered]
    return JsonLines(lines, lambda i: _jsonl_item(lines[i], f"{name} line {numbered[i][0]}"))


def read_items(path: Path, *, source: str | None = None) -> Sequence[Any]:
    """The raw items of a CSV (by suffix .csv) or JSONL file (anything else), each carrying its line
    (`validation.LOCATION`); a line that is not an item at all becomes an `Unparseable` for the report."""
    path = Path(path)
    text = _read_text(path, source or f"file:{path.name}")
    return _csv_items(text, path.name) if path.suffix.lower() == ".csv" else _jsonl_items(text, path.name)


class FileSource:
    """A CSV or JSONL file (or one per day, with "{day}" in the path) as a research source."""

    def __init__(self, path: str | Path, name: str | None = None):
        self.path = str(path)
        self.name = name or f"file:{Path(self.path).name}"

    def file_for(self, day: str) -> Path:
        return Path(self.path.replace("{day}", day))

    def fetch(self, day: str, queries: Sequence[str] = ()) -> list[Any]:
        return read_items(self.file_for(day), source=self.name)

    def __repr__(self) -> str:
        return f"FileSource({self.name!r}, {self.path!r})"


def from_spec(spec: Mapping[str, Any], *, env: Mapping[str, str]) -> FileSource:
    """{"type": "file", "path": "...", "name": "file:x"}; config.py has checked the fields' types."""
    return FileSource(spec["path"], spec.get("name"))
