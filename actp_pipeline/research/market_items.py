"""Research: market items (competitor posts and ads) from sources, validated row by row.

A source hands over raw dicts; `validate_items` turns the good ones into a typed DataFrame and reports
each bad one (which item, which field, what was wrong) instead of failing the run. A row is valid only if
the warehouse can store it (UTF-8 text, timestamps in range), so nothing downstream raises on it. A day's
new answer that is empty or much smaller than what is stored does not replace it unless asked
(`keep_previous`, `store_day`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from actp_pipeline.creative import PLATFORMS
from actp_pipeline.store.warehouse import Warehouse

MAX_CAPTION = 5000
MAX_COUNT = 5_000_000_000  # more views than people online is an absurd number
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_HASHTAG = 100  # a "hashtag" longer than any platform allows is junk, not a tag
# posted_at must fit the warehouse's timestamp unit and be a plausible business date: pandas at ns holds
# only 1677..2262, and a year 1 or 9999 value is a broken feed, not a post
EARLIEST_POST = pd.Timestamp("1970-01-01")
LATEST_POST = pd.Timestamp("2100-01-01")
TIME_UNIT = "datetime64[us]"  # the unit posted_at is written to Parquet in, whatever pandas would infer
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# a day's new answer smaller than this share of the rows already stored for it is suspect (an empty page,
# a changed schema, a truncated feed): the stored version stays unless the run asks to replace it
SHRINK_LIMIT = 0.5
TABLE = "market_items"
UNEXPECTED = "could not validate"  # the reason of a row that failed a check not written here (a bug to fix)

COLUMNS = [
    "item_id", "source", "platform", "kind", "author", "url", "caption", "hashtags", "posted_at",
    "duration_s", "views", "likes", "comments", "shares", "saves", "impressions", "spend_usd",
    "engagements", "engagement_rate", "collected_for",
]


@dataclass(frozen=True)
class Rejected:
    index: int
    item_id: str | None
    field: str
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "item_id": self.item_id, "field": self.field, "problem": self.problem}


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


class Unparseable(str):
    """A line of a file that was not even JSON; validation reports it with its own message."""


def _hashtags(raw: dict) -> list[str]:
    tags = raw.get("hashtags", [])
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
    caption = _text(raw, "caption", max_len=MAX_CAPTION)
    hashtags = _hashtags(raw)
    posted_at = _posted_at(raw)
    duration = _real(raw, "duration_s", None)
    if duration is None or not (0 < duration <= 600):
        raise _Bad("duration_s", f"expected 0 < seconds <= 600, got {_show(raw.get('duration_s'))}")
    views = _count(raw, "views")
    counts = {k: _count(raw, k) for k in ("likes", "comments", "shares", "saves")}
    engagements = sum(counts.values())
    if views == 0 or engagements > views:
        raise _Bad("views", f"{engagements} engagements on {views} views")
    impressions = _count(raw, "impressions", required=False) if kind == "ad" else 0
    spend = _real(raw, "spend_usd", 0.0) if kind == "ad" else 0.0
    if spend is None or not (0 <= spend < 1e8):
        raise _Bad("spend_usd", f"absurd spend {_show(raw.get('spend_usd'))}")
    return {
        "item_id": item_id, "source": source, "platform": platform, "kind": kind,
        "author": _text(raw, "author", required=False, max_len=200) or _text(raw, "page_name", required=False, max_len=200),
        "url": _text(raw, "url", required=False, max_len=2000), "caption": caption, "hashtags": hashtags,
        "posted_at": posted_at.to_pydatetime(), "duration_s": duration, "views": views, **counts,
        "impressions": impressions, "spend_usd": spend, "engagements": engagements,
        "engagement_rate": engagements / views, "collected_for": collected_for,
    }


def _rejected(i: int, raw: Any, field: str, problem: str) -> Rejected:
    rid = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    return Rejected(i, safe_text(rid[:80]) if rid else None, field, safe_text(problem))


def validate_items(raw_items: Iterable[Any], *, source: str, collected_for: str) -> tuple[pd.DataFrame, list[Rejected]]:
    """Typed rows for the good items, one `Rejected` per bad one; duplicates (same platform+id) keep the first.
    Never raises on an item: every input is either a row or a `Rejected` with its reason."""
    rows, rejected, seen = [], [], set()
    for i, raw in enumerate(raw_items):
        try:
            row = _validate_one(raw, source, collected_for)
        except _Bad as bad:
            rejected.append(_rejected(i, raw, bad.field, bad.problem))
            continue
        except Exception as e:  # noqa: BLE001 - a check this module lacks must cost one row, not the day
            rejected.append(_rejected(i, raw, "*", f"{UNEXPECTED} ({type(e).__name__})"))
            continue
        key = (row["platform"], row["item_id"])
        if key in seen:
            rejected.append(Rejected(i, row["item_id"], "id", "duplicate item"))
            continue
        seen.add(key)
        rows.append(row)
    df = pd.DataFrame(rows, columns=COLUMNS)
    if not df.empty:
        df["posted_at"] = pd.to_datetime(df["posted_at"]).astype(TIME_UNIT)
    return df, rejected


def collect(platform_feed, date: str, *, sources: tuple[str, ...] = ("trending", "ads")) -> tuple[pd.DataFrame, list[Rejected]]:
    """Pull one day of items from an HTTP platform feed (`Platform.market_feed`) and validate them."""
    frames, rejected = [], []
    for kind in sources:
        df, bad = validate_items(platform_feed.market_feed(kind, date), source=kind, collected_for=date)
        frames.append(df)
        rejected.extend(bad)
    filled = [f for f in frames if not f.empty]
    merged = pd.concat(filled, ignore_index=True) if filled else pd.DataFrame(columns=COLUMNS)
    return merged.drop_duplicates(["platform", "item_id"]).reset_index(drop=True), rejected


def keep_previous(previous_rows: int, new_rows: int, *, replace_smaller: bool = False) -> bool:
    """True when a day's new answer must not replace the stored one: it is empty or smaller than
    SHRINK_LIMIT of what is stored (a broken page looks like a quiet day), and the run did not ask to."""
    if replace_smaller or previous_rows <= 0:
        return False
    return new_rows == 0 or new_rows < previous_rows * SHRINK_LIMIT


def stored_rows(wh: Warehouse, day: str, table: str = TABLE) -> int:
    """Rows the warehouse already holds for `day` (0 when the partition was never written)."""
    if not wh.files(table, [day]):
        return 0
    return int(wh.query(f"SELECT count(*) AS n FROM {table}", tables={table: [day]})["n"].iloc[0])


@dataclass
class DayResult:
    """One day of a run: what came, what was rejected, and whether the stored version was kept instead."""

    day: str
    items: pd.DataFrame  # the day's validated new rows (written unless `kept_previous`)
    rejected: list[Rejected]
    previous_rows: int
    kept_previous: bool
    path: Path | None

    @property
    def stored_rows(self) -> int:
        return self.previous_rows if self.kept_previous else len(self.items)

    def warning(self) -> str | None:
        if not self.kept_previous:
            return None
        return (f"{self.day}: kept the stored {self.previous_rows} market items; the new answer had only "
                f"{len(self.items)} (less than {SHRINK_LIMIT:.0%}); set replace_smaller to replace them")


def store_day(wh: Warehouse, platform_feed: Any, day: str, *, replace_smaller: bool = False) -> DayResult:
    """Collect one day and write its partition, unless `keep_previous` says the stored one is better."""
    items, rejected = collect(platform_feed, day)
    previous = stored_rows(wh, day)
    if keep_previous(previous, len(items), replace_smaller=replace_smaller):
        return DayResult(day, items, rejected, previous, True, None)
    return DayResult(day, items, rejected, previous, False, wh.write(TABLE, items, partition=day))


def load_file(path: Path, *, collected_for: str | None = None) -> tuple[pd.DataFrame, list[Rejected]]:
    """Import market items from a CSV or JSONL file (a malformed line is rejected, not fatal)."""
    collected_for = collected_for or dt.date.today().isoformat()
    if path.suffix.lower() == ".csv":
        raw = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
        for r in raw:
            for k in ("views", "likes", "comments", "shares", "saves", "impressions", "duration_s", "spend_usd"):
                if r.get(k, "") != "":
                    try:
                        r[k] = float(r[k]) if k in ("duration_s", "spend_usd") else int(float(r[k]))
                    except ValueError:
                        pass  # left as text: validation names the field
            if isinstance(r.get("hashtags"), str):
                r["hashtags"] = [t for t in re.split(r"[\s,]+", r["hashtags"]) if t]
        return validate_items(raw, source=f"file:{path.name}", collected_for=collected_for)
    items: list[Any] = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as e:
            items.append(Unparseable(f"{path.name} line {n}: unparseable JSON ({e.msg} at column {e.colno})"))
    return validate_items(items, source=f"file:{path.name}", collected_for=collected_for)
