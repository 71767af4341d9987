"""The rules of the sandbox's Ayrshare dialect: its policy, its error codes and error shape, who a request
acts for (the API key and the Profile-Key), the per-profile rate limit, and the checks of a POST /post
request and of each network it names. Apart from the domain operations (ayrshare_posts.py,
ayrshare_records.py, ayrshare_analytics.py) so that what the dialect refuses, and why, is read in one place;
where each rule differs from Ayrshare is listed in sandbox/ayrshare.py.

Auth: `Authorization: Bearer <API key>`, the key being one of the sandbox's API keys (401 otherwise).
Without a Profile-Key header a request acts for the Primary Profile, linked to the first account of each
sandbox platform. With `Profile-Key: <key>` it acts for the User Profile of one account name: the profile
links every sandbox platform that has an account of that name. `Ayrshare.profile_keys()` lists the keys
(derived from the seed, shaped like Ayrshare's). An unknown Profile-Key answers 403.
"""

from __future__ import annotations

import hmac
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import SimClock
from .errors import ApiError
from .model import WorldConfig
from .seeding import derive_hex
from .validation import parse_time

# Ayrshare's platform names (the /post reference's list)
KNOWN_PLATFORMS = ("bluesky", "facebook", "gmb", "instagram", "linkedin", "pinterest", "reddit", "snapchat",
                   "telegram", "threads", "tiktok", "twitter", "youtube")
VIDEO_PLATFORMS = ("tiktok", "youtube", "instagram")  # the sandbox's networks: each needs a video here
NAMES = {"tiktok": "TikTok", "youtube": "YouTube", "instagram": "Instagram", "gmb": "Google Business Profile",
         "twitter": "X/Twitter", "linkedin": "LinkedIn"}
TEXT_LIMITS = {"tiktok": 2200, "instagram": 2200, "youtube": 5000}
YOUTUBE_TITLE_MAX = 100
MAX_NOTES = 2000
MAX_POST_TEXT = 63206  # the longest post text Ayrshare passes on (Facebook's); the networks check their own
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class AyrshareCodes:
    """Error code numbers. NOT_LINKED is Ayrshare's (a network the profile has not linked); the rest are the
    sandbox's own numbers (Ayrshare's code table was not in the consulted corpus)."""

    BAD_REQUEST = 101
    API_KEY = 102
    NOT_FOUND = 104
    MEDIA = 106
    PROFILE_KEY = 147
    NOT_LINKED = 156
    NEEDS_VIDEO = 187
    TEXT_TOO_LONG = 188
    YOUTUBE_TITLE = 189
    DELETE_UNSUPPORTED = 190
    ALREADY_DELETED = 191
    NOT_PUBLISHED = 192
    RATE_LIMIT = 429
    INTERNAL = 500


class AyrshareError(ApiError):
    """An error in Ayrshare's shape: {action, status: "error", code, message} with the HTTP status."""

    def __init__(self, status: int, code: int, message: str, *, action: str = "request",
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(status, str(code), message, headers=headers)
        self.ayrshare_code = code
        self.action = action
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "status": "error", "code": self.ayrshare_code,
                               "message": self.message, **self.extra}
        out["error"] = {"code": self.ayrshare_code, "message": self.message}  # see sandbox/ayrshare.py's docstring
        return out


def bad(message: str, action: str = "request") -> AyrshareError:
    return AyrshareError(400, AyrshareCodes.BAD_REQUEST, message, action=action)


def from_api_error(exc: ApiError) -> AyrshareError:
    """Any sandbox ApiError (route table, body limits, media probe) in Ayrshare's shape."""
    if isinstance(exc, AyrshareError):
        return exc
    if exc.status == 401:
        return AyrshareError(401, AyrshareCodes.API_KEY, "API Key not valid. Send Authorization: Bearer <API key>.",
                             headers=exc.headers)
    if exc.status == 404:
        return AyrshareError(404, AyrshareCodes.NOT_FOUND, exc.message, headers=exc.headers)
    if exc.status in (413, 415, 422):
        return AyrshareError(exc.status if exc.status != 422 else 400, AyrshareCodes.MEDIA, exc.message,
                             action="media", headers=exc.headers)
    if exc.status == 429:
        return AyrshareError(429, AyrshareCodes.RATE_LIMIT, exc.message, headers=exc.headers)
    if exc.status >= 500:
        return AyrshareError(exc.status, AyrshareCodes.INTERNAL, exc.message, headers=exc.headers)
    return AyrshareError(exc.status, AyrshareCodes.BAD_REQUEST, exc.message, headers=exc.headers)


