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

Documented numbers used (developers.tiktok.com, as stored in the docs corpus consulted when this was
written): per user token, creator_info/query 20 requests a minute, video/init 6, status/fetch 30
(Content Posting API reference pages); /v2/video/query/ and /v2/video/list/ 600 a minute in a one-minute
sliding window (the "Rate Limits" page); over a limit: HTTP 429 rate_limit_exceeded. Chunks (Media Transfer
Guide): 5 MB to 64 MB, the final chunk up to 128 MB, total_chunk_count = floor(video_size / chunk_size),
1 to 1000 chunks, a video under 5 MB is one chunk of its own size, a video over 64 MB needs several,
chunks in order. The upload URL is valid for an hour. Moderation "usually finishes within one minute";
the public post id is given only after it.

Lifecycle of a publish in the sandbox
-------------------------------------
init -> PROCESSING_UPLOAD (uploaded_bytes grows with each chunk) -> the final chunk lands: the MP4 is
probed (sandbox/media.py, the checks of every upload) and becomes a sandbox post whose live_at is
`processing_s + moderation_s` simulated seconds later -> PUBLISH_COMPLETE after processing_s (and after
WorldConfig.processing_s real seconds, which hold every sandbox post) -> publicaly_available_post_id
appears once moderation ends (live_at), and from then the video is in video/query and video/list with
the world's counts. A file the probe refuses, or one longer than max_video_post_duration_sec, ends FAILED
with fail_reason file_format_check_failed, picture_size_check_failed or duration_check_failed, and is no
post in the world.

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
  that is live (including posts made through /v1) is in video/list; cover, share and embed URLs are
  fixed sandbox URLs; the title is the whole caption.
- Messages and log_id values are the sandbox's own; error codes and HTTP statuses are TikTok's. A code the
  sandbox's shared layers raise (a body over 1 MB, an unknown path, a wrong method) keeps its HTTP
  status and is named invalid_params (4xx) or internal_error (5xx).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .errors import ApiError
from .publishing import Publishing
from .seeding import derive_hex

PLATFORM = "tiktok"
MiB = 1024 * 1024
MAX_TITLE_UTF16 = 2200
MAX_QUERY_IDS = 20
MAX_LIST_COUNT = 20
DEFAULT_LIST_COUNT = 10
WINDOW_S = 60.0
DAY_S = 24 * 3600.0
UPLOAD_PATH = "/v2/upload/video"
SHARE_URL = "https://sandbox.actp.local/tiktok/@{account}/video/{video_id}"
VIDEO_FIELDS = ("id", "create_time", "cover_image_url", "share_url", "video_description", "duration", "height",
                "width", "title", "embed_html", "embed_link", "like_count", "comment_count", "share_count",
                "view_count")
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
UPLOAD_TYPES = ("video/mp4", "video/quicktime", "video/webm")
STATUSES = ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD", "SEND_TO_USER_INBOX", "PUBLISH_COMPLETE", "FAILED")
_RANGE = re.compile(r"^\s*bytes\s+(\d{1,15})-(\d{1,15})/(\d{1,15})\s*$")
_HASHTAG = re.compile(r"#(\w{1,100})")


class TikTokError(ApiError):
    """An error in TikTok's vocabulary: `code` is TikTok's error code, rendered in its envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(status, code, message, headers=headers)


def invalid(message: str) -> TikTokError:
    return TikTokError(400, "invalid_params", message)


def tiktok_code(exc: ApiError) -> str:
    """TikTok's code for an error: its own, or one named after the HTTP status of a shared layer's error."""
    if isinstance(exc, TikTokError):
        return exc.code
    if exc.status == 401:
        return "access_token_invalid"
    if exc.status == 429:
        return "rate_limit_exceeded"
    return "internal_error" if exc.status >= 500 else "invalid_params"


@dataclass(frozen=True)
class TikTokPolicy:
    """The sandbox's TikTok rules (see the module docstring for where each number comes from)."""

    requests_per_minute: dict[str, int] = field(default_factory=lambda: {
        "creator_info": 20, "video_init": 6, "status_fetch": 30, "video_query": 600, "video_list": 600})
    daily_post_cap: int = 15
    chunk_min: int = 5 * MiB
    chunk_max: int = 64_000_000
    final_chunk_max: int = 128_000_000
    max_chunks: int = 1000
    upload_url_ttl_s: float = 3600.0
    processing_s: float = 0.0  # simulated seconds from the final chunk to PUBLISH_COMPLETE
    moderation_s: float = 120.0  # simulated seconds from PUBLISH_COMPLETE to the public post id
    max_video_post_duration_sec: int = 600
    privacy_level_options: tuple[str, ...] = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = True


