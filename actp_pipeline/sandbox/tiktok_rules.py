"""The rules of the sandbox's TikTok dialect: its policy (the documented limits), its errors in TikTok's
vocabulary, who a token belongs to, the per-token rate limits and daily post cap, and the checks of a
video/init request. Apart from the domain operations (tiktok_uploads.py, tiktok_videos.py) so that every
number the dialect enforces, and where it comes from, is read in one place.

Documented numbers used (developers.tiktok.com, as stored in the docs corpus consulted when this was
written): per user token, creator_info/query 20 requests a minute, video/init 6, status/fetch 30
(Content Posting API reference pages); /v2/video/query/ and /v2/video/list/ 600 a minute in a one-minute
sliding window (the "Rate Limits" page); over a limit: HTTP 429 rate_limit_exceeded. Chunks (Media Transfer
Guide): 5 MB to 64 MB, the final chunk up to 128 MB, total_chunk_count = floor(video_size / chunk_size),
1 to 1000 chunks, a video under 5 MB is one chunk of its own size, a video over 64 MB needs several,
chunks in order. The upload URL is valid for an hour. Moderation "usually finishes within one minute";
the public post id is given only after it.
"""

from __future__ import annotations

import hmac
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .clock import SimClock
from .errors import ApiError
from .model import WorldConfig
from .publishing import Publishing
from .state import SandboxState

PLATFORM = "tiktok"
MiB = 1024 * 1024
MAX_TITLE_UTF16 = 2200
WINDOW_S = 60.0
DAY_S = 24 * 3600.0
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
UPLOAD_TYPES = ("video/mp4", "video/quicktime", "video/webm")
STATUSES = ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD", "SEND_TO_USER_INBOX", "PUBLISH_COMPLETE", "FAILED")


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


class TikTokRules:
    """Auth, rate limits, the daily post cap and the init checks of the dialect's domain (TikTokDirectPost)."""

    publishing: Publishing
    state: SandboxState
    clock: SimClock
    config: WorldConfig
    policy: TikTokPolicy
    _keys: tuple[bytes, ...]
    _windows: SlidingWindows

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

    # ----------------------------------------------------------------------------- init requests
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
