"""The studio's request plumbing: the shared context (store, warehouse, templates), the login guard, the CSRF
check on every form, and the two endpoint shapes every page uses.

Pages stay plain functions: `page(template, build)` renders what `build(studio, access, request)` returns
(run in a thread: the store and DuckDB block); `action(run)` checks the session's CSRF token first, then
lets `run(studio, access, form)` write and answers with a redirect (post/redirect/get) to the URL it returns,
with a one-time message when it returns (url, message). A missing login
redirects to /login, a wrong or missing CSRF token or a role the user lacks is a 403 page, a bad value a 400.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from actp_pipeline.store.warehouse import Warehouse
from actp_pipeline.studio.access import Access, Forbidden
from actp_pipeline.studio.users import roles_of

TEMPLATES = Path(__file__).resolve().parent / "templates"
NAV = (("/", "Creatives"), ("/review", "Review"), ("/ads", "Ads"), ("/learning", "Learning"),
       ("/funnel", "Funnel"), ("/health", "Health"))


@dataclass
class Studio:
    engine: Engine
    warehouse: Warehouse
    media_dir: Path
    data_dir: Path  # the Dagster instance of `actp ui` / `actp demo` lives under it (the last run of each stage)
    templates: Jinja2Templates


def studio_of(request: Request) -> Studio:
    return request.app.state.studio


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made once per session); every form carries it as the field `csrf`."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(request: Request, form: FormData) -> bool:
    sent = form.get("csrf") or request.headers.get("x-csrf-token") or ""
    have = request.session.get("csrf") or ""
    return bool(have) and hmac.compare_digest(str(sent), have)


def current_access(request: Request) -> Access | None:
    """The logged-in user's access, with roles read now (a revoked or disabled user has none: logged out)."""
    name = request.session.get("user")
    if not name:
        return None
    roles = roles_of(studio_of(request).engine, name)
    return Access(name, roles) if roles else None


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    studio = studio_of(request)
    base = {"csrf": csrf_token(request), "nav": NAV, "path": request.url.path,
            "access": getattr(request.state, "access", None), "flash": request.session.pop("flash", None)}
    return studio.templates.TemplateResponse(request, template, {**base, **context}, status_code=status)


def refusal(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


Build = Callable[[Studio, Access, Request], dict[str, Any]]
Run = Callable[[Studio, Access, FormData], "str | tuple[str, str]"]
Handler = Callable[[Request, Access], Awaitable[Response]]


async def _refusing(request: Request, work: Awaitable[Response]) -> Response:
    """`work`'s answer, with a refusal (Forbidden) as 403 and bad input (ValueError) as 400 naming it."""
    try:
        return await work
    except Forbidden as exc:
        return refusal(request, 403, str(exc))
    except ValueError as exc:
        return refusal(request, 400, str(exc))


def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A GET endpoint for a logged-in user (anyone else goes to the login page and comes back)."""
    async def endpoint(request: Request) -> Response:
        access = current_access(request)
        if access is None:
            return _login_redirect(request)
        request.state.access = access
        return await _refusing(request, handler(request, access))
    return endpoint


def page(template: str, build: Build) -> Callable[[Request], Awaitable[Response]]:
    """A GET endpoint rendering `template` with what `build` returns, for a logged-in user."""
    async def handler(request: Request, access: Access) -> Response:
        context = await run_in_threadpool(build, studio_of(request), access, request)
        return render(request, template, context)
    return guarded(handler)


def action(run: Run) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint: login, then the CSRF token, then `run`, which writes and returns where to go next."""
    async def endpoint(request: Request) -> Response:
        access = current_access(request)
        if access is None:
            return refusal(request, 403, "log in first")
        request.state.access = access
        form = await request.form()
        if not csrf_ok(request, form):
            return refusal(request, 403, "the form's CSRF token is missing or wrong: reload the page and try again")

        async def run_then_redirect() -> Response:  # post/redirect/get, with the action's one-time message
            done = await run_in_threadpool(run, studio_of(request), access, form)
            target, message = done if isinstance(done, tuple) else (done, None)
            if message:
                request.session["flash"] = message
            return RedirectResponse(target, status_code=303)
        return await _refusing(request, run_then_redirect())
    return endpoint
