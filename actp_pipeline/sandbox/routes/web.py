"""The sandbox's web upload site: what a creator's browser sees, for the Playwright uploader to drive.

Server-rendered HTML, no JavaScript. Routes (all HTML; errors are HTML pages with an element id="error"; the
copies of TikTok Studio, YouTube Studio and Instagram's upload pages, with their script, live in web_studio.py):

    GET  /web                      -> 303 /web/upload
    GET  /web/login                login form (#username, #password, #submit)
    POST /web/login                urlencoded username/password[/next] -> 303 to /web/upload (or `next`) with a
                                   session cookie; wrong credentials -> 401 login page with #error; more
                                   than 5 failures a minute for one username (20 for one address) -> 429
                                   login page with Retry-After (throttle.py)
    POST /web/logout               ends the session -> 303 /web/login
    GET  /web/upload               upload form (session required, else 303 /web/login?next=/web/upload):
                                   #video (file), #caption, #hashtags (space separated), #platform, #account,
                                   #idempotency_key, #scheduled_at (optional, ISO 8601), #submit
    POST /web/upload               multipart/form-data, streamed with the sandbox's upload size limit; runs the
                                   code paths every dialect's upload runs (PyAV decode, one post per
                                   idempotency key, a replay counts a create call) -> 303 /web/posts/{post_id}
    GET  /web/posts/{post_id}      confirmation page: #post-id, #post-url (a link to the post), #live-at,
                                   #status, #idempotency-key, #platform, #account
    GET  /web/posts[?idempotency_key=K]
                                   the posts with that key (or the latest 50): one li.post per post with
                                   data-post-id, data-url, data-live-at, data-status, data-idempotency-key

The session cookie (`actp_session`, HttpOnly, SameSite=Lax, Path=/web) holds a random token; the state
stores only its SHA-256, so sessions survive a restart with the same state file. Sessions expire after
`WorldConfig.web_session_ttl_s` wall-clock seconds (not simulated time: advancing the simulated clock by
a week must not log the browser out). Logins are counted in the state (`login_count()`).
"""


from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from typing import Any, Callable
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import clock as real_time
from ..errors import ApiError, bad_request
from ..public_links import PublicLinks
from ..publishing import Publishing
from ..throttle import LoginThrottle
from ..transport import (
    Dialect,
    drain,
    html_response,
    media_type,
    query_one,
    read_body,
    route,
    shielded,
)
from . import web_pages as pages
from .upload_form import MAX_PARTS, copy_with_digest, file_field, read_upload_form, text_fields
from .web_studio import StudioSites

COOKIE = "actp_session"
FORM_OVERHEAD_BYTES = 1024 * 1024  # room for the text fields and part headers next to the video
LOGIN_BODY_LIMIT = 64 * 1024
RECENT_POSTS = 50
LoginPage = Callable[[str, ApiError, str], str]  # (next path, error, username) -> the login page's HTML


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


# A redirect target is a path on this site: "/" then only URL-safe ASCII (no CR/LF or other control
# characters that would split the Location header, no backslash, no "//" that a browser reads as a host).
_SAFE_PATH = re.compile(r"/web/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*", re.ASCII)


def _safe_next(value: str | None, default: str = "/web/upload") -> str:
    """Where to go after logging in: a path of this site only (no open redirect, no header injection)."""
    if value and _SAFE_PATH.fullmatch(value) and not value.startswith("//"):
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc:
            return value
    return default


