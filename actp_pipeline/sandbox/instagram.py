"""Instagram's content publishing and media insights (Instagram Graph API, "Instagram API with Facebook
Login") as the sandbox speaks them. Framework-free: routes/ads.py hands it every Graph call whose first
path component is an Instagram node (an IG user, an IG container, an IG media, or `me`), and serves the
resumable upload host's path.

Why: ACTP's Instagram adapter (actp_pipeline/publish/instagram.py) drives Instagram through Meta's own SDK
`facebook-business` (IGUser, ShadowIGMediaBuilder = the IG container, IGMedia), which runs against the
sandbox unchanged with only `FacebookSession.GRAPH` overridden. A published reel is an ordinary sandbox
post (Publishing.keep_media probes the uploaded video like every upload, Publishing.store_post creates it
once), so its counts evolve like every other post's.

Sources (the Instagram Platform reference pages in the docs corpus consulted when this was written):
"Content Publishing" guide, "Upload Video to Meta Servers" (resumable uploads), "IG Container",
"IG User Media Publish" (limit: 50 posts in a 24 hour moving period), "IG User Content Publishing Limit"
(example answer {"data": [{"quota_usage": 2, "config": {"quota_total": 50, "quota_duration": 86400}}]}),
"Instagram Media Insights" (views replaces plays/impressions/video_views; absent data is left out, never 0),
"Error Codes" (code 9 / 2207042 over the publishing limit; -2 / 2207020 expired media; 2207026 unsupported
video; 2207052 media fetch failed; 9007 / 2207027 media not ready).

Paths (prefix /graph/v<major>.<minor>; on Meta https://graph.facebook.com/<version>)
-----------------------------------------------------------------------------------
  GET  /me                                  the token's IG user {"id", "username"} (graph.instagram.com's /me)
  GET  /{ig-user-id}                        fields id, username, name, media_count, ...
  POST /{ig-user-id}/media                  media_type=REELS, video_url | upload_type=resumable, caption,
                                            share_to_feed, cover_url, thumb_offset -> {"id"} (+ "uri" when resumable)
  POST <uri> = /graph/ig-api-upload/[<version>/]{container-id}
                                            the video bytes; headers Authorization: OAuth <token>, offset,
                                            file_size (or file_url) -> {"success": true, "message"}
  GET  /{container-id}?fields=status_code,status,video_status
                                            IN_PROGRESS -> FINISHED | ERROR ("status" says why); EXPIRED
                                            24 h after creation unless published; PUBLISHED
  POST /{ig-user-id}/media_publish          creation_id -> {"id": <ig-media-id>}
  GET  /{ig-user-id}/content_publishing_limit?fields=config,quota_usage[&since=<unix>]
  GET  /{ig-user-id}/media?fields=...       the user's media, newest first (limit/after cursors)
  GET  /{ig-media-id}?fields=id,permalink,timestamp,media_type,media_product_type,caption,...
  GET  /{ig-media-id}/insights?metric=views,likes,comments,shares,saved,total_interactions,...

Lifecycle of a container
------------------------
Created IN_PROGRESS. With video_url the sandbox cannot fetch from the web: a URL whose last path component
is a sandbox media id (an upload of /v1/media, e.g. <sandbox>/v1/media/m_...) is that video; any other URL
ends ERROR ("Media download has failed", 2207052). With upload_type=resumable the bytes arrive at the
container's `uri`; they are probed then (a file the probe refuses, or a video over 15 minutes, ends ERROR
2207026). The container stays IN_PROGRESS for `InstagramPolicy.in_progress_reads` status reads (1: a
client must poll, as on Instagram, and the sandbox stays deterministic) and `processing_s` simulated
seconds, then is FINISHED. media_publish of a FINISHED container counts against the publishing limit,
creates the sandbox post (platform instagram, the IG user's account) and answers the IG media id; the
container is PUBLISHED from then on.

Differences from real Instagram (known ones)
--------------------------------------------
- Hosts: graph and rupload share the sandbox host; the upload `uri` is <sandbox>/graph/ig-api-upload/<id>
  (Meta: https://rupload.facebook.com/ig-api-upload/<id>). Only Reels are served: IMAGE, CAROUSEL,
  STORIES, the deprecated VIDEO and carousel children are refused with code 100.
- Every valid sandbox token may act for every IG user of the sandbox (Meta: the user's own token and
  page tasks); `me` is the token's account (key i -> instagram account i mod n). IG user ids, container and
  media ids are 17-digit numbers derived from the seed; media shortcodes are derived too.
- The publishing limit is `InstagramPolicy.quota_total` (50) publishes per IG user in any
  `quota_duration` (86,400) simulated seconds, counted at media_publish; `since` older than the window is
  clamped to it. Over the limit: HTTP 400 code 9 subcode 2207042, is_transient false.
- Processing time is counted in status reads and simulated seconds, not wall time; WorldConfig.processing_s
  (real seconds) does not hold Instagram containers. Expiry (24 h) is simulated time.
- Publishing an already PUBLISHED container answers code 9007 subcode 2207008 ("already published"),
  and a container in ERROR code 9007 subcode 2207032; the sandbox chose these (the error page does not
  say what Meta answers then). media_publish of an IN_PROGRESS container: 9007 / 2207027.
- Insights: views, likes, comments, shares, saved, total_interactions (likes + comments + shares + saves),
  ig_reels_video_view_total_time and ig_reels_avg_watch_time (ms) come from the world's trajectory of the
  post. reach, follows, profile_visits and the other metrics Instagram knows are valid names but the world
  does not model them: they are left out of `data`, as Instagram leaves out unavailable data. The
  deprecated plays, clips_replays_count, ig_reels_aggregated_all_plays_count, impressions and video_views
  answer code 100. Data is not delayed (Instagram: up to 48 hours) and there is no "not enough viewers"
  error (code 10). Only period=lifetime.
- Media objects: media_type VIDEO, media_product_type REELS; like_count and comments_count are the
  world's; permalink https://www.instagram.com/reel/<shortcode>/; thumbnail_url and media_url are fixed
  sandbox URLs. Without `fields` a node answers only its id (as Graph does); unknown field names are ignored.
- Caption rules checked: at most 2200 characters, 30 hashtags, 20 @-mentions (2207028-like errors are
  code 100 in the sandbox). share_to_feed, cover_url, thumb_offset, audio_name, collaborators, location_id
  are stored, not acted on.
- The upload takes the whole file in one POST, or resumes at `offset` = the bytes received so far; the
  partial bytes of an upload live in memory-indexed temp files (a restart forgets them). Containers and
  published media are kept in the state's meta table.
- No rate-limit headers (X-App-Usage, X-Business-Use-Case-Usage) and no app-level call limits on
  Instagram nodes; the ads usage headers are not sent for them either.
- Reels shorter than `InstagramPolicy.min_reel_s` (3 s) end ERROR 2207026, as the Reels specifications
  say; relax the policy for rehearsals with shorter test videos. Other video specifications (codec,
  aspect ratio, bitrate, 1 GB / 300 MB size) are not checked beyond the sandbox's own probe.
- The upload host also takes a `file_url` header (a hosted video), resolved like video_url.
- Until app.py passes its Publishing to graph_dialect, the Graph dialect builds its own Publishing over the
  same world, state and clock: posts and counts are the same (trajectories are deterministic), only
  WorldConfig.processing_s's real-time "processing" hold of /v1 is kept per instance.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import ApiError
from .graph import (
    INVALID,
    SUB_MISSING,
    SUB_UNKNOWN_OBJECT,
    UNKNOWN_PATH,
    GraphError,
    graph_time,
    invalid,
    param_bool,
    param_fields,
    param_id,
    param_str,
    pick,
    unknown_object,
)
from .publishing import Publishing
from .seeding import derive_hex

PLATFORM = "instagram"
UPLOAD_PATH = "/graph/ig-api-upload"
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
MAX_REEL_S = 15 * 60.0  # Reels: 3 seconds to 15 minutes (IG User Media reference)
MIN_REEL_S = 3.0
CONTAINER_TTL_S = 24 * 3600.0  # "containers expire 24 hours after creation" (IG Container: EXPIRED)
STATUS_CODES = ("EXPIRED", "ERROR", "FINISHED", "IN_PROGRESS", "PUBLISHED")
# code / subcode of the documented errors used (Error Codes page)
CODE_LIMIT, SUB_LIMIT = 9, 2207042
CODE_NOT_READY, SUB_NOT_READY = 9007, 2207027
SUB_EXPIRED = 2207020
SUB_UNSUPPORTED_VIDEO = 2207026
SUB_FETCH_FAILED = 2207052
SUB_ALREADY_PUBLISHED = 2207008  # the sandbox's choice (see the module docstring)
SUB_CREATE_FAILED = 2207032

# Reels metrics of the "Instagram Media Insights" reference (views replaced plays in v22.0); the titles and
# descriptions are the sandbox's own words
SERVED_METRICS: dict[str, tuple[str, str]] = {
    "views": ("Views", "Number of times the reel was played or displayed."),
    "likes": ("Likes", "Number of likes on the reel."),
    "comments": ("Comments", "Number of comments on the reel."),
    "shares": ("Shares", "Number of times the reel was shared."),
    "saved": ("Saves", "Number of times the reel was saved."),
    "total_interactions": ("Interactions", "Likes, saves, comments and shares on the reel."),
    "ig_reels_video_view_total_time": ("Watch time", "Total time the reel was watched, in milliseconds."),
    "ig_reels_avg_watch_time": ("Average watch time", "Average time a play of the reel lasted, in milliseconds."),
}
UNMODELLED_METRICS = ("reach", "follows", "profile_visits", "profile_activity", "navigation", "replies",
                      "reposts", "total_views", "total_likes", "total_comments", "crossposted_views",
                      "facebook_views", "reels_skip_rate")
DEPRECATED_METRICS = ("plays", "clips_replays_count", "ig_reels_aggregated_all_plays_count", "impressions",
                      "video_views", "engagement")
_HASHTAG = re.compile(r"#(\w{1,100})")
_MENTION = re.compile(r"@[\w.]{1,30}")
_DIGITS = re.compile(r"^[0-9]{5,20}$")
_MEDIA_ID = re.compile(r"^m_[0-9a-f]{20}$")


@dataclass(frozen=True)
class InstagramPolicy:
    """The sandbox's Instagram rules (see the module docstring for where each number comes from)."""

    quota_total: int = 50
    quota_duration_s: int = 86_400
    in_progress_reads: int = 1  # status reads answered IN_PROGRESS before a container can be FINISHED
    processing_s: float = 0.0  # simulated seconds from the complete video to FINISHED
    container_ttl_s: float = CONTAINER_TTL_S
    min_reel_s: float = MIN_REEL_S
    max_reel_s: float = MAX_REEL_S


