"""YouTube as a `Publisher`, on Google's official `google-api-python-client`: resumable `videos.insert`,
`videos.list` for status and statistics, the channel's uploads playlist to find a post by its key, and a
count of the quota units spent.

Pointing it at real YouTube
---------------------------
    from google.oauth2.credentials import Credentials
    creds = Credentials(token=os.environ["ACTP_YOUTUBE_TOKEN"],          # an EnvVar, never a file in git
                        refresh_token=os.environ.get("ACTP_YOUTUBE_REFRESH_TOKEN"),
                        token_uri="https://oauth2.googleapis.com/token",
                        client_id=os.environ.get("ACTP_YOUTUBE_CLIENT_ID"),
                        client_secret=os.environ.get("ACTP_YOUTUBE_CLIENT_SECRET"))
    publisher = YouTubePublisher(creds, account="main")               # api_endpoint=None: Google's own

The token needs the scope https://www.googleapis.com/auth/youtube.upload (upload) and
https://www.googleapis.com/auth/youtube.readonly (lookups, statistics). With a refresh token the
library refreshes on 401; without one (the sandbox) a 401 is an error. Against the sandbox:
`YouTubePublisher(Credentials(token=<sandbox API key>), api_endpoint=sandbox.url, clock=<sandbox clock>)`.

What is written by hand, and why
--------------------------------
- The service is built from the discovery document the library ships (static, no network), with its
  rootUrl replaced when `api_endpoint` is given: the library builds media upload URLs from the document's
  rootUrl and then swaps only the host (discovery._fix_up_media_path_base_url), so an http:// endpoint
  would still get an https:// upload URL. Requests other than uploads go to `api_endpoint` anyway.
- The HTTP object is `AuthorizedHttp` over the library's `build_http()` (308 is not a redirect there),
  with refresh on 401 only when the credentials can refresh.
- Idempotency: YouTube's insert takes no idempotency key. The key goes into the video as a tag
  `actp-ref-<24 hex of its SHA-256>` (tags are not shown to viewers); `find_post` reads the channel's
  uploads playlist (channels.list -> playlistItems.list, newest first, `lookup_pages` pages of 50) and the
  tags of those videos (videos.list part=snippet), and `publish` looks before it uploads. A video older
  than lookup_pages x 50 uploads is not found.
- Resuming: a transport error during a chunk leaves the library's request in its error state; calling
  next_chunk again asks the server how far it got (Content-Range: bytes */total) and goes on, up to
  `resume_attempts` times. A timeout or 5xx on the final chunk is AmbiguousOutcome (the video may exist);
  before it, nothing exists yet, so it is a retryable PlatformError.
- Quota: the costs of the methods used, from https://developers.google.com/youtube/data/determine_quota_cost
  (current edition: videos.insert in its own bucket of 100 calls a day at 1 unit, other methods 1 unit
  from the shared 10,000; `QUOTA_LEGACY` is the older 1600-unit insert). The counter is this process's
  own (per Pacific Time day of `clock()`); a call that would pass a configured limit raises
  SendRefused(reason="quota") before anything is sent, and a 403 quotaExceeded from YouTube marks the
  bucket spent for the rest of the day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload, build_http

from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    BeforeSend,
    PlatformError,
    SendRefused,
)

PACIFIC = ZoneInfo("America/Los_Angeles")
# (bucket, units) per method and the daily limit of each bucket, from the quota calculator (see above)
QUOTA_COSTS: dict[str, tuple[str, int]] = {
    "videos.insert": ("videos.insert", 1), "search.list": ("search.list", 1), "videos.list": ("default", 1),
    "channels.list": ("default", 1), "playlistItems.list": ("default", 1),
}
QUOTA_LIMITS: dict[str, int] = {"default": 10_000, "videos.insert": 100, "search.list": 100}
QUOTA_LEGACY_COSTS = {**QUOTA_COSTS, "videos.insert": ("default", 1600), "search.list": ("default", 100)}
CHUNK = 8 * 256 * 1024  # 2 MiB chunks: a multiple of Google's 256 KiB unit
WATCH_URL = "https://www.youtube.com/watch?v={video_id}"
TAG_PREFIX = "actp-ref-"
RETRYABLE_REASONS = ("rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError")


def ref_tag(idempotency_key: str) -> str:
    """The tag that marks the video of one idempotency key."""
    return TAG_PREFIX + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:24]


def quota_day(now: dt.datetime) -> str:
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(PACIFIC).date().isoformat()


def seconds_to_reset(now: dt.datetime) -> float:
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    local = now.astimezone(PACIFIC)
    midnight = dt.datetime(local.year, local.month, local.day, tzinfo=PACIFIC) + dt.timedelta(days=1)
    return max((midnight - local).total_seconds(), 0.0)


class QuotaExceeded(PlatformError):
    """YouTube answered 403 quotaExceeded: nothing was done; the bucket is spent until midnight PT."""


class QuotaCounter:
    """Units spent per bucket on the current quota day, and the refusal of a call that would pass a limit."""

    def __init__(self, clock: Callable[[], dt.datetime], limits: dict[str, int] | None = None,
                 costs: dict[str, tuple[str, int]] | None = None):
        self.clock = clock
        self.limits = dict(QUOTA_LIMITS if limits is None else limits)
        self.costs = dict(QUOTA_COSTS if costs is None else costs)
        self._day: str | None = None
        self._spent: dict[str, int] = {}
        self._lock = threading.Lock()

    def _roll(self, now: dt.datetime) -> None:
        day = quota_day(now)
        if day != self._day:
            self._day, self._spent = day, {}

    def spent(self, bucket: str = "default") -> int:
        with self._lock:
            self._roll(self.clock())
            return self._spent.get(bucket, 0)

    def need(self, *methods: str) -> None:
        """SendRefused(reason="quota") unless every method can still be afforded today (nothing is spent)."""
        now = self.clock()
        with self._lock:
            self._roll(now)
            want: dict[str, int] = {}
            for m in methods:
                bucket, cost = self.costs.get(m, ("default", 1))
                want[bucket] = want.get(bucket, 0) + cost
            for bucket, units in want.items():
                limit = self.limits.get(bucket)
                if limit is not None and self._spent.get(bucket, 0) + units > limit:
                    wait = seconds_to_reset(now)
                    raise SendRefused(f"YouTube quota: {bucket} has {self._spent.get(bucket, 0)} of {limit} units "
                                      f"spent today; {units} more would pass it; resets in {wait:.0f} s; "
                                      "nothing was sent", reason="quota", wait_s=wait)

    def spend(self, method: str) -> None:
        with self._lock:
            self._roll(self.clock())
            bucket, cost = self.costs.get(method, ("default", 1))
            self._spent[bucket] = self._spent.get(bucket, 0) + cost

    def exhaust(self, method: str) -> None:
        """The platform said the bucket is spent: believe it until the day ends."""
        with self._lock:
            self._roll(self.clock())
            bucket, _ = self.costs.get(method, ("default", 1))
            self._spent[bucket] = max(self._spent.get(bucket, 0), self.limits.get(bucket, 0))


def error_reason(e: HttpError) -> tuple[str, str]:
    """(reason, message) of a Google error body ("" when it has none)."""
    try:
        err = json.loads(e.content.decode("utf-8"))["error"]
        first = (err.get("errors") or [{}])[0]
        return str(first.get("reason", "")), str(err.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return "", (e.content or b"")[:300].decode("utf-8", "replace")


def _wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class YouTubePublisher:
    """Publish to one channel (the token's) and read its videos' status and statistics."""

    def __init__(self, credentials: Any, *, account: str = "main", api_endpoint: str | None = None,
                 clock: Callable[[], dt.datetime] = _wall_clock, quota_limits: dict[str, int] | None = None,
                 quota_costs: dict[str, tuple[str, int]] | None = None, chunk_size: int = CHUNK,
                 num_retries: int = 3, resume_attempts: int = 3, lookup_pages: int = 4, timeout_s: float = 60.0,
                 category_id: str = "22", privacy_status: str = "public", made_for_kids: bool = False,
                 http: httplib2.Http | None = None, sleep: Callable[[float], None] = time.sleep):
        self.account = account
        self.chunk_size = chunk_size
        self.num_retries = num_retries
        self.resume_attempts = resume_attempts
        self.lookup_pages = lookup_pages
        self.category_id = category_id
        self.privacy_status = privacy_status
        self.made_for_kids = made_for_kids
        self.clock = clock
        self.sleep = sleep
        self.quota = QuotaCounter(clock, quota_limits, quota_costs)
        self._uploads: str | None = None
        base = http or build_http()
        base.timeout = timeout_s
        can_refresh = bool(getattr(credentials, "refresh_token", None))
        self.http = AuthorizedHttp(credentials, http=base, refresh_status_codes=(401,) if can_refresh else ())
        doc = json.loads(get_static_doc("youtube", "v3"))
        options = None
        if api_endpoint:
            root = api_endpoint.rstrip("/") + "/"
            doc["rootUrl"] = root
            doc.pop("mtlsRootUrl", None)
            options = {"api_endpoint": root}
        self.service = build_from_document(doc, http=self.http, client_options=options)

    # ---------------------------------------------------------------------------------- calls
    def _execute(self, method: str, request: Any) -> Any:
        """Run one non-upload request, counting its units; errors as PlatformError."""
        self.quota.need(method)
        try:
            result = request.execute(num_retries=self.num_retries)
        except HttpError as e:
            self.quota.spend(method)  # invalid requests cost their units too
            raise self._platform_error(method, e) from e
        except RefreshError as e:
            raise PlatformError(f"YouTube {method}: the access token was refused and cannot be refreshed ({e})",
                                status=401) from e
        except (OSError, httplib2.HttpLib2Error, TransportError) as e:
            raise PlatformError(f"YouTube {method}: {type(e).__name__} ({e})", retryable=True) from e
        self.quota.spend(method)
        return result

    def _platform_error(self, method: str, e: HttpError, cls: type[PlatformError] = PlatformError) -> PlatformError:
        status = e.resp.status
        reason, message = error_reason(e)
        text = f"YouTube {method} -> HTTP {status} {reason}: {message}"
        if status == 403 and reason in ("quotaExceeded", "dailyLimitExceeded"):
            self.quota.exhaust(method)
            wait = seconds_to_reset(self.clock())
            return QuotaExceeded(text, status=status, retryable=True, retry_after_s=wait)
        retry_after = e.resp.get("retry-after")
        retryable = status >= 500 or status == 429 or reason in RETRYABLE_REASONS
        return cls(text, status=status, retryable=retryable, retry_after=retry_after,
                   retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None)

    # ------------------------------------------------------------------------------ publish
    def publish(self, *, media_path: Path, platform: str, account: str, caption: str, hashtags: list[str],
                scheduled_at: dt.datetime | None, idempotency_key: str,
                before_send: BeforeSend | None = None) -> dict[str, Any]:
        """Upload the video once per idempotency key; returns post_id (the video id), url, live_at, status."""
        if platform != "youtube" or account != self.account:
            raise PlatformError(f"this publisher posts to youtube/{self.account}, not {platform}/{account}",
                                sent=False)
        # the lookup and the upload must both be affordable before anything is spent
        self.quota.need("channels.list", "playlistItems.list", "videos.list", "videos.insert")
        found = self.find_post(idempotency_key)
        if found is not None:
            return found
        body = self._metadata(caption, hashtags, scheduled_at, idempotency_key)
        media = MediaFileUpload(str(media_path), mimetype="video/mp4", chunksize=self.chunk_size, resumable=True)
        request = self.service.videos().insert(part="snippet,status", body=body, media_body=media)
        self.quota.need("videos.insert")
        if before_send is not None:
            before_send()  # the lease fence and rate-limit stamp, right before the session is opened
        video = self._upload(request, media.size())
        return self._post_of(video, idempotency_key)

    def _metadata(self, caption: str, hashtags: list[str], scheduled_at: dt.datetime | None,
                  idempotency_key: str) -> dict[str, Any]:
        first_line = (caption.strip().splitlines() or ["Untitled"])[0]
        title = first_line.replace("<", "").replace(">", "")[:100] or "Untitled"
        words = " ".join(f"#{h.lstrip('#')}" for h in hashtags if h.strip())
        description = (caption + ("\n\n" + words if words else "")).replace("<", "").replace(">", "")
        tags = [h.lstrip("#")[:30] for h in hashtags if h.strip()][:10] + [ref_tag(idempotency_key)]
        status: dict[str, Any] = {"privacyStatus": self.privacy_status, "selfDeclaredMadeForKids": self.made_for_kids}
        now = self.clock()
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
        when = None
        if scheduled_at is not None:
            when = scheduled_at if scheduled_at.tzinfo else scheduled_at.replace(tzinfo=dt.UTC)  # naive = UTC
        if when is not None and when > now:
            status.update(privacyStatus="private", publishAt=when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"))
        return {"snippet": {"title": title, "description": description[:4900], "tags": tags,
                            "categoryId": self.category_id}, "status": status}

    def _upload(self, request: Any, size: int) -> dict[str, Any]:
        """Drive the resumable upload to its end; classify what can go wrong on the way."""
        self.quota.spend("videos.insert")  # charged when the session is opened, whatever follows
        resumes = 0
        while True:
            opened = request.resumable_uri is not None
            final = opened and (self.chunk_size <= 0 or size - request.resumable_progress <= self.chunk_size)
            try:
                _, video = request.next_chunk(num_retries=self.num_retries)
            except HttpError as e:
                if not opened:  # the session was refused: no video
                    raise self._platform_error("videos.insert", e) from e
                err = self._platform_error("videos.insert", e)
                if final and (e.resp.status >= 500 or e.resp.status == 408):
                    raise AmbiguousOutcome(f"{err} on the final chunk: the video may exist", status=err.status,
                                           retryable=True) from e
                raise err from e
            except RefreshError as e:
                raise PlatformError(f"YouTube videos.insert: the access token was refused ({e})", status=401,
                                    sent=False) from e
            except (TimeoutError, OSError, httplib2.HttpLib2Error, TransportError) as e:
                if not opened:
                    raise PlatformError(f"YouTube videos.insert: opening the upload failed: {type(e).__name__} "
                                        f"({e}); no video exists", retryable=True) from e
                resumes += 1
                if resumes > self.resume_attempts:
                    cls = AmbiguousOutcome if final else PlatformError
                    raise cls(f"YouTube videos.insert: {type(e).__name__} ({e}) after {self.resume_attempts} "
                              f"resumes{'; the final chunk may have arrived' if final else '; no video exists'}",
                              retryable=True) from e
                self.sleep(min(2.0 ** resumes * 0.25, 8.0))
                continue
            if video is not None:
                status = video.get("status", {})
                if status.get("uploadStatus") in ("failed", "rejected"):
                    raise PlatformError(f"YouTube rejected video {video.get('id')}: {status.get('uploadStatus')} "
                                        f"({status.get('failureReason') or status.get('rejectionReason')})")
                return video

    def _post_of(self, video: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        snippet, status = video.get("snippet", {}), video.get("status", {})
        processing = video.get("processingDetails", {}).get("processingStatus")
        return {"post_id": video["id"], "url": WATCH_URL.format(video_id=video["id"]),
                "live_at": status.get("publishAt") or snippet.get("publishedAt"),
                "status": self._status_of(video) if processing or status else "processing",
                "platform": "youtube", "account": self.account, "idempotency_key": idempotency_key,
                "title": snippet.get("title")}

    # ------------------------------------------------------------------------------- lookups
    def uploads_playlist(self) -> str:
        if self._uploads is None:
            res = self._execute("channels.list", self.service.channels().list(part="contentDetails", mine=True))
            items = res.get("items") or []
            if not items:
                raise PlatformError("YouTube channels.list mine=true: the token has no channel")
            self._uploads = items[0]["contentDetails"]["relatedPlaylists"]["uploads"]
        return self._uploads

    def find_post(self, idempotency_key: str) -> dict[str, Any] | None:
        """The channel's video tagged with this key among its latest lookup_pages x 50 uploads."""
        tag = ref_tag(idempotency_key)
        playlist = self.uploads_playlist()
        token = None
        for _ in range(self.lookup_pages):
            page = self._execute("playlistItems.list", self.service.playlistItems().list(
                part="contentDetails", playlistId=playlist, maxResults=50, pageToken=token))
            ids = [i["contentDetails"]["videoId"] for i in page.get("items", [])]
            if ids:
                videos = self._execute("videos.list", self.service.videos().list(
                    part="snippet,status,processingDetails", id=",".join(ids), maxResults=50))
                for v in videos.get("items", []):
                    if tag in (v.get("snippet", {}).get("tags") or []):
                        return self._post_of(v, idempotency_key)
            token = page.get("nextPageToken")
            if not token:
                return None
        return None

    # ------------------------------------------------------------------------------- metrics
    @staticmethod
    def _status_of(video: dict[str, Any]) -> str:
        status, details = video.get("status", {}), video.get("processingDetails", {})
        upload = status.get("uploadStatus")
        if upload in ("failed", "rejected", "deleted"):
            return upload
        if details.get("processingStatus") in ("failed", "terminated"):
            return "failed"
        if details.get("processingStatus") == "processing" or upload == "uploaded":
            return "processing"
        if status.get("privacyStatus") == "private":
            return "scheduled" if status.get("publishAt") else "private"
        return "live"

    def metrics(self, post_ids: list[str]) -> dict[str, Any]:
        """Per video: views, likes, comments, shares (None: no share count in the Data API, unknown) and status;
        {"as_of", "items", "unknown"} like every dialect's metrics (publish/dialects.py)."""
        out: dict[str, Any] = {"as_of": self.clock().astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                               "items": [], "unknown": []}
        unique = list(dict.fromkeys(post_ids))
        for i in range(0, len(unique), 50):
            ids = unique[i:i + 50]
            res = self._execute("videos.list", self.service.videos().list(
                part="statistics,status,processingDetails", id=",".join(ids), maxResults=50))
            seen = set()
            for v in res.get("items", []):
                stats = v.get("statistics", {})
                seen.add(v["id"])
                out["items"].append({
                    "post_id": v["id"], "status": self._status_of(v),
                    "views": _count(stats.get("viewCount")), "likes": _count(stats.get("likeCount")),
                    "comments": _count(stats.get("commentCount")), "shares": None,
                    "processing": v.get("processingDetails", {}).get("processingStatus"),
                    "privacy": v.get("status", {}).get("privacyStatus"),
                })
            out["unknown"].extend(x for x in ids if x not in seen)
        return out

    def video(self, video_id: str, parts: str = "snippet,status,statistics,processingDetails") -> dict[str, Any] | None:
        res = self._execute("videos.list", self.service.videos().list(part=parts, id=video_id))
        items = res.get("items") or []
        return items[0] if items else None


def _count(value: Any) -> int | None:
    """A statistics count (a string in YouTube's JSON); None when YouTube did not report it."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