class WebSite:
    """The HTML upload site on a sandbox's posting platform (same world, state and clock as every dialect)."""

    def __init__(self, publishing: Publishing, wall_clock: Callable[[], float] | None = None,
                 links: PublicLinks | None = None):
        self.publishing = publishing
        # the platforms' own links and ids of posts, for the studio copies (the generic form shows the sandbox's)
        self.links = links if links is not None else PublicLinks()
        self.config = publishing.config
        self.state = publishing.state
        self.wall_clock = wall_clock or real_time.wall_time  # session expiry is wall time; replaceable in tests
        self.throttle = LoginThrottle()
        self._users = {u.encode("utf-8"): pw.encode("utf-8") for u, pw in self.config.web_users.items()}

    def dialect(self) -> Dialect:
        def html(handler: Callable[[Request], Any]):
            return shielded(handler)

        routes = [
            route("/web", {"GET": html(self.home)}),
            route("/web/login", {"GET": html(self.login_form), "POST": html(self.login)}),
            route("/web/logout", {"POST": html(self.logout)}),
            route("/web/upload", {"GET": html(self.upload_form), "POST": html(self.upload)}),
            route("/web/posts", {"GET": html(self.posts)}),
            route("/web/posts/{post_id}", {"GET": html(self.post_page)}),
            *StudioSites(self).routes(),  # the copies of TikTok Studio, YouTube Studio and Instagram (web_studio.py)
        ]
        return Dialect("/web", routes, render_error=lambda request, exc: self.error_page(exc))

    # ---------------------------------------------------------------------------------- helpers
    @staticmethod
    def _html(status: int, html: str, headers: dict[str, str] | None = None) -> Response:
        return html_response(status, html, {**pages.SECURITY_HEADERS, **(headers or {})})

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> Response:
        return self._html(303, pages.redirect_html(location), {"Location": location, **(headers or {})})

    @staticmethod
    def safe_next(value: str | None, default: str = "/web/upload") -> str:
        return _safe_next(value, default)

    def error_page(self, exc: ApiError) -> Response:
        """Any ApiError raised under /web as an HTML page with the same status and an #error element."""
        return self._html(exc.status, pages.error_page_html(exc), exc.headers)

    def login_count(self) -> int:
        """How many successful logins the site has seen (kept in the state)."""
        return int(self.state.get_meta("web_logins") or 0)

    def _session_user(self, request: Request) -> str | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        row = self.state.get_web_session(_token_hash(token))
        if row is None or row["expires_at"] <= self.wall_clock():
            return None
        if row["username"] not in self.config.web_users:  # the user was removed from the config
            return None
        return str(row["username"])

    async def session_user(self, request: Request) -> str | None:
        return await run_in_threadpool(self._session_user, request)

    def _login_redirect(self, request: Request) -> Response:
        query = request.query_params.multi_items()
        here = request.url.path + ("?" + urlencode(query) if query and request.method == "GET" else "")
        return self._redirect("/web/login?next=" + quote(here, safe="/"))

    # ------------------------------------------------------------------------------------ login
    async def home(self, request: Request) -> Response:
        return self._redirect("/web/upload")

    async def login_form(self, request: Request) -> Response:
        return self._html(200, pages.login_html(_safe_next(query_one(request, "next"))))

    async def login(self, request: Request, render: LoginPage | None = None, default_next: str = "/web/upload",
                    names: tuple[str, str] = ("username", "password")) -> Response:
        """POST of a login form (this site's, or a studio copy's with its own `render` of a failed login)."""
        if media_type(request.headers.get("Content-Type")) != "application/x-www-form-urlencoded":
            raise ApiError(415, "unsupported_form", "the login form must be application/x-www-form-urlencoded",
                           field="Content-Type")
        raw = await read_body(request, LOGIN_BODY_LIMIT)
        try:
            pairs = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_PARTS)
        except (UnicodeDecodeError, ValueError):
            raise bad_request("the form is not UTF-8", field="body", code="invalid_form") from None
        form = {k: v[0] for k, v in pairs.items()}  # the first value of each name wins
        form["username"], form["password"] = form.get(names[0], ""), form.get(names[1], "")  # a copy's own names
        address = request.client.host if request.client else ""
        return await run_in_threadpool(self._log_in, form, address, render, default_next)

    def _log_in(self, form: dict[str, str], address: str = "", render: LoginPage | None = None,
                default_next: str = "/web/upload") -> Response:
        username, password = form.get("username", ""), form.get("password", "")
        nxt = _safe_next(form.get("next"), default_next)
        render = render or (lambda n, e, u: pages.login_html(n, e, u))
        wait = self.throttle.retry_after(username, address)
        if wait:  # checked before the password: a throttled guesser learns nothing, even when right
            err = ApiError(429, "too_many_attempts", f"too many failed logins; try again in {wait} seconds")
            return self._html(429, render(nxt, err, username), {"Retry-After": str(wait)})
        expected = self._users.get(username.encode("utf-8", "surrogateescape"))
        given = password.encode("utf-8", "surrogateescape")
        # compare even for an unknown user, so timing does not tell which usernames exist
        ok = hmac.compare_digest(given, expected if expected is not None else b"\0" * 32) and expected is not None
        if not ok:
            self.throttle.failed(username, address)
            self.state.increment_meta("web_login_failures")
            err = ApiError(401, "invalid_credentials", "wrong username or password")
            return self._html(401, render(nxt, err, username))
        token = secrets.token_urlsafe(32)
        now = self.wall_clock()
        ttl = float(self.config.web_session_ttl_s)
        self.state.create_web_session(_token_hash(token), username, now, now + ttl)
        self.state.increment_meta("web_logins")
        cookie = f"{COOKIE}={token}; Path=/web; Max-Age={max(1, math.ceil(ttl))}; HttpOnly; SameSite=Lax"
        return self._redirect(nxt, {"Set-Cookie": cookie})

    async def logout(self, request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        if token:
            await run_in_threadpool(self.state.delete_web_session, _token_hash(token))
        return self._redirect("/web/login", {"Set-Cookie": f"{COOKIE}=; Path=/web; Max-Age=0; HttpOnly; SameSite=Lax"})

    # ----------------------------------------------------------------------------------- upload
    async def upload_form(self, request: Request) -> Response:
        user = await self.session_user(request)
        if user is None:
            return self._login_redirect(request)
        accounts = list(dict.fromkeys(a for p in self.config.platforms for a in self.config.accounts.get(p, [])))
        return self._html(200, pages.upload_html(user, self.config.platforms, accounts))

    async def upload(self, request: Request) -> Response:
        max_file = int(self.config.max_upload_bytes)
        limit = max_file + FORM_OVERHEAD_BYTES
        if await self.session_user(request) is None:
            await drain(request, limit)  # a browser still sending its upload would not see an early answer
            return self._login_redirect(request)
        form = await read_upload_form(request, limit, max_file)
        try:
            post_id = await run_in_threadpool(self._post_upload, text_fields(form), file_field(form, "video"))
        finally:
            await form.close()
        return self._redirect(f"/web/posts/{quote(post_id, safe='')}")

    def _post_upload(self, fields: dict[str, str], video: Any) -> str:
        """The media and post code paths of every dialect for one form; the fields are checked before
        the video is decoded, so a form error costs no decode."""
        body: dict[str, Any] = {}
        for name in ("idempotency_key", "platform", "account", "scheduled_at"):
            value = fields.get(name, "").strip()
            if value:  # an empty form field is a missing one
                body[name] = value
        body["caption"] = fields.get("caption", "").replace("\r\n", "\n")  # browsers send CRLF line breaks
        body["hashtags"] = fields.get("hashtags", "").split()
        checked = self.publishing.post_fields(body, with_media=False)
        if video is None or not video.size:
            raise bad_request("video is required: choose an MP4 file", field="video", code="missing_field")
        tmp = self.publishing.media_tempfile()
        try:
            size, sha = copy_with_digest(video.file, tmp)
            media = self.publishing.keep_media(tmp, size, sha, "video")
        finally:
            tmp.unlink(missing_ok=True)
        stored, _created = self.publishing.store_post({**checked, "media_id": media["media_id"]})
        return str(stored["post_id"])

    # ------------------------------------------------------------------------------------ posts
    async def post_page(self, request: Request) -> Response:
        user = await self.session_user(request)
        if user is None:
            return self._login_redirect(request)
        post_id = request.path_params["post_id"]
        p = await run_in_threadpool(lambda: self.publishing.public_post(self.publishing.require_post(post_id)))
        return self._html(200, pages.post_html(user, p))

    async def posts(self, request: Request) -> Response:
        user = await self.session_user(request)
        if user is None:
            return self._login_redirect(request)
        key = query_one(request, "idempotency_key")
        return self._html(200, pages.posts_html(user, await run_in_threadpool(self._posts, key)))

    def _posts(self, key: str | None) -> list[dict[str, Any]]:
        if key:
            found = self.state.get_post_by_key(key)
            items = [found] if found else []
        else:
            items = self.state.recent_posts(RECENT_POSTS)
        now = self.publishing.clock.now()
        return [self.publishing.public_post(post, now) for post in items]
