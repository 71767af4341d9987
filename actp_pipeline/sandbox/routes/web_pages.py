"""The HTML of the sandbox's web upload site: server-rendered pages, no JavaScript, every value escaped.

The element ids are the site's contract with the Playwright uploader (publish/browser.py) and the tests.
"""

from __future__ import annotations

from html import escape
from typing import Any, Iterable
from urllib.parse import quote

from ..errors import ApiError

SECURITY_HEADERS = {
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


def page(title: str, body: str, user: str | None = None) -> str:
    header = ""
    if user is not None:
        header = (f'<header><span id="user">Signed in as {escape(user)}</span>'
                  '<form method="post" action="/web/logout"><button type="submit" id="logout">Log out</button>'
                  "</form></header>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · ACTP sandbox'
            f"</title><style>{_STYLE}</style></head><body>{header}<main><h1>{escape(title)}</h1>{body}</main>"
            "</body></html>")


def error_html(exc: ApiError) -> str:
    field = f' data-field="{escape(exc.field)}"' if exc.field else ""
    label = f"<strong>{escape(exc.field)}</strong>: " if exc.field else ""
    return f'<p id="error" role="alert" data-code="{escape(exc.code)}"{field}>{label}{escape(exc.message)}</p>'


def redirect_html(location: str) -> str:
    return page("Redirecting", f'<p><a href="{escape(location)}">Continue</a></p>')


def error_page_html(exc: ApiError) -> str:
    return page("Something went wrong", error_html(exc) + '<p><a id="back" href="/web/upload">Back to the upload form</a></p>')


def login_html(next_path: str, error: ApiError | None = None, username: str = "") -> str:
    body = (
        (error_html(error) if error else "")
        + '<form method="post" action="/web/login" id="login-form">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<label for="username">Username</label>'
        f'<input id="username" name="username" autocomplete="username" required value="{escape(username)}">'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password" required>'
        '<button type="submit" id="submit">Log in</button></form>'
    )
    return page("Log in", body)


def upload_html(user: str, platforms: Iterable[str], accounts: Iterable[str]) -> str:
    platform_opts = "".join(f'<option value="{escape(p)}">{escape(p)}</option>' for p in platforms)
    account_opts = "".join(f'<option value="{escape(a)}">{escape(a)}</option>' for a in accounts)
    body = (
        '<form method="post" action="/web/upload" enctype="multipart/form-data" id="upload-form">'
        '<label for="video">Video (MP4)</label>'
        '<input type="file" name="video" id="video" accept="video/mp4" required>'
        '<label for="caption">Caption</label><textarea name="caption" id="caption"></textarea>'
        '<label for="hashtags">Hashtags (separated by spaces)</label>'
        '<input name="hashtags" id="hashtags" placeholder="#skincare #routine">'
        f'<label for="platform">Platform</label><select name="platform" id="platform">{platform_opts}</select>'
        f'<label for="account">Account</label><select name="account" id="account">{account_opts}</select>'
        '<label for="idempotency_key">Client reference (one post per reference)</label>'
        '<input name="idempotency_key" id="idempotency_key" required maxlength="200">'
        '<label for="scheduled_at">Go live at (ISO 8601, UTC; empty = now)</label>'
        '<input name="scheduled_at" id="scheduled_at" placeholder="2025-03-01T18:00:00Z">'
        '<button type="submit" id="submit">Post</button></form>'
    )
    return page("Upload a video", body, user)


def post_html(user: str, p: dict[str, Any]) -> str:
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
    return page("Posted", body, user)


def posts_html(user: str, posts: list[dict[str, Any]]) -> str:
    rows = []
    for p in posts:
        attrs = " ".join(f'data-{name.replace("_", "-")}="{escape(str(p[name]))}"'
                         for name in ("post_id", "url", "live_at", "status", "idempotency_key"))
        rows.append(f'<li class="post" {attrs}><a href="/web/posts/{quote(p["post_id"], safe="")}">'
                    f'{escape(p["post_id"])}</a> {escape(p["platform"])} @{escape(p["account"])} '
                    f'{escape(p["status"])} {escape(p["live_at"])}</li>')
    listing = f'<ul id="posts">{"".join(rows)}</ul>' if rows else '<p id="no-posts">No posts found.</p>'
    return page("Posts", listing, user)
