"""Finding the Ayrshare post made for an ACTP idempotency key (GET /api/history), so that a retry after an
ambiguous answer returns the first post instead of making a second.

Not posting twice (Ayrshare has no idempotency key)
---------------------------------------------------
Ayrshare documents no idempotency parameter, and its own duplicate check is by content (and per network,
e.g. X's "Status is a duplicate"), which is no key. So each post carries ACTP's key in `notes` (Ayrshare's
"reference notes set via /post", returned by /history and /post/:id and never shown on the networks):
`actp-ref:<24 hex of the key's SHA-256>`. `find_post` reads /history (lastDays=0: every post, scheduled
ones included) for that marker. `publish` looks first, so a retry after an ambiguous answer (a timeout
or a 5xx on POST /api/post, raised as AmbiguousOutcome) returns the first post instead of making a
second. Two reads, because /history caches its answer for a minute when limit > 25: the first read
(limit 25, never cached) sees the newest posts, the second (limit `lookup_limit`) the older ones. A
record whose every network failed is no post (nothing reached a network), so posting again is safe; a
post deleted through Ayrshare is not returned (history omits deleted posts).
"""

from __future__ import annotations

import hashlib
from typing import Any

from actp_pipeline.publish.ayrshare_api import AyrshareApi
from actp_pipeline.publish.ayrshare_records import AyrshareRecords

UNCACHED_HISTORY_LIMIT = 25  # /history caches its answer for a minute when limit is above 25
MARKER_PREFIX = "actp-ref:"


def key_marker(idempotency_key: str) -> str:
    """The reference ACTP puts in a post's `notes` to find it again by its idempotency key."""
    return MARKER_PREFIX + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:24]


class AyrshareLookup(AyrshareApi, AyrshareRecords):
    """/history and /post/:id, and `find_post` over them."""

    lookup_limit: int

    # ------------------------------------------------------------------------------------ lookup
    def history(self, limit: int = UNCACHED_HISTORY_LIMIT, **params: Any) -> list[dict[str, Any]]:
        answer = self._call("GET", "/api/history", params={"lastDays": 0, "limit": limit, **params})
        items = answer.get("history") if isinstance(answer, dict) else answer  # older editions: a bare list
        return [i for i in items or [] if isinstance(i, dict)]

    def get_post(self, ayrshare_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/post/{ayrshare_id}", check_status=False)

    def find_post(self, idempotency_key: str) -> dict[str, Any] | None:
        """The post made for this key (the first network's post, with "posts" and "result" for all), or None
        when Ayrshare has none that reached a network."""
        marker = key_marker(idempotency_key)
        seen: set[str] = set()
        for limit in (UNCACHED_HISTORY_LIMIT, self.lookup_limit):
            items = self.history(limit=limit)
            for item in items:
                if item.get("id") in seen:
                    continue
                seen.add(item.get("id"))
                if marker not in str(item.get("notes") or ""):
                    continue
                result = self._result(item, idempotency_key)
                if not result["posts"]:
                    continue  # every network failed: nothing was posted
                first = next(iter(result["posts"].values()))
                return {**first, "posts": result["posts"], "errors": result["errors"], "result": result}
            if len(items) < limit:
                return None
        return None
