"""Research: market items (competitor posts and ads) from sources, validated row by row.

A source hands over raw dicts; `validate_items` turns the good ones into a typed DataFrame and reports
each bad one (which item, which field, what was wrong) instead of failing the run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from actp_pipeline.creative import PLATFORMS

MAX_CAPTION = 5000
MAX_COUNT = 5_000_000_000  # more views than people online is an absurd number
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

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


def _text(raw: dict, name: str, *, required: bool = True, max_len: int = 500) -> str:
    v = raw.get(name)
    if v is None:
        if required:
            raise _Bad(name, "missing")
        return ""
    if not isinstance(v, str):
        raise _Bad(name, f"expected text, got {type(v).__name__}")
    v = _CONTROL.sub("", v).strip()
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
        raise _Bad(name, f"expected a number, got {v!r:.40}")
    if v < 0 or v > MAX_COUNT or (isinstance(v, float) and v != int(v)):
        raise _Bad(name, f"absurd value {v!r:.40}")
    return int(v)


class Unparseable(str):
    """A line of a file that was not even JSON; validation reports it with its own message."""


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
    tags = raw.get("hashtags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _Bad("hashtags", "expected a list of strings")
    hashtags = sorted({"#" + _CONTROL.sub("", t).strip().lstrip("#").lower() for t in tags if t.strip().lstrip("#")})[:30]
    try:
        posted_at = pd.Timestamp(_text(raw, "posted_at", max_len=64))
    except ValueError as e:
        raise _Bad("posted_at", f"not a timestamp ({e})") from e
    posted_at = posted_at.tz_convert("UTC").tz_localize(None) if posted_at.tzinfo else posted_at
    duration = raw.get("duration_s")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not (0 < duration <= 600):
        raise _Bad("duration_s", f"expected 0 < seconds <= 600, got {duration!r:.40}")
    views = _count(raw, "views")
    counts = {k: _count(raw, k) for k in ("likes", "comments", "shares", "saves")}
    engagements = sum(counts.values())
    if views == 0 or engagements > views:
        raise _Bad("views", f"{engagements} engagements on {views} views")
    impressions = _count(raw, "impressions", required=False) if kind == "ad" else 0
    spend = raw.get("spend_usd", 0.0) if kind == "ad" else 0.0
    if isinstance(spend, bool) or not isinstance(spend, (int, float)) or not (0 <= spend < 1e8):
        raise _Bad("spend_usd", f"absurd spend {spend!r:.40}")
    return {
        "item_id": item_id, "source": source, "platform": platform, "kind": kind,
        "author": _text(raw, "author", required=False, max_len=200) or _text(raw, "page_name", required=False, max_len=200),
        "url": _text(raw, "url", required=False, max_len=2000), "caption": caption, "hashtags": hashtags,
        "posted_at": posted_at.to_pydatetime(), "duration_s": float(duration), "views": views, **counts,
        "impressions": impressions, "spend_usd": float(spend), "engagements": engagements,
        "engagement_rate": engagements / views, "collected_for": collected_for,
    }


def validate_items(raw_items: Iterable[Any], *, source: str, collected_for: str) -> tuple[pd.DataFrame, list[Rejected]]:
    """Typed rows for the good items, one `Rejected` per bad one; duplicates (same platform+id) keep the first."""
    rows, rejected, seen = [], [], set()
    for i, raw in enumerate(raw_items):
        try:
            row = _validate_one(raw, source, collected_for)
        except _Bad as bad:
            rid = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
            rejected.append(Rejected(i, rid[:80] if rid else None, bad.field, bad.problem))
            continue
        key = (row["platform"], row["item_id"])
        if key in seen:
            rejected.append(Rejected(i, row["item_id"], "id", "duplicate item"))
            continue
        seen.add(key)
        rows.append(row)
    df = pd.DataFrame(rows, columns=COLUMNS)
    if not df.empty:
        df["posted_at"] = pd.to_datetime(df["posted_at"])
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
