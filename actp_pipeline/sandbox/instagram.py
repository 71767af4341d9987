"""Instagram's content publishing and media insights (Instagram Graph API, "Instagram API with Facebook
Login") as the sandbox speaks them. Framework-free: routes/ads.py hands it every Graph call whose first
path component is an Instagram node (an IG user, an IG container, an IG media, or `me`), and serves the
resumable upload host's path.

Why: ACTP's Instagram adapter (actp_pipeline/publish/instagram.py) drives Instagram through Meta's own SDK
`facebook-business` (IGUser, ShadowIGMediaBuilder = the IG container, IGMedia), which runs against the
sandbox unchanged with only `FacebookSession.GRAPH` overridden. A published reel is an ordinary sandbox
post (Publishing.keep_media probes the uploaded video like every upload, Publishing.store_post creates it
once), so its counts evolve like every other post's.

This module is the Graph side (`InstagramGraph`: ids, node dispatch, IG users); its parts live next to it:
instagram_policy.py (the rules, limits and error codes, with the reference pages they come from),
instagram_containers.py (containers, their uploads and lifecycle), instagram_publishing.py (media_publish
and the publishing limit) and instagram_insights.py (media objects and insights). Their names stay
importable from here.

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

Differences from real Instagram (known ones)
--------------------------------------------
(Those of containers and uploads, publishing, and media and insights are in instagram_containers.py,
instagram_publishing.py and instagram_insights.py.)
- Every valid sandbox token may act for every IG user of the sandbox (Meta: the user's own token and
  page tasks); `me` is the token's account (key i -> instagram account i mod n). IG user ids, container and
  media ids are 17-digit numbers derived from the seed; media shortcodes are derived too.
- Without `fields` a node answers only its id (as Graph does); unknown field names are ignored.
- No rate-limit headers (X-App-Usage, X-Business-Use-Case-Usage) and no app-level call limits on
  Instagram nodes; the ads usage headers are not sent for them either.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .graph import (
    SUB_UNKNOWN_OBJECT,
    UNKNOWN_PATH,
    GraphError,
    param_fields,
    pick,
    unknown_object,
)
from .instagram_containers import InstagramContainers
from .instagram_insights import (  # noqa: F401 - names of this module before the split
    DEPRECATED_METRICS,
    SERVED_METRICS,
    UNMODELLED_METRICS,
    InstagramInsights,
)
from .instagram_policy import (  # noqa: F401 - names of this module before the split
    _DIGITS,
    _HASHTAG,
    _MEDIA_ID,
    _MENTION,
    CODE_LIMIT,
    CODE_NOT_READY,
    CONTAINER_TTL_S,
    MAX_CAPTION,
    MAX_HASHTAGS,
    MAX_MENTIONS,
    MAX_REEL_S,
    MEDIA_KEY,
    MIN_REEL_S,
    PLATFORM,
    STATUS_CODES,
    SUB_ALREADY_PUBLISHED,
    SUB_CREATE_FAILED,
    SUB_EXPIRED,
    SUB_FETCH_FAILED,
    SUB_LIMIT,
    SUB_NOT_READY,
    SUB_UNSUPPORTED_VIDEO,
    UPLOAD_PATH,
    InstagramPolicy,
    _digits,
)
from .instagram_publishing import InstagramPublishing
from .publishing import Publishing
from .seeding import derive_hex


class InstagramGraph(InstagramContainers, InstagramPublishing, InstagramInsights):
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
        self._shortcodes: dict[str, str] = {}  # shortcode -> post id

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

    def media_id(self, post_id: str, account: str | None = None) -> str:
        """The IG media id of a sandbox post (`account`: the post's, when the caller has it at hand). The first
        time this process names a media it is recorded in the state (instagram_policy.media_record: its post
        and owner), so the ads side can resolve an ad's source_instagram_media_id to the post behind it."""
        mid = _digits(self.config.seed, "ig_media", post_id, prefix="1798")
        if self._media_index.get(mid) != post_id:
            if account is None:
                post = self.state.get_post(post_id)
                account = post["account"] if post else None
            if account is not None:
                record = {"post_id": post_id, "owner": self.user_id(account)}
                self.state.set_meta(MEDIA_KEY.format(id=mid), json.dumps(record, separators=(",", ":")))
            self._media_index[mid] = post_id
        return mid

    def shortcode(self, media_id: str) -> str:
        """The media's shortcode: its reel's public link is instagram.com/reel/<shortcode>/."""
        return "C" + derive_hex(self.config.seed, "ig_shortcode", media_id, length=10)

    def post_of_shortcode(self, shortcode: str) -> dict[str, Any] | None:
        """The instagram post whose reel link has this shortcode (None: no such reel)."""
        if shortcode not in self._shortcodes:
            for post in self.state.list_posts():  # posts made since the last look, or after a restart
                if post["platform"] == PLATFORM:
                    code = self.shortcode(self.media_id(post["post_id"], post["account"]))
                    self._shortcodes[code] = post["post_id"]
        post_id = self._shortcodes.get(shortcode)
        return self.state.get_post(post_id) if post_id else None

    def _post_of_media(self, node: str) -> dict[str, Any] | None:
        if node not in self._media_index:
            for post in self.state.list_posts():  # (re)build the index after a restart
                if post["platform"] == PLATFORM:
                    self.media_id(post["post_id"], post["account"])
        post_id = self._media_index.get(node)
        return self.state.get_post(post_id) if post_id else None

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
                    lambda i: pick(self.media_view(self.media_id(posts[i]["post_id"], account), posts[i]), fields))
