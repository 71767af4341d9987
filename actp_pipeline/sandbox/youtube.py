"""The YouTube Data API v3 as the sandbox speaks it: channels, resumable video uploads, videos, the
uploads playlist, quota and errors. Framework-free: routes/youtube.py serves it over HTTP.

Why: ACTP's YouTube adapter (actp_pipeline/publish/youtube.py) drives Google's official client
(`google-api-python-client`) unchanged; pointed at the sandbox (only the root URL differs) it uploads into
the sandbox's world, where the video is an ordinary sandbox post (Publishing.keep_media / store_post)
whose views, likes and comments evolve like every other post's.

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

Quota (https://developers.google.com/youtube/data/determine_quota_cost, as stored in the docs corpus
consulted when this was written): every request, invalid ones included, costs its method's units; the
current page gives videos.insert and search.list their own buckets of 100 calls a day at 1 unit a call
and every other method a shared bucket of 10,000 units a day, reset at midnight Pacific Time. Older
editions of the same page priced videos.insert at 1600 units of the shared bucket: QuotaPolicy.legacy().
The sandbox counts per token (not per Google Cloud project) and per sandbox day (midnight in
America/Los_Angeles on the simulated clock). A call that would exceed its bucket is refused with 403
reason quotaExceeded, domain youtube.quota, and costs nothing.

Errors have Google's shape: {"error": {"code", "message", "errors": [{"message", "domain", "reason",
"location"?, "locationType"?}], "status"}}.

Differences from real YouTube (known ones)
------------------------------------------
- Only resumable uploads (uploadType=resumable); simple and multipart uploads answer 400. Sessions live in
  memory: a sandbox restart forgets unfinished ones (YouTube keeps them about a week). The session URI is
  the credential, as on YouTube; DELETE (cancel) is not served.
- A non-final chunk is committed in whole multiples of 256 KiB (the rest is dropped and the 308's Range
  says so; Google documents that a server may persist less than was sent); the final chunk is kept whole.
- Quota is counted per token and sandbox day, not per project; the per-channel daily upload limit
  (400 uploadLimitExceeded) is not simulated. See QuotaPolicy for the cost model.
- Processing takes PROCESSING_S simulated seconds (plus WorldConfig.processing_s real seconds, which hold
  every sandbox post); processingProgress is linear. uploadStatus goes "uploaded" -> "processed".
  A file the sandbox cannot decode (sandbox/media.py, the checks of every upload) becomes a video with
  uploadStatus "failed" (failureReason invalidFile, codec or emptyFile) and processingStatus "failed";
  it is no post in the world.
- A public video's views start when processing ends (the sandbox post goes live then); a scheduled video
  (privacyStatus private + publishAt) turns public at publishAt and is live from then. Private videos
  report statistics of 0; unlisted videos are treated as public. Changing privacy later (videos.update)
  is not served.
- statistics carry viewCount, likeCount, favoriteCount ("0") and commentCount; YouTube has no share count
  in the Data API, and the sandbox world's shares and saves are not exposed here.
- Each token belongs to one channel: token i of WorldConfig.api_keys to the youtube account
  i mod len(accounts). Channel ids are "UC" + 22 characters, the uploads playlist "UU" + the same 22.
- videos.list: ids that cannot be video ids (not 11 characters of [A-Za-z0-9_-]) answer 400
  invalidVideoId (YouTube omits them like unknown ids); more than 50 ids answer 400 invalidFilters (an
  assumption about the reason); unknown ids are omitted, as on YouTube. `fields` (partial responses),
  `chart`, `myRating`, `hl`, `maxHeight/maxWidth` are ignored or refused; etags are hashes of the item.
- Only the parts listed above exist; an unknown part answers 400 unknownPart. Thumbnails are fixed
  sandbox URLs. Unknown paths under /youtube/v3 answer 404 notFound in the JSON shape (YouTube answers an
  HTML page).
- Messages are the sandbox's own wording; reasons, domains and status names are YouTube's.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .clock import SimClock, iso
from .errors import ApiError
from .publishing import MAX_HASHTAG_LEN, MAX_HASHTAGS, Publishing
from .seeding import derive_hex
from .validation import decode_json, parse_time

PACIFIC = ZoneInfo("America/Los_Angeles")  # YouTube's quota day ends at midnight Pacific Time
PROCESSING_S = 300.0  # simulated seconds a new upload spends in processing
CHUNK_GRANULARITY = 256 * 1024  # Google's resumable chunk unit
MAX_IDS = 50  # ids per videos.list call
MAX_RESULTS = 50  # maxResults of list calls
DEFAULT_RESULTS = 5  # YouTube's default maxResults
MAX_TITLE = 100
MAX_DESCRIPTION_BYTES = 5000
MAX_TAGS_CHARS = 500
PRIVACY = ("public", "unlisted", "private")
# the standard video categories of the US region (videoCategories.list regionCode=US, assignable ones)
CATEGORIES = ("1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29")
DEFAULT_CATEGORY = "22"
VIDEO_PARTS = ("snippet", "status", "statistics", "processingDetails", "contentDetails", "id")
CHANNEL_PARTS = ("snippet", "contentDetails", "statistics", "id")
PLAYLIST_ITEM_PARTS = ("snippet", "contentDetails", "status", "id")
VIDEO_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")
THUMB = "https://i.sandbox.actp.local/vi/{video_id}/{name}.jpg"

# Google's canonical status names by HTTP status (the "status" member of an error)
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                405: "FAILED_PRECONDITION", 409: "ABORTED", 413: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED",
                500: "INTERNAL", 503: "UNAVAILABLE"}


# ------------------------------------------------------------------------------------------ errors
class YouTubeError(ApiError):
    """An error with Google's JSON body (the routes send exc.body() with exc.status)."""

    def __init__(self, status: int, reason: str, message: str, *, domain: str = "global",
                 location: str | None = None, location_type: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(status, reason, message, field=location, headers=headers)
        self.reason = reason
        self.domain = domain
        self.location = location
        self.location_type = location_type

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"message": self.message, "domain": self.domain, "reason": self.reason}
        if self.location is not None:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        return {"error": {"code": self.status, "message": self.message, "errors": [item],
                          "status": STATUS_NAMES.get(self.status, "UNKNOWN")}}


