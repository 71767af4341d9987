"""Validation of a source's whole answer at once (issue 13: 100,000 items through research in seconds).

The row validator (validation.py) is the reference: its rules, messages and output are the contract. Three
tiers give its answer, fastest first: a JSONL answer (validation_sql.JsonLines) goes to DuckDB line by line
(validation_sql), the lines it is not certain about are parsed, and their plain dicts are checked here, and
what is left goes through the row validator. Here each column is checked and normalised for every item at
once, and only the items that are CERTAINLY valid
under those rules (exact types, no control character or lone surrogate anywhere, a timestamp in the one
plain ISO 8601 shape, ...) are built here. Every other item (a wrong type, an odd date form, a non-dict, an
`Unparseable` line, a dict subclass) goes through the row validator, so its rejection reads exactly as
before, and a strange but valid item still comes out right, only slower. Order, first-duplicate-wins and
every column and dtype equal the row path's; tests/core/test_validation_equivalence.py holds them equal.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from actp_pipeline.creative import PLATFORMS
from actp_pipeline.research.validation import (
    COLUMNS, EARLIEST_POST, ENGAGEMENT_COUNTS, LATEST_POST, MAX_CAPTION, MAX_COUNT, MAX_HASHTAG, MEDIA_TYPES,
    TIME_UNIT, Rejected, check_one, duplicate, rows_frame,
)
from actp_pipeline.research.validation_sql import JsonLines, content_hashes, sure_lines

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # validation._CONTROL: the same characters
_SURROGATE = re.compile("[\ud800-\udfff]")  # what makes str.encode("utf-8") fail (validation._utf8)
_ODD = re.compile(f"{_CONTROL.pattern}|{_SURROGATE.pattern}")
# The one timestamp shape taken here (a feed's usual one); pd.Timestamp and pd.to_datetime(format="ISO8601")
# read it alike. Any other shape the row validator may accept or reject goes to it.
_PLAIN_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
                        r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?", re.ASCII)
_FIELDS = ("id", "platform", "kind", "author", "page_name", "url", "caption", "hashtags", "media_type",
           "posted_at", "duration_s", "views", *ENGAGEMENT_COUNTS, "impressions", "spend_usd")
_NOT_SURE = -1  # a count the bulk checks leave to the row validator
_NO_TAG = None  # a hashtag that makes its row the row validator's (a surrogate, too long)
_DROPPED = frozenset(("", _NO_TAG))
_NONE: tuple = ()
_STR = {str}


def _rows_with(pattern: re.Pattern, texts: list[str], joined: str) -> np.ndarray:
    """The positions of the texts in which `pattern` (one character) occurs, from one scan of them all."""
    hits = [m.start() for m in pattern.finditer(joined)]
    if not hits:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
    return np.unique(np.searchsorted(ends, np.array(hits, dtype=np.int64), side="right"))


def _texts(values: list[Any], *, required: bool, max_len: int) -> tuple[np.ndarray, list[str]]:
    """Which values validation._text certainly accepts, and each one's normalised text ("" for None):
    control characters removed, stripped, at most `max_len` long, non-empty when required."""
    is_str = [type(x) is str for x in values]
    texts = [x if s else "" for x, s in zip(values, is_str)]
    norm = [x.strip() for x in texts]
    ok = np.array(is_str, dtype=bool)
    if not required:
        ok |= np.array([x is None for x in values], dtype=bool)
    for i in _rows_with(_ODD, texts, "".join(texts)).tolist():  # the rare text with a control or surrogate
        norm[i] = _CONTROL.sub("", texts[i]).strip()
        ok[i] &= _SURROGATE.search(texts[i]) is None
    lengths = np.fromiter(map(len, norm), dtype=np.int64, count=len(norm))
    ok &= lengths <= max_len
    if required:
        ok &= lengths > 0
    return ok, norm


def _odd_count(x: Any) -> int:
    """A count that is not a plain in-range int: None is 0 (absent), an integral float its int, else not sure."""
    if x is None:
        return 0
    if type(x) is float and x.is_integer() and 0 <= x <= MAX_COUNT:
        return int(x)
    return _NOT_SURE


def _counts(values: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(certainly valid, present, value) per item for one count column, absent counted as 0."""
    got = np.array([x if type(x) is int and 0 <= x <= MAX_COUNT else _odd_count(x) for x in values],
                   dtype=np.int64)
    present = np.array([x is not None for x in values], dtype=bool)
    return got != _NOT_SURE, present, np.maximum(got, 0)


