"""Views, likes, comments and shares of TikTok posts (the Display API's video/query), for post ids that
are publish ids or public video ids.

Post ids and metrics
--------------------
`publish` returns post_id = the publish_id (TikTok's public video id exists only after moderation);
`find_post` may return a public video id as post_id when only the title scan found it. `metrics` takes
either: a publish id is mapped to its public id through status/fetch (publicaly_available_post_id, cached
in the journal once known); a post whose public id is not known yet is reported with status "processing"
or "moderation" and counts of None (unknown, never 0).
"""

from __future__ import annotations

from typing import Any

from actp_pipeline.publish.tiktok_api import TikTokApiError
from actp_pipeline.publish.tiktok_lookup import TikTokLookup, iso_utc

QUERY_BATCH = 20  # video/query takes at most 20 ids


class TikTokMetrics(TikTokLookup):
    """`metrics`: publish ids resolved to public ids (status/fetch, cached in the journal), then video/query."""

    # ----------------------------------------------------------------------------------- metrics
    def metrics(self, post_ids: list[str]) -> dict[str, Any]:
        """Views, likes, comments and shares per post ({"as_of", "items", "unknown", "deferred"}).

        A post id is a publish id or a public video id. A post without a public id yet is an item with status
        "processing" or "moderation" (or "failed") and counts of None. "unknown": ids TikTok does not know
        (or no longer shows); "deferred": publish ids not resolved because status/fetch was rate-limited."""
        out: dict[str, Any] = {"as_of": iso_utc(self._clock()), "items": [], "unknown": [], "deferred": []}
        by_video: dict[str, str] = {}
        limited = False
        for pid in dict.fromkeys(post_ids):
            if pid.isdigit():
                by_video[pid] = pid
                continue
            vid = self.journal.video_id_of(pid)
            if vid is None:
                if limited:
                    out["deferred"].append(pid)
                    continue
                try:
                    status = self.fetch_status(pid)
                except TikTokApiError as e:
                    if e.code == "invalid_params":
                        out["unknown"].append(pid)
                    elif e.status == 429 or e.code == "rate_limit_exceeded":
                        limited = True
                        out["deferred"].append(pid)
                    else:
                        raise
                    continue
                post = self._post(pid, status, None, live_at=None)
                vid = post["video_id"]
                if vid is None:
                    state = "failed" if status.get("status") == "FAILED" else post["status"]
                    out["items"].append({"post_id": pid, "video_id": None, "status": state, "views": None,
                                         "likes": None, "comments": None, "shares": None,
                                         "fail_reason": status.get("fail_reason")})
                    continue
            by_video[vid] = pid
        vids = list(by_video)
        for i in range(0, len(vids), QUERY_BATCH):
            batch = vids[i : i + QUERY_BATCH]
            seen = set()
            for v in self.query_videos(batch):
                vid = str(v.get("id"))
                if vid not in by_video:
                    continue
                seen.add(vid)
                out["items"].append({
                    "post_id": by_video[vid], "video_id": vid, "status": "live", "url": v.get("share_url"),
                    "views": v.get("view_count"), "likes": v.get("like_count"),
                    "comments": v.get("comment_count"), "shares": v.get("share_count"),
                })
            out["unknown"].extend(by_video[v] for v in batch if v not in seen)
        return out
