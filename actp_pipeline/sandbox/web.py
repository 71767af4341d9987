"""The sandbox's web upload site: what a creator's browser sees, for the Playwright uploader to drive.

Server-rendered HTML, no JavaScript. Routes (all HTML; errors are HTML pages with an element id="error"):

    GET  /web                      -> 303 /web/upload
    GET  /web/login                login form (#username, #password, #submit)
    POST /web/login                urlencoded username/password[/next] -> 303 to /web/upload (or `next`) with a
                                   session cookie; wrong credentials -> 401 login page with #error
    POST /web/logout               ends the session -> 303 /web/login
    GET  /web/upload               upload form (session required, else 303 /web/login?next=/web/upload):
                                   #video (file), #caption, #hashtags (space separated), #platform, #account,
                                   #idempotency_key, #scheduled_at (optional, ISO 8601), #submit
    POST /web/upload               multipart/form-data, streamed with the same size limit as /v1/media; runs the
                                   code paths of POST /v1/media and POST /v1/posts (PyAV decode, one post per
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
import secrets
import time
from html import escape
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote, urlencode, urlsplit

from . import forms
from .api import Request, Response, query_one
from .errors import ApiError, bad_request

if TYPE_CHECKING:
    from .api import SandboxAPI

COOKIE = "actp_session"
FORM_OVERHEAD_BYTES = 1024 * 1024  # room for the text fields and part headers next to the video
LOGIN_BODY_LIMIT = 64 * 1024
RECENT_POSTS = 50
HTML = "text/html; charset=utf-8"
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input,textarea,select{width:100%;box-sizing:border-box;padding:.4rem;font:inherit}
textarea{min-height:6rem}
button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit}
#error{color:#a00;background:#fee;padding:.6rem;border:1px solid #e99}
header{display:flex;justify-content:space-between;align-items:center}
header form button{margin:0}
dt{font-weight:600}
"""


def _page(title: str, body: str, user: str | None = None) -> str:
    header = ""
    if user is not None:
        header = (f'<header><span id="user">Signed in as {escape(user)}</span>'
                  '<form method="post" action="/web/logout"><button type="submit" id="logout">Log out</button>'
                  "</form></header>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · ACTP sandbox'
            f"</title><style>{_STYLE}</style></head><body>{header}<main><h1>{escape(title)}</h1>{body}</main>"
            "</body></html>")


