"""The posting platform's /v1 routes: upload a video (streamed), create a post once per idempotency key,
look posts up, read their metrics one by one or in batches."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..errors import ApiError
from ..publishing import Publishing
from ..transport import (
    JSON_BODY_LIMIT,
    Auth,
    endpoint,
    json_response,
    media_type,
    query_one,
    route,
    shielded,
    stream_to_file,
)
from ..validation import parse_json_object


def posting_routes(publishing: Publishing, auth: Auth) -> list[BaseRoute]:
    max_upload = int(publishing.config.max_upload_bytes)

    async def upload_media(request: Request) -> Response:
        auth.api_key(request)
        ctype = media_type(request.headers.get("Content-Type"))
        if ctype and not (ctype.startswith("video/") or ctype == "application/octet-stream"):
            raise ApiError(415, "unsupported_media", f"Content-Type must be video/mp4, got {ctype!r}",
                           field="Content-Type")
        tmp = publishing.media_tempfile()
        try:
            size, sha = await stream_to_file(request, tmp, max_upload)
            stored = await run_in_threadpool(publishing.keep_media, tmp, size, sha, "body")
        finally:
            tmp.unlink(missing_ok=True)
        return json_response(201, publishing.public_media(stored), {"Location": f"/v1/media/{stored['media_id']}"})

    def get_media(request: Request, body: bytes, media_id: str) -> Response:
        return json_response(200, publishing.public_media(publishing.require_media(media_id)))

    def create_post(request: Request, body: bytes) -> Response:
        values = publishing.post_fields(parse_json_object(body))
        stored, created = publishing.store_post(values)
        headers = {"Location": f"/v1/posts/{stored['post_id']}"}
        if not created:
            headers["Idempotent-Replay"] = "true"
        return json_response(201 if created else 200, publishing.public_post(stored), headers)

    def find_posts(request: Request, body: bytes) -> Response:
        return json_response(200, {"items": publishing.find_posts(query_one(request, "idempotency_key"))})

    def get_post(request: Request, body: bytes, post_id: str) -> Response:
        return json_response(200, publishing.public_post(publishing.require_post(post_id)))

    def post_metrics(request: Request, body: bytes, post_id: str) -> Response:
        return json_response(200, publishing.metrics(publishing.require_post(post_id)))

    def metrics_batch(request: Request, body: bytes) -> Response:
        return json_response(200, publishing.metrics_batch(parse_json_object(body)))

    keyed = auth.api_key
    return [
        route("/v1/media", {"POST": shielded(upload_media)}),
        route("/v1/media/{media_id}", {"GET": endpoint(get_media, guard=keyed)}),
        route("/v1/posts", {"POST": endpoint(create_post, guard=keyed, body_limit=JSON_BODY_LIMIT),
                            "GET": endpoint(find_posts, guard=keyed)}),
        route("/v1/posts/{post_id}", {"GET": endpoint(get_post, guard=keyed)}),
        route("/v1/posts/{post_id}/metrics", {"GET": endpoint(post_metrics, guard=keyed)}),
        route("/v1/metrics/batch", {"POST": endpoint(metrics_batch, guard=keyed, body_limit=JSON_BODY_LIMIT)}),
    ]
