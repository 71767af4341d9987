"""The sandbox as one ASGI app: its domain services (publishing, ads objects, ads world, web site) and
the Starlette app that routes every dialect to them.

`SandboxAPI` is what uvicorn serves. It dispatches each request to `self.app`, looked up per request, so
a test can wrap the app (inject a fault, observe a request) on a running server.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .ads_objects import AdsObjects
from .ads_world import AdsWorld
from .clock import SimClock
from .errors import ApiError
from .oauth import OAuthServer, swap_bearer
from .paid_traffic import PaidTraffic
from .public_links import PublicLinks
from .publishing import Publishing
from .traffic import Traffic
from .routes.ads import graph_dialect
from .routes.ad_archive import ad_archive_routes
from .routes.ayrshare import ayrshare_dialect
from .routes.chat import chat_dialect
from .routes.clock import clock_routes
from .routes.market import market_routes
from .routes.market_pages import market_page_routes
from .routes.oauth import oauth_dialects
from .routes.traffic import traffic_routes
from .routes.truth import truth_routes
from .routes.tiktok import tiktok_dialect
from .routes.tiktok_ads import tiktok_ads_dialect
from .routes.web import WebSite
from .routes.youtube import youtube_dialect
from .state import SandboxState
from .transport import Auth, Dialect
from .world import World


class SandboxAPI:
    """Every route of the sandbox over one world, state and clock."""

    def __init__(self, world: World, state: SandboxState, clock: SimClock):
        self.world = world
        self.config = world.config
        self.state = state
        self.clock = clock
        self.auth = Auth(self.config.api_keys, self.config.truth_token)
        self.publishing = Publishing(world, state, clock)
        self.ads_world = AdsWorld(world, state, clock)
        self.ads_objects = AdsObjects(state, clock)
        graph = graph_dialect(self.ads_objects, self.ads_world, self.auth, self.publishing)
        graph.routes[:0] = ad_archive_routes(world, self.auth, clock)  # Ad Library, ahead of Graph's catch-all
        youtube = youtube_dialect(self.publishing, self.auth)
        tiktok = tiktok_dialect(self.publishing, self.auth)
        # a post's public link and id on its platform, as that platform's dialect knows the post: what the
        # studio copies show (a browser reads the same id the platform's API measures) and the truth names
        links = PublicLinks(tiktok=tiktok.service, youtube=youtube.service, instagram=graph.service.instagram)
        self.web = WebSite(self.publishing, links=links)
        # the sandbox's own endpoints (no platform has them): health, the simulated clock, the research feeds
        # (until real research sources replace them) and the ground truth
        self.traffic = Traffic(self.publishing)  # visitors of the tracked links in posts' captions
        self.traffic.paid = PaidTraffic(self.ads_world, self.traffic.funnel)  # and of the ads' tracked links
        own = [*clock_routes(clock), *market_routes(world, self.auth),
               *truth_routes(self.publishing, self.ads_world, self.auth, public_id=links.public_id),
               *traffic_routes(self.traffic, self.auth)]
        own += market_page_routes(world, self.auth)  # the market as a web page, and robots.txt
        self.oauth = OAuthServer(self.config, state, clock)  # tokens minted by the OAuth routes
        self.auth.grants = self.oauth
        # the OAuth dialects first: their paths sit under TikTok's /v2 and Graph's catch-all
        self.dialects = [*oauth_dialects(self.oauth, clock), Dialect("/sandbox", own), graph, self.web.dialect(),
                         youtube, tiktok, ayrshare_dialect(self.publishing, self.auth),
                         tiktok_ads_dialect(self.ads_objects, self.ads_world, self.auth, self.publishing)]
        self.dialects.append(chat_dialect(self.auth, clock))  # /v1/chat/completions: an OpenAI-compatible model
        self.fallback = Dialect("", [])
        self.app: Any = Starlette(
            routes=[r for d in self.dialects for r in d.routes],
            exception_handlers={ApiError: self._api_error, HTTPException: self._http_error,
                                Exception: self._unexpected},
        )
        self.app.router.redirect_slashes = False  # a trailing slash is the same path (see __call__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"].rstrip("/") or "/"
            if path != scope["path"]:
                raw = (scope.get("raw_path") or path.encode("utf-8")).rstrip(b"/") or b"/"
                scope = {**scope, "path": path, "raw_path": raw}
            scope = swap_bearer(scope, self.auth.minted, self.config.api_keys)  # a live minted OAuth token
        await self.app(scope, receive, send)

    def dialect_of(self, path: str) -> Dialect:
        return next((d for d in self.dialects if d.owns(path)), self.fallback)

    async def _api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return self.dialect_of(request.url.path).render_error(request, exc)

    async def _unexpected(self, request: Request, exc: Exception) -> Response:
        """The last resort: a bug outside a shielded endpoint (routing, middleware) is still a 500 in the
        dialect's error shape, not a bare text page; the traceback goes to stderr."""
        sys.stderr.write(f"actp sandbox: unexpected error on {request.method} {request.url.path}\n"
                         f"{''.join(traceback.format_exception(exc))}")
        err = ApiError(500, "internal", "internal sandbox error")
        return self.dialect_of(request.url.path).render_error(request, err)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        """Routing errors (no route, wrong method) in the dialect of the path."""
        assert isinstance(exc, HTTPException)
        dialect = self.dialect_of(request.url.path)
        if exc.status_code == 404:
            err = dialect.no_route(request)
        elif exc.status_code == 405:
            allowed = ", ".join(sorted(m.strip() for m in (exc.headers or {}).get("Allow", "").split(",")
                                       if m.strip() and m.strip() != "HEAD"))
            err = ApiError(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}; "
                           f"use {allowed}", headers={"Allow": allowed})
        else:
            err = ApiError(exc.status_code, "http_error", str(exc.detail))
        return dialect.render_error(request, err)
