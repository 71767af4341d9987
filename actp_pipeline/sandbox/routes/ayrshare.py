"""Ayrshare's routes (/api/...): the sandbox's stand-in for api.ayrshare.com. What they do and how they
differ from Ayrshare: sandbox/ayrshare.py.

Every error under /api (auth, Profile-Key, rate limit, routing, body limits included) is rendered by
`AyrshareDialect` in Ayrshare's shape: {"action", "status": "error", "code", "message"} with the HTTP
status. Every request that passes auth and the rate limit is answered with x-ratelimit-max and
x-ratelimit-count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..ayrshare import (
    Ayrshare,
    AyrshareCodes,
    AyrshareError,
    AyrsharePolicy,
    Profile,
    bad,
    from_api_error,
)
from ..errors import ApiError
from ..publishing import Publishing
from ..transport import (
    JSON_BODY_LIMIT,
    Auth,
    Dialect,
    Endpoint,
    json_response,
    media_type,
    read_body,
    route,
    shielded,
)
from ..validation import decode_json
from .upload_form import file_field, read_upload_form, text_fields

PREFIX = "/api"
MAX_TEXT_FIELD = 1000  # fileName, description
Handler = Callable[[Profile, Request, bytes], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class AyrshareDialect(Dialect):
    """The dialect of /api; `service` is its domain (tests reach its policy, clock and profile keys)."""

    service: Any = None


def render_error(request: Request, exc: ApiError) -> Response:
    err = from_api_error(exc)
    return json_response(err.status, err.body(), err.headers)


def json_object(raw: bytes, action: str) -> dict[str, Any]:
    """The body as a JSON object, or a 400 in Ayrshare's shape."""
    if not raw.strip():
        raise bad("the request body must be a JSON object", action=action)
    try:
        parsed = decode_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"malformed JSON body: {exc}", action=action) from None
    if not isinstance(parsed, dict):
        raise bad("the request body must be a JSON object", action=action)
    return parsed


def api(svc: Ayrshare, handler: Handler, *, body_limit: int = 0) -> Endpoint:
    """An endpoint: the key and Profile-Key, the profile's rate limit, the body (up to `body_limit`),
    then `handler(profile, request, body)` in a worker thread; the rate-limit headers on the answer."""

    async def run(request: Request) -> Response:
        profile = svc.authorize(request.headers.get("Authorization"), request.headers.get("Profile-Key"))
        headers = await run_in_threadpool(svc.take, profile)
        try:
            raw = await read_body(request, body_limit) if body_limit else b""
            status, answer = await run_in_threadpool(handler, profile, request, raw)
        except ApiError as exc:
            exc.headers.update(headers)
            raise
        return json_response(status, answer, headers)

    return shielded(run)


def media_upload(svc: Ayrshare, publishing: Publishing) -> Endpoint:
    """POST /media/upload: the video as a multipart file part or as a Base64 data URI in a JSON body."""
    max_file = svc.policy.max_upload_bytes
    base64_limit = max_file * 4 // 3 + 64 * 1024  # a data URI of the largest file, and the other fields

    async def upload(request: Request) -> Response:
        profile = svc.authorize(request.headers.get("Authorization"), request.headers.get("Profile-Key"))
        headers = await run_in_threadpool(svc.take, profile)
        tmp = publishing.media_tempfile()
        try:
            if media_type(request.headers.get("Content-Type")) == "multipart/form-data":
                form = await read_upload_form(request, max_file + 256 * 1024, max_file)
                try:
                    fields = text_fields(form)
                    part = file_field(form, "file")
                    if part is None:
                        raise bad("file is required: the video as a multipart file part", action="media")
                    digest, size = hashlib.sha256(), 0
                    with open(tmp, "wb") as out:  # noqa: ASYNC230 - a spooled local file, as upload_form
                        while chunk := await part.read(1024 * 1024):
                            size += len(chunk)
                            digest.update(chunk)
                            out.write(chunk)
                finally:
                    await form.close()
                sha = digest.hexdigest()
            else:
                raw = await read_body(request, base64_limit)
                body = json_object(raw, "media")
                data = svc.decode_data_uri(body.get("file"))
                fields = {k: v for k, v in body.items() if k in ("fileName", "description") and isinstance(v, str)}
                size, sha = len(data), hashlib.sha256(data).hexdigest()
                with open(tmp, "wb") as out:  # noqa: ASYNC230 - a local write of a decoded body
                    out.write(data)
            names = {k: fields.get(k) for k in ("fileName", "description")}
            if any(v is not None and len(v) > MAX_TEXT_FIELD for v in names.values()):
                raise bad(f"fileName and description are at most {MAX_TEXT_FIELD} characters", action="media")
            answer = await run_in_threadpool(svc.upload_media, tmp, size, sha, names["fileName"], names["description"])
        except ApiError as exc:
            exc.headers.update(headers)
            raise
        finally:
            tmp.unlink(missing_ok=True)
        return json_response(200, answer, headers)

    return shielded(upload)


def post_routes(svc: Ayrshare) -> list[BaseRoute]:
    """/post (create, delete), /post/{id}, /history and /analytics/post."""

    def create_post(profile: Profile, request: Request, raw: bytes) -> tuple[int, dict[str, Any]]:
        return svc.create_post(profile, json_object(raw, "post"))

    def delete_post(profile: Profile, request: Request, raw: bytes) -> tuple[int, dict[str, Any]]:
        return svc.delete(profile, json_object(raw, "delete"))

    def get_post(profile: Profile, request: Request, raw: bytes) -> tuple[int, dict[str, Any]]:
        return 200, svc.get_post(profile, request.path_params["id"])

    def history(profile: Profile, request: Request, raw: bytes) -> tuple[int, dict[str, Any]]:
        query = {k: request.query_params.getlist(k) for k in request.query_params}
        return 200, svc.history(profile, query)

    def analytics(profile: Profile, request: Request, raw: bytes) -> tuple[int, dict[str, Any]]:
        return 200, svc.analytics(profile, json_object(raw, "analytics"))

    return [
        route(PREFIX + "/post", {"POST": api(svc, create_post, body_limit=JSON_BODY_LIMIT),
                                 "DELETE": api(svc, delete_post, body_limit=JSON_BODY_LIMIT)}),
        route(PREFIX + "/post/{id}", {"GET": api(svc, get_post)}),
        route(PREFIX + "/history", {"GET": api(svc, history)}),
        route(PREFIX + "/history/{id}", {"GET": api(svc, get_post)}),
        route(PREFIX + "/analytics/post", {"POST": api(svc, analytics, body_limit=JSON_BODY_LIMIT)}),
    ]


def ayrshare_dialect(publishing: Publishing, auth: Auth, policy: AyrsharePolicy | None = None) -> AyrshareDialect:
    svc = Ayrshare(publishing, publishing.config.api_keys, policy)
    routes = [route(PREFIX + "/media/upload", {"POST": media_upload(svc, publishing)}), *post_routes(svc)]
    return AyrshareDialect(PREFIX, routes, render_error=render_error, no_route=_no_route, service=svc)


def _no_route(request: Request) -> ApiError:
    return AyrshareError(404, AyrshareCodes.NOT_FOUND, f"No route for {request.method} {request.url.path}.")
