"""The sandbox's HTTP layer on Starlette: responses, bounded and streamed bodies, auth, and dialects.

Every route module (routes/*.py) builds its Starlette routes from these pieces: a `Dialect` is one
platform's routes under a path prefix with the way it renders errors, so adding a platform's real dialect
is one more module of routes. Handlers raise ApiError; the app (app.py) renders it in the dialect of the
path. Domain work runs in a worker thread (`run_in_threadpool`): the state is SQLite behind a lock and
the world is CPU-bound, and neither may stall the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .errors import ApiError, not_found

JSON = "application/json"
HTML = "text/html; charset=utf-8"
JSON_BODY_LIMIT = 1024 * 1024
NO_STORE = {"Cache-Control": "no-store"}

Endpoint = Callable[[Request], Awaitable[Response]]
Guard = Callable[[Request], None]


# ------------------------------------------------------------------------------------ responses
def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(body, separators=(",", ":")).encode("ascii")
    return Response(payload, status, {**NO_STORE, **(headers or {})}, media_type=JSON)


def html_response(status: int, html: str, headers: dict[str, str] | None = None) -> Response:
    return Response(html.encode("utf-8"), status, {**NO_STORE, **(headers or {})}, media_type=HTML)


def json_error(request: Request, exc: ApiError) -> Response:
    """The sandbox's own error shape (GraphError brings the Graph shape through its body())."""
    return json_response(exc.status, exc.body(), exc.headers)


# ----------------------------------------------------------------------------------------- bodies
def media_type(value: str | None) -> str:
    """The lower-case media type of a Content-Type header ("" when absent)."""
    return (value or "").split(";", 1)[0].strip().lower()


def query_one(request: Request, name: str) -> str | None:
    """The first value of a query parameter (None when absent)."""
    values = request.query_params.getlist(name)
    return values[0] if values else None


def too_large(limit: int, field: str = "body") -> ApiError:
    what = "the request body" if field == "body" else field
    return ApiError(413, "payload_too_large", f"{what} is larger than {limit} bytes", field=field)


def check_length(request: Request, limit: int) -> None:
    """413 before anything is read when the declared Content-Length is over the limit."""
    raw = request.headers.get("Content-Length")
    if raw is not None and raw.strip().isdigit() and int(raw) > limit:
        raise too_large(limit)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, at most `limit` bytes (413 beyond, Content-Length or chunked)."""
    check_length(request, limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def stream_to_file(request: Request, path: Path, limit: int) -> tuple[int, str]:
    """Write the body to `path` as it arrives, never whole in memory: (size, sha256); 413 past `limit`."""
    check_length(request, limit)
    digest, size = hashlib.sha256(), 0
    with open(path, "wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            out.write(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


async def drain(request: Request, limit: int) -> None:
    """Read and drop the body: a browser still sending its upload would not see an early answer."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)


# ------------------------------------------------------------------------------------------ auth
class Auth:
    """The sandbox's two credentials: API keys (Bearer) for platform routes, the truth token for /sandbox/truth."""

    def __init__(self, api_keys: tuple[str, ...], truth_token: str):
        self._api_keys = tuple(k.encode("utf-8", "surrogateescape") for k in api_keys)
        self._truth_token = truth_token.encode("utf-8", "surrogateescape")
        # OAuth tokens the sandbox minted (sandbox/oauth.py): an object with key_for(token, platform) -> the
        # API key a live token stands for, or None; set by the app, absent = API keys only
        self.grants: Any = None

    def minted(self, token: str, platform: str) -> str | None:
        """The API key a live minted OAuth token of `platform` stands for (None: not one, or expired)."""
        if self.grants is None or not token.strip():
            return None
        return self.grants.key_for(token.strip(), platform)

    def api_key(self, request: Request) -> None:
        header = request.headers.get("Authorization") or ""
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": 'Bearer realm="actp-sandbox"'}
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "missing bearer token (Authorization: Bearer <key>)", headers=challenge)
        presented = token.encode("utf-8", "surrogateescape")
        if not any(hmac.compare_digest(presented, k) for k in self._api_keys):
            raise ApiError(401, "unauthorized", "invalid API key", headers=challenge)

    def valid_key(self, token: str, platform: str = "meta") -> bool:
        """Whether `token` is one of the API keys, or a live OAuth token the sandbox minted for `platform`
        (for dialects that take the key elsewhere than in a Bearer header, e.g. Graph's `access_token` query
        or form parameter: Meta's tokens)."""
        presented = token.strip().encode("utf-8", "surrogateescape")
        if bool(presented) and any(hmac.compare_digest(presented, k) for k in self._api_keys):
            return True
        return bool(presented) and self.minted(token, platform) is not None

    def truth(self, request: Request) -> None:
        token = (request.headers.get("X-Truth-Token") or "").strip().encode("utf-8", "surrogateescape")
        if not token or not hmac.compare_digest(token, self._truth_token):
            raise ApiError(403, "forbidden", "the ground truth needs a valid X-Truth-Token header")


# ------------------------------------------------------------------------------------- endpoints
def endpoint(handler: Callable[..., Response], *, guard: Guard | None = None, body_limit: int = 0) -> Endpoint:
    """A Starlette endpoint around a synchronous `handler(request, body, **path_params)`: the guard runs
    first, then the body is read (up to `body_limit` bytes; 0 = not read), then the handler runs in a
    worker thread."""

    async def run(request: Request) -> Response:
        if guard is not None:
            guard(request)
        body = await read_body(request, body_limit) if body_limit else b""
        return await run_in_threadpool(handler, request, body, **request.path_params)

    return shielded(run)


def shielded(run: Endpoint) -> Endpoint:
    """Errors of the sandbox itself become a 500 ApiError (traceback on stderr); a client that went away
    gets nothing."""

    async def call(request: Request) -> Response:
        try:
            return await run(request)
        except (ApiError, HTTPException):
            raise
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening any more
        except Exception:  # a bug in the sandbox: say so, keep serving
            sys.stderr.write(f"actp sandbox: error handling {request.method} {request.url.path}\n"
                             f"{traceback.format_exc()}")
            raise ApiError(500, "internal", "internal sandbox error") from None

    return call


def route(path: str, methods: dict[str, Endpoint]) -> Route:
    """One path with an endpoint per method."""

    async def dispatch(request: Request) -> Response:
        return await methods[request.method if request.method in methods else "GET"](request)

    return Route(path, dispatch, methods=list(methods))


# -------------------------------------------------------------------------------------- dialects
def unknown_route(request: Request) -> ApiError:
    return not_found(f"no route for {request.method} {request.url.path}", code="unknown_route")


@dataclass(frozen=True)
class Dialect:
    """One platform's dialect: its routes (paths relative to the app), the prefix they live under, how it
    renders an error, and what a path with no route is in it."""

    prefix: str
    routes: list[BaseRoute]
    render_error: Callable[[Request, ApiError], Response] = json_error
    no_route: Callable[[Request], ApiError] = unknown_route

    def owns(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix.rstrip("/") + "/")