def bad_param(reason: str, message: str, param: str, domain: str = "youtube.parameter") -> YouTubeError:
    return YouTubeError(400, reason, message, domain=domain, location=param, location_type="parameter")


def invalid_metadata(reason: str, message: str) -> YouTubeError:
    return YouTubeError(400, reason, message, domain="youtube.video")


def unauthorized(message: str) -> YouTubeError:
    return YouTubeError(401, "authError", message, location="Authorization", location_type="header",
                        headers={"WWW-Authenticate": 'Bearer realm="actp-sandbox", error="invalid_token"'})


def from_api_error(exc: ApiError) -> YouTubeError:
    """Any sandbox ApiError (route table, body limits, auth) in Google's shape."""
    if isinstance(exc, YouTubeError):
        return exc
    if exc.status == 401:
        return unauthorized("The request carries no valid OAuth 2 access token (Authorization: Bearer <token>).")
    reasons = {400: "badRequest", 403: "forbidden", 404: "notFound", 405: "methodNotAllowed",
               413: "uploadTooLarge", 415: "badContent", 422: "badContent", 429: "rateLimitExceeded",
               500: "backendError", 503: "backendError"}
    if exc.code == "invalid_json":
        return YouTubeError(400, "parseError", "The request body is not valid JSON.", headers=exc.headers)
    return YouTubeError(exc.status, reasons.get(exc.status, "backendError"), exc.message, headers=exc.headers)


