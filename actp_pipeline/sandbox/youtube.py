"""The YouTube Data API v3 as the sandbox speaks it: channels, resumable video uploads, videos, the
uploads playlist, quota and errors. Framework-free: routes/youtube.py serves it over HTTP.

Why: ACTP's YouTube adapter (actp_pipeline/publish/youtube.py) drives Google's official client
(`google-api-python-client`) unchanged; pointed at the sandbox (only the root URL differs) it uploads into
the sandbox's world, where the video is an ordinary sandbox post (Publishing.keep_media / store_post)
whose views, likes and comments evolve like every other post's.

This module is the domain (`YouTube`: channels and the read operations); its parts live next to it:
youtube_errors.py (Google's error shape), youtube_quota.py (the cost model and counting),
youtube_uploads.py (resumable upload sessions and the metadata's rules) and youtube_resources.py (the
documented resource shapes). Their names stay importable from here.

Paths (as on youtube.googleapis.com; `Authorization: Bearer <token>`, the token being a sandbox API key)
------------------------------------------------------------------------------------------------------
  POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status   open an upload session
       (JSON metadata: snippet.title/description/tags/categoryId, status.privacyStatus/publishAt/
       selfDeclaredMadeForKids; X-Upload-Content-Length / X-Upload-Content-Type) -> 200 + Location
  PUT  <Location>   the bytes in one or more chunks (Content-Range: bytes a-b/total) -> 308 with a Range
       header while incomplete, 200 + the youtube#video resource when complete; `Content-Range:
       bytes */total` with no body asks how far the upload got (308, or 200 + the video if complete)
  GET  /youtube/v3/videos?part=snippet,status,statistics,processingDetails,contentDetails&id=a,b,c
  GET  /youtube/v3/channels?part=snippet,contentDetails,statistics&mine=true (or id=UC...)
  GET  /youtube/v3/playlistItems?part=snippet,contentDetails,status&playlistId=UU...&maxResults&pageToken

Quota: youtube_quota.py. Errors: youtube_errors.py (Google's shape).

Differences from real YouTube (known ones)
------------------------------------------
(Those of uploading, quota and the resources' contents are in youtube_uploads.py, youtube_quota.py and
youtube_resources.py.)
- Changing privacy later (videos.update) is not served.
- Each token belongs to one channel: token i of WorldConfig.api_keys to the youtube account
  i mod len(accounts). Channel ids are "UC" + 22 characters, the uploads playlist "UU" + the same 22.
- videos.list: ids that cannot be video ids (not 11 characters of [A-Za-z0-9_-]) answer 400
  invalidVideoId (YouTube omits them like unknown ids); more than 50 ids answer 400 invalidFilters (an
  assumption about the reason); unknown ids are omitted, as on YouTube. `fields` (partial responses),
  `chart`, `myRating`, `hl`, `maxHeight/maxWidth` are ignored or refused; etags are hashes of the item.
- Only the parts listed above exist; an unknown part answers 400 unknownPart. Unknown paths under
  /youtube/v3 answer 404 notFound in the JSON shape (YouTube answers an HTML page).
- Messages are the sandbox's own wording; reasons, domains and status names are YouTube's.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from .clock import SimClock
from .publishing import Publishing
from .seeding import derive_hex
from .youtube_errors import (  # noqa: F401 - names of this module before the split
    STATUS_NAMES,
    YouTubeError,
    bad_param,
    from_api_error,
    invalid_metadata,
    unauthorized,
)
from .youtube_quota import PACIFIC, Quota, QuotaPolicy, next_reset, quota_day  # noqa: F401
from .youtube_resources import (  # noqa: F401 - names of this module before the split
    THUMB,
    Channel,
    YouTubeResources,
    _b64,
    channel_title,
    check_parts,
    decode_page_token,
    encode_page_token,
    etag,
    iso_duration,
    list_response,
    split_csv,
    thumbnails,
)
from .youtube_uploads import (  # noqa: F401 - names of this module before the split
    CATEGORIES,
    CHUNK_GRANULARITY,
    DEFAULT_CATEGORY,
    MAX_DESCRIPTION_BYTES,
    MAX_TAGS_CHARS,
    MAX_TITLE,
    PRIVACY,
    NewVideo,
    UploadSession,
    YouTubeUploads,
)

PROCESSING_S = 300.0  # simulated seconds a new upload spends in processing
MAX_IDS = 50  # ids per videos.list call
MAX_RESULTS = 50  # maxResults of list calls
DEFAULT_RESULTS = 5  # YouTube's default maxResults
VIDEO_PARTS = ("snippet", "status", "statistics", "processingDetails", "contentDetails", "id")
CHANNEL_PARTS = ("snippet", "contentDetails", "statistics", "id")
PLAYLIST_ITEM_PARTS = ("snippet", "contentDetails", "status", "id")
VIDEO_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")


class YouTube(YouTubeUploads, YouTubeResources):
    """The YouTube dialect's domain: channels, upload sessions, videos (sandbox posts), quota."""

    def __init__(self, publishing: Publishing, policy: QuotaPolicy | None = None):
        self.publishing = publishing
        self.config = publishing.config
        self.state = publishing.state
        self.clock: SimClock = publishing.clock
        self.quota = Quota(publishing, policy)
        self.processing_s = PROCESSING_S
        self._sessions: dict[str, UploadSession] = {}
        self._lock = threading.Lock()
        self._post_index_checked = False  # youtube_uploads.video_of_post

    # ------------------------------------------------------------------------------- channels
    def _accounts(self) -> list[str]:
        if "youtube" not in self.config.platforms:
            return []
        return list(self.config.accounts.get("youtube", []))

    def _channel_of(self, account: str) -> Channel:
        tail = _b64(derive_hex(self.config.seed, "youtube_channel", account, length=40), 22)
        return Channel(account, "UC" + tail, "UU" + tail)

    def channel_for(self, token: str) -> Channel:
        accounts = self._accounts()
        if not accounts:
            raise YouTubeError(401, "youtubeSignupRequired", "The authorized account has no YouTube channel.",
                               location="Authorization", location_type="header")
        index = self.config.api_keys.index(token) if token in self.config.api_keys else 0
        return self._channel_of(accounts[index % len(accounts)])

    def channels(self) -> list[Channel]:
        return [self._channel_of(a) for a in self._accounts()]

    # ------------------------------------------------------------------------------- videos
    def get_video(self, video_id: str) -> dict[str, Any] | None:
        raw = self.state.get_meta(f"youtube.video.{video_id}")
        return json.loads(raw) if raw else None

    def require_video(self, video_id: str) -> dict[str, Any]:
        v = self.get_video(video_id)
        if v is None:
            raise YouTubeError(404, "videoNotFound", "The video cannot be found.", domain="youtube.video",
                               location="id", location_type="parameter")
        return v

    def uploads_of(self, account: str) -> list[str]:
        """The channel's video ids, newest first (the order of its uploads playlist)."""
        return list(reversed(json.loads(self.state.get_meta(f"youtube.channel.{account}.uploads") or "[]")))

    def list_videos(self, token: str, parts: list[str], ids: list[str]) -> dict[str, Any]:
        self.channel_for(token)
        self.quota.charge(token, "videos.list")
        check_parts(parts, VIDEO_PARTS)
        if not ids:
            raise bad_param("missingRequiredParameter", "No filter selected: give id (the sandbox serves no "
                            "chart or myRating).", "id")
        if len(ids) > MAX_IDS:
            raise bad_param("invalidFilters", f"id lists at most {MAX_IDS} videos per call.", "id")
        for i in ids:
            if not VIDEO_ID_RE.match(i):
                raise YouTubeError(400, "invalidVideoId", f"{i[:40]!r} is not a video id.", domain="youtube.video",
                                   location="id", location_type="parameter")
        now = self.clock.now()
        items = []
        for i in dict.fromkeys(ids):
            v = self.get_video(i)
            if v is not None:
                items.append(self.video_resource(v, parts, now))
        return list_response("youtube#videoListResponse", items, len(items), len(items))

    def list_channels(self, token: str, parts: list[str], mine: bool, ids: list[str]) -> dict[str, Any]:
        own = self.channel_for(token)
        self.quota.charge(token, "channels.list")
        check_parts(parts, CHANNEL_PARTS)
        if mine and ids:
            raise bad_param("incompatibleParameters", "mine and id cannot be used together.", "mine")
        if mine:
            chosen = [own]
        elif ids:
            chosen = [c for c in self.channels() if c.channel_id in ids]
        else:
            raise bad_param("missingRequiredParameter", "No filter selected: give mine=true or id.", "mine")
        now = self.clock.now()
        items = [self.channel_resource(c, parts, now) for c in chosen]
        return list_response("youtube#channelListResponse", items, len(items), MAX_RESULTS if not mine else 1)

    def list_playlist_items(self, token: str, parts: list[str], playlist_id: str | None, max_results: str | None,
                            page_token: str | None) -> dict[str, Any]:
        self.channel_for(token)
        self.quota.charge(token, "playlistItems.list")
        check_parts(parts, PLAYLIST_ITEM_PARTS)
        if not playlist_id:
            raise bad_param("missingRequiredParameter", "No filter selected: give playlistId.", "playlistId")
        channel = next((c for c in self.channels() if c.uploads == playlist_id), None)
        if channel is None:
            raise YouTubeError(404, "playlistNotFound", "The playlist cannot be found.",
                               domain="youtube.playlistItem", location="playlistId", location_type="parameter")
        limit = DEFAULT_RESULTS
        if max_results is not None:
            if not max_results.isdigit() or not 0 <= int(max_results) <= MAX_RESULTS:
                raise bad_param("invalidParameter", f"maxResults must be 0-{MAX_RESULTS}.", "maxResults")
            limit = int(max_results)
        start = decode_page_token(page_token)
        ids = self.uploads_of(channel.account)
        if start > len(ids):
            raise bad_param("invalidPageToken", "The pageToken is not valid.", "pageToken")
        now = self.clock.now()
        items = []
        for pos in range(start, min(start + limit, len(ids))):
            v = self.get_video(ids[pos])
            if v is not None:
                items.append(self.playlist_item(channel, v, pos, parts, now))
        out = list_response("youtube#playlistItemListResponse", items, len(ids), limit)
        if start + limit < len(ids) and limit > 0:
            out["nextPageToken"] = encode_page_token(start + limit)
        if start > 0:
            out["prevPageToken"] = encode_page_token(max(start - limit, 0))
        return out
