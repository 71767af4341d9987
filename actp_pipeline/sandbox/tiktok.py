"""TikTok's Content Posting API (Direct Post) and the Display API's video endpoints as the sandbox speaks
them. Framework-free: routes/tiktok.py serves it over HTTP at TikTok's own paths (/v2/...).

Why: ACTP's TikTok adapter (actp_pipeline/publish/tiktok.py) speaks TikTok's documented HTTP API through
httpx; pointed at the sandbox (only the base URL differs) it posts into the sandbox's world, where the
uploaded video is an ordinary sandbox post (Publishing.keep_media probes it like every upload,
Publishing.store_post creates it once) whose views, likes, comments and shares evolve like every other post's.

Paths (TikTok's open API host is https://open.tiktokapis.com; in the sandbox they sit at the root)
------------------------------------------------------------------------------------------------
  POST /v2/post/publish/creator_info/query/   privacy_level_options, comment/duet/stitch_disabled,
                                              max_video_post_duration_sec
  POST /v2/post/publish/video/init/           post_info + source_info (FILE_UPLOAD: video_size,
                                              chunk_size, total_chunk_count) -> publish_id, upload_url
  PUT  <upload_url>                           one chunk per request: Content-Range: bytes a-b/total,
                                              Content-Type: video/mp4 -> 206 (more expected) / 201 (complete)
  POST /v2/post/publish/status/fetch/         {"publish_id"} -> status, fail_reason, uploaded_bytes,
                                              publicaly_available_post_id (TikTok's spelling)
  POST /v2/video/query/?fields=...            {"filters": {"video_ids": [...]}} (at most 20)
  POST /v2/video/list/?fields=...             {"max_count": <=20, "cursor": ms} -> videos, cursor, has_more

Every answer is TikTok's envelope {"data": {...}, "error": {"code": "ok"|<code>, "message", "log_id"}}.
Auth: `Authorization: Bearer <token>`, the token being one of the sandbox's API keys (a bad or missing
one: 401 access_token_invalid). Token i belongs to the tiktok account i mod len(accounts).

Differences from real TikTok (known ones)
-----------------------------------------
- Paths live at the sandbox's root, not on open.tiktokapis.com; the upload URL is
  <sandbox>/v2/upload/video/?upload_id=..&upload_token=.. (TikTok: open-upload.tiktokapis.com/video/?...).
  The upload_token in the URL is the credential of the PUT, as the URL is on TikTok.
- Rate-limit windows, the daily post cap, the upload URL's hour and moderation count simulated time (the
  sandbox clock), not wall time, so a rehearsal at speed N sees the limits ACTP paces itself by. The
  limits are counted per token and endpoint (video/query and video/list: TikTok counts per client).
  429 carries no Retry-After (TikTok documents none); a 1-minute window always clears within 60 s.
- Daily post cap per creator: TikTok does not publish the number (spam_risk_too_many_posts "when the daily
  post cap from the API is reached"); the sandbox uses TikTokPolicy.daily_post_cap = 15 video/init calls
  per account in any 24 simulated hours (an init that is never uploaded counts too), checked at init and
  creator_info. reached_active_user_cap,
  unaudited_client_can_only_post_to_private_accounts, spam_risk_user_banned_from_posting and
  scope_not_authorized are never returned (every sandbox token has every scope, the client is "audited").
- 5 MB / 64 MB / 128 MB are read as the stricter of decimal and binary megabytes: a non-final chunk is at
  least 5 MiB (5,242,880 B) and at most 64,000,000 B, a final chunk at most 128,000,000 B.
- Videos: MP4/MOV only (TikTok also takes WebM); frames at most 4096 a side (sandbox/media.py); the video
  is at most WorldConfig.max_upload_bytes (300 MB by default; TikTok: 4 GB).
- Privacy level, disable_comment/duet/stitch, brand toggles and is_aigc are validated and stored in the
  publish record but do not change the audience: a SELF_ONLY post gets the same world reach as a public
  one. Every creator is a public account with options PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS,
  SELF_ONLY, stitch disabled, comments and duets allowed, 600 s maximum duration (TikTokPolicy).
- PULL_FROM_URL is refused with 403 url_ownership_unverified (the sandbox fetches nothing from the web);
  photo posts, the inbox (upload-only) flow, webhooks and post cancellation are not served.
- An upload whose URL expired stays PROCESSING_UPLOAD in status/fetch (what TikTok reports then is not
  documented); its partial file is dropped.
- Processing (PUBLISH_COMPLETE after the final chunk) takes TikTokPolicy.processing_s = 0 simulated
  seconds by default, moderation 120 (TikTok: "usually within one minute", sometimes hours); tests and
  rehearsals change them through the dialect's `service.policy`. PROCESSING_DOWNLOAD and
  SEND_TO_USER_INBOX never occur (no PULL_FROM_URL, no inbox flow). status/fetch of an unknown publish_id,
  or of another creator's, answers 400 invalid_params.
- In-progress uploads and the daily-cap counts live in memory (a restart forgets them); finished and
  failed publish records are kept in the state's meta table.
- The PUT answers carry no body; upload errors use the envelope. 416 for a chunk out of order, 404 for an
  unknown or expired upload URL are the sandbox's choices (the guide lists no error table). A chunk sent
  again after it was received whole is answered as before (206, or 201 for the final chunk of a complete
  upload) and changes nothing: what TikTok does then is not documented.
- Video ids are 19-digit numbers derived from the seed and the post; create_time is the upload's
  simulated time; the video/list cursor is create_time in ms plus the post's sequence number mod 1000
  (so posts of the same simulated second page without loss). Every post of the creator's tiktok account
  that is live (including posts made through the web forms) is in video/list; cover, share and embed URLs are
  fixed sandbox URLs; the title is the whole caption.
- Messages and log_id values are the sandbox's own; error codes and HTTP statuses are TikTok's. A code the
  sandbox's shared layers raise (a body over 1 MB, an unknown path, a wrong method) keeps its HTTP
  status and is named invalid_params (4xx) or internal_error (5xx).

The parts, one job each: tiktok_rules.py (the policy and the documented numbers, errors, auth, limits,
init checks), tiktok_uploads.py (the publish lifecycle: init, chunks, status), tiktok_videos.py (video ids
and the Display API's video shapes). `TikTokDirectPost` here is the domain the routes serve.
"""

