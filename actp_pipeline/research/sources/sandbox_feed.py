"""The platform host's own research feeds (the sandbox's trending, ad-library and search endpoints) as Sources.

The search source is how the loop's last step feeds its first: it runs the research queries the previous
round wrote (research_queries, from the winners) against the host's keyword search; with no queries yet it
fetches nothing.

They read through `HttpPlatform.market_feed` (actp_pipeline/publish/platforms.py), which pages with a
cursor and refuses a repeated cursor or an endless feed. Its PlatformError becomes a SourceError with the same
`retryable`, so market_items treats a busy feed like any other source's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from actp_pipeline.publish.publisher import PlatformError
from actp_pipeline.research.sources.base import SourceError

TRENDING = "sandbox:trending"
ADS = "sandbox:ads"
SEARCH = "sandbox:search"
# source name -> the feed kind HttpPlatform.market_feed knows
FEEDS = {TRENDING: "trending", ADS: "ads", SEARCH: "search"}
# config type -> source name (see config.py)
TYPES = {"sandbox_trending": TRENDING, "sandbox_ads": ADS, "sandbox_search": SEARCH}


class SandboxFeed:
    """One of the platform host's feeds: `feed` is "trending" (posts) or "ads" (the ad library)."""

    def __init__(self, platform_feed: Any, name: str = TRENDING, *, platform: str | None = None):
        if name not in FEEDS:
            raise ValueError(f"unknown sandbox feed {name!r} (expected one of {', '.join(FEEDS)})")
        self.name = name
        self.searches = name == SEARCH  # nothing to fetch without queries: market_items skips it then
        self._feed = platform_feed  # anything with market_feed(kind, date, platform=None), e.g. HttpPlatform
        self._platform = platform

    def fetch(self, day: str, queries: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        """The feed's items of `day`: the listing feeds ignore `queries`; search runs each query once (an item
        several queries find comes back several times: market_items dedupes)."""
        try:
            if self.name != SEARCH:
                yield from self._feed.market_feed(FEEDS[self.name], day, self._platform)
                return
            for query in dict.fromkeys(q.strip() for q in queries if q and q.strip()):
                yield from self._feed.market_feed("search", day, self._platform, query=query)
        except PlatformError as e:
            raise SourceError(self.name, str(e), retryable=e.retryable) from e

    def __repr__(self) -> str:
        return f"SandboxFeed({self.name!r})"


def sources(platform_feed: Any) -> list[SandboxFeed]:
    """The default research sources: the host's trending feed, its ad library and its search (fed by the
    previous round's research queries)."""
    return [SandboxFeed(platform_feed, TRENDING), SandboxFeed(platform_feed, ADS), SandboxFeed(platform_feed, SEARCH)]


def from_spec(spec: Mapping[str, Any], *, platform_feed: Any) -> SandboxFeed:
    """A sandbox feed from a config entry {"type": "sandbox_trending" | "sandbox_ads" | "sandbox_search",
    "platform": ...}."""
    return SandboxFeed(platform_feed, TYPES[spec["type"]], platform=spec.get("platform"))
