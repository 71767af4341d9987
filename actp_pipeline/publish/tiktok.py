"""TikTok as a `Publisher`: the Content Posting API's Direct Post (creator info -> video/init with a chunked
FILE_UPLOAD -> status/fetch until PUBLISH_COMPLETE) and the Display API's video/query for metrics, over httpx.

Why httpx and not an SDK
------------------------
TikTok ships no official Python SDK for the Content Posting or Display API (its Business API SDK covers
ads, not posting); the API is a handful of JSON POSTs and a chunked PUT, documented on
developers.tiktok.com. So this module speaks the documented HTTP shapes itself, in one place.

Pointing it at real TikTok
--------------------------
    import os
    publisher = TikTokPublisher(
        access_token=os.environ["ACTP_TIKTOK_ACCESS_TOKEN"],   # an EnvVar (dagster.EnvVar in a resource),
        base_url="https://open.tiktokapis.com",                # never a file in git; the default base URL
        journal_path=data_dir / "tiktok_publishes.sqlite",     # where publish ids survive a restart
    )
or `TikTokPublisher.from_env()` (ACTP_TIKTOK_ACCESS_TOKEN, optional ACTP_TIKTOK_BASE_URL). The token is a
user access token with the scopes video.publish (creator info, init, status) and video.list (video/query,
video/list); TikTok access tokens last 24 hours, refreshing them is the caller's job (this class takes a
token, never logs it). Unaudited API clients may only post SELF_ONLY to private accounts: pass
privacy_level="SELF_ONLY" until the client is audited. Against the sandbox: base_url=sandbox.url, the
token one of its API keys, clock=<the sandbox clock> (so `as_of` and `live_at` are simulated time).

Limits (TikTok's documents, per user access token): creator_info/query 20 requests a minute, video/init 6,
status/fetch 30; video/query and video/list 600 a minute. Over a limit TikTok answers 429
rate_limit_exceeded without a Retry-After, and the window is one minute, so a refusal waits 60 s. The
daily post cap per creator is not published (spam_risk_too_many_posts): a refusal waits DAILY_CAP_WAIT_S.
Polling status/fetch every `poll_interval_s` (3 s) stays under 30 a minute.

Errors
------
- 429 or spam_risk_too_many_posts on creator info or init: SendRefused(reason="rate_limit", wait_s): TikTok
  did nothing. Other 4xx: PlatformError (not retryable: a bad token, a privacy level the creator does not
  offer, a banned user). 5xx: retryable PlatformError, or AmbiguousOutcome on init.
- A timeout (or a lost connection after sending) on init or on the final chunk is AmbiguousOutcome: the
  post may exist. Before the final chunk nothing can become a post, so a failed earlier chunk (after
  `chunk_attempts` tries) is a retryable PlatformError.
- FAILED with a fail_reason: PlatformError (retryable only for fail_reason "internal").

Not posting twice (Direct Post has no idempotency key)
------------------------------------------------------
Two records, because each covers a window the other cannot:
1. The journal: right after video/init answers, before any byte of the video is sent, the publish_id is
   written under ACTP's idempotency key (SQLite at `journal_path`; in memory when None). `find_post` asks
   status/fetch about it: PUBLISH_COMPLETE or a fully uploaded PROCESSING_* means the post exists (it
   returns it, status "processing"/"moderation"/"live"); FAILED, or an upload that never got all its bytes
   (nobody will send the rest: the upload URL expires in an hour), means no post will appear: None, so
   the worker may post again. This closes the window between the final chunk and moderation, when the
   video is in no public list yet.
2. The key in the title: `ref:<10 hex of the key's SHA-256>` is appended to the caption (visible to
   viewers: turn it off with key_in_title=False), and `find_post` pages /v2/video/list/ for it when the
   journal has nothing (a lost journal, another machine). It finds only videos that passed moderation.
An init that timed out leaves no journal entry; with FILE_UPLOAD no video bytes were sent, so such a
publish can never become a post, and retrying is safe once the title scan finds nothing.

Post ids and metrics
--------------------
`publish` returns post_id = the publish_id (TikTok's public video id exists only after moderation);
`find_post` may return a public video id as post_id when only the title scan found it. `metrics` takes
either: a publish id is mapped to its public id through status/fetch (publicaly_available_post_id, cached
in the journal once known); a post whose public id is not known yet is reported with status "processing"
or "moderation" and counts of None (unknown, never 0).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx

from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    BeforeSend,
    PlatformError,
    SendRefused,
)

BASE_URL = "https://open.tiktokapis.com"
MiB = 1024 * 1024
CHUNK_MIN = 5 * MiB  # "at least 5 MB": binary, the stricter reading for a lower bound
CHUNK_MAX = 64_000_000  # "no greater than 64 MB": decimal, the stricter reading for an upper bound
DEFAULT_CHUNK = 10_000_000  # the chunk size of TikTok's own example
MAX_TITLE_UTF16 = 2200
QUERY_BATCH = 20  # video/query takes at most 20 ids
RATE_WINDOW_S = 60.0  # the per-token request limits are per minute
DAILY_CAP_WAIT_S = 3600.0  # the daily post cap's reset is not published: look again in an hour
VIDEO_FIELDS = "id,create_time,share_url,view_count,like_count,comment_count,share_count"
PROCESSING = ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD")


class TikTokApiError(PlatformError):
    """An answer outside TikTok's "ok": `code` is TikTok's error code (access_token_invalid, ...)."""

    def __init__(self, message: str, *, code: str, status: int | None, retryable: bool,
                 retry_after_s: float | None = None):
        super().__init__(message, status=status, retryable=retryable, retry_after_s=retry_after_s)
        self.code = code


def key_marker(idempotency_key: str) -> str:
    """The reference appended to a post's title so `find_post` can recognise it in the creator's videos."""
    return "ref:" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:10]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def build_title(caption: str, hashtags: list[str], marker: str | None) -> str:
    """Caption, the hashtags it does not already carry, and the marker; cut to TikTok's 2200 UTF-16 runes,
    the caption giving way first (the marker is kept whole)."""
    tags = " ".join(f"#{h.lstrip('#')}" for h in hashtags if f"#{h.lstrip('#')}" not in caption)
    tail = " ".join(p for p in (tags, marker or "") if p)
    text = " ".join(p for p in (caption.strip(), tail) if p)
    while utf16_len(text) > MAX_TITLE_UTF16 and caption:
        caption = caption[: max(0, len(caption) - max(1, utf16_len(text) - MAX_TITLE_UTF16))]
        text = " ".join(p for p in (caption.strip(), tail) if p)
    return text


def chunk_plan(video_size: int, chunk_size: int = DEFAULT_CHUNK) -> tuple[int, int]:
    """(chunk_size, total_chunk_count) by the Media Transfer Guide: a video under 5 MB is one chunk of its
    size; otherwise chunks of 5 MB to 64 MB, count = floor(size / chunk), the last one taking the rest (up
    to 128 MB), several chunks for a video over 64 MB, at most 1000."""
    if video_size <= 0:
        raise ValueError("the video is empty")
    if video_size < CHUNK_MIN:
        return video_size, 1
    chunk = min(max(chunk_size, CHUNK_MIN), CHUNK_MAX)
    if video_size > CHUNK_MAX:
        chunk = min(chunk, video_size // 2)
    chunk = max(chunk, -(-video_size // 1000))  # at most 1000 chunks
    return chunk, max(1, video_size // chunk)


class PublishJournal:
    """ACTP idempotency key -> TikTok publish id (and its public video id once known), in SQLite."""

    def __init__(self, path: Path | str | None = None):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path) if path is not None else ":memory:", check_same_thread=False,
                                     isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS tiktok_publishes (idempotency_key TEXT PRIMARY KEY, publish_id TEXT "
                "NOT NULL, video_size INTEGER NOT NULL, video_id TEXT, created_at TEXT NOT NULL)")
            self._conn.execute("CREATE INDEX IF NOT EXISTS tiktok_publishes_pid ON tiktok_publishes(publish_id)")

    def remember(self, key: str, publish_id: str, video_size: int) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO tiktok_publishes(idempotency_key, publish_id, video_size, created_at) VALUES (?,?,?,?) "
                "ON CONFLICT(idempotency_key) DO UPDATE SET publish_id = excluded.publish_id, "
                "video_size = excluded.video_size, video_id = NULL, created_at = excluded.created_at",
                (key, publish_id, int(video_size), dt.datetime.now(dt.UTC).isoformat()))

    def recall(self, key: str) -> tuple[str, int] | None:
        with self._lock:
            row = self._conn.execute("SELECT publish_id, video_size FROM tiktok_publishes WHERE idempotency_key = ?",
                                     (key,)).fetchone()
        return (row[0], int(row[1])) if row else None

    def forget(self, key: str, publish_id: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM tiktok_publishes WHERE idempotency_key = ? AND publish_id = ?",
                               (key, publish_id))

    def set_video_id(self, publish_id: str, video_id: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE tiktok_publishes SET video_id = ? WHERE publish_id = ?", (video_id, publish_id))

    def video_id_of(self, publish_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT video_id FROM tiktok_publishes WHERE publish_id = ?",
                                     (publish_id,)).fetchone()
        return row[0] if row and row[0] else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class TikTokPublisher:
    """Direct Post publishing, post lookup and metrics for one TikTok creator (one access token)."""

    platform = "tiktok"

    def __init__(self, access_token: str, *, base_url: str = BASE_URL, account: str = "main",
                 privacy_level: str | None = None, chunk_size: int = DEFAULT_CHUNK, timeout_s: float = 30.0,
                 upload_timeout_s: float = 300.0, processing_timeout_s: float = 600.0, poll_interval_s: float = 3.0,
                 chunk_attempts: int = 3, journal: PublishJournal | None = None, journal_path: Path | str | None = None,
                 key_in_title: bool = True, lookup_pages: int = 10,
                 clock: Callable[[], dt.datetime] | None = None, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.account = account
        self.privacy_level = privacy_level
        self.chunk_size = chunk_size
        self.upload_timeout_s = upload_timeout_s
        self.processing_timeout_s = processing_timeout_s
        self.poll_interval_s = poll_interval_s
        self.chunk_attempts = max(1, chunk_attempts)
        self.journal = journal if journal is not None else PublishJournal(journal_path)
        self.key_in_title = key_in_title
        self.lookup_pages = lookup_pages
        self._clock = clock or _utcnow
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport,
                                  headers={"Authorization": f"Bearer {access_token}", "User-Agent": "actp/0.1"})
        self._upload_http = httpx.Client(timeout=upload_timeout_s, transport=transport,
                                         headers={"User-Agent": "actp/0.1"})

    @classmethod
    def from_env(cls, **kw: Any) -> TikTokPublisher:
        """Token from $ACTP_TIKTOK_ACCESS_TOKEN, base URL from $ACTP_TIKTOK_BASE_URL (TikTok's by default)."""
        token = os.environ.get("ACTP_TIKTOK_ACCESS_TOKEN")
        if not token:
            raise RuntimeError("set ACTP_TIKTOK_ACCESS_TOKEN to a TikTok user access token (video.publish, video.list)")
        kw.setdefault("base_url", os.environ.get("ACTP_TIKTOK_BASE_URL") or BASE_URL)
        return cls(token, **kw)

    def close(self) -> None:
        self._http.close()
        self._upload_http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ calls
    def _call(self, path: str, *, body: dict[str, Any] | None = None, params: dict[str, str] | None = None,
              side_effect: bool = False) -> dict[str, Any]:
        """POST a JSON body to an open API path; the envelope's data, or TikTokApiError/AmbiguousOutcome."""
        try:
            resp = self._http.post(path, params=params, content=json.dumps(body or {}).encode("utf-8"),
                                   headers={"Content-Type": "application/json; charset=UTF-8"})
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise PlatformError(f"POST {path}: cannot connect ({e})", retryable=True, sent=False) from e
        except httpx.TransportError as e:
            cls = AmbiguousOutcome if side_effect else PlatformError
            raise cls(f"POST {path}: {type(e).__name__} after sending ({e})", retryable=True) from e
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        err = payload.get("error") if isinstance(payload, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        if resp.status_code >= 400 or code != "ok":
            message = err.get("message", "") if isinstance(err, dict) else resp.text[:300]
            code = code or f"http_{resp.status_code}"
            status = resp.status_code
            text = f"POST {path} -> HTTP {status} {code}: {message}"
            if side_effect and (status >= 500 or status == 408):
                raise AmbiguousOutcome(text, status=status, retryable=True)
            limited = status == 429 or code == "rate_limit_exceeded"
            raise TikTokApiError(text, code=code, status=status, retryable=limited or status >= 500,
                                 retry_after_s=RATE_WINDOW_S if limited else None)
        data = payload.get("data") if isinstance(payload, dict) else None
        return data if isinstance(data, dict) else {}

    def creator_info(self) -> dict[str, Any]:
        return self._call("/v2/post/publish/creator_info/query/")

    def fetch_status(self, publish_id: str) -> dict[str, Any]:
        return self._call("/v2/post/publish/status/fetch/", body={"publish_id": publish_id})

    def query_videos(self, video_ids: list[str], fields: str = VIDEO_FIELDS) -> list[dict[str, Any]]:
        data = self._call("/v2/video/query/", params={"fields": fields}, body={"filters": {"video_ids": video_ids}})
        return list(data.get("videos") or [])

    def list_videos(self, cursor: int | None = None, max_count: int = 20,
                    fields: str = "id,title,create_time,share_url") -> dict[str, Any]:
        body: dict[str, Any] = {"max_count": max_count}
        if cursor is not None:
            body["cursor"] = cursor
        return self._call("/v2/video/list/", params={"fields": fields}, body=body)

    @staticmethod
    def _refusal(e: TikTokApiError) -> PlatformError:
        """A limit TikTok answered before anything was created: the worker waits, nothing was done."""
        if e.code == "spam_risk_too_many_posts":
            return SendRefused(f"TikTok's daily post cap for this creator is reached: {e}", reason="rate_limit",
                               wait_s=DAILY_CAP_WAIT_S)
        if e.status == 429 or e.code == "rate_limit_exceeded":
            return SendRefused(f"TikTok's request limit is reached: {e}", reason="rate_limit", wait_s=RATE_WINDOW_S)
        return e

    # ---------------------------------------------------------------------------------- publish
    def choose_privacy(self, creator: dict[str, Any]) -> str:
        options = [str(o) for o in creator.get("privacy_level_options") or []]
        if self.privacy_level is not None:
            if self.privacy_level not in options:
                raise PlatformError(f"privacy level {self.privacy_level} is not offered to this creator "
                                    f"(options: {', '.join(options) or 'none'})", retryable=False, sent=False)
            return self.privacy_level
        for preferred in ("PUBLIC_TO_EVERYONE", "SELF_ONLY"):
            if preferred in options:
                return preferred
        if not options:
            raise PlatformError("TikTok offered this creator no privacy level", retryable=False, sent=False)
        return options[0]

    def publish(self, *, media_path: Path, platform: str, account: str, caption: str, hashtags: list[str],
                scheduled_at: dt.datetime | None, idempotency_key: str,
                before_send: BeforeSend | None = None) -> dict[str, Any]:
        """Creator info, init (right after `before_send`), the chunks, then status until PUBLISH_COMPLETE.

        Direct Post has no scheduling: a `scheduled_at` is the worker's to honour (it claims the item when
        due); TikTok posts at once."""
        size = Path(media_path).stat().st_size
        if size == 0:
            raise PlatformError(f"{media_path} is empty", retryable=False, sent=False)
        chunk, count = chunk_plan(size, self.chunk_size)
        try:
            creator = self.creator_info()
        except TikTokApiError as e:
            raise self._refusal(e) from e
        privacy = self.choose_privacy(creator)
        title = build_title(caption, hashtags, key_marker(idempotency_key) if self.key_in_title else None)
        body = {
            "post_info": {
                "title": title, "privacy_level": privacy,
                "disable_comment": bool(creator.get("comment_disabled")),
                "disable_duet": bool(creator.get("duet_disabled")),
                "disable_stitch": bool(creator.get("stitch_disabled")),
            },
            "source_info": {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk,
                            "total_chunk_count": count},
        }
        if before_send is not None:
            before_send()  # the lease fence and the rate-limit stamp, right before the create call
        try:
            data = self._call("/v2/post/publish/video/init/", body=body, side_effect=True)
        except TikTokApiError as e:
            raise self._refusal(e) from e
        publish_id, upload_url = str(data["publish_id"]), str(data["upload_url"])
        self.journal.remember(idempotency_key, publish_id, size)  # before any byte: find_post can reconcile
        try:
            self._upload(media_path, upload_url, size, chunk, count)
        except AmbiguousOutcome:
            raise
        except PlatformError:
            self.journal.forget(idempotency_key, publish_id)  # the final chunk was not sent: no post can follow
            raise
        status = self.wait_until_published(publish_id)
        return self._post(publish_id, status, idempotency_key, live_at=self._clock())

    def _upload(self, media_path: Path, upload_url: str, size: int, chunk: int, count: int) -> None:
        with open(media_path, "rb") as fh:
            for i in range(count):
                first = i * chunk
                length = chunk if i < count - 1 else size - first
                fh.seek(first)
                self._put_chunk(upload_url, fh.read(length), first, size, final=i == count - 1)

    def _put_chunk(self, upload_url: str, data: bytes, first: int, size: int, *, final: bool) -> None:
        headers = {"Content-Type": "video/mp4", "Content-Range": f"bytes {first}-{first + len(data) - 1}/{size}"}
        what = f"PUT chunk bytes {first}-{first + len(data) - 1}/{size}"
        for attempt in range(1, self.chunk_attempts + 1):
            try:
                resp = self._upload_http.put(upload_url, content=data, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:  # nothing of this chunk was sent
                if attempt == self.chunk_attempts:
                    raise PlatformError(f"{what}: cannot connect ({e})", retryable=True) from e
                continue
            except httpx.TransportError as e:
                if final:  # the video may be complete and on its way to becoming a post
                    raise AmbiguousOutcome(f"{what} (final): {type(e).__name__} after sending ({e})",
                                           retryable=True) from e
                if attempt == self.chunk_attempts:
                    raise PlatformError(f"{what}: {type(e).__name__} ({e})", retryable=True) from e
                continue
            if resp.status_code in (200, 201, 206):
                return
            if resp.status_code >= 500:
                if final:
                    raise AmbiguousOutcome(f"{what} (final) -> HTTP {resp.status_code}", status=resp.status_code,
                                           retryable=True)
                if attempt < self.chunk_attempts:
                    continue
            raise PlatformError(f"{what} -> HTTP {resp.status_code}: {resp.text[:300]}", status=resp.status_code,
                                retryable=resp.status_code >= 500)

    def wait_until_published(self, publish_id: str) -> dict[str, Any]:
        """Poll status/fetch until PUBLISH_COMPLETE (returned), FAILED (PlatformError) or the deadline
        (AmbiguousOutcome: the upload is complete, the post may still come)."""
        deadline = time.monotonic() + self.processing_timeout_s
        failures = 0
        while True:
            try:
                status = self.fetch_status(publish_id)
                failures = 0
            except PlatformError as e:
                failures += 1
                if not e.retryable or failures > 3 or time.monotonic() > deadline:
                    raise AmbiguousOutcome(f"publish {publish_id} was uploaded; reading its status failed: {e}",
                                           retryable=True) from e
                self._sleep(min(e.retry_after_s or self.poll_interval_s, max(0.0, deadline - time.monotonic())))
                continue
            state = status.get("status")
            if state == "PUBLISH_COMPLETE" or state == "SEND_TO_USER_INBOX":
                return status
            if state == "FAILED":
                reason = status.get("fail_reason") or "unknown"
                raise PlatformError(f"TikTok failed publish {publish_id}: {reason}", retryable=reason == "internal")
            if time.monotonic() > deadline:
                raise AmbiguousOutcome(f"publish {publish_id} still {state} after {self.processing_timeout_s:.0f} s",
                                       retryable=True)
            self._sleep(self.poll_interval_s)

    def _post(self, publish_id: str, status: dict[str, Any], key: str | None, live_at: dt.datetime | None) -> dict[str, Any]:
        ids = [str(i) for i in status.get("publicaly_available_post_id") or []]
        video_id = ids[0] if ids else None
        if video_id:
            self.journal.set_video_id(publish_id, video_id)
        state = status.get("status")
        label = ("live" if video_id else "moderation") if state == "PUBLISH_COMPLETE" else (
            "inbox" if state == "SEND_TO_USER_INBOX" else "processing")
        return {"post_id": publish_id, "publish_id": publish_id, "video_id": video_id, "url": None,
                "live_at": _iso(live_at) if live_at else None, "status": label, "platform": self.platform,
                "account": self.account, "idempotency_key": key}

    # ------------------------------------------------------------------------------------ lookup
    def find_post(self, idempotency_key: str) -> dict[str, Any] | None:
        """The post made for this key, or None when TikTok has none and none can still appear."""
        entry = self.journal.recall(idempotency_key)
        if entry is not None:
            publish_id, size = entry
            try:
                status = self.fetch_status(publish_id)
            except TikTokApiError as e:
                if e.code != "invalid_params":  # anything but "no such publish" leaves the question open
                    raise
                status = None
            if status is not None:
                state = status.get("status")
                if state in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX"):
                    return self._post(publish_id, status, idempotency_key, live_at=self._clock())
                if state in PROCESSING and int(status.get("uploaded_bytes") or 0) >= size:
                    return self._post(publish_id, status, idempotency_key, live_at=None)
                # FAILED, or an upload that never got its last bytes: no post will appear
        if self.key_in_title:
            return self._scan_titles(idempotency_key)
        return None

    def _scan_titles(self, idempotency_key: str) -> dict[str, Any] | None:
        marker = key_marker(idempotency_key)
        cursor = None
        for _ in range(self.lookup_pages):
            page = self.list_videos(cursor)
            for v in page.get("videos") or []:
                if marker in str(v.get("title") or ""):
                    vid = str(v["id"])
                    created = v.get("create_time")
                    live = dt.datetime.fromtimestamp(int(created), dt.UTC) if created is not None else None
                    return {"post_id": vid, "publish_id": None, "video_id": vid, "url": v.get("share_url"),
                            "live_at": _iso(live) if live else None, "status": "live", "platform": self.platform,
                            "account": self.account, "idempotency_key": idempotency_key}
            if not page.get("has_more"):
                return None
            cursor = page.get("cursor")
        return None

    # ----------------------------------------------------------------------------------- metrics
    def metrics(self, post_ids: list[str]) -> dict[str, Any]:
        """Views, likes, comments and shares per post ({"as_of", "items", "unknown", "deferred"}).

        A post id is a publish id or a public video id. A post without a public id yet is an item with status
        "processing" or "moderation" (or "failed") and counts of None. "unknown": ids TikTok does not know
        (or no longer shows); "deferred": publish ids not resolved because status/fetch was rate-limited."""
        out: dict[str, Any] = {"as_of": _iso(self._clock()), "items": [], "unknown": [], "deferred": []}
        by_video: dict[str, str] = {}
        limited = False
        for pid in dict.fromkeys(post_ids):
            if pid.isdigit():
                by_video[pid] = pid
                continue
            vid = self.journal.video_id_of(pid)
            if vid is None:
                if limited:
                    out["deferred"].append(pid)
                    continue
                try:
                    status = self.fetch_status(pid)
                except TikTokApiError as e:
                    if e.code == "invalid_params":
                        out["unknown"].append(pid)
                    elif e.status == 429 or e.code == "rate_limit_exceeded":
                        limited = True
                        out["deferred"].append(pid)
                    else:
                        raise
                    continue
                post = self._post(pid, status, None, live_at=None)
                vid = post["video_id"]
                if vid is None:
                    state = "failed" if status.get("status") == "FAILED" else post["status"]
                    out["items"].append({"post_id": pid, "video_id": None, "status": state, "views": None,
                                         "likes": None, "comments": None, "shares": None,
                                         "fail_reason": status.get("fail_reason")})
                    continue
            by_video[vid] = pid
        vids = list(by_video)
        for i in range(0, len(vids), QUERY_BATCH):
            batch = vids[i : i + QUERY_BATCH]
            seen = set()
            for v in self.query_videos(batch):
                vid = str(v.get("id"))
                if vid not in by_video:
                    continue
                seen.add(vid)
                out["items"].append({
                    "post_id": by_video[vid], "video_id": vid, "status": "live", "url": v.get("share_url"),
                    "views": v.get("view_count"), "likes": v.get("like_count"),
                    "comments": v.get("comment_count"), "shares": v.get("share_count"),
                })
            out["unknown"].extend(by_video[v] for v in batch if v not in seen)
        return out
