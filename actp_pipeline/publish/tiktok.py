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

The parts, one job each: tiktok_api.py (the calls, the limits and the error mapping), tiktok_upload.py
(the chunk plan and the chunked PUTs), tiktok_journal.py and tiktok_lookup.py (not posting twice),
tiktok_metrics.py (post ids and metrics). This module is the adapter that runs a publish through them.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx

from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    BeforeSend,
    PlatformError,
)
from actp_pipeline.publish.tiktok_api import (
    BASE_URL,
    DAILY_CAP_WAIT_S,
    RATE_WINDOW_S,
    VIDEO_FIELDS,
    TikTokApiError,
)
from actp_pipeline.publish.tiktok_journal import PublishJournal
from actp_pipeline.publish.tiktok_lookup import PROCESSING, key_marker
from actp_pipeline.publish.tiktok_metrics import QUERY_BATCH, TikTokMetrics
from actp_pipeline.publish.tiktok_upload import (
    CHUNK_MAX,
    CHUNK_MIN,
    DEFAULT_CHUNK,
    MiB,
    TikTokChunkUpload,
    chunk_plan,
)

__all__ = [
    "BASE_URL", "CHUNK_MAX", "CHUNK_MIN", "DAILY_CAP_WAIT_S", "DEFAULT_CHUNK", "MAX_TITLE_UTF16", "PROCESSING",
    "QUERY_BATCH", "RATE_WINDOW_S", "VIDEO_FIELDS", "MiB", "PublishJournal", "TikTokApiError", "TikTokPublisher",
    "build_title", "chunk_plan", "key_marker", "utf16_len",
]

MAX_TITLE_UTF16 = 2200


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


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TikTokPublisher(TikTokMetrics, TikTokChunkUpload):
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
        self.journal.remember(idempotency_key, publish_id, size, at=self._clock())  # before any byte: find_post knows it
        try:
            self._upload(media_path, upload_url, size, chunk, count, before_final=getattr(before_send, "fence", None))
        except AmbiguousOutcome:
            raise
        except PlatformError:
            self.journal.forget(idempotency_key, publish_id)  # the final chunk was not sent: no post can follow
            raise
        status = self.wait_until_published(publish_id)
        return self._post(publish_id, status, idempotency_key, live_at=self._clock())

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
