"""The YouTube Data API v3's routes (/youtube/v3/... and /upload/youtube/v3/...): the sandbox's stand-in
for youtube.googleapis.com. What they do and how they differ from YouTube: sandbox/youtube.py
(and its parts youtube_uploads.py, youtube_quota.py, youtube_resources.py).

Errors of every route under both prefixes (auth, routing, body limits included) are rendered in Google's
JSON error shape by `YouTubeDialect`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import ApiError
from ..publishing import Publishing
from ..transport import (
    JSON_BODY_LIMIT,
    Auth,
    Dialect,
    drain,
    endpoint,
    json_response,
    query_one,
    read_body,
    route,
    shielded,
)
from ..youtube import (
    QuotaPolicy,
    UploadSession,
    YouTube,
    bad_param,
    from_api_error,
    split_csv,
)

UPLOAD = "/upload/youtube/v3/videos"


def render_error(request: Request, exc: ApiError) -> Response:
    err = from_api_error(exc)
    return json_response(err.status, err.body(), err.headers)


@dataclass(frozen=True)
class YouTubeDialect(Dialect):
    """The dialect of /youtube and /upload/youtube; `service` is its domain (tests reach the quota policy
    and processing time through it)."""

    service: Any = None

    def owns(self, path: str) -> bool:
        return super().owns(path) or path == "/upload/youtube" or path.startswith("/upload/youtube/")


def bearer(request: Request, auth: Auth) -> str:
    """The request's token once it is a valid sandbox key (401 in Google's shape otherwise)."""
    auth.api_key(request)
    return (request.headers.get("Authorization") or "").strip().partition(" ")[2].strip()


def parts_of(request: Request) -> list[str]:
    return split_csv(request.query_params.getlist("part"))


def youtube_dialect(publishing: Publishing, auth: Auth, policy: QuotaPolicy | None = None) -> YouTubeDialect:
    yt = YouTube(publishing, policy)
    max_upload = int(publishing.config.max_upload_bytes)
    routes = [*upload_routes(yt, auth, max_upload), *reading_routes(yt, auth)]
    return YouTubeDialect("/youtube", routes, render_error=render_error, service=yt)


# ----------------------------------------------------------------------------------- uploads
def upload_routes(yt: YouTube, auth: Auth, max_upload: int) -> list[Route]:
    """POST opens a resumable upload session, PUT sends its bytes (or asks how far it got)."""

    async def open_upload(request: Request) -> Response:
        token = bearer(request, auth)
        kind = query_one(request, "uploadType")
        if kind != "resumable":
            raise bad_param("badRequest", "The sandbox takes uploads with uploadType=resumable only.", "uploadType",
                            domain="global")
        body = await read_body(request, JSON_BODY_LIMIT)
        session = await run_in_threadpool(
            yt.open_session, token, body, parts_of(request), request.headers.get("X-Upload-Content-Length"),
            request.headers.get("X-Upload-Content-Type"))
        host = request.headers.get("Host") or f"{request.url.hostname}:{request.url.port}"
        location = f"{request.url.scheme}://{host}{UPLOAD}?uploadType=resumable&upload_id={session.upload_id}"
        return Response(b"", 200, {"Location": location, "X-GUploader-UploadID": session.upload_id,
                                   "Cache-Control": "no-store"})

    async def put_chunk(request: Request) -> Response:
        s = yt.session(query_one(request, "upload_id"))
        first, _last, total = yt.parse_content_range(request.headers.get("Content-Range"))
        async with s.lock:
            return await put_locked(request, yt, s, first, total, max_upload)

    return [route(UPLOAD, {"POST": shielded(open_upload), "PUT": shielded(put_chunk)})]


def incomplete(s: UploadSession) -> Response:
    headers = {"Cache-Control": "no-store", "X-GUploader-UploadID": s.upload_id}
    if s.received > 0:
        headers["Range"] = f"bytes=0-{s.received - 1}"
    return Response(b"", 308, headers)


async def finished(yt: YouTube, s: UploadSession) -> Response:
    record = await run_in_threadpool(yt.complete, s)
    video = await run_in_threadpool(yt.video_resource, record, s.parts or ["snippet", "status"])
    return json_response(200, video)


async def put_locked(request: Request, yt: YouTube, s: UploadSession, first: int | None, total: int | None,
                     max_upload: int) -> Response:
    """One PUT to an upload session, under the session's lock."""
    if s.video_id is not None:  # a retry of the final chunk or a status query after completion
        await drain(request, max_upload)
        return await finished(yt, s)
    has_range = request.headers.get("Content-Range") is not None
    if has_range and first is None:  # `bytes */total`: how far did the upload get?
        await drain(request, max_upload)
        if total is not None and s.total is None:
            s.total = total
        if s.total is not None and s.received >= s.total:
            return await finished(yt, s)
        return incomplete(s)
    if first is None:  # no Content-Range: the body is the whole video
        first = 0
    if first > s.received:  # a gap: keep nothing, say where to resume
        await drain(request, max_upload)
        return incomplete(s)
    start, written = s.received, await append_chunk(request, yt, s, first, max_upload)
    if not has_range and total is None:
        total = s.total if s.total is not None else start + written
    yt.commit_chunk(s, start, written, total)
    if s.total is not None and s.received >= s.total:
        return await finished(yt, s)
    return incomplete(s)


async def append_chunk(request: Request, yt: YouTube, s: UploadSession, first: int, max_upload: int) -> int:
    """Append the body's bytes past what the session holds to its file; the number of bytes written."""
    skip, start, written = s.received - first, s.received, 0
    try:
        with open(s.path, "r+b") as out:  # noqa: ASYNC230 - local appends, as transport.stream_to_file
            out.seek(start)
            async for chunk in request.stream():
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                if not chunk:
                    continue
                if start + written + len(chunk) > max_upload:
                    raise YouTubeTooLarge(max_upload)
                out.write(chunk)
                written += len(chunk)
    except ClientDisconnect:
        yt.commit_chunk(s, start, written, None)
        raise
    except YouTubeTooLarge as exc:
        raise ApiError(413, "payload_too_large", str(exc)) from None
    return written


# ----------------------------------------------------------------------------------- reading
def reading_routes(yt: YouTube, auth: Auth) -> list[Route]:
    """videos.list, channels.list and playlistItems.list."""

    def list_videos(request: Request, body: bytes) -> Response:
        token = bearer(request, auth)
        return json_response(200, yt.list_videos(token, parts_of(request), split_csv(request.query_params.getlist("id"))))

    def list_channels(request: Request, body: bytes) -> Response:
        token = bearer(request, auth)
        mine = (query_one(request, "mine") or "").lower() == "true"
        return json_response(200, yt.list_channels(token, parts_of(request), mine,
                                                   split_csv(request.query_params.getlist("id"))))

    def list_playlist_items(request: Request, body: bytes) -> Response:
        token = bearer(request, auth)
        return json_response(200, yt.list_playlist_items(token, parts_of(request), query_one(request, "playlistId"),
                                                         query_one(request, "maxResults"),
                                                         query_one(request, "pageToken")))

    def get(handler: Callable[..., Response]):
        return endpoint(handler)

    return [
        route("/youtube/v3/videos", {"GET": get(list_videos)}),
        route("/youtube/v3/channels", {"GET": get(list_channels)}),
        route("/youtube/v3/playlistItems", {"GET": get(list_playlist_items)}),
    ]


class YouTubeTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"the video is larger than the sandbox's {limit} bytes")
