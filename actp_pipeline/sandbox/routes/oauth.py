"""The OAuth routes of TikTok, Google and Meta at their real paths (what they do, and how they differ from
the platforms: sandbox/oauth.py). Three small dialects, registered before the API dialects in app.py so
their paths (and their errors) are theirs: /v2/auth and /v2/oauth under TikTok's /v2, /graph/v<X.Y>/oauth
under Graph's catch-all.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..clock import SimClock
from ..errors import ApiError
from ..graph import GraphError
from ..oauth import OAuthError, OAuthServer
from ..transport import (
    Dialect,
    endpoint,
    html_response,
    json_response,
    media_type,
    route,
)

FORM_LIMIT = 16 * 1024
_VERSION = re.compile(r"^v\d+\.\d+$")


@dataclass(frozen=True)
class OAuthDialect(Dialect):
    """A dialect that owns only its listed path prefixes (or a matcher), not everything under `prefix`."""

    match: tuple[str, ...] = ()
    pattern: str | None = None

    def owns(self, path: str) -> bool:
        if self.pattern is not None and re.match(self.pattern, path):
            return True
        return any(path == p or path.startswith(p + "/") for p in self.match)


def _form(request: Request, body: bytes) -> dict[str, str]:
    if media_type(request.headers.get("Content-Type")) not in ("application/x-www-form-urlencoded", ""):
        raise OAuthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise OAuthError(400, "invalid_request", "the body is not UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _as_oauth(exc: ApiError) -> OAuthError:
    if isinstance(exc, OAuthError):
        return exc
    error = "invalid_client" if exc.status == 401 else "server_error" if exc.status >= 500 else "invalid_request"
    return OAuthError(exc.status, error, exc.message)


def consent_page(platform: str, request: Request) -> Response:
    """SANDBOX ONLY: a consent page with Approve/Deny links (the same URL with approve=1 / approve=0)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "approve"]
    approve = html.escape(f"{request.url.path}?{urlencode(query + [('approve', '1')])}")
    deny = html.escape(f"{request.url.path}?{urlencode(query + [('approve', '0')])}")
    return html_response(200, f"<!doctype html><title>ACTP sandbox: authorize</title>"
                              f"<h1>ACTP sandbox: {html.escape(platform)} authorization (not a real login)</h1>"
                              f"<p><a id=approve href=\"{approve}\">Approve</a> <a id=deny href=\"{deny}\">Deny</a></p>")


def tiktok_error(clock: SimClock):
    """TikTok's OAuth error struct: {"error", "error_description", "log_id"}."""

    def render(request: Request, exc: ApiError) -> Response:
        err = _as_oauth(exc)
        log_id = clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()
        return json_response(err.status, {"error": err.error, "error_description": err.description,
                                          "log_id": log_id}, exc.headers)

    return render


def google_error(request: Request, exc: ApiError) -> Response:
    err = _as_oauth(exc)
    return json_response(err.status, {"error": err.error, "error_description": err.description}, exc.headers)


def meta_error(request: Request, exc: ApiError) -> Response:
    """Graph's error shape (OAuthException with a code)."""
    if isinstance(exc, GraphError):
        return json_response(exc.status, exc.body(), exc.headers)
    err = _as_oauth(exc)
    graph = GraphError(err.description, code=err.graph_code, subcode=None, status=400 if err.status < 500
                       else err.status)
    return json_response(graph.status, graph.body(), exc.headers)


def oauth_dialects(server: OAuthServer, clock: SimClock) -> list[Dialect]:
    def authorize(platform: str):
        def handle(request: Request, body: bytes, **_: str) -> Response:
            params = dict(request.query_params)
            if platform == "meta" and not _VERSION.match(request.path_params.get("version", "")):
                raise OAuthError(404, "invalid_request", f"no route for {request.url.path}")
            if params.get("approve") not in ("0", "1"):
                server.authorize(platform, {**params, "approve": "0"})  # refuse a bad request before the page
                return consent_page(platform, request)
            return RedirectResponse(server.authorize(platform, params), status_code=302,
                                    headers={"Cache-Control": "no-store"})
        return endpoint(handle)

    def token(platform: str):
        def handle(request: Request, body: bytes) -> Response:
            form = _form(request, body)
            grant = form.get("grant_type")
            if grant == "authorization_code":
                answer = server.exchange_code(platform, form)
            elif grant == "refresh_token":
                answer = server.refresh(platform, form)
            else:
                raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
            return json_response(200, answer)
        return endpoint(handle, body_limit=FORM_LIMIT)

    def revoke(platform: str):
        def handle(request: Request, body: bytes) -> Response:
            form = {**dict(request.query_params), **_form(request, body)}
            server.revoke(platform, form)
            return json_response(200, {})
        return endpoint(handle, body_limit=FORM_LIMIT)

    def meta_access_token(request: Request, body: bytes, version: str) -> Response:
        if not _VERSION.match(version):
            raise OAuthError(404, "invalid_request", f"no route for {request.url.path}")
        params = dict(request.query_params)
        if params.get("grant_type") == "fb_exchange_token":
            return json_response(200, server.fb_exchange(params))
        if not params.get("code"):
            raise OAuthError(400, "invalid_request", "Missing authorization code (or grant_type=fb_exchange_token)")
        return json_response(200, server.exchange_code("meta", {**params, "grant_type": "authorization_code"}))

    tiktok = OAuthDialect("/v2/oauth", [
        route("/v2/auth/authorize", {"GET": authorize("tiktok")}),
        route("/v2/oauth/token", {"POST": token("tiktok")}),
        route("/v2/oauth/revoke", {"POST": revoke("tiktok")}),
    ], render_error=tiktok_error(clock), match=("/v2/oauth", "/v2/auth"))
    google = OAuthDialect("/token", [
        route("/o/oauth2/v2/auth", {"GET": authorize("youtube")}),
        route("/token", {"POST": token("youtube")}),
        route("/revoke", {"POST": revoke("youtube")}),
    ], render_error=google_error, match=("/token", "/revoke", "/o/oauth2"))
    meta = OAuthDialect("/graph", [
        route("/graph/{version}/oauth/access_token", {"GET": endpoint(meta_access_token)}),
        route("/{version}/dialog/oauth", {"GET": authorize("meta")}),
    ], render_error=meta_error, pattern=r"^(/graph)?/v\d+\.\d+/(oauth|dialog)(/|$)")
    return [tiktok, google, meta]
