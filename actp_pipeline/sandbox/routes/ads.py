"""The Graph API's routes (/graph/v<major>.<minor>/...): the sandbox's stand-in for the Meta Marketing API.

Paths, parameters and error bodies are those of graph.py's dialect; the objects live in ads_objects.py
and what they deliver in ads_world.py. A path with no route is Graph's "Unknown path components" error.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Callable, Mapping
from urllib.parse import quote, urlencode

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from ..ads_objects import AdsObjects
from ..ads_world import AdsWorld
from ..errors import ApiError
from ..graph import (
    HOURLY,
    UNKNOWN_PATH,
    GraphError,
    cursor_of,
    cursor_value,
    graph_params,
    invalid,
    page_limit,
    param_json,
    param_str,
    time_range,
)
from ..transport import JSON_BODY_LIMIT, Auth, Dialect, endpoint, json_response, media_type, route


class _Pattern(Convertor[str]):
    regex = ""

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def _convertor(name: str, pattern: str) -> None:
    register_url_convertor(name, type(name, (_Pattern,), {"regex": pattern})())


_convertor("graph_version", r"v\d+\.\d+")
_convertor("ad_account", r"act_[A-Za-z0-9_-]{1,64}")
_convertor("graph_edge", r"campaigns|adsets|ads")
G = "/graph/{version:graph_version}"


def params_of(request: Request, body: bytes) -> dict[str, Any]:
    return graph_params(request.query_params.multi_items(), request.method,
                        media_type(request.headers.get("Content-Type")), body)


def graph_page(request: Request, params: Mapping[str, Any], keys: list[int],
               render: Callable[[int], dict[str, Any]]) -> Response:
    """The page of items after the `after` cursor; `keys` are the items' ascending cursor values and
    `render(i)` builds item i (only the page's items are built)."""
    limit = page_limit(params)
    after = params.get("after")
    start = bisect_right(keys, cursor_value(str(after))) if after else 0
    stop = min(start + limit, len(keys))
    items = [render(i) for i in range(start, stop)]
    paging: dict[str, Any] = {}
    if items:
        paging["cursors"] = {"before": cursor_of(keys[start]), "after": cursor_of(keys[stop - 1])}
        if stop < len(keys):
            query = {k: v for k, v in request.query_params.multi_items() if k != "after"}
            query["after"] = paging["cursors"]["after"]
            host = request.headers.get("Host") or "127.0.0.1"
            paging["next"] = f"http://{host}{quote(request.url.path)}?{urlencode(query)}"
    return json_response(200, {"data": items, "paging": paging})


def _insights_query(params: Mapping[str, Any]) -> tuple[bool, bool]:
    """(hourly breakdown, one row per day) of an insights query; level must be adset."""
    level = param_str(params, "level") or "adset"
    if level != "adset":
        raise invalid(f"level {level!r} is not supported by the sandbox; use level=adset", field="level")
    breakdowns = params.get("breakdowns") or []
    if isinstance(breakdowns, str):  # a JSON list or a comma-separated string
        breakdowns = param_json(params, "breakdowns") if breakdowns.lstrip().startswith("[") else breakdowns.split(",")
    if not isinstance(breakdowns, list) or any(b != HOURLY for b in breakdowns if b):
        raise invalid(f"breakdowns supports only {HOURLY}", field="breakdowns")
    increment = str(params.get("time_increment") or "all_days")
    if increment not in ("1", "all_days"):
        raise invalid("time_increment must be 1 or all_days", field="time_increment")
    return any(breakdowns), increment == "1"


def unknown_graph_path(request: Request, auth: Auth) -> ApiError:
    """Graph's answer to a path it does not know (after the key is checked, as on any Graph route)."""
    if request.method not in ("GET", "POST"):
        return ApiError(405, "method_not_allowed",
                        f"{request.method} is not allowed on {request.url.path}; use GET, POST",
                        headers={"Allow": "GET, POST"})
    try:
        auth.api_key(request)
    except ApiError as exc:
        return exc
    return GraphError(f"Unknown path components: {request.url.path}", code=UNKNOWN_PATH, subcode=0)


def graph_dialect(objects: AdsObjects, ads_world: AdsWorld, auth: Auth) -> Dialect:
    def list_objects(request: Request, body: bytes, version: str, account: str, edge: str) -> Response:
        params = params_of(request, body)
        return graph_page(request, params, *objects.list_objects(account, edge, params))

    def create_object(request: Request, body: bytes, version: str, account: str, edge: str) -> Response:
        return json_response(200, objects.create_object(account, edge, params_of(request, body)))

    def insights(request: Request, body: bytes, version: str, account: str) -> Response:
        acc = objects.account_id(account)
        params = params_of(request, body)
        hourly, daily = _insights_query(params)
        since, until = time_range(param_json(params, "time_range"), ads_world.clock.now().date())
        count, row = ads_world.insights(acc, since, until, hourly=hourly, daily=daily)
        return graph_page(request, params, list(range(count)), row)

    def copy_adset(request: Request, body: bytes, version: str, object_id: str) -> Response:
        return json_response(200, objects.copy_adset(object_id, params_of(request, body)))

    def get_object(request: Request, body: bytes, version: str, object_id: str) -> Response:
        return json_response(200, objects.get_object(object_id, params_of(request, body)))

    def update_object(request: Request, body: bytes, version: str, object_id: str) -> Response:
        return json_response(200, objects.update_object(object_id, params_of(request, body)))

    def post(handler: Callable[..., Response]):
        return endpoint(handler, guard=auth.api_key, body_limit=JSON_BODY_LIMIT)

    def get(handler: Callable[..., Response]):
        return endpoint(handler, guard=auth.api_key)

    routes = [
        route(G + "/{account:ad_account}/{edge:graph_edge}", {"GET": get(list_objects), "POST": post(create_object)}),
        route(G + "/{account:ad_account}/insights", {"GET": get(insights)}),
        route(G + "/{object_id}/copies", {"POST": post(copy_adset)}),
        route(G + "/{object_id}", {"GET": get(get_object), "POST": post(update_object)}),
    ]
    return Dialect("/graph", routes, no_route=lambda request: unknown_graph_path(request, auth))