@dataclass(frozen=True)
class Creator:
    """Whose token a request carries: the token's index among the API keys and its tiktok account."""

    token_index: int
    account: str


@dataclass
class Upload:
    """One Direct Post publish: its FILE_UPLOAD session while chunks arrive, then its outcome."""

    publish_id: str
    upload_id: str
    upload_token: str
    account: str
    video_size: int
    chunk_size: int
    total_chunks: int
    post_info: dict[str, Any]
    created_s: float
    expires_s: float
    received: int = 0
    state: str = "uploading"  # uploading | complete | failed
    fail_reason: str | None = None
    post_id: str | None = None
    completed_s: float | None = None
    tmp: Path | None = None
    put_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)  # one PUT at a time

    RECORD = ("publish_id", "upload_id", "account", "video_size", "chunk_size", "total_chunks", "post_info",
              "created_s", "expires_s", "received", "state", "fail_reason", "post_id", "completed_s")

    def record(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.RECORD}

    def chunk_bounds(self, index: int) -> tuple[int, int]:
        """(first byte, length) of chunk `index` (the final chunk takes the trailing bytes)."""
        first = index * self.chunk_size
        last_len = self.video_size - self.chunk_size * (self.total_chunks - 1)
        return first, (self.chunk_size if index < self.total_chunks - 1 else last_len)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _bool_field(obj: dict[str, Any], name: str, where: str) -> bool:
    value = obj.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(f"{where}.{name} must be a boolean")
    return value


def _int_field(obj: dict[str, Any], name: str, where: str, required: bool = True) -> int | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise invalid(f"{where}.{name} is required for FILE_UPLOAD")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{where}.{name} must be an integer")
    return value


