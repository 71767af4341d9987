"""The sandbox's copies of three real upload pages, under the web dialect (/web), for the browser
publisher's per-platform page objects (actp_pipeline/publish/browser_sites/).

Paths mirror the real ones under /web (the session cookie's path):

    TikTok Studio   GET/POST /web/tiktok/login/phone-or-email/email    log in (email or username, password)
                    GET  /web/tiktokstudio/upload                      upload page
                    GET  /web/tiktokstudio/content                     the account's posts (where a post's link shows)
    YouTube Studio  GET/POST /web/google/v3/signin/identifier          Google's two-step sign-in
                    GET  /web/youtube-studio/channel/{channel}/videos/upload   the upload dialog
                    GET  /web/youtube-studio/channel/{channel}/videos          channel content
    Instagram       GET/POST /web/instagram/accounts/login             log in
                    GET  /web/instagram/create                         the "Create new post" dialog
                    GET  /web/instagram/{account}/reels                the profile's reels grid (links to each reel)
                    GET  /web/instagram/reel/{shortcode}               one reel (caption, og:url)
    the pages' script   GET /web/studio-assets/studio.js
    their JSON calls    POST <api>/upload (multipart: video) -> {upload_id, url?}
                        POST <api>/post (JSON: upload_id and the page's fields) -> {post_id, url, status, live_at}
                        with <api> = /web/tiktokstudio/api, /web/youtube-studio/api, /web/instagram/api

Links and ids are the platforms' own (sandbox/public_links.py), as a real page shows them: a post's link is
www.tiktok.com/@<account>/video/<video id>, youtu.be/<video id> or www.instagram.com/reel/<shortcode>/, and
the post call's post_id is that id, the one the sandbox's dialect of the platform knows the post by (TikTok's
video/query, YouTube's videos.list, the Graph's IG media with that shortcode). YouTube Studio gives an upload
its video id at once (its link shows while the page is filled in), and a published upload becomes a video of
the YouTube dialect through the Data API upload's own code path (youtube_uploads.record_video).

Sessions and logins are the web site's (routes/web.py: same cookie, users, throttle and login count).
Uploads and posts run the code paths of the web upload form and every dialect (`Publishing.keep_media`,
`post_fields`, `store_post`; YouTube's `record_video`), so a post made here is the same post the API and the
platform dialects see.
Unlike the generic form, these sites know no client reference, like the real ones: every post click on a
new upload makes a new post (idempotency key `<site>-web:<upload id>`); clicking post again for the same
upload returns the same post. TikTok and Instagram pages post as the platform's first account; YouTube's
as the channel in the path. A page without a session redirects to the site's own login page; a JSON call
without one answers 401 (the script then goes to the login page).
"""

from __future__ import annotations

import collections
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import iso
from ..errors import ApiError, bad_request, not_found
from ..public_links import TIKTOK_PROFILE, YOUTUBE_URL
from ..publishing import POST_URL
from ..transport import (
    JSON_BODY_LIMIT,
    html_response,
    json_response,
    read_body,
    route,
    shielded,
)
from ..validation import parse_json_object
from ..youtube_uploads import NewVideo
from . import web_studio_pages as pages
from .upload_form import copy_with_digest, file_field, read_upload_form
from .web_studio_script import SCRIPT

PENDING_UPLOADS = 1000  # uploads waiting for their post click, per sandbox (the oldest are forgotten)
FORM_OVERHEAD_BYTES = 1024 * 1024
_HASHTAG = re.compile(r"#\w+")
VISIBILITIES = {"tiktok": ("Everyone", "Friends", "Only you"), "youtube": ("PRIVATE", "UNLISTED", "PUBLIC")}


@dataclass(frozen=True)
class Studio:
    key: str  # tiktok | youtube | instagram
    login: str
    upload: str  # may hold {channel}
    content: str
    api: str
    render_login: Callable[..., str]


STUDIOS = {
    "tiktok": Studio("tiktok", "/web/tiktok/login/phone-or-email/email", "/web/tiktokstudio/upload",
                     "/web/tiktokstudio/content", "/web/tiktokstudio/api", pages.tiktok_login),
    "youtube": Studio("youtube", "/web/google/v3/signin/identifier",
                      "/web/youtube-studio/channel/{channel}/videos/upload",
                      "/web/youtube-studio/channel/{channel}/videos", "/web/youtube-studio/api", pages.google_login),
    "instagram": Studio("instagram", "/web/instagram/accounts/login", "/web/instagram/create",
                        "/web/instagram/{channel}/reels", "/web/instagram/api", pages.instagram_login),
}


