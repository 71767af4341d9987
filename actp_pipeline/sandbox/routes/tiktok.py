"""TikTok's routes (/v2/...): the Content Posting API's Direct Post and the Display API's video endpoints,
the sandbox's stand-in for open.tiktokapis.com. What they do and how they differ from TikTok:
sandbox/tiktok.py.

Every error under /v2 (auth, rate limits, routing, body limits included) is rendered by `TikTokDialect` in
TikTok's envelope: {"data": {}, "error": {"code", "message", "log_id"}} with the HTTP status.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..errors import ApiError
from ..publishing import Publishing
from ..tiktok import (
    UPLOAD_PATH,
    Creator,
    TikTokDirectPost,
    TikTokError,
    TikTokPolicy,
    invalid,
    tiktok_code,
)
from ..transport import (
    JSON_BODY_LIMIT,
    NO_STORE,
    Auth,
    Dialect,
    Endpoint,
    json_response,
    media_type,
    query_one,
    read_body,
    route,
    shielded,
)
from ..validation import decode_json

PREFIX = "/v2"
Handler = Callable[[Creator, Request, dict[str, Any]], dict[str, Any]]


def log_id(publishing: Publishing) -> str:
    """A log id shaped like TikTok's: the (simulated) time, then 20 hex digits."""
    return publishing.clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()


def envelope(publishing: Publishing, data: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "error": {"code": "ok", "message": "", "log_id": log_id(publishing)}}


@dataclass(frozen=True)
class TikTokDialect(Dialect):
    """The dialect of /v2; `service` is its domain (tests reach its policy and clock through it)."""

    service: Any = None


def json_body(raw: bytes, *, required: bool = True) -> dict[str, Any]:
    """The request body as a JSON object, or invalid_params (an empty body is {} unless required)."""
    if not raw.strip():
        if required:
            raise invalid("the request body must be a JSON object")
        return {}
    try:
        parsed = decode_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid(f"malformed JSON body: {exc}") from None
    if not isinstance(parsed, dict):
        raise invalid("the request body must be a JSON object")
    return parsed


def error_renderer(publishing: Publishing) -> Callable[[Request, ApiError], Response]:
    """Every error under /v2 in TikTok's envelope, with its HTTP status."""

    def render_error(request: Request, exc: ApiError) -> Response:
        body = {"data": {}, "error": {"code": tiktok_code(exc), "message": exc.message, "log_id": log_id(publishing)}}
        return json_response(exc.status, body, exc.headers)

    return render_error


def api(tt: TikTokDirectPost, publishing: Publishing, endpoint_name: str, handler: Handler, *,
        body_required: bool = True) -> Endpoint:
    """A POST endpoint: the token, the endpoint's rate limit, the JSON body, then `handler(creator,
    request, body)` in a worker thread, answered in the envelope."""

    async def run(request: Request) -> Response:
        creator = tt.authorize(request.headers.get("Authorization"))
        raw = await read_body(request, JSON_BODY_LIMIT)
        await run_in_threadpool(tt.limit, creator, endpoint_name)
        ctype = media_type(request.headers.get("Content-Type"))
        if raw.strip() and ctype and ctype != "application/json":
            raise invalid(f"Content-Type must be application/json; charset=UTF-8, got {ctype!r}")
        body = json_body(raw, required=body_required)
        data = await run_in_threadpool(handler, creator, request, body)
        return json_response(200, envelope(publishing, data))

    return shielded(run)


def base_url(request: Request) -> str:
    host = request.headers.get("Host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def chunk_upload(tt: TikTokDirectPost) -> Endpoint:
    """PUT <upload_url>: one chunk of a FILE_UPLOAD, written in place; 206 while more are expected, 201 when
    the video is complete."""

    async def put_chunk(request: Request) -> Response:
        upload = tt.upload_for(query_one(request, "upload_id"), query_one(request, "upload_token"))
        first, length, replay = tt.check_chunk(upload, request.headers.get("Content-Range"),
                                               media_type(request.headers.get("Content-Type")),
                                               request.headers.get("Content-Length"))
        if replay is not None:  # a chunk sent again after it was received whole: nothing changes
            await read_body(request, length)
            return Response(b"", replay, NO_STORE)
        async with upload.put_lock:
            if upload.received != first or upload.state != "uploading":
                raise TikTokError(416, "invalid_params", f"the next chunk starts at byte {upload.received}")
            if upload.tmp is None:
                raise TikTokError(404, "invalid_params", "this upload_url has expired; initialize the post again")
            written = 0
            try:
                with open(upload.tmp, "r+b") as out:  # noqa: ASYNC230 - local writes, as transport.stream_to_file
                    out.seek(first)
                    async for chunk in request.stream():
                        written += len(chunk)
                        if written > length:
                            break
                        out.write(chunk)
            except ClientDisconnect:
                await run_in_threadpool(tt.upload_failed, upload, first)
                raise
            if written != length:
                await run_in_threadpool(tt.upload_failed, upload, first)
                raise invalid(f"the chunk has {'more' if written > length else 'fewer'} bytes than its "
                              f"Content-Range ({length})")
            status = await run_in_threadpool(tt.chunk_received, upload, length)
        return Response(b"", status, NO_STORE)

    return shielded(put_chunk)


def posting_routes(tt: TikTokDirectPost, publishing: Publishing) -> list[BaseRoute]:
    """The Content Posting API: creator info, video/init, status/fetch, and the upload URL's chunk PUT."""

    def creator_info(creator, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return tt.creator_info(creator)

    def init(creator, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return tt.init_video(creator, body, base_url(request))

    def status(creator, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return tt.status(creator, body)

    return [
        route(PREFIX + "/post/publish/creator_info/query", {"POST": api(tt, publishing, "creator_info", creator_info,
                                                                           body_required=False)}),
        route(PREFIX + "/post/publish/video/init", {"POST": api(tt, publishing, "video_init", init)}),
        route(PREFIX + "/post/publish/status/fetch", {"POST": api(tt, publishing, "status_fetch", status)}),
        route(UPLOAD_PATH, {"PUT": chunk_upload(tt)}),
    ]


def video_routes(tt: TikTokDirectPost, publishing: Publishing) -> list[BaseRoute]:
    """The Display API's video/query and video/list."""

    def query(creator, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return tt.query_videos(creator, query_one(request, "fields"), body)

    def listing(creator, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return tt.list_videos(creator, query_one(request, "fields"), body)

    return [
        route(PREFIX + "/video/query", {"POST": api(tt, publishing, "video_query", query)}),
        route(PREFIX + "/video/list", {"POST": api(tt, publishing, "video_list", listing, body_required=False)}),
    ]


def tiktok_dialect(publishing: Publishing, auth: Auth, policy: TikTokPolicy | None = None) -> TikTokDialect:
    tt = TikTokDirectPost(publishing, publishing.config.api_keys, policy)
    routes = [*posting_routes(tt, publishing), *video_routes(tt, publishing)]
    return TikTokDialect(PREFIX, routes, render_error=error_renderer(publishing), service=tt)