class SlidingWindows:
    """Calls per key in the last `window` simulated seconds (rate limits and the daily post cap)."""

    def __init__(self) -> None:
        self._times: dict[tuple[Any, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[Any, ...], limit: int, window_s: float, now_s: float) -> bool:
        """Count a call at `now_s` unless `limit` calls are already in the window (then False)."""
        with self._lock:
            times = self._times.setdefault(key, deque())
            while times and times[0] <= now_s - window_s:
                times.popleft()
            if len(times) >= limit:
                return False
            times.append(now_s)
            return True

    def full(self, key: tuple[Any, ...], limit: int, window_s: float, now_s: float) -> bool:
        with self._lock:
            times = self._times.get(key) or deque()
            return sum(1 for t in times if t > now_s - window_s) >= limit


class TikTokDirectPost:
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

    # ------------------------------------------------------------------------------------- auth
    def authorize(self, header: str | None) -> Creator:
        scheme, _, token = (header or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TikTokError(401, "access_token_invalid", "The access token is invalid or not found in the "
                              "request (Authorization: Bearer <token>).")
        presented = token.encode("utf-8", "surrogateescape")
        index = next((i for i, k in enumerate(self._keys) if hmac.compare_digest(presented, k)), None)
        if index is None:
            raise TikTokError(401, "access_token_invalid", "The access token is invalid or not found in the request.")
        if PLATFORM not in self.config.platforms:
            raise TikTokError(500, "internal_error", "this sandbox world has no tiktok platform")
        accounts = self.config.accounts.get(PLATFORM) or ["main"]
        return Creator(index, accounts[index % len(accounts)])

    def _now_s(self) -> float:
        return self.clock.now().timestamp()

    def limit(self, creator: Creator, endpoint: str) -> None:
        """429 rate_limit_exceeded when the token's window for this endpoint is full (else count the call)."""
        per_minute = self.policy.requests_per_minute.get(endpoint)
        if per_minute is None:
            return
        if not self._windows.take(("rate", creator.token_index, endpoint), per_minute, WINDOW_S, self._now_s()):
            raise TikTokError(429, "rate_limit_exceeded", f"The API rate limit was exceeded: at most {per_minute} "
                              f"requests a minute per access token on this endpoint. Please try again later.")

    def _cap_reached(self, creator: Creator) -> bool:
        return self._windows.full(("posts", creator.account), self.policy.daily_post_cap, DAY_S, self._now_s())

    def _too_many_posts(self) -> TikTokError:
        return TikTokError(403, "spam_risk_too_many_posts", "The daily post cap from the API is reached for the "
                           f"current user ({self.policy.daily_post_cap} posts in 24 hours in this sandbox).")

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

    # -------------------------------------------------------------------------------------- init
    def _post_info(self, body: dict[str, Any]) -> dict[str, Any]:
        info = body.get("post_info")
        if not isinstance(info, dict):
            raise invalid("post_info is required and must be an object")
        privacy = info.get("privacy_level")
        if privacy not in PRIVACY_LEVELS or privacy not in self.policy.privacy_level_options:
            raise TikTokError(403, "privacy_level_option_mismatch", "post_info.privacy_level must be one of the "
                              f"creator's privacy_level_options: {', '.join(self.policy.privacy_level_options)}")
        title = info.get("title", "")
        if title is None:
            title = ""
        if not isinstance(title, str):
            raise invalid("post_info.title must be a string")
        if utf16_len(title) > MAX_TITLE_UTF16:
            raise invalid(f"post_info.title is longer than {MAX_TITLE_UTF16} UTF-16 runes")
        cover = _int_field(info, "video_cover_timestamp_ms", "post_info", required=False)
        if cover is not None and cover < 0:
            raise invalid("post_info.video_cover_timestamp_ms must be >= 0")
        out: dict[str, Any] = {"title": title, "privacy_level": privacy, "video_cover_timestamp_ms": cover}
        for name in ("disable_duet", "disable_comment", "disable_stitch", "brand_content_toggle",
                     "brand_organic_toggle", "is_aigc"):
            out[name] = _bool_field(info, name, "post_info")
        return out

    def _chunk_plan(self, source: dict[str, Any]) -> tuple[int, int, int]:
        """(video_size, chunk_size, total_chunk_count), checked against the Media Transfer Guide's rules."""
        p = self.policy
        size = _int_field(source, "video_size", "source_info")
        chunk = _int_field(source, "chunk_size", "source_info")
        count = _int_field(source, "total_chunk_count", "source_info")
        assert size is not None and chunk is not None and count is not None
        limit = int(self.config.max_upload_bytes)
        if size <= 0 or size > limit:
            raise invalid(f"source_info.video_size must be between 1 and {limit} bytes")
        if size < p.chunk_min:
            if chunk != size or count != 1:
                raise invalid("a video under 5 MB is uploaded whole: chunk_size must equal video_size and "
                              "total_chunk_count must be 1")
            return size, chunk, count
        if not p.chunk_min <= chunk <= p.chunk_max:
            raise invalid(f"source_info.chunk_size must be between {p.chunk_min} and {p.chunk_max} bytes")
        expected = size // chunk
        if count != expected:
            raise invalid(f"source_info.total_chunk_count must be video_size / chunk_size rounded down ({expected})")
        if not 1 <= count <= p.max_chunks:
            raise invalid(f"total_chunk_count must be between 1 and {p.max_chunks}")
        if count == 1 and size > p.chunk_max:
            raise invalid("a video over 64 MB must be uploaded in several chunks")
        final = size - chunk * (count - 1)
        if final > p.final_chunk_max:
            raise invalid(f"the final chunk would be {final} bytes; at most {p.final_chunk_max}")
        return size, chunk, count

    def init_video(self, creator: Creator, body: dict[str, Any], base_url: str) -> dict[str, Any]:
        source = body.get("source_info")
        if not isinstance(source, dict):
            raise invalid("source_info is required and must be an object")
        kind = source.get("source")
        if kind == "PULL_FROM_URL":
            raise TikTokError(403, "url_ownership_unverified", "The domain or URL prefix of video_url is not "
                              "verified for this client (the sandbox pulls nothing from the web: use FILE_UPLOAD).")
        if kind != "FILE_UPLOAD":
            raise invalid("source_info.source must be FILE_UPLOAD or PULL_FROM_URL")
        post_info = self._post_info(body)
        size, chunk, count = self._chunk_plan(source)
        now_s = self._now_s()
        if not self._windows.take(("posts", creator.account), self.policy.daily_post_cap, DAY_S, now_s):
            raise self._too_many_posts()
        self._sweep(now_s)
        seq = self.state.increment_meta("tiktok_publish_seq")
        digits = str(int(derive_hex(self.config.seed, "tiktok_publish", seq, length=15), 16) % 10**18).zfill(18)
        publish_id = f"v_pub_file~v2-1.7{digits}"
        upload = Upload(
            publish_id=publish_id, upload_id=derive_hex(self.config.seed, "tiktok_upload", seq, length=20),
            upload_token=self._token(), account=creator.account, video_size=size, chunk_size=chunk,
            total_chunks=count, post_info=post_info, created_s=now_s,
            expires_s=now_s + self.policy.upload_url_ttl_s, tmp=self.publishing.media_tempfile(),
        )
        with self._lock:
            self._uploads[publish_id] = upload
            self._by_upload_id[upload.upload_id] = publish_id
        self._persist(upload)
        url = f"{base_url.rstrip('/')}{UPLOAD_PATH}/?upload_id={upload.upload_id}&upload_token={upload.upload_token}"
        return {"publish_id": publish_id, "upload_url": url}

    @staticmethod
    def _token() -> str:
        return secrets.token_urlsafe(24)

    def _persist(self, upload: Upload) -> None:
        self.state.set_meta(f"tiktok_publish:{upload.publish_id}", json.dumps(upload.record()))

    def _sweep(self, now_s: float) -> None:
        """Drop the partial files of uploads whose URL expired."""
        with self._lock:
            stale = [u for u in self._uploads.values() if u.state == "uploading" and u.expires_s <= now_s and u.tmp]
        for u in stale:
            if not u.put_lock.locked() and u.tmp is not None:
                u.tmp.unlink(missing_ok=True)
                u.tmp = None

    # ------------------------------------------------------------------------------------ upload
    def upload_for(self, upload_id: str | None, token: str | None) -> Upload:
        """The upload a PUT addresses (404 when unknown, when its token is wrong, or when its URL expired)."""
        with self._lock:
            publish_id = self._by_upload_id.get(upload_id or "")
            upload = self._uploads.get(publish_id) if publish_id else None
        if upload is None or not hmac.compare_digest((token or "").encode(), upload.upload_token.encode()):
            raise TikTokError(404, "invalid_params", "unknown upload_url (upload_id/upload_token)")
        if upload.state == "uploading" and upload.expires_s <= self._now_s():
            raise TikTokError(404, "invalid_params", "this upload_url has expired (it is valid for one hour); "
                              "initialize the post again")
        return upload

    def check_chunk(self, upload: Upload, content_range: str | None, content_type: str,
                    content_length: str | None) -> tuple[int, int, int | None]:
        """(first byte, length, replay) of the chunk a PUT announces; TikTokError when it breaks the rules.
        `replay` is the status to answer, unread, for a chunk sent again that was already received whole
        (206, or 201 for the final chunk of a complete upload: a client retrying after a lost answer);
        None for the next chunk."""
        if content_type not in UPLOAD_TYPES:
            raise invalid(f"Content-Type must be one of {', '.join(UPLOAD_TYPES)}, got {content_type or 'none'!r}")
        m = _RANGE.match(content_range or "")
        if m is None:
            raise invalid("Content-Range must be 'bytes {FIRST_BYTE}-{LAST_BYTE}/{TOTAL_BYTE_LENGTH}'")
        first, last, total = (int(g) for g in m.groups())
        if total != upload.video_size:
            raise invalid(f"Content-Range total {total} is not the video_size of the init ({upload.video_size})")
        if last < first or last >= total:
            raise TikTokError(416, "invalid_params", f"Content-Range bytes {first}-{last} is not a range of the video")
        length = last - first + 1
        if content_length is not None and content_length.strip().isdigit() and int(content_length) != length:
            raise invalid(f"Content-Length {content_length} does not match Content-Range ({length} bytes)")
        index = min(first // upload.chunk_size if upload.chunk_size else 0, upload.total_chunks - 1)
        expected_first, expected_len = upload.chunk_bounds(index)
        if upload.state != "uploading":
            if (first, length) == upload.chunk_bounds(upload.total_chunks - 1):
                return first, length, 201
            raise invalid("this upload is complete; no more chunks are accepted")
        if (first, length) == (expected_first, expected_len) and first + length <= upload.received:
            return first, length, 206
        if first != upload.received:
            raise TikTokError(416, "invalid_params", f"chunks are uploaded in order: the next chunk starts at byte "
                              f"{upload.received}, not {first}")
        if (first, length) != (expected_first, expected_len):
            raise invalid(f"chunk {index + 1} of {upload.total_chunks} must be bytes {expected_first}-"
                          f"{expected_first + expected_len - 1} ({expected_len} bytes)")
        return first, length, None

    def chunk_received(self, upload: Upload, length: int) -> int:
        """Count a chunk written to the upload's file; the final one finishes the upload. Returns the HTTP
        status of the PUT: 206 while chunks are expected, 201 when the video is complete."""
        upload.received += length
        if upload.received < upload.video_size:
            return 206
        self._finish(upload)
        return 201

    def _finish(self, upload: Upload) -> None:
        """Probe the complete video and make it a sandbox post (or a FAILED publish)."""
        tmp = upload.tmp
        upload.tmp = None
        now = self.clock.now()
        upload.completed_s = now.timestamp()
        try:
            assert tmp is not None
            digest = hashlib.sha256()
            with open(tmp, "rb") as fh:
                for block in iter(lambda: fh.read(1024 * 1024), b""):
                    digest.update(block)
            try:
                media = self.publishing.keep_media(tmp, upload.video_size, digest.hexdigest(), "video")
            except ApiError as exc:
                upload.state, upload.fail_reason = "failed", (
                    "picture_size_check_failed" if exc.code == "media_too_large" else "file_format_check_failed")
                return
            if media["duration_s"] > self.policy.max_video_post_duration_sec:
                upload.state, upload.fail_reason = "failed", "duration_check_failed"
                return
            title = upload.post_info["title"]
            live = now + timedelta(seconds=self.policy.processing_s + self.policy.moderation_s)
            values = {"idempotency_key": f"tiktok:{upload.publish_id}", "media_id": media["media_id"],
                      "platform": PLATFORM, "account": upload.account, "caption": title,
                      "hashtags": list(dict.fromkeys(_HASHTAG.findall(title)))[:60], "scheduled_at": live}
            post, _ = self.publishing.store_post(values)
            upload.state, upload.post_id = "complete", post["post_id"]
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            self._persist(upload)

    def upload_failed(self, upload: Upload, first: int) -> None:
        """A chunk that did not arrive whole: forget its bytes (the client sends it again)."""
        upload.received = first
        if upload.tmp is not None:
            with open(upload.tmp, "r+b") as fh:
                fh.truncate(first)

    # ------------------------------------------------------------------------------------ status
    def _load(self, publish_id: str) -> Upload | None:
        with self._lock:
            upload = self._uploads.get(publish_id)
        if upload is not None:
            return upload
        raw = self.state.get_meta(f"tiktok_publish:{publish_id}")
        if raw is None:
            return None
        rec = json.loads(raw)
        upload = Upload(upload_token="", **rec)
        with self._lock:
            return self._uploads.setdefault(publish_id, upload)

    def status(self, creator: Creator, body: dict[str, Any]) -> dict[str, Any]:
        publish_id = body.get("publish_id")
        if not isinstance(publish_id, str) or not publish_id:
            raise invalid("publish_id is required and must be a string")
        upload = self._load(publish_id)
        if upload is None or upload.account != creator.account:
            raise invalid(f"unknown publish_id {publish_id!r}")
        if upload.state == "uploading":
            return {"status": "PROCESSING_UPLOAD", "uploaded_bytes": upload.received}
        if upload.state == "failed":
            return {"status": "FAILED", "fail_reason": upload.fail_reason, "uploaded_bytes": upload.received}
        post = self.state.get_post(upload.post_id or "")
        now = self.clock.now()
        processing = (post is None or self.publishing.public_post(post, now)["status"] == "processing"
                      or now.timestamp() < (upload.completed_s or 0.0) + self.policy.processing_s)
        if processing:
            return {"status": "PROCESSING_UPLOAD", "uploaded_bytes": upload.received}
        assert post is not None
        public = [int(self.video_id(post["post_id"]))] if self._public(post, now) else []
        return {"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": public,
                "uploaded_bytes": upload.received}

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
            for post in self.state.list_posts():  # (re)build the index: a restart, or posts made through /v1
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

