"""Ayrshare's social media API (a posting aggregator) as the sandbox speaks it. Framework-free:
routes/ayrshare.py serves it over HTTP at Ayrshare's own paths (/api/...).

Why: ACTP's aggregator adapter (actp_pipeline/publish/ayrshare.py) speaks Ayrshare's documented REST API
through httpx; pointed at the sandbox (only the base URL differs) it posts into the sandbox's world. Each
network a post goes to becomes an ordinary sandbox post (Publishing.keep_media probes the video like every
upload, Publishing.store_post creates the post once), whose views, likes, comments and shares evolve like
every other post's, and whose analytics are read back through /api/analytics/post.

Where the shape comes from
--------------------------
Ayrshare's API reference (ayrshare.com/docs and its older docs.ayrshare.com edition, as stored in the
"docs" and "pages" corpora consulted when this was written): Quickstart and API overview (Bearer API key,
Profile-Key header), "Post" (POST /post: post, platforms, mediaUrls, isVideo, scheduleDate, notes,
youTubeOptions; response status/errors/postIds/id), "Get a Post" (GET /post/:id), "Delete a Post"
(DELETE /post; Instagram and TikTok cannot delete published posts through their APIs), "Upload Media"
(POST /media/upload, multipart or Base64 data URI, 30 MB, response id/url/fileName/description),
"History" (GET /history: status, lastDays, limit, type, platforms; newest first; deleted posts only with
status=deleted), "History by ID", "Analytics on a Post" (POST /analytics/post with id and platforms,
searchPlatformId for a network's own post id), "HTTP Status Codes" (429: per User Profile a number of
requests per 5-minute window, headers x-ratelimit-max and x-ratelimit-count) and "Ayrshare Error Codes"
(errors carry action/status/code/message; a post with any failed network answers status "error" with the
failed networks in `errors` and the ones that worked in `postIds`, HTTP 400).

Paths (Ayrshare's host is https://api.ayrshare.com; in the sandbox /api sits at the root)
-----------------------------------------------------------------------------------------
  POST   /api/media/upload        multipart/form-data (file, fileName, description) or JSON {"file": "data:
                                  video/mp4;base64,...", fileName, description} -> {id, url, fileName, description}
  POST   /api/post                {post, platforms, mediaUrls, isVideo, scheduleDate, notes, youTubeOptions}
                                  -> {status, errors, postIds: [{status, id, platform, postUrl}], id}
  GET    /api/post/{id}           the post: status, post, platforms, postIds, errors, mediaUrls, scheduleDate,
                                  created, type, notes, refId, profileTitle (also GET /api/history/{id})
  DELETE /api/post                {id} or {bulk: [ids]}
  POST   /api/analytics/post      {id, platforms?, searchPlatformId?} -> {<platform>: {id, postUrl, analytics,
                                  lastUpdated, nextUpdate}, status, id}
  GET    /api/history             ?status=&lastDays=&limit=&type=&platforms[0]=.. -> {history: [...]}

Auth: `Authorization: Bearer <API key>`, the key being one of the sandbox's API keys (401 otherwise).
Without a Profile-Key header a request acts for the Primary Profile, linked to the first account of each
sandbox platform. With `Profile-Key: <key>` it acts for the User Profile of one account name: the profile
links every sandbox platform that has an account of that name. `Ayrshare.profile_keys()` lists the keys
(derived from the seed, shaped like Ayrshare's). An unknown Profile-Key answers 403.

Known differences from real Ayrshare
------------------------------------
- Only tiktok, youtube and instagram (the sandbox world's platforms) can be linked. Every other name in
  Ayrshare's platform list is accepted in `platforms` and refused per network with code 156 ("not linked"),
  as Ayrshare refuses a network the profile has not linked; a name outside the list is a 400 of the call.
- mediaUrls: the sandbox fetches nothing from the web. A media URL is accepted only when its last path
  segment names media the sandbox keeps (the `url` /api/media/upload returned); any other URL fails the
  call with 400. Media are always videos (MP4/MOV as sandbox/media.py probes them); only the first media
  URL becomes the networks' video; isVideo is accepted and not needed. Upload URLs are
  https://media.sandbox.actp.local/ayrshare/<media id>.mp4 and are not served. GET /media/uploadUrl
  (presigned uploads for files over 30 MB) and the media gallery are not served.
- Every sandbox answer that is an error also carries `error: {code, message}` (a copy of the documented
  top-level code and message): the project's route fuzzer (tests/faults/route_fuzz.py) recognises a JSON
  error by an `error` object. A client written to Ayrshare's documents ignores it.
- Error code numbers: 156 (network not linked) is Ayrshare's; the other numbers (AyrshareCodes) are the
  sandbox's own, because Ayrshare's code table was not in the consulted corpus. HTTP statuses, the
  action/status/code/message shape and the errors/postIds split are Ayrshare's.
- Rate limit: AyrsharePolicy.requests_per_window = 300 requests per 300 seconds per profile (the current
  "HTTP Status Codes" page; older editions say 250, 200 or 150), counted on the simulated clock, so a
  rehearsal at speed sees the limit ACTP paces itself by. Every counted answer carries x-ratelimit-max and
  x-ratelimit-count; a refused request (429) is not counted and carries no Retry-After (Ayrshare documents
  none: the window is 5 minutes). Suspension after 1,000 violations a day is not simulated.
- POST /api/post answers synchronously, as Ayrshare does for most networks; the world post of a network
  is created at once. A scheduled post (scheduleDate in the future) answers status "scheduled" without
  postIds; its world posts are created at once with live_at = scheduleDate, and GET /api/post/{id} shows
  status "pending" and no postIds until then, "success" and the postIds after. A scheduleDate in the past
  posts now. Ayrshare's own duplicate-content check, approval workflow, auto-scheduling, auto-hashtags,
  link shortening, first comments and the per-network options other than youTubeOptions.title are not
  simulated (the options are accepted and ignored).
- Per-network checks the sandbox makes (Ayrshare passes on what the networks say): tiktok, youtube and
  instagram need a video; youtube needs youTubeOptions.title (at most 100 characters, no < or >; the
  documented requirement); the post text is at most 2200 characters on tiktok and instagram, 5000 on
  youtube. A failed network gets {action: "post", status: "error", code, message, platform} in `errors`.
- DELETE: a scheduled, still pending post is deleted for every network; a published post is deleted on
  youtube and refused on tiktok and instagram (as documented). A deleted post stays in the sandbox world
  (its /v1 post and its ground truth remain: Publishing has no deletion); Ayrshare shows it only with
  status=deleted, and its analytics answer an error. bulk answers {status, bulk: [per id results]} (with
  code and message when one failed: the sandbox's shape for a documented parameter whose response the
  corpus did not show). deleteAllScheduled and markManualDeleted are not served.
- Scheduled answers: POST /post with a future scheduleDate answers {status: "scheduled", scheduleDate,
  id, post, refId, errors: [], postIds: []}, as remembered from Ayrshare's examples (not in the corpus).
- Analytics: tiktok reports videoViews, likeCount, commentsCount, shareCount, totalTimeWatched,
  averageTimeWatched; youtube views, likes, comments, shares, subscribersGained, estimatedMinutesWatched,
  averageViewDuration (YouTube Analytics metric names); instagram likeCount, commentsCount, sharesCount,
  savedCount, viewsCount. These field names come from Ayrshare's response examples as remembered, not from
  the consulted corpus (its excerpts did not include the example body): the adapter reads each count
  under a list of candidate names and reports None when none is present. lastUpdated is the simulated
  now, nextUpdate ten simulated minutes later; counts are never stale. A post that is still pending
  answers 400.
- History: lastDays counts simulated days back from the simulated now; limit at most 1000; the list is
  newest first by creation; only the `history` member of the answer is served. Profiles' post lists live
  in the state's meta table (they survive a restart with a state file). History of posts made outside
  Ayrshare (/history/:platform) is not served.
- Ids: Ayrshare post ids are 20 characters of [A-Za-z0-9] derived from the seed and a counter; TikTok ids
  are the 19-digit ids the sandbox's TikTok dialect gives the same world post; YouTube and Instagram ids
  are the sandbox's own (a video posted through Ayrshare is not in the YouTube dialect's channel uploads).
- Profile-Keys are accepted with any of the sandbox's API keys (Ayrshare ties them to one account's key);
  there are no profile-management endpoints (/profiles), no /user, no webhooks, no comments.
- WorldConfig.processing_s (real seconds that hold every new sandbox post in "processing") is not shown
  here: Ayrshare's post is "success" at once and its analytics report the world's counts (near 0 then).
- Messages are the sandbox's own wording.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .clock import iso
from .errors import ApiError
from .publishing import MAX_HASHTAG_LEN, MAX_HASHTAGS, Publishing
from .seeding import derive_hex
from .tiktok import SHARE_URL as TIKTOK_SHARE_URL
from .validation import parse_time

# Ayrshare's platform names (the /post reference's list)
KNOWN_PLATFORMS = ("bluesky", "facebook", "gmb", "instagram", "linkedin", "pinterest", "reddit", "snapchat",
                   "telegram", "threads", "tiktok", "twitter", "youtube")
VIDEO_PLATFORMS = ("tiktok", "youtube", "instagram")  # the sandbox's networks: each needs a video here
NAMES = {"tiktok": "TikTok", "youtube": "YouTube", "instagram": "Instagram", "gmb": "Google Business Profile",
         "twitter": "X/Twitter", "linkedin": "LinkedIn"}
NO_API_DELETE = ("tiktok", "instagram")  # "Instagram and TikTok do not support delete via their APIs"
TEXT_LIMITS = {"tiktok": 2200, "instagram": 2200, "youtube": 5000}
YOUTUBE_TITLE_MAX = 100
MAX_MEDIA_URLS = 10
MAX_NOTES = 2000
MAX_POST_TEXT = 63206  # the longest post text Ayrshare passes on (Facebook's); the networks check their own
HISTORY_DEFAULT_LIMIT = 25
HISTORY_MAX_LIMIT = 1000
HISTORY_DEFAULT_DAYS = 30
MEDIA_URL = "https://media.sandbox.actp.local/ayrshare/{media_id}.mp4"
YOUTUBE_URL = "https://sandbox.actp.local/youtube/shorts/{video_id}"
INSTAGRAM_URL = "https://sandbox.actp.local/instagram/reel/{shortcode}/"
_MEDIA_ID = re.compile(r"(m_[0-9a-f]{20})(?:\.[A-Za-z0-9]{1,5})?$")
_HASHTAG = re.compile(r"#(\w{1,100})")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
HISTORY_STATUSES = ("success", "error", "processing", "pending", "paused", "deleted", "awaiting approval")


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
        out["error"] = {"code": self.ayrshare_code, "message": self.message}  # see the module docstring
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


def _b62(hex_digits: str, length: int) -> str:
    n = int(hex_digits, 16)
    out = []
    for _ in range(length):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(out)


def _b64(hex_digits: str, length: int) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(hex_digits)).decode("ascii").rstrip("=")[:length]


def tiktok_video_id(seed: int, post_id: str) -> str:
    """The 19-digit id sandbox/tiktok.py gives a world post (the same formula, so the post has one TikTok id
    whichever dialect it is read through)."""
    n = int(derive_hex(seed, "tiktok_video_id", post_id, length=15), 16) % 10**18
    return str(7 * 10**18 + n)


def media_id_of(url: str) -> str | None:
    """The sandbox media id a media URL names (its last path segment), or None."""
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    m = _MEDIA_ID.search(path.rsplit("/", 1)[-1])
    return m.group(1) if m else None


class Ayrshare:
    """Profiles, media uploads, posts to several networks, history, deletion and analytics."""

    def __init__(self, publishing: Publishing, api_keys: tuple[str, ...], policy: AyrsharePolicy | None = None):
        self.publishing = publishing
        self.state = publishing.state
        self.clock = publishing.clock
        self.config = publishing.config
        self.policy = policy or AyrsharePolicy()
        self._keys = tuple(k.encode("utf-8", "surrogateescape") for k in api_keys)
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

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
        raw = _b62(h, 32).upper()
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

    # ---------------------------------------------------------------------------------- media
    def upload_media(self, tmp: Path, size: int, sha256: str, file_name: str | None,
                     description: str | None) -> dict[str, Any]:
        """Keep an uploaded video (the probe of every sandbox upload) and describe it as /media/upload does."""
        if size > self.policy.max_upload_bytes:
            raise AyrshareError(413, AyrshareCodes.MEDIA, f"The file is larger than the {self.policy.max_upload_bytes} "
                                "bytes /media/upload takes; pass a media URL to /post instead.", action="media")
        try:
            media = self.publishing.keep_media(tmp, size, sha256, "file")
        except ApiError as exc:
            raise AyrshareError(400, AyrshareCodes.MEDIA, exc.message, action="media") from None
        mid = media["media_id"]
        upload_id = "-".join((sha256[:8], sha256[8:12], sha256[12:16], sha256[16:20], sha256[20:32])) + "-mp4"
        out = {"id": upload_id, "url": MEDIA_URL.format(media_id=mid)}
        if file_name is not None:
            out["fileName"] = file_name
        if description is not None:
            out["description"] = description
        return out

    @staticmethod
    def decode_data_uri(value: Any) -> bytes:
        """The bytes of a Base64 data URI (data:<type>;base64,<data>)."""
        if not isinstance(value, str) or not value.startswith("data:"):
            raise bad("file must be a Base64 data URI string (data:video/mp4;base64,...)", action="media")
        head, sep, data = value.partition(",")
        if not sep or not head.endswith(";base64"):
            raise bad("file must be a Base64 data URI string (data:video/mp4;base64,...)", action="media")
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise bad("file is not valid Base64", action="media") from None

    # ---------------------------------------------------------------------------------- posts
    def _new_id(self) -> str:
        n = self.state.increment_meta("ayrshare.seq")
        return _b62(derive_hex(self.config.seed, "ayrshare_post", n, length=32), 20)

    def ref_id(self, profile_id: str) -> str:
        return derive_hex(self.config.seed, "ayrshare_ref", profile_id, length=32)

    def _social(self, platform: str, post: dict[str, Any]) -> tuple[str, str]:
        """(the network's post id, its URL) of a world post."""
        seed, pid = self.config.seed, post["post_id"]
        if platform == "tiktok":
            vid = tiktok_video_id(seed, pid)
            return vid, TIKTOK_SHARE_URL.format(account=post["account"], video_id=vid)
        if platform == "youtube":
            vid = _b64(derive_hex(seed, "ayrshare_youtube", pid, length=32), 11)
            return vid, YOUTUBE_URL.format(video_id=vid)
        n = int(derive_hex(seed, "ayrshare_instagram", pid, length=20), 16) % 10**15
        code = _b64(derive_hex(seed, "ayrshare_instagram_code", pid, length=32), 11)
        return str(17_800_000_000_000_000 + n), INSTAGRAM_URL.format(shortcode=code)

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

    def _media_of(self, urls: list[str]) -> str | None:
        if len(urls) > MAX_MEDIA_URLS:
            raise bad(f"mediaUrls has {len(urls)} URLs; at most {MAX_MEDIA_URLS}", action="post")
        media_ids = []
        for url in urls:
            if not url.startswith("https://"):
                raise AyrshareError(400, AyrshareCodes.MEDIA, f"Media URL {url[:200]!r} must begin with https://.",
                                    action="post")
            mid = media_id_of(url)
            if mid is None or self.state.get_media(mid) is None:
                raise AyrshareError(400, AyrshareCodes.MEDIA, f"Media URL {url[:200]!r} is not accessible (the "
                                    "sandbox fetches nothing from the web: upload the file with /media/upload and "
                                    "use the url it returns).", action="post")
            media_ids.append(mid)
        return media_ids[0] if media_ids else None

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

    def create_post(self, profile: Profile, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /post: (HTTP status, answer). Networks that take the post become world posts at once."""
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
        media_urls = self._str_list(body, "mediaUrls")
        media_id = self._media_of(media_urls)
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
        now = self.clock.now()
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
        scheduled = schedule is not None and schedule > now

        ayr_id = self._new_id()
        errors: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        hashtags = [t[:MAX_HASHTAG_LEN] for t in dict.fromkeys(_HASHTAG.findall(text))][:MAX_HASHTAGS]
        for platform in platforms:
            err = self._check_network(profile, platform, text, media_id, yt)
            if err is not None:
                errors.append(err)
                continue
            values = {"idempotency_key": f"ayrshare:{ayr_id}:{platform}", "media_id": media_id,
                      "platform": platform, "account": profile.accounts[platform], "caption": text,
                      "hashtags": hashtags, "scheduled_at": schedule if scheduled else None}
            post, _ = self.publishing.store_post(values)
            social_id, url = self._social(platform, post)
            entries.append({"platform": platform, "id": social_id, "postUrl": url, "post_id": post["post_id"],
                            "deleted": False})
            self.state.set_meta(f"ayrshare.social.{platform}.{social_id}", ayr_id)
        record = {
            "id": ayr_id, "profile": profile.profile_id, "profileTitle": profile.title, "post": text,
            "platforms": platforms, "mediaUrls": media_urls, "notes": notes,
            "scheduleDate": iso(schedule) if scheduled and schedule is not None else iso(now),
            "created": iso(now), "type": "scheduled" if scheduled else "now", "entries": entries,
            "errors": errors, "deleted": False,
        }
        if "shortenLinks" in body and isinstance(body["shortenLinks"], bool):
            record["shortenLinks"] = body["shortenLinks"]
        self._save(record, new=True)
        if scheduled and not errors:
            return 200, {"status": "scheduled", "scheduleDate": record["scheduleDate"], "id": ayr_id, "post": text,
                         "refId": self.ref_id(profile.profile_id), "errors": [], "postIds": []}
        post_ids = [] if scheduled else [self._post_id_entry(e) for e in entries]
        answer = {"status": "error" if errors else "success", "errors": errors, "postIds": post_ids, "id": ayr_id}
        if errors:
            answer["error"] = {"code": errors[0]["code"], "message": errors[0]["message"]}  # see the docstring
        return (400 if errors else 200), answer

    @staticmethod
    def _post_id_entry(e: dict[str, Any]) -> dict[str, Any]:
        return {"status": "deleted" if e.get("deleted") else "success", "id": e["id"], "platform": e["platform"],
                "postUrl": e["postUrl"]}

    # ------------------------------------------------------------------------------- records
    def _save(self, record: dict[str, Any], new: bool = False) -> None:
        self.state.set_meta(f"ayrshare.post.{record['id']}", json.dumps(record, separators=(",", ":")))
        if new:
            key = f"ayrshare.index.{record['profile']}"
            with self._lock:
                ids = json.loads(self.state.get_meta(key) or "[]")
                ids.append(record["id"])
                self.state.set_meta(key, json.dumps(ids))

    def _load(self, profile: Profile, ayr_id: Any) -> dict[str, Any]:
        if not isinstance(ayr_id, str) or not ayr_id:
            raise bad("id is required: the Ayrshare Post ID")
        raw = self.state.get_meta(f"ayrshare.post.{ayr_id}") if len(ayr_id) <= 64 else None
        record = json.loads(raw) if raw else None
        if record is None or record["profile"] != profile.profile_id:
            raise AyrshareError(404, AyrshareCodes.NOT_FOUND, f"Post id {ayr_id[:64]!r} not found for this profile.")
        return record

    def status_of(self, record: dict[str, Any], now: datetime) -> str:
        if record["deleted"]:
            return "deleted"
        if record["type"] == "scheduled" and parse_time(record["scheduleDate"], "scheduleDate") > now:
            return "pending" if record["entries"] else "error"
        return "error" if record["errors"] else "success"

    def render(self, record: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
        """The post as GET /post/:id and /history show it."""
        now = now if now is not None else self.clock.now()
        status = self.status_of(record, now)
        out: dict[str, Any] = {
            "created": record["created"], "errors": record["errors"], "id": record["id"],
            "mediaUrls": record["mediaUrls"], "platforms": record["platforms"], "post": record["post"],
            "postIds": [] if status == "pending" else [self._post_id_entry(e) for e in record["entries"]],
            "profileTitle": record["profileTitle"], "refId": self.ref_id(record["profile"]),
            "scheduleDate": record["scheduleDate"], "status": status, "type": record["type"],
        }
        if record.get("notes") is not None:
            out["notes"] = record["notes"]
        if "shortenLinks" in record:
            out["shortenLinks"] = record["shortenLinks"]
        return out

    def get_post(self, profile: Profile, ayr_id: str) -> dict[str, Any]:
        return self.render(self._load(profile, ayr_id))

    def history(self, profile: Profile, query: dict[str, list[str]]) -> dict[str, Any]:
        def one(name: str) -> str | None:
            values = query.get(name) or []
            return values[0] if values else None

        def number(name: str, default: int, lo: int, hi: int) -> int:
            raw = one(name)
            if raw is None or raw == "":
                return default
            if not (raw.isascii() and raw.strip().isdigit() and len(raw) <= 9) or not lo <= int(raw) <= hi:
                raise bad(f"{name} must be a whole number from {lo} to {hi}", action="history")
            return int(raw)

        status = one("status")
        if status is not None and status not in HISTORY_STATUSES:
            raise bad(f"status must be one of {', '.join(HISTORY_STATUSES)}", action="history")
        kind = one("type")
        if kind is not None and kind not in ("immediate", "scheduled"):
            raise bad("type must be immediate or scheduled", action="history")
        last_days = number("lastDays", HISTORY_DEFAULT_DAYS, 0, 36500)
        limit = number("limit", HISTORY_DEFAULT_LIMIT, 1, HISTORY_MAX_LIMIT)
        wanted: list[str] = []
        for name, values in query.items():
            if name in ("platforms", "platform", "platforms[]") or re.fullmatch(r"platforms\[\d{1,3}\]", name):
                wanted.extend(v for raw in values for v in raw.split(",") if v)
        unknown = [p for p in wanted if p not in KNOWN_PLATFORMS]
        if unknown:
            raise bad(f"unknown platforms: {', '.join(u[:40] for u in unknown[:5])}", action="history")
        now = self.clock.now()
        since = now - timedelta(days=last_days) if last_days else None
        ids = json.loads(self.state.get_meta(f"ayrshare.index.{profile.profile_id}") or "[]")
        items = []
        for ayr_id in reversed(ids):
            raw = self.state.get_meta(f"ayrshare.post.{ayr_id}")
            if raw is None:
                continue
            record = json.loads(raw)
            shown = self.render(record, now)
            if (status is None and shown["status"] == "deleted") or (status is not None and shown["status"] != status):
                continue
            if kind is not None and (record["type"] == "scheduled") != (kind == "scheduled"):
                continue
            if wanted and not set(wanted) & set(record["platforms"]):
                continue
            if since is not None and parse_time(record["scheduleDate"], "scheduleDate") < since:
                continue
            items.append(shown)
            if len(items) >= limit:
                break
        return {"history": items}

    # ----------------------------------------------------------------------------------- delete
    def delete(self, profile: Profile, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        bulk = body.get("bulk")
        if bulk is not None:
            if not isinstance(bulk, list) or not bulk or len(bulk) > 100 or not all(isinstance(i, str) for i in bulk):
                raise bad("bulk must be an array of 1 to 100 Ayrshare Post IDs", action="delete")
            results = []
            for ayr_id in bulk:
                try:
                    _, answer = self._delete_one(profile, ayr_id)
                except AyrshareError as exc:
                    answer = {"status": "error", "code": exc.ayrshare_code, "message": exc.message}
                results.append({"id": ayr_id, **answer})
            ok = all(r["status"] == "success" for r in results)
            answer = {"status": "success" if ok else "error", "bulk": results}
            if not ok:
                answer.update(code=AyrshareCodes.BAD_REQUEST, message="Some posts were not deleted: see bulk.")
                answer["error"] = {"code": answer["code"], "message": answer["message"]}
            return (200 if ok else 400), answer
        if "id" not in body:
            raise bad("id or bulk is required", action="delete")
        return self._delete_one(profile, body["id"])

    def _delete_one(self, profile: Profile, ayr_id: Any) -> tuple[int, dict[str, Any]]:
        record = self._load(profile, ayr_id)
        now = self.clock.now()
        status = self.status_of(record, now)
        if status == "deleted":
            raise AyrshareError(400, AyrshareCodes.ALREADY_DELETED, "The post is already deleted.", action="delete")
        answer: dict[str, Any] = {}
        failed = False
        for e in record["entries"]:
            if e["deleted"]:
                continue
            if status != "pending" and e["platform"] in NO_API_DELETE:
                failed = True
                answer[e["platform"]] = {
                    "action": "delete", "status": "error", "code": AyrshareCodes.DELETE_UNSUPPORTED, "id": e["id"],
                    "message": f"{NAMES.get(e['platform'], e['platform'])} does not support deleting a published "
                    "post through its API: delete it in the app."}
                continue
            e["deleted"] = True
            answer[e["platform"]] = {"action": "delete", "status": "success", "id": e["id"]}
        if all(e["deleted"] for e in record["entries"]):
            record["deleted"] = True
        self._save(record)
        answer["status"] = "error" if failed else "success"
        if failed:
            answer["error"] = {"code": AyrshareCodes.DELETE_UNSUPPORTED, "message": "some networks refused the delete"}
        return (400 if failed else 200), answer

    # -------------------------------------------------------------------------------- analytics
    def analytics_of(self, platform: str, post: dict[str, Any], now: datetime) -> dict[str, Any]:
        m = self.publishing.metrics(post, now)
        views, watch = int(m["views"]), float(m["watch_time_s"])
        if platform == "tiktok":
            return {"videoViews": views, "likeCount": int(m["likes"]), "commentsCount": int(m["comments"]),
                    "shareCount": int(m["shares"]), "totalTimeWatched": round(watch, 1),
                    "averageTimeWatched": round(watch / views, 2) if views else 0.0, "created": post["live_at"]}
        if platform == "youtube":
            return {"views": views, "likes": int(m["likes"]), "comments": int(m["comments"]),
                    "shares": int(m["shares"]), "subscribersGained": int(m["followers_gained"]),
                    "estimatedMinutesWatched": round(watch / 60.0, 1),
                    "averageViewDuration": round(watch / views, 1) if views else 0.0}
        return {"likeCount": int(m["likes"]), "commentsCount": int(m["comments"]), "sharesCount": int(m["shares"]),
                "savedCount": int(m["saves"]), "viewsCount": views}

    def analytics(self, profile: Profile, body: dict[str, Any]) -> dict[str, Any]:
        ayr_id = body.get("id")
        if not isinstance(ayr_id, str) or not ayr_id:
            raise bad("id is required: the Ayrshare Post ID (or a network's post id with searchPlatformId)",
                      action="analytics")
        wanted = self._str_list(body, "platforms")
        unknown = [p for p in wanted if p not in KNOWN_PLATFORMS]
        if unknown:
            raise bad(f"unknown platforms: {', '.join(u[:40] for u in unknown[:5])}", action="analytics")
        search = body.get("searchPlatformId")
        if search is not None and not isinstance(search, bool):
            raise bad("searchPlatformId must be a boolean", action="analytics")
        if search:
            if len(wanted) != 1:
                raise bad("with searchPlatformId, platforms must hold exactly one network", action="analytics")
            found = self.state.get_meta(f"ayrshare.social.{wanted[0]}.{ayr_id}") if len(ayr_id) <= 64 else None
            if found is None:
                raise AyrshareError(404, AyrshareCodes.NOT_FOUND, f"No {wanted[0]} post with id {ayr_id[:64]!r} "
                                    "for this profile.", action="analytics")
            ayr_id = found
        record = self._load(profile, ayr_id)
        now = self.clock.now()
        status = self.status_of(record, now)
        if status == "deleted":
            raise AyrshareError(400, AyrshareCodes.NOT_FOUND, "The post was deleted; it has no analytics.",
                                action="analytics")
        if status == "pending":
            raise AyrshareError(400, AyrshareCodes.NOT_PUBLISHED, "The post is scheduled and not yet published; "
                                "analytics follow its scheduleDate.", action="analytics")
        out: dict[str, Any] = {}
        nxt = iso(now + timedelta(seconds=self.policy.analytics_refresh_s))
        posts = self.state.get_posts([e["post_id"] for e in record["entries"]])
        for e in record["entries"]:
            if (wanted and e["platform"] not in wanted) or e["deleted"] or e["post_id"] not in posts:
                continue
            out[e["platform"]] = {"id": e["id"], "postUrl": e["postUrl"],
                                  "analytics": self.analytics_of(e["platform"], posts[e["post_id"]], now),
                                  "lastUpdated": iso(now), "nextUpdate": nxt}
        out["status"] = "success"
        out["id"] = record["id"]
        return out


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