from __future__ import annotations

import threading
from typing import Any

from .publishing import Publishing
from .tiktok_rules import (
    DAY_S,
    MAX_TITLE_UTF16,
    PLATFORM,
    PRIVACY_LEVELS,
    STATUSES,
    UPLOAD_TYPES,
    WINDOW_S,
    Creator,
    MiB,
    SlidingWindows,
    TikTokError,
    TikTokPolicy,
    invalid,
    tiktok_code,
    utf16_len,
)
from .tiktok_uploads import UPLOAD_PATH, TikTokUploads, Upload
from .tiktok_videos import DEFAULT_LIST_COUNT, MAX_LIST_COUNT, MAX_QUERY_IDS, SHARE_URL, VIDEO_FIELDS

__all__ = [
    "DAY_S", "DEFAULT_LIST_COUNT", "MAX_LIST_COUNT", "MAX_QUERY_IDS", "MAX_TITLE_UTF16", "PLATFORM", "PRIVACY_LEVELS",
    "SHARE_URL", "STATUSES", "UPLOAD_PATH", "UPLOAD_TYPES", "VIDEO_FIELDS", "WINDOW_S", "Creator", "MiB",
    "SlidingWindows", "TikTokDirectPost", "TikTokError", "TikTokPolicy", "Upload", "invalid", "tiktok_code",
    "utf16_len",
]


class TikTokDirectPost(TikTokUploads):
    """Creator info, Direct Post publishes (init, chunked upload, status) and the creator's videos."""

    def __init__(self, publishing: Publishing, api_keys: tuple[str, ...], policy: TikTokPolicy | None = None):
        self.publishing = publishing
        self.state = publishing.state
        self.clock = publishing.clock
        self.config = publishing.config
        self.policy = policy or TikTokPolicy()
        self._keys = tuple(k.encode("utf-8", "surrogateescape") for k in api_keys)
        self._uploads: dict[str, Upload] = {}  # publish_id -> upload
        self._by_upload_id: dict[str, str] = {}  # upload_id -> publish_id
        self._lock = threading.Lock()
        self._windows = SlidingWindows()
        self._video_index: dict[str, str] = {}  # video id -> post id

    # ------------------------------------------------------------------------------ creator info
    def creator_info(self, creator: Creator) -> dict[str, Any]:
        if self._cap_reached(creator):
            raise self._too_many_posts()
        p = self.policy
        return {
            "creator_avatar_url": f"https://sandbox.actp.local/tiktok/avatar/{creator.account}.jpeg",
            "creator_username": creator.account,
            "creator_nickname": creator.account.replace("_", " ").title(),
            "privacy_level_options": list(p.privacy_level_options),
            "comment_disabled": p.comment_disabled,
            "duet_disabled": p.duet_disabled,
            "stitch_disabled": p.stitch_disabled,
            "max_video_post_duration_sec": p.max_video_post_duration_sec,
        }
