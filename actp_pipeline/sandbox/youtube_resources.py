"""The YouTube dialect's documented shapes: youtube#video, youtube#channel, youtube#playlistItem and the
list responses around them, rendered from the stored video records and the world's posts. Apart from the
domain (sandbox/youtube.py) because what a resource looks like is YouTube's documentation, not the
sandbox's behaviour: the contract tests hold these shapes against the documented ones.

Differences from real YouTube (known ones) in what the resources say
--------------------------------------------------------------------
- Processing takes PROCESSING_S simulated seconds (plus WorldConfig.processing_s real seconds, which hold
  every sandbox post); processingProgress is linear. uploadStatus goes "uploaded" -> "processed".
  A file the sandbox cannot decode becomes a video with uploadStatus "failed" (failureReason invalidFile,
  codec or emptyFile) and processingStatus "failed"; it is no post in the world.
- A public video's views start when processing ends (the sandbox post goes live then); a scheduled video
  (privacyStatus private + publishAt) turns public at publishAt and is live from then. Private videos
  report statistics of 0; unlisted videos are treated as public.
- statistics carry viewCount, likeCount, favoriteCount ("0") and commentCount; YouTube has no share count
  in the Data API, and the sandbox world's shares and saves are not exposed here.
- Thumbnails are fixed sandbox URLs; etags are hashes of the item.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import SimClock, iso
from .publishing import Publishing
from .seeding import derive_hex
from .validation import parse_time
from .youtube_errors import bad_param

THUMB = "https://i.sandbox.actp.local/vi/{video_id}/{name}.jpg"


@dataclass
class Channel:
    account: str
    channel_id: str
    uploads: str


class YouTubeResources:
    """The resource rendering of YouTube (a mixin: it uses the domain's state, publishing, clock, config,
    processing_s, _channel_of, uploads_of and get_video)."""

    publishing: Publishing
    state: Any
    config: Any
    clock: SimClock
    processing_s: float
    _channel_of: Callable[[str], Channel]
    uploads_of: Callable[[str], list[str]]
    get_video: Callable[[str], dict[str, Any] | None]

    def video_state(self, v: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Upload, processing and privacy status of a video at `now`."""
        if v["failure"]:
            return {"uploadStatus": "failed", "processingStatus": "failed", "privacyStatus": v["privacyStatus"],
                    "publishAt": v["publishAt"], "progress": None}
        until = parse_time(v["processing_until"], "processing_until")
        held = False
        if v["post_id"]:
            post = self.publishing.state.get_post(v["post_id"])
            held = post is not None and self.publishing.public_post(post, now)["status"] == "processing"
        processing = now < until or held
        privacy, publish_at = v["privacyStatus"], v["publishAt"]
        if publish_at and not processing and parse_time(publish_at, "publishAt") <= now:
            privacy, publish_at = "public", None
        progress = None
        if processing:
            total_s = max(self.processing_s, 1.0)
            left = max((until - now).total_seconds(), 0.0)
            progress = {"partsTotal": "1000", "partsProcessed": str(int(1000 * (1 - left / total_s))),
                        "timeLeftMs": str(int(left * 1000))}
        return {"uploadStatus": "uploaded" if processing else "processed",
                "processingStatus": "processing" if processing else "succeeded",
                "privacyStatus": privacy, "publishAt": publish_at, "progress": progress}

    def statistics(self, v: dict[str, Any], st: dict[str, Any], now: datetime) -> dict[str, Any]:
        counts = {"views": 0, "likes": 0, "comments": 0}
        if v["post_id"] and st["privacyStatus"] != "private" and st["processingStatus"] == "succeeded":
            post = self.state.get_post(v["post_id"])
            if post is not None:
                m = self.publishing.metrics(post, now)
                counts = {k: int(m[k]) for k in counts}
        return {"viewCount": str(counts["views"]), "likeCount": str(counts["likes"]), "favoriteCount": "0",
                "commentCount": str(counts["comments"])}

    def video_resource(self, v: dict[str, Any], parts: list[str], now: datetime | None = None) -> dict[str, Any]:
        now = now if now is not None else self.clock.now()
        st = self.video_state(v, now)
        channel = self._channel_of(v["account"])
        out: dict[str, Any] = {"kind": "youtube#video", "etag": "", "id": v["video_id"]}
        if "snippet" in parts:
            snippet: dict[str, Any] = {
                "publishedAt": v["uploaded_at"], "channelId": channel.channel_id, "title": v["title"],
                "description": v["description"], "thumbnails": thumbnails(v["video_id"]),
                "channelTitle": channel_title(channel.account), "categoryId": v["categoryId"],
                "liveBroadcastContent": "none", "localized": {"title": v["title"], "description": v["description"]},
            }
            if v["tags"]:
                snippet["tags"] = list(v["tags"])
            out["snippet"] = snippet
        if "contentDetails" in parts:
            duration = 0.0
            if v["post_id"]:
                post = self.state.get_post(v["post_id"])
                media = self.state.get_media(post["media_id"]) if post else None
                duration = float((media or {}).get("duration_s") or 0.0)
            out["contentDetails"] = {"duration": iso_duration(duration), "dimension": "2d", "definition": "sd",
                                     "caption": "false", "licensedContent": False, "contentRating": {},
                                     "projection": "rectangular"}
        if "status" in parts:
            status: dict[str, Any] = {"uploadStatus": st["uploadStatus"], "privacyStatus": st["privacyStatus"],
                                      "license": "youtube", "embeddable": True, "publicStatsViewable": True,
                                      "madeForKids": v["selfDeclaredMadeForKids"],
                                      "selfDeclaredMadeForKids": v["selfDeclaredMadeForKids"]}
            if st["publishAt"]:
                status["publishAt"] = st["publishAt"]
            if v["failure"]:
                status["failureReason"] = v["failure"]
            out["status"] = status
        if "statistics" in parts:
            out["statistics"] = self.statistics(v, st, now)
        if "processingDetails" in parts:
            details: dict[str, Any] = {"processingStatus": st["processingStatus"]}
            if st["progress"] is not None:
                details["processingProgress"] = st["progress"]
            if v["failure"]:
                details["processingFailureReason"] = "transcodeFailed"
            out["processingDetails"] = details
        out["etag"] = etag(out)
        return out

    def channel_resource(self, c: Channel, parts: list[str], now: datetime) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "youtube#channel", "etag": "", "id": c.channel_id}
        uploads = self.uploads_of(c.account)
        if "snippet" in parts:
            title = channel_title(c.account)
            out["snippet"] = {"title": title, "description": f"The sandbox channel of account {c.account!r}.",
                              "customUrl": f"@{c.account.lower()}", "publishedAt": iso(self.clock.start),
                              "thumbnails": thumbnails(c.channel_id),
                              "localized": {"title": title, "description": f"The sandbox channel of account "
                                            f"{c.account!r}."}}
        if "contentDetails" in parts:
            out["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": c.uploads}}
        if "statistics" in parts:
            views, gained = 0, 0
            for vid in uploads:
                v = self.get_video(vid)
                if v is None:
                    continue
                st = self.video_state(v, now)
                views += int(self.statistics(v, st, now)["viewCount"])
                if v["post_id"] and views:
                    post = self.state.get_post(v["post_id"])
                    if post is not None:
                        gained += int(self.publishing.metrics(post, now)["followers_gained"])
            out["statistics"] = {"viewCount": str(views),
                                 "subscriberCount": str(self.config.audience_of("youtube") + gained),
                                 "hiddenSubscriberCount": False, "videoCount": str(len(uploads))}
        out["etag"] = etag(out)
        return out

    def playlist_item(self, c: Channel, v: dict[str, Any], pos: int, parts: list[str], now: datetime) -> dict[str, Any]:
        st = self.video_state(v, now)
        item_id = _b64(derive_hex(c.uploads, v["video_id"], length=48), 32)
        out: dict[str, Any] = {"kind": "youtube#playlistItem", "etag": "", "id": item_id}
        if "snippet" in parts:
            title = channel_title(c.account)
            out["snippet"] = {"publishedAt": v["uploaded_at"], "channelId": c.channel_id, "title": v["title"],
                              "description": v["description"], "thumbnails": thumbnails(v["video_id"]),
                              "channelTitle": title, "playlistId": c.uploads, "position": pos,
                              "resourceId": {"kind": "youtube#video", "videoId": v["video_id"]},
                              "videoOwnerChannelTitle": title, "videoOwnerChannelId": c.channel_id}
        if "contentDetails" in parts:
            out["contentDetails"] = {"videoId": v["video_id"], "videoPublishedAt": v["uploaded_at"]}
        if "status" in parts:
            out["status"] = {"privacyStatus": st["privacyStatus"]}
        out["etag"] = etag(out)
        return out


