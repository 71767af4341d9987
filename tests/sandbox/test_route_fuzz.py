"""Every route of the sandbox under seeded hostile requests (tests/faults/route_fuzz.py): every malformed
request is a 4xx with a JSON error on the API (the web site answers pages), never a 5xx, never slow.
And the fuzzer itself can fail: a route that raises is found."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from actp_pipeline.sandbox import SandboxServer
from tests.faults.route_fuzz import Credentials, discover_routes, fuzz_routes
from tests.media import make_mp4
from tests.sandbox.conftest import sandbox_config

SEED = 20251205
PER_ROUTE = 100  # 25 routes: 2500 requests, ~10-20 s on two cores


@pytest.fixture
def sandbox_api():
    """A fresh sandbox app, not served: the fuzzer drives it in-process."""
    server = SandboxServer(sandbox_config())
    try:
        yield server.api
    finally:
        server.state.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_every_sandbox_route_survives_hostile_requests(sandbox_api, media_dir):
    sample = make_mp4(media_dir / "fuzz_sample.mp4", '{"actp_creative": {"hook_pattern": "pov"}}').read_bytes()
    report = fuzz_routes(sandbox_api, seed=SEED, per_route=PER_ROUTE, media_samples=[sample])
    print(report.summary())
    routes = discover_routes(sandbox_api)
    assert report.routes == len(routes) >= 20
    assert report.routes_hit == {r.path for r in routes}, "routes never exercised"
    assert all(n == PER_ROUTE for n in report.per_route.values()), report.per_route
    assert report.inputs >= 500
    assert report.http_5xx == 0, report.summary()
    assert report.non_json_errors == 0, report.summary()
    assert report.slow == 0, report.summary()
    assert report.statuses.get(200, 0) + report.statuses.get(201, 0) > 0  # valid auth got handlers to work


def _fragile_app() -> Starlette:
    async def item(request: Request):
        return JSONResponse({"n": int(request.path_params["n"])})  # ValueError on anything but digits

    async def text_error(request: Request):
        return PlainTextResponse("nope", status_code=400)

    return Starlette(routes=[Route("/items/{n}", item),
                             Mount("/api", routes=[Route("/plain", text_error, methods=["GET", "POST"])])])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_fuzzer_reports_a_route_that_raises_and_a_non_json_error():
    app = _fragile_app()
    assert {r.path for r in discover_routes(app)} == {"/items/{n}", "/api/plain"}  # Mounts are walked
    report = fuzz_routes(app, seed=1, per_route=40, credentials=Credentials())
    assert report.http_5xx > 0
    assert report.non_json_errors > 0
    assert report.inputs == 80 and report.routes_hit == {"/items/{n}", "/api/plain"}
    assert any(e["status"] == 500 and e["path"].startswith("/items/") for e in report.examples)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_same_seed_sends_the_same_requests():
    a = fuzz_routes(_fragile_app(), seed=3, per_route=25, credentials=Credentials())
    b = fuzz_routes(_fragile_app(), seed=3, per_route=25, credentials=Credentials())
    c = fuzz_routes(_fragile_app(), seed=4, per_route=25, credentials=Credentials())
    assert (a.statuses, a.examples) == (b.statuses, b.examples)
    assert a.examples != c.examples
