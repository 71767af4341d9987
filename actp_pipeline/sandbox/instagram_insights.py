"""Instagram's media objects and their insights, read from the world's trajectory of the published post.
Apart from the Graph node dispatch (sandbox/instagram.py) because these are Instagram's documented shapes
and metric names, which the contract tests hold against the reference.

Differences from real Instagram (known ones) in media and insights
------------------------------------------------------------------
- Insights: views, likes, comments, shares, saved, total_interactions (likes + comments + shares + saves),
  ig_reels_video_view_total_time and ig_reels_avg_watch_time (ms) come from the world's trajectory of the
  post. reach, follows, profile_visits and the other metrics Instagram knows are valid names but the world
  does not model them: they are left out of `data`, as Instagram leaves out unavailable data. The
  deprecated plays, clips_replays_count, ig_reels_aggregated_all_plays_count, impressions and video_views
  answer code 100. Data is not delayed (Instagram: up to 48 hours) and there is no "not enough viewers"
  error (code 10). Only period=lifetime.
- Media objects: media_type VIDEO, media_product_type REELS; like_count and comments_count are the
  world's; permalink https://www.instagram.com/reel/<shortcode>/; thumbnail_url and media_url are fixed
  sandbox URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .clock import SimClock
from .graph import INVALID, SUB_MISSING, GraphError, graph_time, invalid, param_str
from .publishing import Publishing
from .validation import decode_json

# Reels metrics of the "Instagram Media Insights" reference (views replaced plays in v22.0); the titles and
# descriptions are the sandbox's own words
SERVED_METRICS: dict[str, tuple[str, str]] = {
    "views": ("Views", "Number of times the reel was played or displayed."),
    "likes": ("Likes", "Number of likes on the reel."),
    "comments": ("Comments", "Number of comments on the reel."),
    "shares": ("Shares", "Number of times the reel was shared."),
    "saved": ("Saves", "Number of times the reel was saved."),
    "total_interactions": ("Interactions", "Likes, saves, comments and shares on the reel."),
    "ig_reels_video_view_total_time": ("Watch time", "Total time the reel was watched, in milliseconds."),
    "ig_reels_avg_watch_time": ("Average watch time", "Average time a play of the reel lasted, in milliseconds."),
}
UNMODELLED_METRICS = ("reach", "follows", "profile_visits", "profile_activity", "navigation", "replies",
                      "reposts", "total_views", "total_likes", "total_comments", "crossposted_views",
                      "facebook_views", "reels_skip_rate")
DEPRECATED_METRICS = ("plays", "clips_replays_count", "ig_reels_aggregated_all_plays_count", "impressions",
                      "video_views", "engagement")


class InstagramInsights:
    """The media and insights of InstagramGraph (a mixin: it uses the graph's publishing, clock, shortcode
    and user_id)."""

    publishing: Publishing
    clock: SimClock
    shortcode: Callable[[str], str]
    user_id: Callable[[str], str]

    def media_view(self, media_id: str, post: dict[str, Any]) -> dict[str, Any]:
        counts = self.publishing.metrics(post)
        shortcode = self.shortcode(media_id)
        live = datetime.fromisoformat(post["live_at"])
        return {"id": media_id, "caption": post["caption"], "media_type": "VIDEO", "media_product_type": "REELS",
                "permalink": f"https://www.instagram.com/reel/{shortcode}/", "shortcode": shortcode,
                "timestamp": graph_time(live.timestamp()), "username": post["account"],
                "owner": {"id": self.user_id(post["account"])}, "is_shared_to_feed": True,
                "like_count": int(counts["likes"]), "comments_count": int(counts["comments"]),
                "media_url": f"https://sandbox.actp.local/instagram/video/{media_id}.mp4",
                "thumbnail_url": f"https://sandbox.actp.local/instagram/thumb/{media_id}.jpg",
                "is_comment_enabled": True}

    def insights(self, media_id: str, post: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        raw = params.get("metric")
        if isinstance(raw, list):
            raw = ",".join(str(m) for m in raw)
        if isinstance(raw, str) and raw.lstrip().startswith("["):
            try:
                raw = ",".join(str(m) for m in decode_json(raw))  # ValueError on any hostile JSON
            except ValueError:
                raise invalid("metric must be a comma-separated list", field="metric") from None
        names = [m.strip() for m in str(raw or "").split(",") if m.strip()]
        if not names:
            raise invalid("The parameter metric is required", SUB_MISSING, "metric")
        known = (*SERVED_METRICS, *UNMODELLED_METRICS)
        for i, name in enumerate(names):
            if name in DEPRECATED_METRICS:
                raise GraphError(f"(#100) The {name} metric is no longer supported for media created after "
                                 "July 1, 2024; use views", code=INVALID, subcode=None)
            if name not in known:
                raise GraphError(f"(#100) metric[{i}] must be one of the following values: {', '.join(known)}",
                                 code=INVALID, subcode=None)
        period = param_str(params, "period", max_len=40) or "lifetime"
        if period != "lifetime":
            raise invalid("period must be lifetime for media insights", field="period")
        now = self.clock.now()
        if self.publishing.status_of(post, now) != "live":
            return {"data": []}
        counts = self.publishing.metrics(post, now)
        views = int(counts["views"])
        total_ms = round(float(counts.get("watch_time_s") or 0.0) * 1000)
        values = {"views": views, "likes": int(counts["likes"]), "comments": int(counts["comments"]),
                  "shares": int(counts["shares"]), "saved": int(counts["saves"]),
                  "ig_reels_video_view_total_time": total_ms,
                  "ig_reels_avg_watch_time": round(total_ms / views) if views else 0}
        values["total_interactions"] = values["likes"] + values["comments"] + values["shares"] + values["saved"]
        data = []
        for name in dict.fromkeys(names):
            if name not in SERVED_METRICS:
                continue  # a metric the world does not model is left out, as Instagram leaves out unavailable data
            title, description = SERVED_METRICS[name]
            data.append({"name": name, "period": "lifetime", "values": [{"value": values[name]}], "title": title,
                         "description": description, "id": f"{media_id}/insights/{name}/lifetime"})
        return {"data": data}
