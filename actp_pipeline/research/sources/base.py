"""The one interface every research source implements, so market_items treats them alike.

A source hands over raw item dicts in the documented market-item schema (docs: `RAW_FIELDS`); validation,
content hashing, dedupe across sources and storage happen once, in actp_pipeline.research.market_items, not
in each source. A source raises `SourceError` for a failure of the whole source (never a half-read day
passed off as complete); a single bad item is the validator's to report, not the source's to drop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

# The raw schema a source emits (one dict per item). Required: id, platform, caption, posted_at; for a post also
# views (> 0), likes, comments, shares, saves. Optional: kind ("post" | "ad"; default post), author (an ad's
# page_name is taken when author is absent), url, hashtags (list of str), duration_s (absent = unknown, stored
# as NaN), media_type ("video" | "image" | "carousel"; default video), impressions and spend_usd (ads); an ad's
# views and engagement counts may be absent (0). A source may also set "_location" (e.g. "items.csv line 7")
# so a rejection names where the bad item came from (validation.LOCATION). Rules and messages:
# actp_pipeline/research/validation.py; the file schema: file_import.py.
RAW_FIELDS = ("id", "platform", "kind", "author", "url", "caption", "hashtags", "posted_at", "duration_s",
              "media_type", "views", "likes", "comments", "shares", "saves", "impressions", "spend_usd")


class SourceError(Exception):
    """A whole source failed for a day; `retryable` says whether trying again may help (a timeout, a 5xx)
    or not (a refused key, a disallowed page, a malformed listing)."""

    def __init__(self, source: str, message: str, *, retryable: bool = False):
        super().__init__(f"{source}: {message}")
        self.source = source
        self.retryable = retryable


@runtime_checkable
class Source(Protocol):
    """A configured source. `name` is unique among an account's sources and is what market_items records in
    its `source` column (e.g. "sandbox:trending", "meta_ad_library", "file:items.csv", "feed:competitors")."""

    name: str
    # A source may set `searches = True`: it only runs queries, so with none it is skipped (see collect)

    def fetch(self, day: str, queries: Sequence[str] = ()) -> Iterable[dict[str, Any]]:
        """The raw items of one day (YYYY-MM-DD). `queries` are search terms (from research_queries) for
        sources that search; sources that list do not need them."""
        ...