def _digits(seed: int, *parts: object, prefix: str, length: int = 17) -> str:
    n = int(derive_hex(seed, *parts, length=15), 16)
    return prefix + str(n % 10 ** (length - len(prefix))).zfill(length - len(prefix))


class InstagramGraph:
    """IG users, containers (with their uploads), media, publishing limit and insights of one sandbox."""

    def __init__(self, publishing: Publishing, api_keys: tuple[str, ...], policy: InstagramPolicy | None = None):
        self.publishing = publishing
        self.state = publishing.state
        self.clock = publishing.clock
        self.config = publishing.config
        self.policy = policy or InstagramPolicy()
        self._keys = tuple(api_keys)
        self._lock = threading.RLock()
        self._uploads: dict[str, Path] = {}  # container id -> partial upload file
        self._media_index: dict[str, str] = {}  # ig media id -> post id

    # ------------------------------------------------------------------------------------ ids
    def accounts(self) -> list[str]:
        return list(self.config.accounts.get(PLATFORM) or []) if PLATFORM in self.config.platforms else []

    def user_id(self, account: str) -> str:
        return _digits(self.config.seed, "ig_user", account, prefix="17841")

    def account_of_user(self, node: str) -> str | None:
        return next((a for a in self.accounts() if self.user_id(a) == node), None)

    def me(self, token: Any) -> str | None:
        accounts = self.accounts()
        if not accounts:
            return None
        index = self._keys.index(token) if isinstance(token, str) and token in self._keys else 0
        return accounts[index % len(accounts)]

    def media_id(self, post_id: str) -> str:
        mid = _digits(self.config.seed, "ig_media", post_id, prefix="1798")
        self._media_index[mid] = post_id
        return mid

    def shortcode(self, media_id: str) -> str:
        return "C" + derive_hex(self.config.seed, "ig_shortcode", media_id, length=10)

    def _post_of_media(self, node: str) -> dict[str, Any] | None:
        if node not in self._media_index:
            for post in self.state.list_posts():  # (re)build the index after a restart
                if post["platform"] == PLATFORM:
                    self.media_id(post["post_id"])
        post_id = self._media_index.get(node)
        return self.state.get_post(post_id) if post_id else None

    def _container(self, node: str) -> dict[str, Any] | None:
        raw = self.state.get_meta(f"ig_container:{node}") if _DIGITS.match(node) else None
        return json.loads(raw) if raw else None

    def _save(self, container: dict[str, Any]) -> None:
        self.state.set_meta(f"ig_container:{container['id']}", json.dumps(container, separators=(",", ":")))

    def owns(self, node: str) -> bool:
        """Whether a Graph node is Instagram's (routes/ads.py routes those here)."""
        if node == "me":
            return bool(self.accounts())
        if not _DIGITS.match(node):
            return False
        return (self.account_of_user(node) is not None or self._container(node) is not None
                or (node.startswith("1798") and self._post_of_media(node) is not None))

    def _now_s(self) -> float:
        return self.clock.now().timestamp()

    # --------------------------------------------------------------------------------- dispatch
    def call(self, method: str, parts: list[str], params: Mapping[str, Any],
             page: Callable[[list[int], Callable[[int], dict[str, Any]]], dict[str, Any]], base: str = "") -> Any:
        """One Graph call on an Instagram node; `page(keys, render)` builds a cursor page (routes/ads.py),
        `base` is the scheme and host the call came to (for the resumable upload's uri)."""
        if len(parts) > 2:
            raise GraphError(f"Unknown path components: /{'/'.join(parts[2:])}", code=UNKNOWN_PATH, subcode=None)
        node, edge = parts[0], (parts[1] if len(parts) > 1 else None)
        if node == "me":
            account = self.me(params.get("access_token"))
            assert account is not None
            node = self.user_id(account)
        account = self.account_of_user(node)
        if account is not None:
            return self._user(method, node, account, edge, params, page, base)
        container = self._container(node)
        if container is not None:
            if edge is None and method == "GET":
                return self.container_view(container, params)
            raise self._unsupported(method, node, edge)
        post = self._post_of_media(node)
        if post is None:
            raise unknown_object(node)
        if edge is None and method == "GET":
            return pick(self.media_view(node, post), param_fields(params) or {"id"})
        if edge == "insights" and method == "GET":
            return self.insights(node, post, params)
        raise self._unsupported(method, node, edge)

    @staticmethod
    def _unsupported(method: str, node: str, edge: str | None) -> GraphError:
        path = f"/{node}" + (f"/{edge}" if edge else "")
        return GraphError(f"Unsupported {method.lower()} request on {path}", subcode=SUB_UNKNOWN_OBJECT)

    def _user(self, method: str, node: str, account: str, edge: str | None, params: Mapping[str, Any],
              page: Callable[..., dict[str, Any]], base: str) -> Any:
        if edge is None and method == "GET":
            return pick(self.user_view(node, account), param_fields(params) or {"id"})
        if edge == "media" and method == "POST":
            return self.create_container(node, account, params, base)
        if edge == "media" and method == "GET":
            return self.list_media(account, params, page)
        if edge == "media_publish" and method == "POST":
            return self.publish(node, account, params)
        if edge == "content_publishing_limit" and method == "GET":
            return self.publishing_limit(node, params)
        if edge in ("media", "media_publish", "content_publishing_limit"):
            raise self._unsupported(method, node, edge)
        raise GraphError(f"Unknown path components: /{edge}", code=UNKNOWN_PATH, subcode=None)

    # ------------------------------------------------------------------------------------ users
    def _user_posts(self, account: str) -> list[dict[str, Any]]:
        """The account's instagram posts that are live, newest first."""
        now = self.clock.now()
        posts = [p for p in self.state.list_posts() if p["platform"] == PLATFORM and p["account"] == account
                 and self.publishing.status_of(p, now) == "live"]
        posts.sort(key=lambda p: (p["live_at"], p["post_id"]), reverse=True)
        return posts

    def user_view(self, node: str, account: str) -> dict[str, Any]:
        return {"id": node, "ig_id": int(node[-10:]), "username": account, "name": account.replace("_", " ").title(),
                "media_count": len(self._user_posts(account)),
                "profile_picture_url": f"https://sandbox.actp.local/instagram/avatar/{account}.jpg"}

    def list_media(self, account: str, params: Mapping[str, Any], page: Callable[..., dict[str, Any]]) -> dict[str, Any]:
        posts = self._user_posts(account)
        fields = param_fields(params) or {"id"}
        # cursors are positions in the newest-first list (a reel published between two pages shifts them)
        return page(list(range(len(posts))),
                    lambda i: pick(self.media_view(self.media_id(posts[i]["post_id"]), posts[i]), fields))

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
                       "requirements (the sandbox fetches only its own media: <sandbox>/v1/media/m_...).")
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

    # ---------------------------------------------------------------------------------- publish
    def _published_times(self, user: str, since_s: float) -> list[float]:
        raw = self.state.get_meta(f"ig_publishes:{user}")
        return [t for t in (json.loads(raw) if raw else []) if t > since_s]

    def publish(self, user: str, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        cid = param_id(params, "creation_id", required=True)
        assert cid is not None
        with self._lock:
            c = self._container(cid)
            if c is None or c["user"] != user:
                raise unknown_object(cid, "Media container")
            code = self.status_code(c)
            if code == "PUBLISHED":
                raise GraphError("The media has already been published", code=CODE_NOT_READY,
                                 subcode=SUB_ALREADY_PUBLISHED)
            if code == "EXPIRED":
                raise GraphError("The media you are trying to access has expired. Please try to upload again.",
                                 code=-2, subcode=SUB_EXPIRED)
            if code == "ERROR":
                raise GraphError("Create media fail, please try to re-create media", code=CODE_NOT_READY,
                                 subcode=SUB_CREATE_FAILED)
            if code != "FINISHED":
                raise GraphError("Media ID is not available: the media is not ready for publishing, please wait "
                                 "for a moment", code=CODE_NOT_READY, subcode=SUB_NOT_READY)
            now_s = self._now_s()
            times = self._published_times(user, now_s - self.policy.quota_duration_s)
            if len(times) >= self.policy.quota_total:
                raise GraphError("Application request limit reached: you reached the maximum number of posts "
                                 f"that is allowed to be published by the API ({self.policy.quota_total} in 24 "
                                 "hours)", code=CODE_LIMIT, subcode=SUB_LIMIT,
                                 user_title="Maximum posts reached",
                                 user_msg="You reached maximum number of posts that is allowed to be published.")
            caption = c["caption"]
            values = {"idempotency_key": f"instagram:{cid}", "media_id": c["media_record"], "platform": PLATFORM,
                      "account": account, "caption": caption,
                      "hashtags": list(dict.fromkeys(_HASHTAG.findall(caption)))[:60],
                      "scheduled_at": self.clock.now()}
            post, _ = self.publishing.store_post(values)
            media_id = self.media_id(post["post_id"])
            self.state.set_meta(f"ig_publishes:{user}", json.dumps([*times, now_s]))
            c.update(state="published", media_id=media_id, published_s=now_s)
            self._save(c)
        return {"id": media_id}

    def publishing_limit(self, user: str, params: Mapping[str, Any]) -> dict[str, Any]:
        now_s = self._now_s()
        window_start = now_s - self.policy.quota_duration_s
        since = params.get("since")
        start = window_start
        if since not in (None, ""):
            try:
                start = max(window_start, float(since))
            except (TypeError, ValueError):
                raise invalid("since must be a Unix timestamp", field="since") from None
        row = {"quota_usage": len(self._published_times(user, start)),
               "config": {"quota_total": self.policy.quota_total, "quota_duration": self.policy.quota_duration_s}}
        fields = param_fields(params) or {"quota_usage"}  # "If omitted, the quota_usage field will be returned"
        return {"data": [{k: v for k, v in row.items() if k in fields}]}

    # ------------------------------------------------------------------------------------ media
    def media_view(self, media_id: str, post: dict[str, Any]) -> dict[str, Any]:
        counts = self.publishing.metrics(post)
        shortcode = self.shortcode(media_id)
        live = datetime.fromisoformat(post["live_at"])
        return {"id": media_id, "caption": post["caption"], "media_type": "VIDEO", "media_product_type": "REELS",
                "permalink": f"https://www.instagram.com/reel/{shortcode}/", "shortcode": shortcode,
                "timestamp": graph_time(live.timestamp()), "username": post["account"],
                "owner": {"id": self.user_id(post["account"])}, "is_shared_to_feed": True,
                "like_count": int(counts["likes"]), "comments_count": int(counts["comments"]),
                "media_url": f"https://sandbox.actp.local/instagram/video/{media_id}.mp4",
                "thumbnail_url": f"https://sandbox.actp.local/instagram/thumb/{media_id}.jpg",
                "is_comment_enabled": True}

    def insights(self, media_id: str, post: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        raw = params.get("metric")
        if isinstance(raw, list):
            raw = ",".join(str(m) for m in raw)
        if isinstance(raw, str) and raw.lstrip().startswith("["):
            try:
                raw = ",".join(str(m) for m in json.loads(raw))
            except ValueError:
                raise invalid("metric must be a comma-separated list", field="metric") from None
        names = [m.strip() for m in str(raw or "").split(",") if m.strip()]
        if not names:
            raise invalid("The parameter metric is required", SUB_MISSING, "metric")
        known = (*SERVED_METRICS, *UNMODELLED_METRICS)
        for i, name in enumerate(names):
            if name in DEPRECATED_METRICS:
                raise GraphError(f"(#100) The {name} metric is no longer supported for media created after "
                                 "July 1, 2024; use views", code=INVALID, subcode=None)
            if name not in known:
                raise GraphError(f"(#100) metric[{i}] must be one of the following values: {', '.join(known)}",
                                 code=INVALID, subcode=None)
        period = param_str(params, "period", max_len=40) or "lifetime"
        if period != "lifetime":
            raise invalid("period must be lifetime for media insights", field="period")
        now = self.clock.now()
        if self.publishing.status_of(post, now) != "live":
            return {"data": []}
        counts = self.publishing.metrics(post, now)
        views = int(counts["views"])
        total_ms = round(float(counts.get("watch_time_s") or 0.0) * 1000)
        values = {"views": views, "likes": int(counts["likes"]), "comments": int(counts["comments"]),
                  "shares": int(counts["shares"]), "saved": int(counts["saves"]),
                  "ig_reels_video_view_total_time": total_ms,
                  "ig_reels_avg_watch_time": round(total_ms / views) if views else 0}
        values["total_interactions"] = values["likes"] + values["comments"] + values["shares"] + values["saved"]
        data = []
        for name in dict.fromkeys(names):
            if name not in SERVED_METRICS:
                continue  # a metric the world does not model is left out, as Instagram leaves out unavailable data
            title, description = SERVED_METRICS[name]
            data.append({"name": name, "period": "lifetime", "values": [{"value": values[name]}], "title": title,
                         "description": description, "id": f"{media_id}/insights/{name}/lifetime"})
        return {"data": data}


