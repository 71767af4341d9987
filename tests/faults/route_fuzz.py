"""A route fuzzer for Starlette apps: every route (found by walking `app.routes`, Mounts included) gets
`per_route` distinct hostile requests, drawn from a seeded `random.Random` (hostile_inputs.py), so one
seed always sends the same requests. They go in-process through Starlette's TestClient.

    report = fuzz_routes(app, seed=7, per_route=40)
    assert report.http_5xx == 0 and report.non_json_errors == 0, report.summary()

What counts as a failure: any 5xx, and on an API route (every path unless `is_api` says otherwise) a
4xx whose body is not a JSON object with an "error". A 2xx is never judged (the input may have been valid).
Most requests carry valid credentials (`Credentials`), so they get past auth to the handlers; ids that
2xx answers return are harvested and reused in later paths and bodies, to reach existing objects.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from random import Random
from typing import Any, Callable

import warnings

from starlette.routing import BaseRoute, Mount, compile_path

with warnings.catch_warnings():  # Starlette deprecates TestClient on httpx; it is what this venv has
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from . import hostile_inputs as hostile

SLOW_S = 2.0
MAX_EXAMPLES = 20
MAX_HARVEST = 40
ROUNDS = 4


@dataclass(frozen=True)
class RouteInfo:
    """One route with its full path (Mount prefixes joined) and the methods it declares."""

    path: str
    methods: tuple[str, ...]
    regex: Any
    param_regexes: dict[str, str]


@dataclass
class Credentials:
    """Valid headers for the app; `renew` (optional) gives fresh ones per route (a session cookie that a
    fuzzed logout may end). `secrets` are replaced by a placeholder in the distinct-input hash."""

    headers: dict[str, str] = field(default_factory=dict)
    renew: Callable[[], dict[str, str]] | None = None

    def current(self) -> dict[str, str]:
        if self.renew is not None:
            self.headers = {**self.headers, **self.renew()}
        return self.headers


@dataclass
class FuzzReport:
    routes: int = 0
    routes_hit: set[str] = field(default_factory=set)
    inputs: int = 0
    http_5xx: int = 0
    non_json_errors: int = 0
    slow: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    per_route: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"routes {len(self.routes_hit)}/{self.routes} hit, inputs {self.inputs}, 5xx {self.http_5xx}, "
                 f"non-JSON errors {self.non_json_errors}, slow {self.slow}, {self.seconds:.1f} s",
                 "statuses: " + ", ".join(f"{k}x{v}" for k, v in sorted(self.statuses.items()))]
        lines += [f"  {e['method']} {e['path'][:120]} -> {e['status']} ({e['why']}): {e['body']}" for e in self.examples]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ routes
def _route_table(app: Any) -> list[BaseRoute]:
    """The routes of a Starlette app, or of an ASGI wrapper holding one in `.app` or `.router`."""
    for candidate in (app, getattr(app, "app", None), getattr(app, "router", None)):
        routes = getattr(candidate, "routes", None)
        if isinstance(routes, list):
            return routes
    raise TypeError(f"{type(app).__name__} has no Starlette route table")


def discover_routes(app: Any) -> list[RouteInfo]:
    """Every routable path of the app, in dispatch order, Mounts walked recursively."""
    found: list[RouteInfo] = []
    stack: list[tuple[str, list[BaseRoute]]] = [("", _route_table(app))]
    while stack:
        prefix, routes = stack.pop()
        for i, r in enumerate(routes):
            if isinstance(r, Mount):
                stack.append((prefix + r.path, list(r.routes)))  # type: ignore[arg-type]
                continue
            path = getattr(r, "path", None)
            if path is None:
                continue
            full = prefix + path
            regex, _fmt, convertors = compile_path(full)
            methods = tuple(sorted(m for m in (getattr(r, "methods", None) or {"GET"}) if m != "HEAD"))
            found.append(RouteInfo(full, methods, regex, {k: c.regex for k, c in convertors.items()}))
    return found


def dispatched_route(routes: list[RouteInfo], path: str) -> RouteInfo | None:
    """The first route whose path pattern matches (Starlette's dispatch order)."""
    return next((r for r in routes if r.regex.match(path)), None)


# ---------------------------------------------------------------------------------------- requests
@dataclass(frozen=True)
class Hostile:
    method: str
    url: str
    auth: str  # "valid" | "none" | a wrong credential's name
    headers: tuple[tuple[str, bytes], ...]
    body: bytes

    def key(self) -> str:
        h = hashlib.sha256()
        for part in (self.method, self.url, self.auth, repr(self.headers)):
            h.update(part.encode("utf-8", "surrogatepass") + b"\0")
        h.update(self.body)
        return h.hexdigest()


WRONG_AUTH: dict[str, dict[str, bytes]] = {
    "none": {},
    "wrong_key": {"Authorization": b"Bearer not-a-key", "X-Truth-Token": b"wrong"},
    "bare_bearer": {"Authorization": b"Bearer"},
    "basic": {"Authorization": b"Basic Zm9vOmJhcg=="},
    "latin1": {"Authorization": b"Bearer \xe9\xff", "Cookie": b"actp_session=\xe9"},
    "long": {"Authorization": b"Bearer " + b"k" * 8000},
    "cookie": {"Cookie": b"actp_session=forged; actp_session=other"},
}


def _path(route: RouteInfo, rng: Random, harvested: list[str]) -> str:
    path = route.path
    for name, regex in route.param_regexes.items():
        value = hostile.path_value(rng, regex, harvested)
        path = path.replace("{" + name, "\0", 1)
        head, _, tail = path.partition("\0")
        path = head + value + tail.split("}", 1)[1]
    if rng.random() < 0.05:
        path += rng.choice(["/", "//", "/..", "/%2e%2e/x", "/extra"])
    return path


def draw_request(route: RouteInfo, rng: Random, harvested: list[str], samples: list[bytes]) -> Hostile:
    method = rng.choice(route.methods) if rng.random() < 0.9 else rng.choice(hostile.HTTP_METHODS)
    url = _path(route, rng, harvested)
    query = hostile.query_string(rng, harvested) if rng.random() < 0.6 else ""
    if query:
        url += "?" + query
    auth = "valid" if rng.random() < 0.75 else rng.choice(sorted(WRONG_AUTH))
    body, ctype = hostile.body_and_type(rng, method, harvested, samples)
    headers: list[tuple[str, bytes]] = []
    if ctype is not None:
        headers.append(("Content-Type", ctype.encode("utf-8")))
    if rng.random() < 0.05:
        headers.append(("Content-Length", rng.choice([b"999999999999", b"-1", b"abc", b"0"])))
    return Hostile(method, url, auth, tuple(headers), body)


def _headers(req: Hostile, creds: Credentials) -> dict[str, Any]:
    auth = {k: v.encode() for k, v in creds.headers.items()} if req.auth == "valid" else WRONG_AUTH[req.auth]
    return {**auth, **dict(req.headers)}


# ---------------------------------------------------------------------------------------- checking
def _is_json_error(resp: Any) -> bool:
    if not resp.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        body = json.loads(resp.content)
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    # the dialects' documented error bodies: an "error" object (Graph, Google, TikTok's envelope, /sandbox),
    # OAuth 2's {"error": code, "error_description"} (RFC 6749 5.2), Ayrshare's {"status": "error", "code", ...},
    # TikTok's API for Business {"code": <non-zero>, "message", "request_id", "data"}
    error = body.get("error")
    code = body.get("code")
    return (isinstance(error, dict) or (isinstance(error, str) and bool(error))
            or (body.get("status") == "error" and "code" in body)
            or (isinstance(code, int) and not isinstance(code, bool) and code != 0 and "message" in body))


def _harvest(resp: Any, harvested: list[str]) -> None:
    """Ids from a 2xx JSON answer ("*_id", and "id" of what a POST made), for later requests to name
    existing objects (not every "id" of a listing: those would crowd out the objects the run made)."""
    id_keys = ("id",) if resp.request.method == "POST" else ()
    if not 200 <= resp.status_code < 300 or not resp.headers.get("content-type", "").startswith("application/json"):
        return
    stack = [json.loads(resp.content)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if isinstance(v, str) and (k in id_keys or k.endswith("_id")) and v not in harvested:
                    harvested.append(v)
                    del harvested[:-MAX_HARVEST]  # the newest ids: the objects this run made last
                else:
                    stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)


def _record(report: FuzzReport, req: Hostile, resp: Any, elapsed: float, api: bool) -> None:
    report.statuses[resp.status_code] = report.statuses.get(resp.status_code, 0) + 1
    why = None
    if resp.status_code >= 500:
        report.http_5xx += 1
        why = "5xx"
    elif 400 <= resp.status_code < 500 and api and req.method != "HEAD" and not _is_json_error(resp):
        report.non_json_errors += 1
        why = "not a JSON error"
    if elapsed > SLOW_S:
        report.slow += 1
        why = why or f"slow ({elapsed:.1f} s)"
    if why and len(report.examples) < MAX_EXAMPLES:
        report.examples.append({"method": req.method, "path": req.url, "status": resp.status_code, "why": why,
                                "body": resp.content[:200].decode("utf-8", "replace"),
                                "request_body": req.body[:200].decode("utf-8", "replace")})


# -------------------------------------------------------------------------------------------- runner
def fuzz_routes(app: Any, *, seed: int, per_route: int, credentials: Credentials | None = None,
                is_api: Callable[[str], bool] | None = None, media_samples: list[bytes] | None = None
                ) -> FuzzReport:
    """Send `per_route` distinct hostile requests to every route of `app` (see the module docstring).

    `credentials` default to `config_credentials(app)`; `is_api(path)` says whether a path must answer
    errors in JSON (default: every path but /web...); `media_samples` are real media files to mangle."""
    routes = discover_routes(app)
    report = FuzzReport(routes=len(routes))
    creds = credentials if credentials is not None else config_credentials(app)
    api = is_api or (lambda path: not (path == "/web" or path.startswith("/web/")))
    harvested: list[str] = []
    seen: set[str] = set()
    rng = Random(seed)
    started = time.perf_counter()
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as tc:
        for round_no in range(ROUNDS):  # in rounds, so each route can use ids that later routes made
            quota = per_route * (round_no + 1) // ROUNDS
            for route in routes:
                creds.current()
                attempts = 0
                while report.per_route.get(route.path, 0) < quota and attempts < per_route * 20:
                    attempts += 1
                    req = draw_request(route, rng, harvested, media_samples or [])
                    if req.key() in seen:
                        continue
                    seen.add(req.key())
                    report.per_route[route.path] = report.per_route.get(route.path, 0) + 1
                    resp = _send(tc, req, creds, routes, report, api)
                    try:
                        _harvest(resp, harvested)
                    except ValueError:  # a 2xx that claims JSON but is not: not the fuzzer's to judge
                        pass
    report.inputs = len(seen)
    report.seconds = time.perf_counter() - started
    return report


def _send(tc: TestClient, req: Hostile, creds: Credentials, routes: list[RouteInfo], report: FuzzReport,
          api: Callable[[str], bool]) -> Any:
    tc.cookies.clear()  # credentials travel in headers only, never in the client's jar
    t0 = time.perf_counter()
    resp = tc.request(req.method, req.url, content=req.body, headers=_headers(req, creds))
    elapsed = time.perf_counter() - t0
    path = resp.request.url.path
    hit = dispatched_route(routes, path)
    if hit is not None:
        report.routes_hit.add(hit.path)
    _record(report, req, resp, elapsed, api(path))
    return resp


# ------------------------------------------------------------------------------------- credentials
def config_credentials(app: Any) -> Credentials:
    """Valid credentials from an app's `config` (the ACTP sandbox's WorldConfig): the first API key as a
    Bearer token, the truth token, and a fresh web session per route when it has web users."""
    config = getattr(app, "config", None)
    headers: dict[str, str] = {}
    if config is None:
        return Credentials(headers)
    if getattr(config, "api_keys", None):
        headers["Authorization"] = f"Bearer {config.api_keys[0]}"
    if getattr(config, "truth_token", None):
        headers["X-Truth-Token"] = config.truth_token
    users = dict(getattr(config, "web_users", None) or {})
    if not users:
        return Credentials(headers)
    sessions = _web_sessions(app, *next(iter(users.items())), count=ROUNDS * len(discover_routes(app)) + 1)
    return Credentials(headers, renew=lambda: {"Cookie": sessions.pop() if sessions else ""})


def _web_sessions(app: Any, username: str, password: str, count: int) -> list[str]:
    """`count` session cookies from the login form, all made before any fuzzed login can throttle it."""
    cookies = []
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as tc:
        for _ in range(count):
            tc.cookies.clear()
            resp = tc.post("/web/login", data={"username": username, "password": password})
            cookie = resp.headers.get("set-cookie", "").split(";", 1)[0]
            if resp.status_code == 303 and cookie:
                cookies.append(cookie)
    return cookies
