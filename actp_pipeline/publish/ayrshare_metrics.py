"""Views, likes, comments and shares of Ayrshare posts (POST /api/analytics/post), read under each
network's own field names and summed over the networks of an "aggregator" post.

Post ids and metrics
--------------------
Ayrshare gives one post id for the call and, per network, the network's own post id and URL.
`publish(platform=<network>)` posts to that network alone; its post_id is `<Ayrshare id>:<network>`
(self-describing, so `metrics` knows what to ask). `publish(platform="aggregator")` posts to every
network of `networks` in one Ayrshare post; its post_id is the bare Ayrshare id and `posts`/`errors` hold
each network (a network that refused does not fail the post while another took it). `publish_to(networks)`
is the same for any list. `metrics` asks /analytics/post once per Ayrshare post: for `<id>:<network>` the
network's counts, for a bare id one item whose counts are the sum over the networks (None when any
network's count is unknown) with the per-network items under "networks". Counts are read under
Ayrshare's per-network field names (tiktok videoViews/likeCount/commentsCount/shareCount, youtube
views/likes/comments/shares, instagram and others likeCount/commentsCount/sharesCount and a views field);
a count the answer does not carry is None, never 0. A post still scheduled is an item with status
"scheduled" and counts of None; a network Ayrshare no longer returns is "unavailable"; a deleted post is
"deleted".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from actp_pipeline.publish.ayrshare_api import AyrshareApiError, parse_count
from actp_pipeline.publish.ayrshare_lookup import AyrshareLookup
from actp_pipeline.publish.ayrshare_records import AGGREGATOR, iso_utc, split_post_id

VIEW_FIELDS = ("videoViews", "views", "viewsCount", "videoViewsCount", "playsCount", "plays", "impressionCount")
LIKE_FIELDS = ("likeCount", "likes", "likesCount")
COMMENT_FIELDS = ("commentsCount", "comments", "commentCount")
SHARE_FIELDS = ("shareCount", "shares", "sharesCount")
COUNTS = ("views", "likes", "comments", "shares")


def _first(analytics: dict[str, Any], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in analytics:
            return parse_count(analytics[name])
    return None


class AyrshareMetrics(AyrshareLookup):
    """`metrics`: one /analytics/post call per Ayrshare post, its answer shaped per ACTP post id."""

    _clock: Callable[[], dt.datetime]

    # ----------------------------------------------------------------------------------- metrics
    def metrics(self, post_ids: list[str]) -> dict[str, Any]:
        """Views, likes, comments and shares per post ({"as_of", "items", "unknown", "deferred"}).

        A post id is `<Ayrshare id>:<network>` (or a bare Ayrshare id: all its networks). Counts Ayrshare
        did not report are None; a scheduled post is an item with status "scheduled" and counts of None;
        "unknown": ids Ayrshare does not know; "deferred": ids not asked because of the rate limit."""
        out: dict[str, Any] = {"as_of": iso_utc(self._clock()), "items": [], "unknown": [], "deferred": []}
        by_ayr: dict[str, list[tuple[str, str | None]]] = {}
        for pid in dict.fromkeys(post_ids):
            ayr, network = split_post_id(pid)
            by_ayr.setdefault(ayr, []).append((pid, network))
        limited = False
        for ayr, wanted in by_ayr.items():
            if limited:
                out["deferred"].extend(pid for pid, _ in wanted)
                continue
            networks = [n for _, n in wanted if n]
            body: dict[str, Any] = {"id": ayr}
            if networks and all(n for _, n in wanted):
                body["platforms"] = list(dict.fromkeys(networks))
            try:
                answer = self._call("POST", "/api/analytics/post", json=body)
            except AyrshareApiError as e:
                if e.status == 429:
                    limited = True
                    out["deferred"].extend(pid for pid, _ in wanted)
                elif e.status == 404:
                    out["unknown"].extend(pid for pid, _ in wanted)
                elif e.status == 400:  # scheduled and not yet sent, or deleted: known, no counts
                    state = self._state_of(ayr)
                    for pid, network in wanted:
                        out["items"].append(self._item(pid, network or AGGREGATOR, None, state))
                else:
                    raise
                continue
            for pid, network in wanted:
                if network:
                    entry = answer.get(network)
                    out["items"].append(self._item(pid, network, entry if isinstance(entry, dict) else None,
                                                   "live" if isinstance(entry, dict) else "unavailable"))
                    continue
                parts = {k: self._item(f"{ayr}:{k}", k, v, "live") for k, v in answer.items()
                         if isinstance(v, dict) and "analytics" in v}
                out["items"].append(self._sum(pid, parts))
        return out

    @staticmethod
    def _sum(post_id: str, parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """One item for a post to several networks: each count summed, None when any network's is unknown."""
        item: dict[str, Any] = {"post_id": post_id, "platform": AGGREGATOR, "social_id": None, "url": None,
                                "status": "live" if parts else "unavailable", "networks": parts}
        for name in COUNTS:
            values = [p[name] for p in parts.values()]
            item[name] = sum(values) if values and all(v is not None for v in values) else None
        return item

    def _state_of(self, ayrshare_id: str) -> str:
        """ACTP's status of a post without analytics: scheduled (Ayrshare "pending"), deleted, or error."""
        status = self.get_post(ayrshare_id).get("status")
        return {"pending": "scheduled", "deleted": "deleted", "paused": "scheduled",
                "awaiting approval": "scheduled", "processing": "processing"}.get(str(status), "error")

    @staticmethod
    def _item(post_id: str, network: str | None, entry: dict[str, Any] | None, status: str) -> dict[str, Any]:
        analytics = entry.get("analytics") if isinstance(entry, dict) else None
        analytics = analytics if isinstance(analytics, dict) else {}
        return {"post_id": post_id, "platform": network,
                "social_id": str(entry["id"]) if isinstance(entry, dict) and entry.get("id") is not None else None,
                "url": entry.get("postUrl") if isinstance(entry, dict) else None, "status": status,
                "views": _first(analytics, VIEW_FIELDS), "likes": _first(analytics, LIKE_FIELDS),
                "comments": _first(analytics, COMMENT_FIELDS), "shares": _first(analytics, SHARE_FIELDS)}
