"""`actp studio`: the web page growth teams use to watch, approve and steer (Starlette + Jinja2, server-rendered,
no JavaScript needed). It reads the operational store and the warehouse and writes only approvals, settings and
audit rows.

Sessions are Starlette's signed cookies (itsdangerous) keyed by ACTP_STUDIO_SECRET; without it a random key is
made per process, so every session ends when the studio restarts (fail closed, never a key on disk). Cookies are
HttpOnly and SameSite=Strict, and Secure unless the studio is told it is served over plain HTTP on loopback.
"""

from __future__ import annotations

import contextlib
import gc
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actp_pipeline.store.engine import connect_store
from actp_pipeline.store.warehouse import Warehouse
from actp_pipeline.studio import pages
from actp_pipeline.studio.users import authenticate, ensure_first_admin
from actp_pipeline.studio.web import TEMPLATES, Studio, csrf_ok, csrf_token, refusal, render

SESSION_HOURS = 8
# no script from anywhere but the studio, no framing (clickjacking an approve button), no sniffing
HEADERS = [(b"content-security-policy", b"default-src 'self'; img-src 'self' data:; media-src 'self'; "
            b"style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"),
           (b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"same-origin")]


class SecurityHeaders:
    """Adds HEADERS to every answer (a pure ASGI middleware: video bodies stream through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)
        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme): an open redirect would be a phishing aid."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def login_page(request: Request) -> Response:
    return render(request, "login.html", {"next": _safe_next(request.query_params.get("next")), "error": None})


async def login(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return refusal(request, 403, "the login form's CSRF token is missing or wrong: reload the page")
    from starlette.concurrency import run_in_threadpool

    studio: Studio = request.app.state.studio
    result = await run_in_threadpool(authenticate, studio.engine, str(form.get("username", "")),
                                     str(form.get("password", "")))
    nxt = _safe_next(str(form.get("next", "/")))
    if not result.ok:
        error = (f"too many failed logins: try again in {int(result.retry_after_s) + 1} s"
                 if result.reason == "locked" else "wrong user name or password")
        return render(request, "login.html", {"next": nxt, "error": error},
                      status=429 if result.reason == "locked" else 401)
    request.session.clear()  # a new session on login: a token planted before it is worth nothing
    request.session["user"] = result.username
    csrf_token(request)
    return RedirectResponse(nxt, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return refusal(request, 403, "the logout form's CSRF token is missing or wrong")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@contextlib.asynccontextmanager
async def _frozen_heap(app: Starlette) -> AsyncIterator[None]:
    """Move what startup made (pandas, DuckDB, SQLAlchemy, Dagster's modules: millions of objects) out of the
    collector's reach: otherwise a full collection walks them every few requests and a page's p95 doubles
    (benchmarks/studio.py: the Ads page 90 ms at p50, 220-340 ms in a collecting request)."""
    gc.collect()
    gc.freeze()
    yield


def create_app(store_url: str, warehouse_dir: Path, media_dir: Path, data_dir: Path, *,
               secure_cookies: bool = True, secret: str | None = None) -> Starlette:
    """The studio over one store and warehouse. `secure_cookies=False` only for plain HTTP on loopback."""
    engine = connect_store(store_url)
    ensure_first_admin(engine)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    routes = [Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
              Route("/logout", logout, methods=["POST"]), *pages.routes()]
    key = secret or os.environ.get("ACTP_STUDIO_SECRET") or secrets.token_urlsafe(48)
    app = Starlette(routes=routes, lifespan=_frozen_heap, middleware=[
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=key, session_cookie="actp_studio", max_age=SESSION_HOURS * 3600,
                   same_site="strict", https_only=secure_cookies)])
    app.state.studio = Studio(engine=engine, warehouse=Warehouse(warehouse_dir), media_dir=Path(media_dir),
                              data_dir=Path(data_dir), templates=templates)
    return app
