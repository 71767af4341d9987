"""Reel insights as ACTP's metrics (GET /{ig-media-id}/insights): views, likes, comments, shares, saves and
total interactions, a value Instagram leaves out reported as None, never 0."""

from __future__ import annotations

from typing import Any

from facebook_business.adobjects.igmedia import IGMedia
from facebook_business.exceptions import FacebookRequestError

from actp_pipeline.publish.instagram_api import UNKNOWN_OBJECT_SUBCODE, InstagramApi, iso_utc
from actp_pipeline.publish.publisher import PlatformError

# the Reels metrics ACTP reads ("Instagram Media Insights" reference) and the names of its metrics dict
INSIGHT_METRICS = {"views": "views", "likes": "likes", "comments": "comments", "shares": "shares",
                   "saved": "saves", "total_interactions": "total_interactions"}


def _count(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class InstagramMetrics(InstagramApi):
    """`metrics`: one insights call per reel."""

    # ------------------------------------------------------------------------------- metrics
    def metrics(self, post_ids: list[str]) -> dict[str, Any]:
        """Per reel: views, likes, comments, shares, saves (None when Instagram reported no value, never 0)
        and status; {"as_of", "items", "unknown"} like the other adapters."""
        out: dict[str, Any] = {"as_of": iso_utc(self._clock()), "items": [], "unknown": []}
        for media_id in dict.fromkeys(post_ids):
            try:
                rows = self._call("insights", lambda mid=media_id: IGMedia(mid, api=self.api).get_insights(
                    params={"metric": list(INSIGHT_METRICS), "period": "lifetime"}))
            except PlatformError as e:
                cause = e.__cause__
                if isinstance(cause, FacebookRequestError) and (
                        cause.api_error_subcode() == UNKNOWN_OBJECT_SUBCODE or cause.http_status() == 404):
                    out["unknown"].append(media_id)
                    continue
                if isinstance(cause, FacebookRequestError) and cause.api_error_code() == 10:
                    rows = []  # "(#10) Not enough viewers for the media to show insights": unknown, not 0
                else:
                    raise
            values: dict[str, int | None] = {name: None for name in INSIGHT_METRICS.values()}
            for row in rows:
                name = INSIGHT_METRICS.get(row.get("name"))
                vals = row.get("values") or []
                if name is not None and vals and isinstance(vals[0], dict):
                    values[name] = _count(vals[0].get("value"))
            out["items"].append({"post_id": media_id, "status": "live", "views": values["views"],
                                 "likes": values["likes"], "comments": values["comments"],
                                 "shares": values["shares"], "saves": values["saves"],
                                 "total_interactions": values["total_interactions"]})
        return out