# ------------------------------------------------------------------------------------------- quota
@dataclass
class QuotaPolicy:
    """Units per method (bucket, cost) and each bucket's daily limit."""

    costs: dict[str, tuple[str, int]] = field(default_factory=lambda: {
        "videos.insert": ("videos.insert", 1), "search.list": ("search.list", 1),
        "videos.list": ("default", 1), "channels.list": ("default", 1), "playlistItems.list": ("default", 1),
        "videos.update": ("default", 50), "videos.delete": ("default", 50),
    })
    limits: dict[str, int] = field(default_factory=lambda: {"default": 10_000, "videos.insert": 100,
                                                            "search.list": 100})

    @classmethod
    def legacy(cls) -> QuotaPolicy:
        """The older cost model: one bucket of 10,000 units; videos.insert 1600, search.list 100."""
        p = cls()
        p.costs.update({"videos.insert": ("default", 1600), "search.list": ("default", 100)})
        p.limits = {"default": 10_000}
        return p

    def cost(self, method: str) -> tuple[str, int]:
        return self.costs.get(method, ("default", 1))


def quota_day(now: datetime) -> str:
    """The quota day of an instant: its date at Pacific Time (quota resets at midnight PT)."""
    return now.astimezone(PACIFIC).date().isoformat()


def next_reset(now: datetime) -> datetime:
    local = now.astimezone(PACIFIC)
    midnight = datetime(local.year, local.month, local.day, tzinfo=PACIFIC) + timedelta(days=1)
    return midnight.astimezone(UTC)


