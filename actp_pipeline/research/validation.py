"""Validation of raw market items: one typed row per good item, one `Rejected` (which item, which field, what
was wrong, and where it came from) per bad one, never an exception.

A row is valid only if the warehouse can store it (UTF-8 text, timestamps in range), so nothing downstream
raises on it. Each row carries a `content_hash` so the same creative re-posted under another id, or seen by
another source, is recognised as one (market_items dedupes on it).
"""

from __future__ import annotations

import hashlib
import math
import re
import reprlib
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

import pandas as pd

from actp_pipeline.creative import PLATFORMS

MAX_CAPTION = 5000
MAX_COUNT = 5_000_000_000  # more views than people online is an absurd number
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")
MAX_HASHTAG = 100  # a "hashtag" longer than any platform allows is junk, not a tag
# posted_at must fit the warehouse's timestamp unit and be a plausible business date: pandas at ns holds
# only 1677..2262, and a year 1 or 9999 value is a broken feed, not a post
EARLIEST_POST = pd.Timestamp("1970-01-01")
LATEST_POST = pd.Timestamp("2100-01-01")
TIME_UNIT = "datetime64[us]"  # the unit posted_at is written to Parquet in, whatever pandas would infer
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
UNEXPECTED = "could not validate"  # the reason of a row that failed a check not written here (a bug to fix)
MEDIA_TYPES = ("video", "image", "carousel")
ENGAGEMENT_COUNTS = ("likes", "comments", "shares", "saves")
# A source may set this key on a raw item to say where it came from ("items.csv line 7"); a rejection
# carries it, so a person can find the bad line. It is not a field of the item.
LOCATION = "_location"

COLUMNS = [
    "item_id", "source", "platform", "kind", "author", "url", "caption", "hashtags", "media_type", "posted_at",
    "duration_s", "views", "likes", "comments", "shares", "saves", "impressions", "spend_usd",
    "engagements", "engagement_rate", "content_hash", "collected_for",
]


@dataclass(frozen=True)
class Rejected:
    """One bad input item: its position in its source's answer, its id when it had a readable one, the field
    at fault ("*" for the whole item), the problem, and (when known) its source and location."""

    index: int
    item_id: str | None
    field: str
    problem: str
    source: str = ""
    where: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "item_id": self.item_id, "field": self.field, "problem": self.problem,
                "source": self.source, "where": self.where}


class Unparseable(str):
    """A line of a file that was not even JSON; validation reports it with its own message and location."""

    def __new__(cls, message: str, where: str = "") -> "Unparseable":
        obj = super().__new__(cls, message)
        obj.where = where
        return obj


class _Bad(Exception):
    def __init__(self, field: str, problem: str):
        super().__init__(problem)
        self.field = field
        self.problem = problem


def _show(v: Any) -> str:
    """A short repr for a message; never raises (a 5000-digit int or a deep nest must not crash the report)."""
    try:
        return reprlib.repr(v)[:40]
    except (ValueError, RecursionError):
        return f"<{type(v).__name__}>"


def safe_text(v: str) -> str:
    """Text that UTF-8 (Parquet, JSON, Dagster metadata) can carry: lone surrogates become escapes."""
    return v.encode("utf-8", "backslashreplace").decode("utf-8")


def _utf8(name: str, v: str) -> str:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as e:
        raise _Bad(name, f"not valid UTF-8 text ({e.reason} at position {e.start})") from None
    return v


def _text(raw: dict, name: str, *, required: bool = True, max_len: int = 500) -> str:
    v = raw.get(name)
    if v is None:
        if required:
            raise _Bad(name, "missing")
        return ""
    if not isinstance(v, str):
        raise _Bad(name, f"expected text, got {type(v).__name__}")
    v = _CONTROL.sub("", _utf8(name, v)).strip()
    if len(v) > max_len:
        raise _Bad(name, f"{len(v)} characters, more than {max_len}")
    if required and not v:
        raise _Bad(name, "empty")
    return v


def _count(raw: dict, name: str, *, required: bool = True) -> int:
    v = raw.get(name)
    if v is None:
        if required:
            raise _Bad(name, "missing")
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
        raise _Bad(name, f"expected a number, got {_show(v)}")
    if v < 0 or v > MAX_COUNT or (isinstance(v, float) and v != int(v)):
        raise _Bad(name, f"absurd value {_show(v)}")
    return int(v)


