"""Reel insights as ACTP's metrics (GET /{ig-media-id}/insights): views, likes, comments, shares, saves and
total interactions, a value Instagram leaves out reported as None, never 0; for post ids that are IG media
ids or reel shortcodes (a post made through a browser: resolved through the user's media list)."""

from __future__ import annotations

from collections.abc import Callable
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
    """`metrics`: one insights call per reel (a reel known by its shortcode: its media id looked up first)."""

    media_ids: Callable[[list[str]], dict[str, str]]  # instagram_lookup.InstagramLookup.media_ids

    # ------------------------------------------------------------------------------- metrics
    def metrics(self, post_ids: list[str]) -> dict[str, Any]:
        """Per reel: views, likes, comments, shares, saves (None when Instagram reported no value, never 0)
        and status; {"as_of", "items", "unknown"} like the other adapters. A post id is the IG media id
        (what media_publish answers) or the reel's shortcode (what its link shows, the id a post made through
        a browser has): a shortcode is resolved to its media id first (`media_ids`), and one that cannot be
        is unknown ("deferred" when the media list could not be read this time); its item keeps the shortcode
        as post_id and carries the `media_id`."""
        out: dict[str, Any] = {"as_of": iso_utc(self._clock()), "items": [], "unknown": [], "deferred": []}
        ids = list(dict.fromkeys(post_ids))
        try:
            resolved = self.media_ids(ids)
        except PlatformError as e:  # the media list failed for now: the shortcodes wait, the media ids are read
            if not e.retryable:
                raise
            resolved = {pid: pid for pid in ids if pid.isdigit()}
            out["deferred"] = [pid for pid in ids if pid not in resolved]
        for post_id in ids:
            media_id = resolved.get(post_id)
            if media_id is None:
                if post_id not in out["deferred"]:
                    out["unknown"].append(post_id)
                continue
            try:
                rows = self._call("insights", lambda mid=media_id: IGMedia(mid, api=self.api).get_insights(
                    params={"metric": list(INSIGHT_METRICS), "period": "lifetime"}))
            except PlatformError as e:
                cause = e.__cause__
                if isinstance(cause, FacebookRequestError) and (
                        cause.api_error_subcode() == UNKNOWN_OBJECT_SUBCODE or cause.http_status() == 404):
                    out["unknown"].append(post_id)
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
            item = {"post_id": post_id, **({"media_id": media_id} if media_id != post_id else {})}
            out["items"].append({**item, "status": "live", "views": values["views"],
                                 "likes": values["likes"], "comments": values["comments"],
                                 "shares": values["shares"], "saves": values["saves"],
                                 "total_interactions": values["total_interactions"]})
        return out
