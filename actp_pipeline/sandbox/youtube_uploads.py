"""The YouTube dialect's resumable uploads: the insert metadata's rules, upload sessions, chunks, and the
completed upload turned into a video (a sandbox post). Apart from the domain (sandbox/youtube.py) because
the upload protocol (sessions, Content-Range, 308s) is a job of its own; reading videos does not need it.
`record_video` is the one code path that makes a video of a channel: a completed Data API upload's, and a
video published through the sandbox's YouTube Studio page (routes/web_studio.py).

Differences from real YouTube (known ones) in uploading
-------------------------------------------------------
- Only resumable uploads (uploadType=resumable); simple and multipart uploads answer 400. Sessions live in
  memory: a sandbox restart forgets unfinished ones (YouTube keeps them about a week). The session URI is
  the credential, as on YouTube; DELETE (cancel) is not served.
- A non-final chunk is committed in whole multiples of 256 KiB (the rest is dropped and the 308's Range
  says so; Google documents that a server may persist less than was sent); the final chunk is kept whole.
- A file the sandbox cannot decode (sandbox/media.py, the checks of every upload) becomes a video with
  uploadStatus "failed" (failureReason invalidFile, codec or emptyFile); it is no post in the world.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .clock import SimClock, iso
from .errors import ApiError
from .publishing import MAX_HASHTAG_LEN, MAX_HASHTAGS, Publishing
from .seeding import derive_hex
from .validation import decode_json, parse_time
from .youtube_errors import YouTubeError, bad_param, invalid_metadata
from .youtube_quota import Quota
from .youtube_resources import Channel, _b64

CHUNK_GRANULARITY = 256 * 1024  # Google's resumable chunk unit
MAX_TITLE = 100
MAX_DESCRIPTION_BYTES = 5000
MAX_TAGS_CHARS = 500
PRIVACY = ("public", "unlisted", "private")
# the standard video categories of the US region (videoCategories.list regionCode=US, assignable ones)
CATEGORIES = ("1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29")
DEFAULT_CATEGORY = "22"


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


@dataclass(frozen=True)
class NewVideo:
    """What `record_video` makes a video of: an uploaded file (its kept media, or why it failed) and the
    video's metadata (validate_metadata's shape). `key`, `caption`: the sandbox post's idempotency key and
    caption (default: youtube-upload:<n> and the title); `processing_s`: how long the video processes
    (default: the dialect's)."""

    n: int
    video_id: str
    account: str
    metadata: dict[str, Any]
    size: int
    media: dict[str, Any] | None
    failure: tuple[str, str] | None = None  # (failureReason, message) when media is None
    key: str | None = None
    caption: str | None = None
    processing_s: float | None = None


class YouTubeUploads:
    """The upload steps of YouTube (a mixin: it uses the domain's publishing, config, state, clock, quota,
    processing_s, _sessions, _lock, _post_index_checked, channel_for, require_video, get_video and
    uploads_of)."""

    publishing: Publishing
    config: Any
    state: Any
    clock: SimClock
    quota: Quota
    processing_s: float
    _sessions: dict[str, UploadSession]
    _lock: threading.Lock
    channel_for: Callable[[str], Channel]
    require_video: Callable[[str], dict[str, Any]]
    get_video: Callable[[str], dict[str, Any] | None]
    uploads_of: Callable[[str], list[str]]
    _post_index_checked: bool  # video_of_post indexed the videos of an older state file

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
        n, video_id = self.new_video_id()
        try:
            media: dict[str, Any] | None = self.publishing.keep_media(s.path, size, digest.hexdigest(), "video")
            failure = None
        except ApiError as exc:  # the file cannot be watched: a failed upload, not a post
            media = None
            failure = ("emptyFile" if exc.code == "empty_body" else "codec" if exc.status == 422 else "invalidFile",
                       exc.message)
        record = self.record_video(NewVideo(n, video_id, s.account, s.metadata, size, media, failure))
        s.video_id = video_id
        s.path.unlink(missing_ok=True)
        return record

    # ------------------------------------------------------------------------------ videos
    def new_video_id(self) -> tuple[int, str]:
        """The next upload's number and its video id (seeded: the n-th upload of a sandbox, on every run)."""
        n = self.state.increment_meta("youtube.uploads.count")
        return n, _b64(derive_hex(self.config.seed, "youtube_video", n, length=32), 11)

    def record_video(self, v: NewVideo) -> dict[str, Any]:
        """Make an uploaded video a video of its channel: the one code path of the Data API's uploads and
        the Studio page's (routes/web_studio.py). Its sandbox post (when the file could be decoded) goes
        live when processing ends, or at publishAt; the record is kept as `youtube.video.<id>`, the post's
        video id as `youtube.post.<post id>`, and the id is appended to the channel's uploads. Once per
        video id: a second call returns the first record."""
        existing = self.get_video(v.video_id)
        if existing is not None:
            return existing
        now = self.clock.now()
        wait = self.processing_s if v.processing_s is None else v.processing_s
        meta = v.metadata
        record: dict[str, Any] = {
            "video_id": v.video_id, "n": v.n, "account": v.account, "post_id": None, "uploaded_at": iso(now),
            "processing_until": iso(now + timedelta(seconds=wait)), "failure": None, "bytes": v.size, **meta,
        }
        if v.media is None:
            record["failure"], record["failure_message"] = v.failure or ("invalidFile", "")
        else:
            live_at = now + timedelta(seconds=wait)
            if meta["publishAt"]:
                live_at = max(live_at, parse_time(meta["publishAt"], "publishAt"))
            values = {"idempotency_key": v.key or f"youtube-upload:{v.n}", "media_id": v.media["media_id"],
                      "platform": "youtube", "account": v.account,
                      # the post's text as viewers see it: the title, then the description (where links go)
                      "caption": _caption(meta) if v.caption is None else v.caption,
                      "hashtags": [t[:MAX_HASHTAG_LEN] for t in meta["tags"]][:MAX_HASHTAGS],
                      "scheduled_at": live_at if wait > 0 or meta["publishAt"] else None}
            post, _ = self.publishing.store_post(values)
            record["post_id"] = post["post_id"]
            self.state.set_meta(f"youtube.post.{post['post_id']}", v.video_id)
        self.state.set_meta(f"youtube.video.{v.video_id}", json.dumps(record))
        with self._lock:
            key = f"youtube.channel.{v.account}.uploads"
            uploads = json.loads(self.state.get_meta(key) or "[]")
            if v.video_id not in uploads:
                uploads.append(v.video_id)
                self.state.set_meta(key, json.dumps(uploads))
        return record

    def video_of_post(self, post_id: str) -> str | None:
        """The video id of a sandbox post made through YouTube (the Data API or the Studio page), else None.
        Videos recorded before the post index existed (an older state file) are indexed on the first miss."""
        found = self.state.get_meta(f"youtube.post.{post_id}")
        if found or self._post_index_checked:
            return found or None
        self._post_index_checked = True
        for account in self.config.accounts.get("youtube", []):
            for video_id in self.uploads_of(account):
                v = self.get_video(video_id)
                if v is not None and v["post_id"] and not self.state.get_meta(f"youtube.post.{v['post_id']}"):
                    self.state.set_meta(f"youtube.post.{v['post_id']}", video_id)
        return self.state.get_meta(f"youtube.post.{post_id}") or None


def _caption(meta: dict[str, Any]) -> str:
    return meta["title"] + ("\n" + meta["description"] if meta.get("description") else "")