def _error_html(exc: ApiError) -> str:
    field = f' data-field="{escape(exc.field)}"' if exc.field else ""
    label = f"<strong>{escape(exc.field)}</strong>: " if exc.field else ""
    return f'<p id="error" role="alert" data-code="{escape(exc.code)}"{field}>{label}{escape(exc.message)}</p>'


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _cookie_value(header: str | None, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def _safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirects)."""
    if value and value.startswith("/web/") and not value.startswith("//") and "\\" not in value:
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc:
            return value
    return "/web/upload"


class WebSite:
    """The HTML upload site mounted on a SandboxAPI (same world, state and clock)."""

    def __init__(self, api: SandboxAPI, wall_clock: Callable[[], float] = time.time):
        self.api = api
        self.config = api.config
        self.state = api.state
        self.wall_clock = wall_clock  # session expiry is wall time; replaceable in tests
        self._users = {u.encode("utf-8"): pw.encode("utf-8") for u, pw in self.config.web_users.items()}

    def routes(self) -> dict[str, dict[str, Callable[..., Response]]]:
        return {
            r"/web": {"GET": self.home},
            r"/web/login": {"GET": self.login_form, "POST": self.login},
            r"/web/logout": {"POST": self.logout},
            r"/web/upload": {"GET": self.upload_form, "POST": self.upload},
            r"/web/posts": {"GET": self.posts},
            r"/web/posts/(?P<post_id>[^/]+)": {"GET": self.post_page},
        }

    # ---------------------------------------------------------------------------------- helpers
    @staticmethod
    def _html(status: int, html: str, headers: dict[str, str] | None = None) -> Response:
        return Response(status, html, {**_SECURITY_HEADERS, **(headers or {})}, content_type=HTML)

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> Response:
        body = _page("Redirecting", f'<p><a href="{escape(location)}">Continue</a></p>')
        return self._html(303, body, {"Location": location, **(headers or {})})

    def error_page(self, exc: ApiError) -> Response:
        """Any ApiError raised under /web/ as an HTML page with the same status and an #error element."""
        body = _error_html(exc) + '<p><a id="back" href="/web/upload">Back to the upload form</a></p>'
        return self._html(exc.status, _page("Something went wrong", body), exc.headers)

    def login_count(self) -> int:
        """How many successful logins the site has seen (kept in the state)."""
        return int(self.state.get_meta("web_logins") or 0)

    def session_user(self, req: Request) -> str | None:
        token = _cookie_value(req.headers.get("Cookie"), COOKIE)
        if not token:
            return None
        row = self.state.get_web_session(_token_hash(token))
        if row is None or row["expires_at"] <= self.wall_clock():
            return None
        if row["username"] not in self.config.web_users:  # the user was removed from the config
            return None
        return str(row["username"])

    def _login_redirect(self, req: Request) -> Response:
        here = req.path + ("?" + urlencode(req.query, doseq=True) if req.query and req.method == "GET" else "")
        return self._redirect("/web/login?next=" + quote(here, safe="/"))

    # ------------------------------------------------------------------------------------ login
    def home(self, req: Request) -> Response:
        return self._redirect("/web/upload")

    def _login_html(self, next_path: str, error: ApiError | None = None, username: str = "") -> str:
        body = (
            (_error_html(error) if error else "")
            + '<form method="post" action="/web/login" id="login-form">'
            f'<input type="hidden" name="next" value="{escape(next_path)}">'
            '<label for="username">Username</label>'
            f'<input id="username" name="username" autocomplete="username" required value="{escape(username)}">'
            '<label for="password">Password</label>'
            '<input id="password" name="password" type="password" autocomplete="current-password" required>'
            '<button type="submit" id="submit">Log in</button></form>'
        )
        return _page("Log in", body)

    def login_form(self, req: Request) -> Response:
        nxt = _safe_next(query_one(req, "next"))
        return self._html(200, self._login_html(nxt))

    def login(self, req: Request) -> Response:
        if forms.media_type(req.headers.get("Content-Type")) != "application/x-www-form-urlencoded":
            raise ApiError(415, "unsupported_form", "the login form must be application/x-www-form-urlencoded",
                           field="Content-Type")
        form = forms.parse_urlencoded(req.body.read_all(LOGIN_BODY_LIMIT))
        username, password = form.get("username", ""), form.get("password", "")
        nxt = _safe_next(form.get("next"))
        expected = self._users.get(username.encode("utf-8", "surrogateescape"))
        given = password.encode("utf-8", "surrogateescape")
        # compare even for an unknown user, so timing does not tell which usernames exist
        ok = hmac.compare_digest(given, expected if expected is not None else b"\0" * 32) and expected is not None
        if not ok:
            self.state.increment_meta("web_login_failures")
            err = ApiError(401, "invalid_credentials", "wrong username or password")
            return self._html(401, self._login_html(nxt, err, username))
        token = secrets.token_urlsafe(32)
        now = self.wall_clock()
        ttl = float(self.config.web_session_ttl_s)
        self.state.create_web_session(_token_hash(token), username, now, now + ttl)
        self.state.increment_meta("web_logins")
        cookie = f"{COOKIE}={token}; Path=/web; Max-Age={max(1, math.ceil(ttl))}; HttpOnly; SameSite=Lax"
        return self._redirect(nxt, {"Set-Cookie": cookie})

    def logout(self, req: Request) -> Response:
        token = _cookie_value(req.headers.get("Cookie"), COOKIE)
        if token:
            self.state.delete_web_session(_token_hash(token))
        return self._redirect("/web/login", {"Set-Cookie": f"{COOKIE}=; Path=/web; Max-Age=0; HttpOnly; SameSite=Lax"})

    # ----------------------------------------------------------------------------------- upload
    def upload_form(self, req: Request) -> Response:
        user = self.session_user(req)
        if user is None:
            return self._login_redirect(req)
        platforms = "".join(f'<option value="{escape(p)}">{escape(p)}</option>' for p in self.config.platforms)
        accounts = list(dict.fromkeys(a for p in self.config.platforms for a in self.config.accounts.get(p, [])))
        account_opts = "".join(f'<option value="{escape(a)}">{escape(a)}</option>' for a in accounts)
        body = (
            '<form method="post" action="/web/upload" enctype="multipart/form-data" id="upload-form">'
            '<label for="video">Video (MP4)</label>'
            '<input type="file" name="video" id="video" accept="video/mp4" required>'
            '<label for="caption">Caption</label><textarea name="caption" id="caption"></textarea>'
            '<label for="hashtags">Hashtags (separated by spaces)</label>'
            '<input name="hashtags" id="hashtags" placeholder="#skincare #routine">'
            f'<label for="platform">Platform</label><select name="platform" id="platform">{platforms}</select>'
            f'<label for="account">Account</label><select name="account" id="account">{account_opts}</select>'
            '<label for="idempotency_key">Client reference (one post per reference)</label>'
            '<input name="idempotency_key" id="idempotency_key" required maxlength="200">'
            '<label for="scheduled_at">Go live at (ISO 8601, UTC; empty = now)</label>'
            '<input name="scheduled_at" id="scheduled_at" placeholder="2025-03-01T18:00:00Z">'
            '<button type="submit" id="submit">Post</button></form>'
        )
        return self._html(200, _page("Upload a video", body, user))

    def upload(self, req: Request) -> Response:
        limit = self.api.max_upload_bytes + FORM_OVERHEAD_BYTES
        if self.session_user(req) is None:
            # read and drop the upload first: a browser still sending its body would not see an early answer
            for _ in req.body.chunks(limit):
                pass
            return self._login_redirect(req)
        ctype = req.headers.get("Content-Type")
        forms.boundary_of(ctype)  # 415/400 before anything is read
        parsed: dict[str, Any] = {}
        checked: dict[str, Any] = {}

        def receive(tmp: Any) -> tuple[int, str]:
            fields, files = forms.parse_multipart(ctype, req.body.chunks(limit), file_fields={"video": tmp},
                                                  max_file_bytes=self.api.max_upload_bytes)
            parsed.update(fields=fields, files=files)
            video = files.get("video")
            return (video.size, video.sha256) if video else (0, "")

        def check_fields() -> None:  # before the video is decoded: a form error costs no decode
            fields, video = parsed["fields"], parsed["files"].get("video")
            body: dict[str, Any] = {}
            for name in ("idempotency_key", "platform", "account", "scheduled_at"):
                value = fields.get(name, "").strip()
                if value:  # an empty form field is a missing one
                    body[name] = value
            body["caption"] = fields.get("caption", "").replace("\r\n", "\n")  # browsers send CRLF line breaks
            body["hashtags"] = fields.get("hashtags", "").split()
            checked.update(self.api.post_fields(body, with_media=False))
            if video is None or video.size == 0:
                raise bad_request("video is required: choose an MP4 file", field="video", code="missing_field")

        media = self.api.store_media(receive, what="video", before_probe=check_fields)
        stored, _created = self.api.store_post({**checked, "media_id": media["media_id"]})
        return self._redirect(f"/web/posts/{quote(stored['post_id'], safe='')}")

    # ------------------------------------------------------------------------------------ posts
    def post_page(self, req: Request, post_id: str) -> Response:
        user = self.session_user(req)
        if user is None:
            return self._login_redirect(req)
        p = self.api.public_post(self.api.require_post(post_id), self.api.clock.now())
        url = escape(p["url"])
        tags = " ".join(p["hashtags"])
        body = (
            '<p id="confirmation">Your video is posted.</p><dl>'
            f'<dt>Post</dt><dd id="post-id">{escape(p["post_id"])}</dd>'
            f'<dt>Link</dt><dd><a id="post-url" href="{url}">{url}</a></dd>'
            f'<dt>Live at</dt><dd><time id="live-at" datetime="{escape(p["live_at"])}">{escape(p["live_at"])}</time></dd>'
            f'<dt>Status</dt><dd id="status">{escape(p["status"])}</dd>'
            f'<dt>Platform</dt><dd id="platform">{escape(p["platform"])}</dd>'
            f'<dt>Account</dt><dd id="account">{escape(p["account"])}</dd>'
            f'<dt>Client reference</dt><dd id="idempotency-key">{escape(p["idempotency_key"])}</dd>'
            f'<dt>Caption</dt><dd id="caption" style="white-space:pre-wrap">{escape(p["caption"])}</dd>'
            f'<dt>Hashtags</dt><dd id="hashtags">{escape(tags)}</dd></dl>'
            '<p><a id="another" href="/web/upload">Upload another video</a></p>'
        )
        return self._html(200, _page("Posted", body, user))

    def posts(self, req: Request) -> Response:
        user = self.session_user(req)
        if user is None:
            return self._login_redirect(req)
        key = query_one(req, "idempotency_key")
        if key:
            found = self.state.get_post_by_key(key)
            items = [found] if found else []
        else:
            items = self.state.recent_posts(RECENT_POSTS)
        now = self.api.clock.now()
        rows = []
        for post in items:
            p = self.api.public_post(post, now)
            attrs = " ".join(f'data-{name.replace("_", "-")}="{escape(str(p[name]))}"'
                             for name in ("post_id", "url", "live_at", "status", "idempotency_key"))
            rows.append(f'<li class="post" {attrs}><a href="/web/posts/{quote(p["post_id"], safe="")}">'
                        f'{escape(p["post_id"])}</a> {escape(p["platform"])} @{escape(p["account"])} '
                        f'{escape(p["status"])} {escape(p["live_at"])}</li>')
        listing = f'<ul id="posts">{"".join(rows)}</ul>' if rows else '<p id="no-posts">No posts found.</p>'
        return self._html(200, _page("Posts", listing, user))
