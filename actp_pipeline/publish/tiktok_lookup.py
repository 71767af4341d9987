"""Finding the TikTok post made for an ACTP idempotency key, and ACTP's view of a publish (`_post`).

Not posting twice (Direct Post has no idempotency key)
------------------------------------------------------
Two records, because each covers a window the other cannot:
1. The journal: right after video/init answers, before any byte of the video is sent, the publish_id is
   written under ACTP's idempotency key (SQLite at `journal_path`; in memory when None). `find_post` asks
   status/fetch about it: PUBLISH_COMPLETE or a fully uploaded PROCESSING_* means the post exists (it
   returns it, status "processing"/"moderation"/"live"); FAILED, or an upload that never got all its bytes
   and whose upload URL has expired (an hour after init, UPLOAD_URL_TTL: nobody can send the rest), means
   no post will appear: None, so the worker may post again. An unfinished upload whose URL is still valid
   is an open question (AmbiguousOutcome: looked up again later): its worker may only be paused or slow,
   and its final chunk would still make a post. This closes the window between the final chunk and moderation, when the
   video is in no public list yet.
2. The key in the title: `ref:<10 hex of the key's SHA-256>` is appended to the caption (visible to
   viewers: turn it off with key_in_title=False), and `find_post` pages /v2/video/list/ for it when the
   journal has nothing (a lost journal, another machine). It finds only videos that passed moderation.
An init that timed out leaves no journal entry; with FILE_UPLOAD no video bytes were sent, so such a
publish can never become a post, and retrying is safe once the title scan finds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from actp_pipeline.publish.publisher import AmbiguousOutcome
from actp_pipeline.publish.tiktok_api import TikTokApi, TikTokApiError
from actp_pipeline.publish.tiktok_journal import PublishJournal

PROCESSING = ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD")
# "The upload_url is valid for one hour" (Content Posting API, Direct Post: video/init): after that no byte
# of the publish can arrive, so an unfinished one can never become a post
UPLOAD_URL_TTL = dt.timedelta(hours=1)


def key_marker(idempotency_key: str) -> str:
    """The reference appended to a post's title so `find_post` can recognise it in the creator's videos."""
    return "ref:" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:10]


def iso_utc(t: dt.datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class TikTokLookup(TikTokApi):
    """`find_post` through the journal, then the creator's video list; `_post` shapes what both return."""

    platform: str
    account: str
    journal: PublishJournal
    key_in_title: bool
    lookup_pages: int
    _clock: Callable[[], dt.datetime]

    def _post(self, publish_id: str, status: dict[str, Any], key: str | None,
              live_at: dt.datetime | None) -> dict[str, Any]:
        ids = [str(i) for i in status.get("publicaly_available_post_id") or []]
        video_id = ids[0] if ids else None
        if video_id:
            self.journal.set_video_id(publish_id, video_id)
        state = status.get("status")
        label = ("live" if video_id else "moderation") if state == "PUBLISH_COMPLETE" else (
            "inbox" if state == "SEND_TO_USER_INBOX" else "processing")
        return {"post_id": publish_id, "publish_id": publish_id, "video_id": video_id, "url": None,
                "live_at": iso_utc(live_at) if live_at else None, "status": label, "platform": self.platform,
                "account": self.account, "idempotency_key": key}

    # ------------------------------------------------------------------------------------ lookup
    def find_post(self, idempotency_key: str) -> dict[str, Any] | None:
        """The post made for this key, or None when TikTok has none and none can still appear."""
        entry = self.journal.recall(idempotency_key)
        if entry is not None:
            publish_id, size, init_at = entry
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
                if state in PROCESSING and self._clock() < init_at + UPLOAD_URL_TTL:
                    raise AmbiguousOutcome(f"TikTok publish {publish_id} is still uploading (init at "
                                           f"{iso_utc(init_at)}, its upload URL valid for an hour): its last bytes "
                                           "may still come and make the post; looked up again later", retryable=True)
                # FAILED, or an upload that never got its last bytes before its URL expired: no post will appear
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
                            "live_at": iso_utc(live) if live else None, "status": "live", "platform": self.platform,
                            "account": self.account, "idempotency_key": idempotency_key}
            if not page.get("has_more"):
                return None
            cursor = page.get("cursor")
        return None