def _hashtags(raw: dict) -> list[str]:
    tags = raw.get("hashtags", [])
    if tags is None:
        tags = []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _Bad("hashtags", "expected a list of strings")
    cleaned = {_CONTROL.sub("", _utf8("hashtags", t)).strip().lstrip("#").lower() for t in tags}
    if any(len(t) > MAX_HASHTAG for t in cleaned):
        raise _Bad("hashtags", f"a hashtag longer than {MAX_HASHTAG} characters")
    return sorted("#" + t for t in cleaned if t)[:30]


def _posted_at(raw: dict) -> pd.Timestamp:
    """Naive UTC, inside the range the warehouse stores; NaT, year 1, year 9999 or "now" are rejected."""
    text = _text(raw, "posted_at", max_len=64)
    if not _ISO_DATE.match(text):
        raise _Bad("posted_at", f"not an ISO 8601 timestamp: {_show(text)}")
    try:
        t = pd.Timestamp(text)
        if not pd.isna(t) and t.tzinfo:
            t = t.tz_convert("UTC").tz_localize(None)
    except (ValueError, OverflowError, TypeError) as e:
        raise _Bad("posted_at", f"not a timestamp ({safe_text(str(e))[:120]})") from None
    if pd.isna(t):
        raise _Bad("posted_at", "not a timestamp (NaT)")
    if not EARLIEST_POST <= t < LATEST_POST:
        raise _Bad("posted_at", f"{t.isoformat()} outside {EARLIEST_POST.year}..{LATEST_POST.year - 1}")
    return t.as_unit("us")


