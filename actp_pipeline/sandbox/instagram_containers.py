"""Instagram's media containers: creating one, its resumable upload (or its video_url), its status
through the lifecycle below, and its storage. Apart from the Graph node dispatch (sandbox/instagram.py)
because the container's lifecycle and upload protocol are a job of their own.

Lifecycle of a container
------------------------
Created IN_PROGRESS. With video_url the sandbox cannot fetch from the web: a URL whose last path component
is a sandbox media id (a video the sandbox already holds, e.g. <anything>/m_<20 hex>) is that video; any other URL
ends ERROR ("Media download has failed", 2207052). With upload_type=resumable the bytes arrive at the
container's `uri`; they are probed then (a file the probe refuses, or a video over 15 minutes, ends ERROR
2207026). The container stays IN_PROGRESS for `InstagramPolicy.in_progress_reads` status reads (1: a
client must poll, as on Instagram, and the sandbox stays deterministic) and `processing_s` simulated
seconds, then is FINISHED. media_publish of a FINISHED container counts against the publishing limit,
creates the sandbox post (platform instagram, the IG user's account) and answers the IG media id; the
container is PUBLISHED from then on.

Differences from real Instagram (known ones) in containers and uploads
----------------------------------------------------------------------
- Hosts: graph and rupload share the sandbox host; the upload `uri` is <sandbox>/graph/ig-api-upload/<id>
  (Meta: https://rupload.facebook.com/ig-api-upload/<id>). Only Reels are served: IMAGE, CAROUSEL,
  STORIES, the deprecated VIDEO and carousel children are refused with code 100.
- Processing time is counted in status reads and simulated seconds, not wall time; WorldConfig.processing_s
  (real seconds) does not hold Instagram containers. Expiry (24 h) is simulated time.
- Caption rules checked: at most 2200 characters, 30 hashtags, 20 @-mentions (2207028-like errors are
  code 100 in the sandbox). share_to_feed, cover_url, thumb_offset, audio_name, collaborators, location_id
  are stored, not acted on.
- The upload takes the whole file in one POST, or resumes at `offset` = the bytes received so far; the
  partial bytes of an upload live in memory-indexed temp files (a restart forgets them). Containers and
  published media are kept in the state's meta table.
- Reels shorter than `InstagramPolicy.min_reel_s` (3 s) end ERROR 2207026, as the Reels specifications
  say; relax the policy for rehearsals with shorter test videos. Other video specifications (codec,
  aspect ratio, bitrate, 1 GB / 300 MB size) are not checked beyond the sandbox's own probe.
- The upload host also takes a `file_url` header (a hosted video), resolved like video_url.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .clock import SimClock
from .errors import ApiError
from .graph import SUB_MISSING, invalid, param_bool, param_fields, param_str, pick, unknown_object
from .instagram_policy import (
    _DIGITS,
    _HASHTAG,
    _MEDIA_ID,
    _MENTION,
    MAX_CAPTION,
    MAX_HASHTAGS,
    MAX_MENTIONS,
    SUB_FETCH_FAILED,
    SUB_UNSUPPORTED_VIDEO,
    UPLOAD_PATH,
    InstagramPolicy,
    _digits,
)
from .publishing import Publishing


class InstagramContainers:
    """The containers of InstagramGraph (a mixin: it uses the graph's publishing, state, clock, config,
    policy, _lock, _uploads and _now_s)."""

    publishing: Publishing
    state: Any
    clock: SimClock
    config: Any
    policy: InstagramPolicy
    _lock: threading.RLock
    _uploads: dict[str, Path]
    _now_s: Callable[[], float]

    def _container(self, node: str) -> dict[str, Any] | None:
        raw = self.state.get_meta(f"ig_container:{node}") if _DIGITS.match(node) else None
        return json.loads(raw) if raw else None

    def _save(self, container: dict[str, Any]) -> None:
        self.state.set_meta(f"ig_container:{container['id']}", json.dumps(container, separators=(",", ":")))

    # ------------------------------------------------------------------------------- containers
    def create_container(self, user: str, account: str, params: Mapping[str, Any], base: str = "") -> dict[str, Any]:
        media_type = (param_str(params, "media_type", max_len=40) or "").upper()
        if media_type != "REELS":
            if media_type == "VIDEO":
                raise invalid("The VIDEO media_type is no longer supported: publish videos with media_type=REELS",
                              field="media_type")
            raise invalid("The sandbox publishes only Reels: media_type must be REELS"
                          + ("" if media_type else " (image posts need image_url, not served here)"),
                          field="media_type")
        if params.get("is_carousel_item") not in (None, "", False, "false", "0") or params.get("children"):
            raise invalid("carousels are not served by the sandbox", field="children")
        caption = param_str(params, "caption", max_len=MAX_CAPTION) or ""
        if len(_HASHTAG.findall(caption)) > MAX_HASHTAGS:
            raise invalid(f"The caption has more than {MAX_HASHTAGS} hashtags", field="caption")
        if len(_MENTION.findall(caption)) > MAX_MENTIONS:
            raise invalid(f"The caption has more than {MAX_MENTIONS} @ mentions", field="caption")
        resumable = (param_str(params, "upload_type", max_len=20) or "").lower()
        if resumable not in ("", "resumable"):
            raise invalid("upload_type must be resumable", field="upload_type")
        video_url = param_str(params, "video_url", max_len=2000)
        if not resumable and not video_url:
            raise invalid("The parameter video_url is required (or upload_type=resumable)", SUB_MISSING, "video_url")
        share = param_bool(params, "share_to_feed", True)
        seq = self.state.increment_meta("ig_container_seq")
        cid = _digits(self.config.seed, "ig_container", seq, prefix="1788")
        now_s = self._now_s()
        container = {"id": cid, "user": user, "account": account, "caption": caption, "share_to_feed": share,
                     "created_s": now_s, "state": "uploading", "status": None, "subcode": None,
                     "media_record": None, "bytes": 0, "file_size": None, "reads": 0, "ready_s": None,
                     "media_id": None, "published_s": None, "resumable": bool(resumable),
                     "extra": {k: str(params[k])[:400] for k in ("cover_url", "thumb_offset", "audio_name",
                                                               "collaborators", "location_id") if params.get(k)}}
        if video_url:
            self._fetch(container, video_url)
        self._save(container)
        out = {"id": cid}
        if resumable:
            out["uri"] = self.upload_uri(base, cid)
        return out

    @staticmethod
    def upload_uri(base: str, container_id: str) -> str:
        return f"{base.rstrip('/')}{UPLOAD_PATH}/{container_id}"

    def _fetch(self, container: dict[str, Any], url: str) -> None:
        """video_url or file_url: the sandbox fetches nothing from the web; a URL naming a sandbox media id
        is that video, anything else fails as a download would."""
        last = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]
        media = self.state.get_media(last) if _MEDIA_ID.match(last) else None
        if media is None:
            self._fail(container, SUB_FETCH_FAILED, "Media download has failed. The media URI doesn't meet our "
                       "requirements (the sandbox fetches nothing: only a URL ending in one of its media ids, m_...).")
            return
        self._accept(container, media)

    def _accept(self, container: dict[str, Any], media: dict[str, Any]) -> None:
        duration = float(media.get("duration_s") or 0.0)
        low, high = self.policy.min_reel_s, self.policy.max_reel_s
        if not low <= duration <= high:
            self._fail(container, SUB_UNSUPPORTED_VIDEO, f"The video is {duration:.1f} s long; Reels last "
                       f"{low:g} seconds to {high / 60:g} minutes.")
            return
        container.update(state="processing", media_record=media["media_id"], ready_s=self._now_s()
                         + self.policy.processing_s)

    @staticmethod
    def _fail(container: dict[str, Any], subcode: int, why: str) -> None:
        container.update(state="error", subcode=subcode, status=f"Error: {why} (error code {subcode})")

    def status_code(self, c: dict[str, Any], count_read: bool = False) -> str:
        if c["state"] == "published":
            return "PUBLISHED"
        if c["state"] == "error":
            return "ERROR"
        if self._now_s() >= c["created_s"] + self.policy.container_ttl_s:
            return "EXPIRED"
        if c["state"] == "uploading":
            return "IN_PROGRESS"
        ready = c["reads"] >= self.policy.in_progress_reads and self._now_s() >= (c["ready_s"] or 0.0)
        if count_read and not ready:
            c["reads"] += 1
            self._save(c)
        return "FINISHED" if ready else "IN_PROGRESS"

    def container_view(self, c: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        code = self.status_code(c, count_read=True)
        status = {"EXPIRED": "Expired: the container was not published within 24 hours",
                  "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
                  "IN_PROGRESS": "In Progress: Media is still being processed.",
                  "PUBLISHED": "Published: Media has been successfully published."}.get(code, c["status"])
        uploading = "complete" if c["state"] != "uploading" else ("in_progress" if c["bytes"] else "not_started")
        processing = {"ERROR": "error", "FINISHED": "complete", "PUBLISHED": "complete"}.get(code, "in_progress"
                                                                                           if uploading == "complete"
                                                                                           else "not_started")
        full = {"id": c["id"], "status_code": code, "status": status,
                "video_status": {"uploading_phase": {"status": uploading, "bytes_transferred": c["bytes"]},
                                 "processing_phase": {"status": processing}}}
        return pick(full, param_fields(params) or {"id"})

    # ----------------------------------------------------------------------------------- upload
    def upload_target(self, container_id: str) -> dict[str, Any]:
        c = self._container(container_id)
        if c is None or not c["resumable"]:
            raise unknown_object(container_id, "Upload session")
        if c["state"] != "uploading" or self.status_code(c) == "EXPIRED":
            raise invalid(f"container {container_id} takes no more bytes (status {self.status_code(c)})",
                          field="offset")
        return c

    def upload_offset(self, c: dict[str, Any], offset: str | None, file_size: str | None) -> tuple[int, int]:
        """(offset, file_size) of an upload POST, checked against what arrived before."""
        try:
            first = int(offset or "0")
            total = int(file_size) if file_size not in (None, "") else -1
        except ValueError:
            raise invalid("the offset and file_size headers must be integers", field="offset") from None
        if total <= 0 or total > int(self.config.max_upload_bytes):
            raise invalid(f"the file_size header must be between 1 and {self.config.max_upload_bytes} bytes",
                          SUB_MISSING, "file_size")
        if c["file_size"] not in (None, total):
            raise invalid(f"file_size {total} differs from the upload's {c['file_size']}", field="file_size")
        if first != c["bytes"]:
            raise invalid(f"offset must be {c['bytes']} (the bytes received so far), got {first}", field="offset")
        return first, total

    def upload_file(self, container_id: str) -> Path:
        with self._lock:
            path = self._uploads.get(container_id)
            if path is None or not path.exists():
                path = self._uploads[container_id] = self.publishing.media_tempfile()
            return path

    def upload_received(self, container_id: str, total: int) -> dict[str, Any]:
        """Count the bytes an upload POST appended to the container's file; once all `total` bytes are
        there, probe the video (Publishing.keep_media, the checks of every sandbox upload)."""
        c = self.upload_target(container_id)
        path = self._uploads.get(container_id)
        size = path.stat().st_size if path is not None and path.exists() else 0
        c.update(bytes=size, file_size=total)
        if size >= total and path is not None:
            self._uploads.pop(container_id, None)
            try:
                digest = hashlib.sha256()
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1024 * 1024), b""):
                        digest.update(block)
                try:
                    media = self.publishing.keep_media(path, size, digest.hexdigest(), "video")
                except ApiError as exc:
                    self._fail(c, SUB_UNSUPPORTED_VIDEO, f"The video format is not supported ({exc.message})")
                else:
                    self._accept(c, media)
            finally:
                path.unlink(missing_ok=True)
        self._save(c)
        return {"success": True, "message": "Upload successful."}

    def upload_url(self, container_id: str, url: str) -> dict[str, Any]:
        c = self.upload_target(container_id)
        self._fetch(c, url)
        self._save(c)
        return {"success": True, "message": "Upload successful."}
