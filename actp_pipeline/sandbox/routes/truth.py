"""The ground truth (/sandbox/truth/*, X-Truth-Token): for evaluation code (benchmarks, tests), never the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..ads_world import AdsWorld
from ..errors import bad_request
from ..publishing import Publishing
from ..transport import Auth, endpoint, json_response, query_one, route
from .market import date_param, market_records, platform_param


def truth_routes(publishing: Publishing, ads_world: AdsWorld, auth: Auth,
                 public_id: Callable[[dict[str, Any]], str | None] | None = None) -> list[BaseRoute]:
    """`public_id(post)`: a post's id on its platform (sandbox/public_links.py), named in /truth/posts as
    `public_id` (None where the platform's dialect has no such post), so evaluation code can map the id a
    platform's API or page gives to the sandbox's post."""
    world = publishing.world

    def posts() -> dict[str, Any]:
        out = publishing.truth_posts()
        if public_id is not None:
            for item in out["items"]:
                item["public_id"] = public_id(item)
        return out

    def market(request: Request, body: bytes) -> Response:
        day = date_param(request)
        kind = query_one(request, "kind") or "post"
        if kind not in ("post", "ad"):
            raise bad_request("kind must be 'post' or 'ad'", field="kind", code="invalid_field")
        platform = platform_param(request, world.config.platforms)
        records = market_records(world, kind, day, platform)
        return json_response(200, {"items": [r.truth(i) for i, r in enumerate(records)]})

    def serve(build):
        return endpoint(lambda request, body: json_response(200, build()), guard=auth.truth)

    return [
        route("/sandbox/truth/posts", {"GET": serve(posts)}),
        route("/sandbox/truth/metrics", {"GET": endpoint(
            lambda request, body: json_response(200, publishing.truth_metrics(query_one(request, "post_id"))),
            guard=auth.truth)}),
        route("/sandbox/truth/descriptors", {"GET": serve(publishing.truth_descriptors)}),
        route("/sandbox/truth/market", {"GET": endpoint(market, guard=auth.truth)}),
        route("/sandbox/truth/ads", {"GET": serve(ads_world.truth)}),
    ]