class StudioSites:
    """The three sites' routes on a `WebSite` (routes/web.py), sharing its sessions and its Publishing."""

    def __init__(self, web: Any):
        self.web = web
        self.publishing = web.publishing
        self.config = web.config
        self.links = web.links  # each platform's public link and id of a post (sandbox/public_links.py)
        self._uploads: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        def h(fn: Callable[..., Any], studio: Studio) -> Any:
            async def call(request: Request) -> Response:
                return await fn(request, studio)
            return shielded(call)

        out = [route(pages.SCRIPT_PATH, {"GET": shielded(self.script)}),
               route("/web/instagram/reel/{shortcode}", {"GET": shielded(self.instagram_post)})]
        for s in STUDIOS.values():
            out += [route(s.login, {"GET": h(self.login_form, s), "POST": h(self.login, s)}),
                    route(s.upload, {"GET": h(self.upload_page, s)}),
                    route(s.content, {"GET": h(self.content_page, s)}),
                    route(s.api + "/upload", {"POST": h(self.upload, s)}),
                    route(s.api + "/post", {"POST": h(self.post, s)})]
        return out

    # -------------------------------------------------------------------------------- helpers
    @staticmethod
    def _html(status: int, html: str, headers: dict[str, str] | None = None) -> Response:
        return html_response(status, html, {**pages.SECURITY_HEADERS, **(headers or {})})

    def _account(self, studio: Studio, request: Request) -> str:
        accounts = self.config.accounts.get(studio.key, [])
        channel = request.path_params.get("channel")
        if channel is None:
            if not accounts:
                raise not_found(f"no {studio.key} account in this sandbox", field="account", code="unknown_account")
            return accounts[0]
        if channel not in accounts:
            raise not_found(f"no {studio.key} account {channel!r}", field="account", code="unknown_account")
        return str(channel)

    async def _need_session(self, request: Request, studio: Studio) -> Response | None:
        if await self.web.session_user(request) is not None:
            return None
        return self.web._redirect(studio.login + "?next=" + quote(request.url.path, safe="/"))

    async def script(self, request: Request) -> Response:
        return Response(SCRIPT.encode("utf-8"), 200, {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
                        media_type="text/javascript; charset=utf-8")

    # --------------------------------------------------------------------------------- logins
    async def login_form(self, request: Request, studio: Studio) -> Response:
        nxt = self.web.safe_next(request.query_params.get("next"), self._default_page(studio))
        return self._html(200, studio.render_login(studio.login, nxt))

    async def login(self, request: Request, studio: Studio) -> Response:
        def failed(nxt: str, err: ApiError, username: str) -> str:
            return studio.render_login(studio.login, nxt, err.message, username)

        names = ("identifier", "Passwd") if studio.key == "youtube" else ("username", "password")
        return await self.web.login(request, render=failed, default_next=self._default_page(studio), names=names)

    def _default_page(self, studio: Studio) -> str:
        accounts = self.config.accounts.get(studio.key) or ["main"]
        return studio.upload.replace("{channel}", quote(accounts[0], safe=""))

    # ---------------------------------------------------------------------------------- pages
    async def upload_page(self, request: Request, studio: Studio) -> Response:
        if (redirect := await self._need_session(request, studio)) is not None:
            return redirect
        account = self._account(studio, request)
        content = studio.content.replace("{channel}", quote(account, safe=""))
        if studio.key == "tiktok":
            html = pages.tiktok_upload(studio.api, studio.login, account, TIKTOK_PROFILE.format(account=account),
                                       content)
        elif studio.key == "youtube":
            html = pages.youtube_upload(studio.api, studio.login, account, content)
        else:
            html = pages.instagram_create(studio.api, studio.login, account, content)
        return self._html(200, html)

    async def content_page(self, request: Request, studio: Studio) -> Response:
        if (redirect := await self._need_session(request, studio)) is not None:
            return redirect
        account = self._account(studio, request)
        posts = await run_in_threadpool(self._posts_of, studio.key, account)
        if studio.key == "tiktok":
            return self._html(200, pages.tiktok_content(posts, studio.upload))
        if studio.key == "youtube":
            return self._html(200, pages.youtube_content(posts, studio.upload.replace("{channel}", account)))
        tiles = [f"/web/instagram/reel/{quote(p['public_id'] or p['post_id'], safe='')}/" for p in posts]
        return self._html(200, pages.instagram_profile(account, tiles))

    def _posts_of(self, platform: str, account: str, limit: int = 200) -> list[dict[str, Any]]:
        """The account's posts as its platform's pages show them: with the platform's own link (public_links.py)."""
        now = self.publishing.clock.now()
        return [self.links.of(self.publishing.public_post(p, now)) for p in self.web.state.recent_posts(limit)
                if p["platform"] == platform and p["account"] == account]

    def _reel(self, shortcode: str) -> dict[str, Any]:
        """The reel of a shortcode (instagram.com/reel/<shortcode>/), as its page shows it."""
        graph = self.links.instagram
        post = graph.post_of_shortcode(shortcode) if graph is not None else self.web.state.get_post(shortcode)
        if post is None or post["platform"] != "instagram":
            raise not_found(f"unknown reel {shortcode!r}", field="shortcode", code="unknown_post")
        return self.links.of(self.publishing.public_post(post))

    async def instagram_post(self, request: Request) -> Response:
        if (redirect := await self._need_session(request, STUDIOS["instagram"])) is not None:
            return redirect
        p = await run_in_threadpool(self._reel, request.path_params["shortcode"])
        return self._html(200, pages.instagram_post(p))

    # ----------------------------------------------------------------------------- JSON calls
    async def upload(self, request: Request, studio: Studio) -> Response:
        max_file = int(self.config.max_upload_bytes)
        try:
            if await self.web.session_user(request) is None:
                raise ApiError(401, "login_required", "log in again")
            form = await read_upload_form(request, max_file + FORM_OVERHEAD_BYTES, max_file)
            try:
                out = await run_in_threadpool(self._keep_upload, studio, file_field(form, "video"))
            finally:
                await form.close()
        except ApiError as exc:
            return json_response(exc.status, exc.body(), exc.headers)
        return json_response(200, out)

    def _keep_upload(self, studio: Studio, video: Any) -> dict[str, Any]:
        if video is None or not video.size:
            raise bad_request("choose a video file", field="video", code="missing_field")
        tmp = self.publishing.media_tempfile()
        try:
            size, sha = copy_with_digest(video.file, tmp)
            media = self.publishing.keep_media(tmp, size, sha, "video")
        finally:
            tmp.unlink(missing_ok=True)
        upload_id = secrets.token_hex(12)
        account = (self.config.accounts.get(studio.key) or ["main"])[0]
        key = f"{studio.key}-web:{upload_id}"
        entry: dict[str, Any] = {"media_id": media["media_id"], "key": key, "studio": studio.key}
        out: dict[str, Any] = {"upload_id": upload_id}
        if studio.key == "youtube":  # YouTube gives the upload its video id at once, and shows its link
            if self.links.youtube is not None:
                entry["video"] = self.links.youtube.new_video_id()  # (n, video id)
                out["url"] = YOUTUBE_URL.format(id=entry["video"][1])
            else:
                out["url"] = POST_URL.format(platform="youtube", account=account,
                                             post_id=self.publishing.post_id_for(key))
        with self._lock:
            self._uploads[upload_id] = entry
            while len(self._uploads) > PENDING_UPLOADS:
                self._uploads.popitem(last=False)
        return out

    async def post(self, request: Request, studio: Studio) -> Response:
        try:
            if await self.web.session_user(request) is None:
                raise ApiError(401, "login_required", "log in again")
            body = parse_json_object(await read_body(request, JSON_BODY_LIMIT))  # the sandbox's one decoder
            out = await run_in_threadpool(self._post, studio, body)
        except ApiError as exc:
            return json_response(exc.status, exc.body(), exc.headers)
        return json_response(200, out)

    def _post(self, studio: Studio, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            entry = self._uploads.get(str(body.get("upload_id")))
        if entry is None or entry["studio"] != studio.key:
            raise bad_request("the upload is unknown or expired; upload the video again", field="upload_id",
                              code="unknown_upload")
        fields = _fields(studio.key, body)
        account = (self.config.accounts.get(studio.key) or ["main"])[0]
        checked = self.publishing.post_fields({"idempotency_key": entry["key"], "platform": studio.key,
                                               "account": account, **fields}, with_media=False)
        if "video" in entry:
            stored = self._youtube_video(entry, account, body, checked)
        else:
            stored, _created = self.publishing.store_post({**checked, "media_id": entry["media_id"]})
        p = self.links.of(self.publishing.public_post(stored))
        # the answer names the post as the platform does: its public id and link
        return {"post_id": p["public_id"] or p["post_id"], **{k: p[k] for k in ("url", "status", "live_at")}}

    def _youtube_video(self, entry: dict[str, Any], account: str, body: dict[str, Any],
                       checked: dict[str, Any]) -> dict[str, Any]:
        """The uploaded video as a video of the channel, through the YouTube dialect's own code path
        (youtube_uploads.record_video: the video record, its uploads list entry, its sandbox post); its
        metadata checked by the Data API's rules. Studio has processed and checked the video while the page
        was filled in ("Checks complete"), so it is public (or scheduled) as soon as it is published."""
        yt = self.links.youtube
        n, video_id = entry["video"]
        meta = yt.validate_metadata(youtube_metadata(body, checked), ["snippet", "status"])
        media = self.publishing.state.get_media(entry["media_id"])
        if media is None:
            raise bad_request("the upload is unknown or expired; upload the video again", field="upload_id",
                              code="unknown_upload")
        record = yt.record_video(NewVideo(n, video_id, account, meta, int(media["bytes"]), media,
                                          key=entry["key"], caption=checked["caption"], processing_s=0.0))
        return self.publishing.require_post(record["post_id"])


def youtube_metadata(body: dict[str, Any], checked: dict[str, Any]) -> dict[str, Any]:
    """The Studio page's fields as the Data API's insert metadata: a scheduled video is private until its
    publishAt (Studio's Schedule, like status.publishAt), else the visibility chosen."""
    description = str(body.get("description") or "").strip()
    schedule = checked["scheduled_at"]
    status: dict[str, Any] = {"privacyStatus": "private" if schedule else str(body["visibility"]).lower(),
                              "selfDeclaredMadeForKids": body.get("made_for_kids") == "VIDEO_MADE_FOR_KIDS_MFK"}
    if schedule:
        status["publishAt"] = iso(schedule)
    return {"snippet": {"title": str(body.get("title") or "").strip(), "description": description,
                        "tags": list(checked["hashtags"])}, "status": status}


def _text(body: dict[str, Any], name: str, max_len: int, required: bool = False) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise bad_request(f"{name} must be text", field=name, code="invalid_field")
    value = value.strip()
    if required and not value:
        raise bad_request(f"{name} is required", field=name, code="missing_field")
    if len(value) > max_len:
        raise bad_request(f"{name} is longer than {max_len} characters", field=name, code="invalid_field")
    return value


def _fields(site: str, body: dict[str, Any]) -> dict[str, Any]:
    """The post's caption, hashtags and go-live time from a page's fields, checked like the real page does."""
    schedule = _text(body, "schedule", 40) or None
    if site == "youtube":
        title = _text(body, "title", 100, required=True)
        if "<" in title or ">" in title:
            raise bad_request("the title cannot contain < or >", field="title", code="invalid_field")
        description = _text(body, "description", 5000)
        if body.get("made_for_kids") not in ("VIDEO_MADE_FOR_KIDS_MFK", "VIDEO_MADE_FOR_KIDS_NOT_MFK"):
            raise bad_request("say whether the video is made for kids", field="made_for_kids", code="missing_field")
        tags = body.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags) or sum(map(len, tags)) > 500:
            raise bad_request("tags must be a list of at most 500 characters", field="tags", code="invalid_field")
        if body.get("visibility") not in VISIBILITIES["youtube"]:
            raise bad_request("choose a visibility", field="visibility", code="missing_field")
        caption = title + ("\n" + description if description else "")
        return {"caption": caption, "hashtags": list(dict.fromkeys(tags)), "scheduled_at": schedule}
    caption = _text(body, "caption", 4000 if site == "tiktok" else 2200)
    if site == "tiktok" and body.get("visibility") not in VISIBILITIES["tiktok"]:
        raise bad_request("choose who can watch this video", field="visibility", code="missing_field")
    if site == "instagram" and schedule:
        raise bad_request("posts cannot be scheduled here", field="schedule", code="invalid_field")
    hashtags = list(dict.fromkeys(_HASHTAG.findall(caption)))[:60]
    return {"caption": caption, "hashtags": hashtags, "scheduled_at": schedule}