# ------------------------------------------------------------------------------- shapes and parameters
def _b64(hex_digits: str, length: int) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(hex_digits)).decode("ascii").rstrip("=")[:length]


def etag(resource: dict[str, Any]) -> str:
    body = json.dumps({k: v for k, v in resource.items() if k != "etag"}, sort_keys=True, separators=(",", ":"))
    return _b64(hashlib.sha256(body.encode()).hexdigest()[:40], 27)


def list_response(kind: str, items: list[dict[str, Any]], total: int, per_page: int) -> dict[str, Any]:
    out = {"kind": kind, "etag": "", "items": items, "pageInfo": {"totalResults": total, "resultsPerPage": per_page}}
    out["etag"] = etag(out)
    return out


def thumbnails(object_id: str) -> dict[str, Any]:
    return {"default": {"url": THUMB.format(video_id=object_id, name="default"), "width": 120, "height": 90},
            "medium": {"url": THUMB.format(video_id=object_id, name="mqdefault"), "width": 320, "height": 180},
            "high": {"url": THUMB.format(video_id=object_id, name="hqdefault"), "width": 480, "height": 360}}


def channel_title(account: str) -> str:
    return f"ACTP sandbox {account}"


def iso_duration(seconds: float) -> str:
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{sec}S" if sec or not (h or m) else "")


def split_csv(values: list[str]) -> list[str]:
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


def check_parts(parts: list[str], known: tuple[str, ...]) -> None:
    if not parts:
        raise bad_param("missingRequiredParameter", "The part parameter is required.", "part")
    unknown = [p for p in parts if p not in known]
    if unknown:
        raise bad_param("unknownPart", f"part {unknown[0]!r} is not a part of this resource.", "part")


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"CA{offset}".encode()).decode("ascii").rstrip("=")


def decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        if not raw.startswith("CA") or not raw[2:].isdigit() or len(raw) > 14:
            raise ValueError
        return int(raw[2:])
    except (ValueError, UnicodeDecodeError):
        raise bad_param("invalidPageToken", "The pageToken is not valid.", "pageToken") from None