def _finite(x: Any) -> float:
    """A plain int or float as a finite float, else NaN (bools, text, infinities: the row validator's)."""
    if type(x) is not int and type(x) is not float:
        return math.nan
    try:
        f = float(x)
    except OverflowError:  # an int too large for a float
        return math.nan
    return f if math.isfinite(f) else math.nan


def _tag_norm(tag: str) -> str | None:
    """One hashtag as validation._hashtags cleans it, "#"-prefixed ("" when nothing is left)."""
    if _SURROGATE.search(tag):
        return _NO_TAG
    clean = _CONTROL.sub("", tag).strip().lstrip("#").lower()
    if len(clean) > MAX_HASHTAG:
        return _NO_TAG
    return "#" + clean if clean else ""


def _hashtags(values: list[Any]) -> tuple[np.ndarray, list[list[str]]]:
    """Which hashtag values are certainly valid, and each one's cleaned, sorted, capped list."""
    lists = [_NONE if x is None else x if type(x) is list and (not x or set(map(type, x)) == _STR) else None
             for x in values]
    norm = {t: _tag_norm(t) for t in set(chain.from_iterable(tags for tags in lists if tags))}.__getitem__
    cleaned = [None if tags is None else set(map(norm, tags)) for tags in lists]
    ok = np.array([c is not None and _NO_TAG not in c for c in cleaned], dtype=bool)
    return ok, [sorted(c - _DROPPED)[:30] if c else [] for c in cleaned]


