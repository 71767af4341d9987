"""Direct Post publishes in the sandbox: video/init, the chunked FILE_UPLOAD PUTs, and status/fetch; the
final chunk turns the upload into an ordinary sandbox post (or a FAILED publish).

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
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .errors import ApiError
from .seeding import derive_hex
from .tiktok_rules import DAY_S, PLATFORM, UPLOAD_TYPES, Creator, TikTokError, invalid
from .tiktok_videos import TikTokVideos

UPLOAD_PATH = "/v2/upload/video"
_RANGE = re.compile(r"^\s*bytes\s+(\d{1,15})-(\d{1,15})/(\d{1,15})\s*$")
_HASHTAG = re.compile(r"#(\w{1,100})")


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


class TikTokUploads(TikTokVideos):
    """init, the chunk PUTs and status of the creator's publishes (uploads in memory, records in the state)."""

    _uploads: dict[str, Upload]
    _by_upload_id: dict[str, str]
    _lock: threading.Lock

    # -------------------------------------------------------------------------------------- init
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