def _real(raw: dict, name: str, default: Any) -> float | None:
    """A finite int or float as float; None for anything else (the caller names the rule it breaks)."""
    v = raw.get(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:  # an int too large for a float
        return None
    return f if math.isfinite(f) else None


def _duration(raw: dict) -> float:
    """Seconds, or NaN when the source does not know (the Meta Ad Library publishes no video length)."""
    if raw.get("duration_s") is None:
        return math.nan
    duration = _real(raw, "duration_s", None)
    if duration is None or not (0 < duration <= 600):
        raise _Bad("duration_s", f"expected 0 < seconds <= 600, got {_show(raw.get('duration_s'))}")
    return duration


def content_hash(platform: str, caption: str, hashtags: Iterable[str]) -> str:
    """sha256 of the normalised creative: the same caption and tags on one platform are one creative, whatever
    its id or source. Normalised: Unicode NFKC, case folded, runs of whitespace as one space, tags sorted."""
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", caption).casefold()).strip()
    tags = " ".join(sorted(unicodedata.normalize("NFKC", t).casefold() for t in hashtags))
    return hashlib.sha256(f"{platform}\x1f{text}\x1f{tags}".encode("utf-8", "backslashreplace")).hexdigest()


def _counts(raw: dict, kind: str) -> tuple[int, dict[str, int]]:
    """Views and engagement counts. A post needs them all and views > 0; an ad may lack them (0: the ad
    library shows no engagement), but never shows more engagements than views it reports."""
    required = kind == "post"
    views = _count(raw, "views", required=required)
    counts = {k: _count(raw, k, required=required) for k in ENGAGEMENT_COUNTS}
    engagements = sum(counts.values())
    if (required and views == 0) or engagements > views:
        raise _Bad("views", f"{engagements} engagements on {views} views")
    return views, counts


def _validate_one(raw: Any, source: str, collected_for: str) -> dict[str, Any]:
    if isinstance(raw, Unparseable):
        raise _Bad("*", str(raw))
    if not isinstance(raw, dict):
        raise _Bad("*", f"expected an object, got {type(raw).__name__}")
    item_id = _text(raw, "id", max_len=200)
    platform = _text(raw, "platform", max_len=32).lower()
    if platform not in PLATFORMS:
        raise _Bad("platform", f"unknown platform {platform!r}")
    kind = _text(raw, "kind", required=False, max_len=16) or "post"
    if kind not in ("post", "ad"):
        raise _Bad("kind", f"unknown kind {kind!r}")
    media_type = (_text(raw, "media_type", required=False, max_len=16) or "video").lower()
    if media_type not in MEDIA_TYPES:
        raise _Bad("media_type", f"unknown media type {media_type!r} (expected one of {', '.join(MEDIA_TYPES)})")
    caption = _text(raw, "caption", max_len=MAX_CAPTION)
    hashtags = _hashtags(raw)
    posted_at = _posted_at(raw)
    duration = _duration(raw)
    views, counts = _counts(raw, kind)
    engagements = sum(counts.values())
    impressions = _count(raw, "impressions", required=False) if kind == "ad" else 0
    spend = _real(raw, "spend_usd", 0.0) if kind == "ad" else 0.0
    if raw.get("spend_usd") is None and kind == "ad":
        spend = 0.0
    if spend is None or not (0 <= spend < 1e8):
        raise _Bad("spend_usd", f"absurd spend {_show(raw.get('spend_usd'))}")
    return {
        "item_id": item_id, "source": source, "platform": platform, "kind": kind,
        "author": _text(raw, "author", required=False, max_len=200) or _text(raw, "page_name", required=False, max_len=200),
        "url": _text(raw, "url", required=False, max_len=2000), "caption": caption, "hashtags": hashtags,
        "media_type": media_type, "posted_at": posted_at.to_pydatetime(), "duration_s": duration, "views": views,
        **counts, "impressions": impressions, "spend_usd": spend, "engagements": engagements,
        "engagement_rate": engagements / views if views else math.nan,
        "content_hash": content_hash(platform, caption, hashtags), "collected_for": collected_for,
    }


def _where(raw: Any) -> str:
    if isinstance(raw, Unparseable):
        return raw.where
    loc = raw.get(LOCATION) if isinstance(raw, dict) else None
    return safe_text(loc[:200]) if isinstance(loc, str) else ""


def _rejected(i: int, raw: Any, field: str, problem: str, source: str) -> Rejected:
    rid = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    return Rejected(i, safe_text(rid[:80]) if rid else None, field, safe_text(problem), source, _where(raw))


def check_one(i: int, raw: Any, source: str, collected_for: str) -> dict[str, Any] | Rejected:
    """Item `i` as a typed row, or its `Rejected`; never raises (the one place each rule's message is made)."""
    try:
        return _validate_one(raw, source, collected_for)
    except _Bad as bad:
        return _rejected(i, raw, bad.field, bad.problem, source)
    except Exception as e:  # noqa: BLE001 - a check this module lacks must cost one row, not the day
        return _rejected(i, raw, "*", f"{UNEXPECTED} ({type(e).__name__})", source)


def duplicate(i: int, item_id: str, raw: Any, source: str) -> Rejected:
    """The report of a valid item whose (platform, id) an earlier item of the same answer already had."""
    return Rejected(i, item_id, "id", "duplicate item", source, _where(raw))


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Typed rows (from `check_one`) as the validated frame, with the dtypes the warehouse stores."""
    df = pd.DataFrame(rows, columns=COLUMNS)
    if not df.empty:
        df["posted_at"] = pd.to_datetime(df["posted_at"]).astype(TIME_UNIT)
    df["duration_s"] = df["duration_s"].astype(float)
    df["engagement_rate"] = df["engagement_rate"].astype(float)
    return df


def validate_rows(raw_items: Iterable[Any], *, source: str, collected_for: str) -> tuple[pd.DataFrame, list[Rejected]]:
    """The reference path, one item at a time: typed rows for the good items, one `Rejected` per bad one;
    duplicates (same platform+id) keep the first. Never raises on an item. The bulk path
    (validation_fast.validate_items) must give exactly this; the tests compare the two."""
    rows, rejected, seen = [], [], set()
    for i, raw in enumerate(raw_items):
        row = check_one(i, raw, source, collected_for)
        if isinstance(row, Rejected):
            rejected.append(row)
            continue
        key = (row["platform"], row["item_id"])
        if key in seen:
            rejected.append(duplicate(i, row["item_id"], raw, source))
            continue
        seen.add(key)
        rows.append(row)
    return rows_frame(rows), rejected
