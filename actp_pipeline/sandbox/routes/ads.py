"""/graph/v<major>.<minor>/*: the sandbox's stand-in for the Meta Marketing API.

Paths, parameters and error bodies are those of graph.py's dialect; the objects live in ads_objects.py
and what they deliver in ads_world.py. One catch-all route per version hands every call to `GraphAPI.call`
(method, path components, parameters), so a batch request (POST to the version root with `batch=[...]`)
runs its calls through exactly the code a single call takes. Every error under /graph, those of the route
table included (401, 405, 413, 500), is rendered in the Graph shape.

Instagram: a call whose first path component is an Instagram node (an IG user, container or media, or
`me`) goes to sandbox/instagram.py (`GraphAPI.instagram`), batches included; the resumable upload host's
path /graph/ig-api-upload/... is served here too. The ads behaviour is unchanged.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..ads_objects import EDGES, AdsObjects
from ..ads_world import REPORT_KEY, AdsWorld
from ..clock import iso
from ..errors import ApiError
from ..graph import (
    ACCOUNT_RE,
    DEFAULT_INSIGHT_FIELDS,
    HOURLY,
    INSIGHT_LEVELS,
    INVALID_TOKEN,
    MAX_BATCH,
    NO_TOKEN,
    SUB_JSON,
    SUB_MISSING,
    SUB_UNKNOWN_OBJECT,
    UNKNOWN_PATH,
    GraphError,
    as_graph_error,
    cursor_of,
    cursor_value,
    graph_params,
    insights_period,
    invalid,
    page_limit,
    param_fields,
    param_json,
    param_str,
    pick,
    unknown_object,
)
from ..instagram import UPLOAD_PATH as IG_UPLOAD_PATH
from ..instagram import InstagramGraph
from ..publishing import Publishing
from ..transport import (
    JSON_BODY_LIMIT,
    Auth,
    Dialect,
    endpoint,
    json_response,
    media_type,
    route,
    shielded,
    too_large,
)

OAUTH_CHALLENGE = 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"'
LIST_EDGES = {"act": ("campaigns", "adsets", "ads", "adcreatives"), "campaign": ("adsets", "ads"),
              "adset": ("ads",)}
LEVEL_RANK = {lvl: i for i, lvl in enumerate(INSIGHT_LEVELS)}


@dataclass(frozen=True)
class Link:
    """Where a call was made (host, path, query), for the `paging.next` links of its answer."""

    host: str
    path: str
    query: tuple[tuple[str, str], ...] = ()

    def after(self, cursor: str) -> str:
        query = [(k, v) for k, v in self.query if k != "after"] + [("after", cursor)]
        return f"http://{self.host}{quote(self.path)}?{urlencode(query)}"


def graph_page(link: Link, params: Mapping[str, Any], keys: list[int], render: Callable[[int], dict[str, Any]],
               total: bool = False) -> dict[str, Any]:
    """The page of items after the `after` cursor; `keys` are the items' ascending cursor values and
    `render(i)` builds item i (only the page's items are built); `summary.total_count` with `total`."""
    limit = page_limit(params)
    after = params.get("after")
    start = bisect_right(keys, cursor_value(str(after))) if after else 0
    stop = min(start + limit, len(keys))
    items = [render(i) for i in range(start, stop)]
    paging: dict[str, Any] = {}
    if items:
        paging["cursors"] = {"before": cursor_of(keys[start]), "after": cursor_of(keys[stop - 1])}
        if stop < len(keys):
            paging["next"] = link.after(paging["cursors"]["after"])
    out: dict[str, Any] = {"data": items, "paging": paging}
    if total:
        out["summary"] = {"total_count": len(keys)}
    return out


def _wants_total(params: Mapping[str, Any]) -> bool:
    raw = params.get("summary")
    if isinstance(raw, bool):
        return raw
    text = str(raw or "").strip().lower()
    return text in ("true", "1") or "total_count" in text


def params_of(request: Request, body: bytes) -> dict[str, Any]:
    return graph_params(request.query_params.multi_items(), request.method,
                        media_type(request.headers.get("Content-Type")), body)


def authenticate(request: Request, params: Mapping[str, Any], auth: Auth) -> None:
    """Graph takes the token as `access_token` (query or form, what the SDKs send) or as a Bearer header."""
    header = (request.headers.get("Authorization") or "").strip()
    scheme, _, bearer = header.partition(" ")
    token = params.get("access_token")
    if not isinstance(token, str) or not token.strip():
        token = bearer.strip() if scheme.lower() in ("bearer", "oauth") else ""
    challenge = {"WWW-Authenticate": OAUTH_CHALLENGE}
    if not token:
        raise GraphError("An access token is required to request this resource.", code=NO_TOKEN, subcode=None,
                         headers=challenge)
    if not auth.valid_key(token):
        raise GraphError("Invalid OAuth access token - Cannot parse access token", code=INVALID_TOKEN,
                         subcode=None, headers=challenge)


def unknown_graph_path(request: Request, auth: Auth) -> ApiError:
    """Graph's answer to a path outside /graph/v<major>.<minor> (after the token is checked)."""
    if request.method not in ("GET", "POST", "DELETE"):
        return GraphError(f"{request.method} is not allowed on {request.url.path}; use GET, POST or DELETE",
                          subcode=None, status=405, headers={"Allow": "DELETE, GET, POST"})
    try:
        authenticate(request, dict(request.query_params), auth)
    except GraphError as exc:
        return exc
    return GraphError(f"Unknown path components: {request.url.path}", code=UNKNOWN_PATH, subcode=None)


def graph_error(request: Request, exc: ApiError) -> Response:
    err = as_graph_error(exc)
    return json_response(err.status, err.body(), err.headers)


class GraphAPI:
    """Every Graph call of the sandbox: (method, path components, parameters) -> (status, body, headers)."""

    def __init__(self, objects: AdsObjects, ads_world: AdsWorld, instagram: InstagramGraph | None = None):
        self.objects = objects
        self.ads_world = ads_world
        self.instagram = instagram  # Instagram's nodes (IG users, containers, media): sandbox/instagram.py

    # ------------------------------------------------------------------------------------ dispatch
    def call(self, method: str, parts: list[str], params: Mapping[str, Any],
             link: Link) -> tuple[int, Any, dict[str, str]]:
        if not parts:
            if method == "POST" and params.get("batch") is not None:
                return 200, self.batch(params, link), {}
            raise invalid("the version root takes only batch requests (POST with batch=[...])", SUB_MISSING, "batch")
        if self.instagram is not None and self.instagram.owns(parts[0]):  # Instagram's own nodes and edges
            page = lambda keys, render: graph_page(link, params, keys, render)
            return 200, self.instagram.call(method, parts, params, page, f"http://{link.host}"), {}
        if len(parts) > 2:
            raise GraphError(f"Unknown path components: /{'/'.join(parts[2:])}", code=UNKNOWN_PATH, subcode=None)
        node, edge = parts[0], (parts[1] if len(parts) > 1 else None)
        report = self._report(node)
        account = report["account"] if report else self.objects.account_of(node)
        headers: dict[str, str] = {}
        if account is not None:
            use_case = "ads_insights" if edge == "insights" or report else "ads_management"
            headers = self.objects.usage.call(account, use_case)
        try:
            return 200, self._route(method, node, edge, params, link, report), headers
        except GraphError as exc:
            exc.headers = {**headers, **exc.headers}
            raise

    def _route(self, method: str, node: str, edge: str | None, params: Mapping[str, Any], link: Link,
               report: dict[str, Any] | None) -> Any:
        if report is not None:
            if edge is None and method == "GET":
                return self._report_status(node, report, params)
            if edge == "insights" and method == "GET":
                return self._report_rows(report, params, link)
            raise self._unsupported(method, node, edge)
        if method == "DELETE":
            if edge is not None or node.startswith("act_"):
                raise self._unsupported(method, node, edge)
            return self.objects.delete_object(node)
        if edge is None:
            if method == "GET":
                return self.objects.get_object(node, params)
            return self.objects.update_object(node, params)
        if node.startswith("act_"):
            if not ACCOUNT_RE.match(node):
                raise self._unknown_edge(node, edge)
            if edge in LIST_EDGES["act"]:
                if method == "GET":
                    keys, render = self.objects.list_objects(node, edge, params)
                    return graph_page(link, params, keys, render, _wants_total(params))
                return self.objects.create_object(node, edge, params)
            if edge == "insights":
                acc = self.objects.account_id(node)
                return self._insights(method, acc, None, params, link)
            raise self._unknown_edge(node, edge)
        found = self.objects.state.ads_get(node)
        if found is None:
            if self.objects.account_of(node) is not None:  # a creative: no edges in the sandbox
                raise self._unknown_edge(node, edge)
            raise unknown_object(node)
        kind, obj = found
        if edge == "copies" and kind == "adset" and method == "POST":
            return self.objects.copy_adset(node, params)
        if edge == "insights":
            return self._insights(method, obj["account_id"], (kind, obj), params, link)
        if edge in LIST_EDGES.get(kind, ()) and method == "GET":
            keys, render = self.objects.list_objects(f"act_{obj['account_id']}", edge, params,
                                                     parent=(f"{kind}_id", node))
            return graph_page(link, params, keys, render, _wants_total(params))
        if edge in EDGES or edge == "copies":
            raise self._unsupported(method, node, edge)
        raise self._unknown_edge(node, edge)

    @staticmethod
    def _unsupported(method: str, node: str, edge: str | None) -> GraphError:
        path = f"/{node}" + (f"/{edge}" if edge else "")
        return GraphError(f"Unsupported {method.lower()} request on {path}", subcode=SUB_UNKNOWN_OBJECT)

    @staticmethod
    def _unknown_edge(node: str, edge: str) -> GraphError:
        return GraphError(f"Unknown path components: /{edge}", code=UNKNOWN_PATH, subcode=None)

    # ------------------------------------------------------------------------------------ insights
    def _query(self, scope: tuple[str, dict[str, Any]] | None, params: Mapping[str, Any]):
        """(level, hourly, daily, ad set filter) of an insights query on the account or one object."""
        own = scope[0] if scope else "account"
        level = (param_str(params, "level", max_len=20) or own).lower()
        if level not in INSIGHT_LEVELS:
            raise invalid(f"level must be one of {', '.join(INSIGHT_LEVELS)}, got {level!r}", field="level")
        if LEVEL_RANK[level] < LEVEL_RANK[own]:
            raise invalid(f"level {level} is above the {own} whose insights were asked for", field="level")
        breakdowns = params.get("breakdowns") or []
        if isinstance(breakdowns, str):  # a JSON list or a comma-separated string
            breakdowns = param_json(params, "breakdowns") if breakdowns.lstrip().startswith("[") else breakdowns.split(",")
        if not isinstance(breakdowns, list) or any(b != HOURLY for b in breakdowns if b):
            raise invalid(f"breakdowns supports only {HOURLY} in the sandbox", field="breakdowns")
        increment = str(params.get("time_increment") or "all_days")
        if increment not in ("1", "all_days"):
            raise invalid("time_increment must be 1 or all_days in the sandbox", field="time_increment")
        keep = None
        if scope is not None:
            kind, obj = scope
            if kind == "campaign":
                keep = lambda s, cid=obj["id"]: s["campaign_id"] == cid
            elif kind == "adset":
                keep = lambda s, sid=obj["id"]: s["id"] == sid
            else:
                keep = lambda s, sid=obj["adset_id"]: s["id"] == sid
        return level, any(breakdowns), increment == "1", keep

    def _rows(self, account: str, scope: tuple[str, dict[str, Any]] | None, params: Mapping[str, Any],
              link: Link, as_of: datetime | None = None) -> dict[str, Any]:
        level, hourly, daily, keep = self._query(scope, params)
        today = (as_of or self.ads_world.clock.now()).date()
        since, until = insights_period(params, today)
        count, row = self.ads_world.insights(account, since, until, hourly=hourly, daily=daily, level=level,
                                             adsets=keep, as_of=as_of)
        asked = param_fields(params)
        fields = (asked - {"id"} if asked is not None else set(DEFAULT_INSIGHT_FIELDS)) | {"date_start", "date_stop"}
        if hourly:
            fields.add(HOURLY)
        return graph_page(link, params, list(range(count)), lambda i: pick(row(i), fields))

    def _insights(self, method: str, account: str, scope: tuple[str, dict[str, Any]] | None,
                  params: Mapping[str, Any], link: Link) -> dict[str, Any]:
        if method == "GET":
            return self._rows(account, scope, params, link)
        if method != "POST":
            raise self._unsupported(method, f"act_{account}" if scope is None else scope[1]["id"], "insights")
        self._query(scope, params)  # refuse a bad query now, not when its result is read
        insights_period(params, self.ads_world.clock.now().date())
        run_id = self.objects._new_ids(1)[0]
        stored = {k: v for k, v in params.items() if k not in ("access_token", "appsecret_proof")}
        report = {"id": run_id, "account": account, "scope": None if scope is None else [scope[0], scope[1]["id"]],
                  "params": stored, "as_of": iso(self.ads_world.clock.now()), "reads": 0}
        self.objects.state.set_meta(REPORT_KEY.format(id=run_id), json.dumps(report, separators=(",", ":")))
        return {"report_run_id": run_id}

    def _report(self, node: str) -> dict[str, Any] | None:
        raw = self.objects.state.get_meta(REPORT_KEY.format(id=node)) if node.isdigit() else None
        return json.loads(raw) if raw else None

    def _report_status(self, run_id: str, report: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """A job is 'Job Running' (50%) when first read and 'Job Completed' (100%) from then on: a client
        must poll, as on Meta, and the sandbox stays deterministic."""
        report["reads"] += 1
        self.objects.state.set_meta(REPORT_KEY.format(id=run_id), json.dumps(report, separators=(",", ":")))
        done = report["reads"] > 1
        as_of = datetime.fromisoformat(report["as_of"])
        since, until = insights_period(report["params"], as_of.date())
        out = {"id": run_id, "account_id": report["account"], "async_status": "Job Completed" if done else "Job Running",
               "async_percent_completion": 100 if done else 50, "is_running": not done,
               "date_start": since.isoformat(), "date_stop": until.isoformat(),
               "time_ref": int(as_of.timestamp())}
        if done:
            out["time_completed"] = int(as_of.timestamp())
        return pick(out, param_fields(params))

    def _report_rows(self, report: dict[str, Any], params: Mapping[str, Any], link: Link) -> dict[str, Any]:
        if report["reads"] < 2:
            raise GraphError(f"report run {report['id']} is not complete yet: poll it until async_status is "
                             "'Job Completed'", subcode=None, transient=True)
        scope = None
        if report["scope"]:
            found = self.objects.state.ads_get(report["scope"][1])
            if found is None:
                raise unknown_object(report["scope"][1])
            scope = found
        query = {**report["params"], **{k: v for k, v in params.items() if k in ("limit", "after")}}
        as_of = datetime.fromisoformat(report["as_of"])
        return self._rows(report["account"], scope, query, link, as_of)

    # --------------------------------------------------------------------------------------- batch
    def batch(self, params: Mapping[str, Any], link: Link) -> list[dict[str, Any]]:
        """Each call of `batch` (method, relative_url, body) through `call`; its answer as Meta gives it:
        {"code", "headers": [{"name", "value"}], "body": "<JSON text>"}. Calls do not refer to each other's
        results (Meta's JSONPath `{result=...}` references are not supported)."""
        calls = param_json(params, "batch")
        if not isinstance(calls, list) or not calls:
            raise invalid("batch must be a non-empty JSON list of {method, relative_url, body}", SUB_JSON, "batch")
        if len(calls) > MAX_BATCH:
            raise invalid(f"a batch holds at most {MAX_BATCH} requests, got {len(calls)}", field="batch")
        out = []
        for i, item in enumerate(calls):
            try:
                status, body, headers = self._batch_item(i, item, link)
            except GraphError as exc:
                status, body, headers = exc.status, exc.body(), exc.headers
            out.append({"code": status,
                        "headers": [{"name": "Content-Type", "value": "text/javascript; charset=UTF-8"},
                                    *({"name": k, "value": v} for k, v in headers.items() if k.startswith("x-"))],
                        "body": json.dumps(body, separators=(",", ":"))})
        return out

    def _batch_item(self, i: int, item: Any, link: Link) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(item, dict) or not isinstance(item.get("relative_url"), str):
            raise invalid(f"batch[{i}] must be an object with a relative_url", field="batch")
        method = str(item.get("method") or "GET").upper()
        if method not in ("GET", "POST", "DELETE"):
            raise invalid(f"batch[{i}].method must be GET, POST or DELETE", field="batch")
        url = item["relative_url"].lstrip("/")
        path, _, query = url.partition("?")
        parts = [p for p in path.split("/") if p]
        if parts and parts[0][:1] == "v" and parts[0][1:].replace(".", "").isdigit():
            parts = parts[1:]  # a relative_url may carry the version
        if not parts:
            raise invalid(f"batch[{i}].relative_url names no object (batches do not nest)", field="batch")
        query_items = parse_qsl(query, keep_blank_values=True)
        params: dict[str, Any] = dict(query_items)
        body = item.get("body")
        if isinstance(body, str) and method != "GET":
            params.update(dict(parse_qsl(body, keep_blank_values=True)))
        elif isinstance(body, dict) and method != "GET":
            params.update(body)
        sub_link = Link(link.host, link.path.rstrip("/") + "/" + "/".join(parts), tuple(query_items))
        return self.call(method, parts, params, sub_link)


@dataclass(frozen=True)
class GraphDialect(Dialect):
    """The dialect of /graph; `service` is its GraphAPI (tests reach its Instagram policy through it)."""

    service: Any = None


def graph_dialect(objects: AdsObjects, ads_world: AdsWorld, auth: Auth,
                  publishing: Publishing | None = None) -> GraphDialect:
    # Instagram's posts are the sandbox's posts: pass the app's Publishing (a stand-in over the same world,
    # state and clock is built when none is given)
    publishing = publishing or Publishing(ads_world.world, ads_world.state, ads_world.clock)
    instagram = InstagramGraph(publishing, publishing.config.api_keys)
    api = GraphAPI(objects, ads_world, instagram)

    def handle(request: Request, body: bytes, version: str, rest: str = "") -> Response:
        query = dict(request.query_params)
        header = (request.headers.get("Authorization") or "").strip()
        if query.get("access_token") or header:  # the token is not in the body: check it before reading that
            authenticate(request, query, auth)
            params = params_of(request, body)
        else:
            params = params_of(request, body)
            authenticate(request, params, auth)
        parts = [p for p in rest.split("/") if p]
        base = f"/graph/{version}"
        link = Link(request.headers.get("Host") or "127.0.0.1", base + ("/" + "/".join(parts) if parts else ""),
                    tuple(request.query_params.multi_items()))
        status, payload, headers = api.call(request.method, parts, params, link)
        return json_response(status, payload, headers)

    async def ig_upload(request: Request) -> Response:
        """Instagram's resumable upload host (rupload.facebook.com/ig-api-upload/[<version>/]<container id>):
        the video bytes from `offset` (headers offset, file_size; or file_url), Authorization: OAuth <token>."""
        authenticate(request, dict(request.query_params), auth)
        container_id = request.path_params["rest"].rstrip("/").rsplit("/", 1)[-1]
        container = await run_in_threadpool(instagram.upload_target, container_id)
        file_url = request.headers.get("file_url")
        if file_url:
            result = await run_in_threadpool(instagram.upload_url, container_id, file_url)
            return json_response(200, result)
        first, total = instagram.upload_offset(container, request.headers.get("offset"),
                                               request.headers.get("file_size"))
        path = await run_in_threadpool(instagram.upload_file, container_id)
        written, limit = 0, total - first
        with open(path, "r+b") as out:  # noqa: ASYNC230 - local writes, as transport.stream_to_file
            out.truncate(first)
            out.seek(first)
            async for chunk in request.stream():
                written += len(chunk)
                if written > limit:
                    out.truncate(first)
                    raise too_large(limit)
                out.write(chunk)
        result = await run_in_threadpool(instagram.upload_received, container_id, total)
        return json_response(200, result)

    serve = endpoint(handle, body_limit=JSON_BODY_LIMIT)
    methods = {"GET": serve, "POST": serve, "DELETE": serve}
    routes = [
        route("/graph/{version:graph_version}", methods),
        route("/graph/{version:graph_version}/{rest:path}", methods),
        route(IG_UPLOAD_PATH + "/{rest:path}", {"POST": shielded(ig_upload)}),
    ]
    return GraphDialect("/graph", routes, render_error=graph_error,
                        no_route=lambda request: unknown_graph_path(request, auth), service=api)


def _register_convertors() -> None:
    from starlette.convertors import Convertor, register_url_convertor

    class GraphVersion(Convertor[str]):
        regex = r"v\d+\.\d+"

        def convert(self, value: str) -> str:
            return value

        def to_string(self, value: str) -> str:
            return value

    register_url_convertor("graph_version", GraphVersion())


_register_convertors()
