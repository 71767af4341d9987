"""Analytics on a post through the sandbox's Ayrshare (POST /api/analytics/post): each network's counts
from the world, under the field names of Ayrshare's per-network answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .ayrshare_records import AyrshareRecords
from .ayrshare_rules import KNOWN_PLATFORMS, AyrshareCodes, AyrshareError, AyrsharePolicy, Profile, bad
from .clock import iso
from .publishing import Publishing


class AyrshareAnalytics(AyrshareRecords):
    """A post's analytics per network, read from the world's counts."""

    publishing: Publishing
    policy: AyrsharePolicy

    # -------------------------------------------------------------------------------- analytics
    def analytics_of(self, platform: str, post: dict[str, Any], now: datetime) -> dict[str, Any]:
        m = self.publishing.metrics(post, now)
        views, watch = int(m["views"]), float(m["watch_time_s"])
        if platform == "tiktok":
            return {"videoViews": views, "likeCount": int(m["likes"]), "commentsCount": int(m["comments"]),
                    "shareCount": int(m["shares"]), "totalTimeWatched": round(watch, 1),
                    "averageTimeWatched": round(watch / views, 2) if views else 0.0, "created": post["live_at"]}
        if platform == "youtube":
            return {"views": views, "likes": int(m["likes"]), "comments": int(m["comments"]),
                    "shares": int(m["shares"]), "subscribersGained": int(m["followers_gained"]),
                    "estimatedMinutesWatched": round(watch / 60.0, 1),
                    "averageViewDuration": round(watch / views, 1) if views else 0.0}
        return {"likeCount": int(m["likes"]), "commentsCount": int(m["comments"]), "sharesCount": int(m["shares"]),
                "savedCount": int(m["saves"]), "viewsCount": views}

    def analytics(self, profile: Profile, body: dict[str, Any]) -> dict[str, Any]:
        ayr_id = body.get("id")
        if not isinstance(ayr_id, str) or not ayr_id:
            raise bad("id is required: the Ayrshare Post ID (or a network's post id with searchPlatformId)",
                      action="analytics")
        wanted = self._str_list(body, "platforms")
        unknown = [p for p in wanted if p not in KNOWN_PLATFORMS]
        if unknown:
            raise bad(f"unknown platforms: {', '.join(u[:40] for u in unknown[:5])}", action="analytics")
        search = body.get("searchPlatformId")
        if search is not None and not isinstance(search, bool):
            raise bad("searchPlatformId must be a boolean", action="analytics")
        if search:
            if len(wanted) != 1:
                raise bad("with searchPlatformId, platforms must hold exactly one network", action="analytics")
            found = self.state.get_meta(f"ayrshare.social.{wanted[0]}.{ayr_id}") if len(ayr_id) <= 64 else None
            if found is None:
                raise AyrshareError(404, AyrshareCodes.NOT_FOUND, f"No {wanted[0]} post with id {ayr_id[:64]!r} "
                                    "for this profile.", action="analytics")
            ayr_id = found
        record = self._load(profile, ayr_id)
        now = self.clock.now()
        status = self.status_of(record, now)
        if status == "deleted":
            raise AyrshareError(400, AyrshareCodes.NOT_FOUND, "The post was deleted; it has no analytics.",
                                action="analytics")
        if status == "pending":
            raise AyrshareError(400, AyrshareCodes.NOT_PUBLISHED, "The post is scheduled and not yet published; "
                                "analytics follow its scheduleDate.", action="analytics")
        out: dict[str, Any] = {}
        nxt = iso(now + timedelta(seconds=self.policy.analytics_refresh_s))
        posts = self.state.get_posts([e["post_id"] for e in record["entries"]])
        for e in record["entries"]:
            if (wanted and e["platform"] not in wanted) or e["deleted"] or e["post_id"] not in posts:
                continue
            out[e["platform"]] = {"id": e["id"], "postUrl": e["postUrl"],
                                  "analytics": self.analytics_of(e["platform"], posts[e["post_id"]], now),
                                  "lastUpdated": iso(now), "nextUpdate": nxt}
        out["status"] = "success"
        out["id"] = record["id"]
        return out