@dataclass(frozen=True)
class AyrsharePolicy:
    """The sandbox's Ayrshare rules (see the module docstring for where each number comes from)."""

    requests_per_window: int = 300
    window_s: float = 300.0
    max_upload_bytes: int = 30 * 1024 * 1024  # /media/upload: "Maximum file size: 30 MB"
    analytics_refresh_s: float = 600.0  # nextUpdate - lastUpdated


@dataclass(frozen=True)
class Profile:
    """Who a request acts for: the Primary Profile (key None) or the User Profile of one account name."""

    profile_id: str
    title: str
    key: str | None
    accounts: dict[str, str]  # linked platform -> sandbox account


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)


def base62(hex_digits: str, length: int) -> str:
    n = int(hex_digits, 16)
    out = []
    for _ in range(length):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(out)


class AyrshareRules:
    """Profiles, auth, the rate limit and the request checks of the dialect's domain (Ayrshare)."""

    clock: SimClock
    config: WorldConfig
    policy: AyrsharePolicy
    _keys: tuple[bytes, ...]
    _lock: threading.Lock
    _windows: dict[str, _Window]

    # -------------------------------------------------------------------------------- profiles
    def _account_names(self) -> list[str]:
        names: list[str] = []
        for p in self.config.platforms:
            for a in self.config.accounts.get(p, []):
                if a not in names:
                    names.append(a)
        return names

    def profile_key(self, account: str) -> str:
        """The Profile-Key of the User Profile of `account` (Ayrshare's 4 x 8 characters shape)."""
        h = derive_hex(self.config.seed, "ayrshare_profile_key", account, length=64)
        raw = base62(h, 32).upper()
        return "-".join(raw[i:i + 8] for i in range(0, 32, 8))

    def profile_keys(self) -> dict[str, str]:
        """account name -> Profile-Key, for every User Profile of the sandbox."""
        return {a: self.profile_key(a) for a in self._account_names()}

    def primary(self) -> Profile:
        accounts = {p: self.config.accounts[p][0] for p in self.config.platforms if self.config.accounts.get(p)}
        return Profile("primary", "Primary Profile", None, accounts)

    def authorize(self, authorization: str | None, profile_key: str | None) -> Profile:
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AyrshareError(401, AyrshareCodes.API_KEY, "Missing API Key. Send Authorization: Bearer <API key>.")
        presented = token.encode("utf-8", "surrogateescape")
        if not any(hmac.compare_digest(presented, k) for k in self._keys):
            raise AyrshareError(401, AyrshareCodes.API_KEY, "API Key not valid.")
        if profile_key is None or not profile_key.strip():
            return self.primary()
        wanted = profile_key.strip().encode("utf-8", "surrogateescape")
        for account, key in self.profile_keys().items():
            if hmac.compare_digest(wanted, key.encode("ascii")):
                linked = {p: account for p in self.config.platforms if account in self.config.accounts.get(p, [])}
                return Profile("profile:" + account, account, key, linked)
        raise AyrshareError(403, AyrshareCodes.PROFILE_KEY, "Profile-Key not valid: no User Profile has this key.")

    # ----------------------------------------------------------------------------- rate limit
    def rate_headers(self, count: int) -> dict[str, str]:
        return {"x-ratelimit-max": str(self.policy.requests_per_window), "x-ratelimit-count": str(count)}

    def take(self, profile: Profile) -> dict[str, str]:
        """Count a request of the profile, or 429 when its 5-minute window is full. Returns the headers."""
        now_s = self.clock.now().timestamp()
        limit, window_s = self.policy.requests_per_window, self.policy.window_s
        with self._lock:
            w = self._windows.setdefault(profile.profile_id, _Window())
            while w.times and w.times[0] <= now_s - window_s:
                w.times.popleft()
            if len(w.times) >= limit:
                raise AyrshareError(429, AyrshareCodes.RATE_LIMIT, f"Rate limit exceeded: at most {limit} requests "
                                    f"per {window_s / 60:g} minutes per User Profile. Wait for the window to pass.",
                                    headers=self.rate_headers(len(w.times)))
            w.times.append(now_s)
            return self.rate_headers(len(w.times))

    # ----------------------------------------------------------------------------- post requests
    @staticmethod
    def _str_list(body: dict[str, Any], name: str, required: bool = False) -> list[str]:
        value = body.get(name)
        if value is None:
            if required:
                raise bad(f"{name} is required: an array of strings", action="post")
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad(f"{name} must be an array of strings", action="post")
        return value

    def _post_text_and_platforms(self, body: dict[str, Any]) -> tuple[str, list[str]]:
        """The post text and the networks of a POST /post body (a 400 in Ayrshare's shape when malformed)."""
        text = body.get("post")
        if not isinstance(text, str) or not text.strip():
            raise bad("post is required: the post text (a non-empty string)", action="post")
        if len(text) > MAX_POST_TEXT:
            raise bad(f"post is longer than {MAX_POST_TEXT} characters", action="post")
        platforms = list(dict.fromkeys(self._str_list(body, "platforms", required=True)))
        if not platforms:
            raise bad("platforms must name at least one network", action="post")
        unknown = [p for p in platforms if p not in KNOWN_PLATFORMS]
        if unknown:
            raise bad(f"unknown platforms: {', '.join(u[:40] for u in unknown[:5])}; use "
                      f"{', '.join(KNOWN_PLATFORMS)}", action="post")
        return text, platforms

    @staticmethod
    def _post_options(body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """(notes, youTubeOptions) of a POST /post body, after the isVideo and per-network option checks."""
        if "isVideo" in body and body["isVideo"] is not None and not isinstance(body["isVideo"], bool):
            raise bad("isVideo must be a boolean", action="post")
        notes = body.get("notes")
        if notes is not None and (not isinstance(notes, str) or len(notes) > MAX_NOTES):
            raise bad(f"notes must be a string of at most {MAX_NOTES} characters", action="post")
        yt = body.get("youTubeOptions") or {}
        if not isinstance(yt, dict):
            raise bad("youTubeOptions must be an object", action="post")
        for opt in ("tikTokOptions", "instagramOptions"):
            if body.get(opt) is not None and not isinstance(body[opt], dict):
                raise bad(f"{opt} must be an object", action="post")
        return notes, yt

    @staticmethod
    def _schedule_of(body: dict[str, Any]) -> datetime | None:
        """The scheduleDate of a POST /post body, or None when it has none."""
        schedule_raw = body.get("scheduleDate")
        schedule = None
        if schedule_raw is not None:
            if not isinstance(schedule_raw, str):
                raise bad("scheduleDate must be an ISO 8601 UTC date time string", action="post")
            try:
                schedule = parse_time(schedule_raw, "scheduleDate")
            except ApiError:
                raise bad("scheduleDate must be an ISO 8601 UTC date time, e.g. 2026-07-08T12:30:00Z",
                          action="post") from None
        return schedule

    def _network_error(self, platform: str, code: int, message: str, text: str) -> dict[str, Any]:
        return {"action": "post", "status": "error", "code": code, "message": message, "post": text[:280],
                "platform": platform}

    def _check_network(self, profile: Profile, platform: str, text: str, media_id: str | None,
                       yt_options: dict[str, Any]) -> dict[str, Any] | None:
        """The error entry of a network that refuses this post, or None when it takes it."""
        name = NAMES.get(platform, platform.capitalize())
        if platform not in profile.accounts:
            return self._network_error(platform, AyrshareCodes.NOT_LINKED, f"{name} is not linked. Link {name} "
                                       "in the Social Accounts page of this profile, then post again.", text)
        if platform in VIDEO_PLATFORMS and media_id is None:
            return self._network_error(platform, AyrshareCodes.NEEDS_VIDEO, f"{name} requires a video: include it "
                                       "in mediaUrls.", text)
        limit = TEXT_LIMITS.get(platform)
        if limit is not None and len(text) > limit:
            return self._network_error(platform, AyrshareCodes.TEXT_TOO_LONG, f"{name} takes at most {limit} "
                                       f"characters of post text; this post has {len(text)}.", text)
        if platform == "youtube":
            title = yt_options.get("title")
            if not isinstance(title, str) or not title.strip():
                return self._network_error(platform, AyrshareCodes.YOUTUBE_TITLE, "YouTube requires a title: send "
                                           "youTubeOptions.title.", text)
            if len(title) > YOUTUBE_TITLE_MAX or "<" in title or ">" in title:
                return self._network_error(platform, AyrshareCodes.YOUTUBE_TITLE, f"youTubeOptions.title must be "
                                           f"at most {YOUTUBE_TITLE_MAX} characters without < or >.", text)
        return None