def _posted_at(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Which timestamps are certainly valid, and each as naive UTC datetime64[us] (NaT where not)."""
    ok, texts = _texts(values, required=True, max_len=64)
    plain = ok & np.array([_PLAIN_ISO.fullmatch(t) is not None for t in texts], dtype=bool)
    out = np.full(len(values), np.datetime64("NaT"), dtype=TIME_UNIT)
    if plain.any():
        parsed = pd.to_datetime(pd.Series([t for t, p in zip(texts, plain) if p], dtype=object),
                                format="ISO8601", utc=True, errors="coerce").dt.tz_convert(None)
        inside = parsed.notna() & (parsed >= EARLIEST_POST) & (parsed < LATEST_POST)
        out[plain] = parsed.where(inside).to_numpy(dtype="datetime64[ns]").astype(TIME_UNIT)
        plain[plain] = inside.to_numpy()
    return plain, out


def _checks(col: dict[str, list[Any]]) -> tuple[np.ndarray, dict[str, Any]]:
    """Every rule of validation._validate_one over whole columns: which items certainly pass, and their
    normalised text and list fields (numbers: `_numbers`)."""
    ok, text = np.ones(len(col["id"]), dtype=bool), {}
    for name, field, required, max_len in (("item_id", "id", True, 200), ("platform", "platform", True, 32),
                                           ("kind", "kind", False, 16), ("media_type", "media_type", False, 16),
                                           ("caption", "caption", True, MAX_CAPTION), ("url", "url", False, 2000),
                                           ("author", "author", False, 200)):
        good, text[name] = _texts(col[field], required=required, max_len=max_len)
        ok &= good
    text["platform"] = [p.lower() for p in text["platform"]]
    text["kind"] = [k or "post" for k in text["kind"]]
    text["media_type"] = [(m or "video").lower() for m in text["media_type"]]
    ok &= np.array([p in PLATFORMS for p in text["platform"]], dtype=bool)
    ok &= np.array([k in ("post", "ad") for k in text["kind"]], dtype=bool)
    ok &= np.array([m in MEDIA_TYPES for m in text["media_type"]], dtype=bool)
    if not all(text["author"]):  # an author missing or blank: the row validator takes page_name instead
        page_ok, page = _texts(col["page_name"], required=False, max_len=200)
        ok &= page_ok | np.array([bool(a) for a in text["author"]], dtype=bool)
        text["author"] = [a or p for a, p in zip(text["author"], page)]
    tags_ok, text["hashtags"] = _hashtags(col["hashtags"])
    return ok & tags_ok, text


def _numbers(col: dict[str, list[Any]], is_ad: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The timestamp, duration, counts and spend rules (validation._posted_at, _duration, _counts, spend)."""
    ok, num = _posted_at(col["posted_at"])
    out = {"posted_at": num}
    absent = np.array([x is None for x in col["duration_s"]], dtype=bool)
    duration = np.array([_finite(x) for x in col["duration_s"]], dtype=float)
    ok &= absent | ((duration > 0) & (duration <= 600))
    out["duration_s"] = np.where(absent, math.nan, duration)
    engagements = np.zeros(len(is_ad), dtype=np.int64)
    for name in ("views", *ENGAGEMENT_COUNTS):
        good, present, out[name] = _counts(col[name])
        ok &= good & (present | is_ad)  # a post needs every count; an ad may lack them (0)
        if name != "views":
            engagements += out[name]
    views = out["views"]
    ok &= (is_ad | (views > 0)) & (engagements <= views)
    good, _, impressions = _counts(col["impressions"])
    ok &= good | ~is_ad  # a post's impressions are not read at all
    out["impressions"] = np.where(is_ad, impressions, 0)
    spend = np.array([0.0 if x is None else _finite(x) for x in col["spend_usd"]], dtype=float)
    ok &= ~is_ad | ((spend >= 0) & (spend < 1e8))
    out["spend_usd"] = np.where(is_ad, spend, 0.0)
    out["engagements"] = engagements
    with np.errstate(divide="ignore", invalid="ignore"):
        out["engagement_rate"] = np.where(views > 0, engagements / np.maximum(views, 1), math.nan)
    return ok, out


def _sure_rows(items: list[dict], source: str, collected_for: str) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Which of these plain dicts are certainly valid, and the frame of those (None when none is)."""
    col = dict(zip(_FIELDS, map(list, zip(*[tuple(map(r.get, _FIELDS)) for r in items])))) if items else \
        {f: [] for f in _FIELDS}
    ok, text = _checks(col)
    is_ad = np.array([k == "ad" for k in text["kind"]], dtype=bool)
    num_ok, num = _numbers(col, is_ad)
    ok &= num_ok
    keep = np.flatnonzero(ok)
    if not len(keep):
        return ok, None
    every = len(keep) == len(items)
    pick = operator.itemgetter(*keep.tolist())
    text = {k: v if every else list(pick(v)) if len(keep) > 1 else [v[keep[0]]] for k, v in text.items()}
    num = {k: v if every else v[keep] for k, v in num.items()}
    text["content_hash"] = content_hashes(text["platform"], text["caption"], text["hashtags"])
    n = len(keep)
    data = {**text, **num, "source": [source] * n, "collected_for": [collected_for] * n}
    return ok, pd.DataFrame({c: data[c] for c in COLUMNS})


def validate_items(raw_items: Iterable[Any], *, source: str, collected_for: str) -> tuple[pd.DataFrame, list[Rejected]]:
    """Exactly validation.validate_rows (typed rows for the good items, one `Rejected` per bad one,
    duplicates of (platform, id) keep the first), with the certainly valid items checked in bulk: the lines
    of a JSONL answer in DuckDB (validation_sql), then the plain dicts here, then the row validator."""
    items = raw_items if isinstance(raw_items, (list, JsonLines)) else list(raw_items)
    parts: list[tuple[np.ndarray, pd.DataFrame]] = []
    todo = np.arange(len(items), dtype=np.int64)
    if isinstance(items, JsonLines):
        at, frame = sure_lines(items, source=source, collected_for=collected_for)
        if frame is not None:
            parts.append((at, frame))
            todo = np.setdiff1d(todo, at, assume_unique=True)
    plain = np.array([i for i in todo.tolist() if type(items[i]) is dict], dtype=np.int64)
    ok, fast = _sure_rows([items[i] for i in plain], source, collected_for)
    if fast is not None:
        parts.append((plain[ok], fast))
    rows, at, rejected = [], [], []
    for i in np.setdiff1d(todo, plain[ok], assume_unique=True).tolist():  # the unusual: the row validator's
        row = check_one(i, items[i], source, collected_for)
        if isinstance(row, Rejected):
            rejected.append(row)
        else:
            rows.append(row)
            at.append(i)
    if rows:
        parts.append((np.array(at, dtype=np.int64), rows_frame(rows)))
    return _first_of_each(parts, items, rejected, source)


def _first_of_each(parts: list[tuple[np.ndarray, pd.DataFrame]], items: Sequence[Any], rejected: list[Rejected],
                   source: str) -> tuple[pd.DataFrame, list[Rejected]]:
    """The parts' rows in the items' order, a later duplicate of (platform, id) rejected."""
    if not parts:
        return rows_frame([]), rejected
    where = np.concatenate([at for at, _ in parts])
    df = pd.concat([f for _, f in parts], ignore_index=True) if len(parts) > 1 else parts[0][1]
    if len(parts) > 1:
        order = np.argsort(where, kind="stable")
        df, where = df.take(order), where[order]
    dup = df.duplicated(["platform", "item_id"], keep="first").to_numpy()
    if dup.any():
        ids = df["item_id"].to_numpy()[dup]
        rejected += [duplicate(i, d, items[i], source) for i, d in zip(where[dup].tolist(), ids)]
        df = df[~dup]
    rejected.sort(key=lambda r: r.index)
    return df.reset_index(drop=True), rejected