class Quota:
    """Units spent per token, quota day and bucket, kept in the state's meta table (survives restarts)."""

    def __init__(self, publishing: Publishing, policy: QuotaPolicy | None = None):
        self.state = publishing.state
        self.clock = publishing.clock
        self.policy = policy or QuotaPolicy()
        self._lock = threading.Lock()

    @staticmethod
    def token_id(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def _key(self, token: str, day: str, bucket: str) -> str:
        return f"youtube.quota.{self.token_id(token)}.{day}.{bucket}"

    def spent(self, token: str, bucket: str = "default", now: datetime | None = None) -> int:
        day = quota_day(now or self.clock.now())
        return int(self.state.get_meta(self._key(token, day, bucket)) or 0)

    def charge(self, token: str, method: str) -> None:
        """Spend the method's units, or refuse (403 quotaExceeded) if that would pass the bucket's limit."""
        bucket, cost = self.policy.cost(method)
        limit = self.policy.limits.get(bucket)
        day = quota_day(self.clock.now())
        key = self._key(token, day, bucket)
        with self._lock:
            spent = int(self.state.get_meta(key) or 0)
            if limit is not None and spent + cost > limit:
                raise YouTubeError(403, "quotaExceeded",
                                   f"The request cannot be completed: the daily quota of {limit} units for "
                                   f"{'this method' if bucket != 'default' else 'this token'} is used up; "
                                   "it resets at midnight Pacific Time.", domain="youtube.quota")
            self.state.increment_meta(key, cost)


# ------------------------------------------------------------------------------------------ uploads
@dataclass
class UploadSession:
    upload_id: str
    token: str
    account: str
    metadata: dict[str, Any]
    path: Path
    total: int | None  # from X-Upload-Content-Length, else learnt from the final chunk
    parts: list[str] = field(default_factory=list)  # the parts the final response carries
    received: int = 0
    video_id: str | None = None  # set once the upload completed
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one request at a time per session


@dataclass
class Channel:
    account: str
    channel_id: str
    uploads: str


class YouTube:
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

    # ---------------------------------------------------------------------------- metadata
    def validate_metadata(self, body: dict[str, Any], parts: list[str]) -> dict[str, Any]:
        """The insert metadata as the sandbox keeps it (400 with YouTube's reasons when invalid)."""
        snippet = body.get("snippet") if "snippet" in parts else None
        status = body.get("status") if "status" in parts else None
        snippet = snippet if isinstance(snippet, dict) else {}
        status = status if isinstance(status, dict) else {}
        title = snippet.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE or "<" in title or ">" in title:
            raise invalid_metadata("invalidTitle", f"snippet.title must be 1-{MAX_TITLE} characters without < or >.")
        description = snippet.get("description", "")
        if not isinstance(description, str) or len(description.encode("utf-8", "surrogateescape")) > MAX_DESCRIPTION_BYTES \
                or "<" in description or ">" in description:
            raise invalid_metadata("invalidDescription",
                                   f"snippet.description must be at most {MAX_DESCRIPTION_BYTES} bytes without < or >.")
        tags = snippet.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags) \
                or sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0) > MAX_TAGS_CHARS:
            raise invalid_metadata("invalidTags", f"snippet.tags must be strings of at most {MAX_TAGS_CHARS} "
                                   "characters together.")
        category = snippet.get("categoryId", DEFAULT_CATEGORY)
        if category not in CATEGORIES:
            raise invalid_metadata("invalidCategoryId", "snippet.categoryId is not an assignable category.")
        privacy = status.get("privacyStatus", "public")
        if privacy not in PRIVACY:
            raise invalid_metadata("invalidVideoMetadata", "status.privacyStatus must be public, unlisted or private.")
        publish_at = status.get("publishAt")
        if publish_at is not None:
            try:
                when = parse_time(str(publish_at), "publishAt") if isinstance(publish_at, str) else None
            except ApiError:
                when = None
            if when is None or privacy != "private" or when <= self.clock.now():
                raise invalid_metadata("invalidPublishAt", "status.publishAt must be a future time and needs "
                                       "status.privacyStatus private.")
            publish_at = iso(when)
        kids = status.get("selfDeclaredMadeForKids", False)
        if not isinstance(kids, bool):
            raise invalid_metadata("invalidVideoMetadata", "status.selfDeclaredMadeForKids must be a boolean.")
        return {"title": title, "description": description, "tags": list(tags), "categoryId": category,
                "privacyStatus": privacy, "publishAt": publish_at, "selfDeclaredMadeForKids": kids}

    # ----------------------------------------------------------------------------- sessions
    def open_session(self, token: str, body: bytes, parts: list[str], length: str | None,
                     content_type: str | None) -> UploadSession:
        channel = self.channel_for(token)
        if not parts or any(p not in ("snippet", "status", "id", "statistics", "processingDetails",
                                      "contentDetails") for p in parts):
            raise bad_param("unknownPart", "part names a resource part this method does not know.", "part")
        self.quota.charge(token, "videos.insert")
        metadata: dict[str, Any] = {}
        if body.strip():
            try:
                parsed = decode_json(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise YouTubeError(400, "parseError", "The request body is not valid JSON.") from None
            if not isinstance(parsed, dict):
                raise YouTubeError(400, "parseError", "The request body must be a JSON object.")
            metadata = parsed
        values = self.validate_metadata(metadata, parts)
        ctype = (content_type or "").split(";", 1)[0].strip().lower()
        if ctype and not (ctype.startswith("video/") or ctype == "application/octet-stream"):
            raise YouTubeError(400, "badContent", f"X-Upload-Content-Type {ctype!r} is not a video type.",
                               location="X-Upload-Content-Type", location_type="header")
        total = None
        if length is not None:
            if not length.strip().isdigit():
                raise YouTubeError(400, "badRequest", "X-Upload-Content-Length must be a byte count.",
                                   location="X-Upload-Content-Length", location_type="header")
            total = int(length)
            if total > int(self.config.max_upload_bytes):
                raise YouTubeError(413, "uploadTooLarge", f"the video is larger than the sandbox's "
                                   f"{self.config.max_upload_bytes} bytes")
        session = UploadSession(secrets.token_urlsafe(24), token, channel.account, values,
                                self.publishing.media_tempfile(), total, parts=list(parts))
        with self._lock:
            self._sessions[session.upload_id] = session
        return session

    def session(self, upload_id: str | None) -> UploadSession:
        with self._lock:
            s = self._sessions.get(upload_id or "")
        if s is None:
            raise YouTubeError(404, "notFound", "No upload session has this upload_id (unknown or expired).",
                               location="upload_id", location_type="parameter")
        return s

    @staticmethod
    def parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
        """(first, last, total) of `bytes a-b/total`, `bytes */total` or `bytes a-b/*` (None where absent)."""
        if value is None:
            return None, None, None
        m = re.fullmatch(r"\s*bytes\s+(?:(\d{1,15})-(\d{1,15})|\*)/(\d{1,15}|\*)\s*", value)
        if not m:
            raise YouTubeError(400, "badRequest", "Content-Range must be bytes a-b/total or bytes */total.",
                               location="Content-Range", location_type="header")
        first = int(m.group(1)) if m.group(1) is not None else None
        last = int(m.group(2)) if m.group(2) is not None else None
        total = int(m.group(3)) if m.group(3) != "*" else None
        if first is not None and (last < first or (total is not None and last >= total)):
            raise YouTubeError(400, "badRequest", "Content-Range is not a valid byte range.",
                               location="Content-Range", location_type="header")
        return first, last, total

    def commit_chunk(self, s: UploadSession, first: int, written: int, total: int | None) -> None:
        """After `written` bytes starting at `first` were appended past s.received: decide how many are kept
        (a non-final chunk in whole CHUNK_GRANULARITY units) and truncate the file to that."""
        end = first + written
        if total is not None and s.total is not None and total != s.total:
            raise YouTubeError(400, "badRequest", "Content-Range's total differs from the session's length.",
                               location="Content-Range", location_type="header")
        if total is not None:
            s.total = total
        final = s.total is not None and end >= s.total
        if not final:
            end = (end // CHUNK_GRANULARITY) * CHUNK_GRANULARITY
        s.received = max(s.received, min(end, s.total if s.total is not None else end))
        with open(s.path, "r+b") as fh:
            fh.truncate(s.received)

    def complete(self, s: UploadSession) -> dict[str, Any]:
        """Turn a fully received session into a video (once); returns the stored video record."""
        if s.video_id is not None:
            return self.require_video(s.video_id)
        size = s.received
        digest = hashlib.sha256()
        with open(s.path, "rb") as fh:
            for block in iter(lambda: fh.read(1024 * 1024), b""):
                digest.update(block)
        n = self.state.increment_meta("youtube.uploads.count")
        video_id = _b64(derive_hex(self.config.seed, "youtube_video", n, length=32), 11)
        now = self.clock.now()
        meta = s.metadata
        record: dict[str, Any] = {
            "video_id": video_id, "n": n, "account": s.account, "post_id": None, "uploaded_at": iso(now),
            "processing_until": iso(now + timedelta(seconds=self.processing_s)), "failure": None,
            "bytes": size, **meta,
        }
        try:
            media = self.publishing.keep_media(s.path, size, digest.hexdigest(), "video")
        except ApiError as exc:  # the file cannot be watched: a failed upload, not a post
            record["failure"] = ("emptyFile" if exc.code == "empty_body" else
                                 "codec" if exc.status == 422 else "invalidFile")
            record["failure_message"] = exc.message
        else:
            live_at = now + timedelta(seconds=self.processing_s)
            if meta["publishAt"]:
                live_at = max(live_at, parse_time(meta["publishAt"], "publishAt"))
            values = {"idempotency_key": f"youtube-upload:{n}", "media_id": media["media_id"],
                      "platform": "youtube", "account": s.account, "caption": meta["title"],
                      "hashtags": [t[:MAX_HASHTAG_LEN] for t in meta["tags"]][:MAX_HASHTAGS],
                      "scheduled_at": live_at}
            post, _ = self.publishing.store_post(values)
            record["post_id"] = post["post_id"]
        self.state.set_meta(f"youtube.video.{video_id}", json.dumps(record))
        with self._lock:
            key = f"youtube.channel.{s.account}.uploads"
            uploads = json.loads(self.state.get_meta(key) or "[]")
            uploads.append(video_id)
            self.state.set_meta(key, json.dumps(uploads))
        s.video_id = video_id
        s.path.unlink(missing_ok=True)
        return record

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


# ------------------------------------------------------------------------------------------ helpers
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
