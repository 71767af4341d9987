"""The creator's videos as the Display API shows them (/v2/video/query/ and /v2/video/list/): public video
ids for world posts, the documented video fields rendered from a post and its world counts, and the list's
cursor paging. Apart from the publishes (tiktok_uploads.py) because any tiktok post of the world, however
it was made, is a video here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .seeding import derive_hex
from .tiktok_rules import PLATFORM, Creator, TikTokRules, invalid

MAX_QUERY_IDS = 20
MAX_LIST_COUNT = 20
DEFAULT_LIST_COUNT = 10
SHARE_URL = "https://sandbox.actp.local/tiktok/@{account}/video/{video_id}"
VIDEO_FIELDS = ("id", "create_time", "cover_image_url", "share_url", "video_description", "duration", "height",
                "width", "title", "embed_html", "embed_link", "like_count", "comment_count", "share_count",
                "view_count")


class TikTokVideos(TikTokRules):
    """Video ids, video/query and video/list for one creator."""

    _video_index: dict[str, str]

    # ------------------------------------------------------------------------------------ videos
    def video_id(self, post_id: str) -> str:
        """The post's public TikTok video id: a 19-digit number (as TikTok's), stable for the seed."""
        n = int(derive_hex(self.config.seed, "tiktok_video_id", post_id, length=15), 16) % 10**18
        vid = str(7 * 10**18 + n)
        self._video_index[vid] = post_id
        return vid

    def _public(self, post: dict[str, Any], now: datetime) -> bool:
        return self.publishing.public_post(post, now)["status"] == "live"

    def _creator_posts(self, creator: Creator) -> list[tuple[int, dict[str, Any]]]:
        """(create time in ms, post) of the creator's public videos, newest first."""
        now = self.clock.now()
        out = []
        for seq, post in enumerate(self.state.list_posts()):
            if post["platform"] != PLATFORM or post["account"] != creator.account or not self._public(post, now):
                continue
            created = datetime.fromisoformat(post["created_at"])
            out.append((int(created.timestamp()) * 1000 + seq % 1000, post))
        out.sort(key=lambda t: t[0], reverse=True)
        return out

    @staticmethod
    def fields_of(raw: str | None) -> list[str]:
        if not raw or not raw.strip():
            raise invalid("the fields query parameter is required (e.g. fields=id,title,view_count)")
        names = [f.strip() for f in raw.split(",") if f.strip()]
        unknown = [f for f in names if f not in VIDEO_FIELDS]
        if unknown:
            raise invalid(f"unknown video fields: {', '.join(unknown)}")
        return list(dict.fromkeys(names))

    def _video(self, post: dict[str, Any], fields: list[str], now: datetime) -> dict[str, Any]:
        vid = self.video_id(post["post_id"])
        media = self.state.get_media(post["media_id"]) or {}
        counts = self.publishing.metrics(post, now)
        share = SHARE_URL.format(account=post["account"], video_id=vid)
        created = datetime.fromisoformat(post["created_at"])
        full = {
            "id": vid, "create_time": int(created.timestamp()),
            "cover_image_url": f"https://sandbox.actp.local/tiktok/cover/{vid}.jpeg", "share_url": share,
            "video_description": post["caption"], "duration": round(float(media.get("duration_s") or 0.0)),
            "height": int(media.get("height") or 0), "width": int(media.get("width") or 0),
            "title": post["caption"],
            "embed_html": f'<blockquote class="tiktok-embed" cite="{share}" data-video-id="{vid}"></blockquote>',
            "embed_link": f"https://sandbox.actp.local/tiktok/embed/v2/{vid}",
            "like_count": int(counts["likes"]), "comment_count": int(counts["comments"]),
            "share_count": int(counts["shares"]), "view_count": int(counts["views"]),
        }
        return {k: full[k] for k in fields}

    def query_videos(self, creator: Creator, fields_raw: str | None, body: dict[str, Any]) -> dict[str, Any]:
        fields = self.fields_of(fields_raw)
        filters = body.get("filters")
        ids = filters.get("video_ids") if isinstance(filters, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise invalid("filters.video_ids must be a non-empty list of video id strings")
        if len(ids) > MAX_QUERY_IDS:
            raise invalid(f"filters.video_ids has {len(ids)} ids; at most {MAX_QUERY_IDS}")
        now = self.clock.now()
        if any(i not in self._video_index for i in ids):
            for post in self.state.list_posts():  # (re)build the index: a restart, or posts made through another dialect or the web forms
                if post["platform"] == PLATFORM:
                    self.video_id(post["post_id"])
        found = self.state.get_posts([self._video_index[i] for i in dict.fromkeys(ids) if i in self._video_index])
        videos = []
        for vid in dict.fromkeys(ids):  # in the order asked; unknown, foreign and unpublished ids are left out
            post = found.get(self._video_index.get(vid, ""))
            if post is not None and post["account"] == creator.account and self._public(post, now):
                videos.append(self._video(post, fields, now))
        return {"videos": videos, "cursor": 0, "has_more": False}

    def list_videos(self, creator: Creator, fields_raw: str | None, body: dict[str, Any]) -> dict[str, Any]:
        fields = self.fields_of(fields_raw)
        count = body.get("max_count", DEFAULT_LIST_COUNT)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_LIST_COUNT:
            raise invalid(f"max_count must be an integer between 1 and {MAX_LIST_COUNT}")
        cursor = body.get("cursor")
        if cursor is not None and (isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 0):
            raise invalid("cursor must be a UTC Unix timestamp in milliseconds")
        now = self.clock.now()
        posts = [(ms, p) for ms, p in self._creator_posts(creator) if cursor is None or ms < cursor]
        page = posts[:count]
        next_cursor = page[-1][0] if page else (cursor or 0)
        return {"videos": [self._video(p, fields, now) for _, p in page], "cursor": next_cursor,
                "has_more": len(posts) > len(page)}
