"""The local machine's health endpoint (default 127.0.0.1:8765, GET /health): a tiny Starlette app on
uvicorn, served on a thread beside the worker loop."""

from __future__ import annotations

import errno
import json
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actp_pipeline.serving import BackgroundServer


class HealthServer(BackgroundServer):
    """The running /health server; shutdown() and server_close() stop it (the names http.server used)."""

    @property
    def server_address(self) -> tuple[str, int]:
        return self.host, self.port

    def shutdown(self) -> None:
        self.stop()

    def server_close(self) -> None:
        self.stop()


def health_app(stats: Callable[[], dict[str, Any]]) -> Starlette:
    """GET /health -> stats() as JSON; 503 with the reason when stats() fails (the store may be down)."""

    async def health(request: Request) -> Response:
        try:
            body = await run_in_threadpool(stats)
        except Exception as e:  # the store may be unreachable: say so instead of hanging up
            return _json(503, {"status": "degraded", "error": str(e)[:500]})
        return _json(200, body)

    async def unknown(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "unknown_route" if exc.status_code == 404 else "method_not_allowed"
        return _json(exc.status_code, {"error": {"code": code, "message": f"no route {request.method} "
                                                                          f"{request.url.path}"}})

    return Starlette(routes=[Route("/health", health)], exception_handlers={HTTPException: unknown})


def _json(status: int, body: dict[str, Any]) -> Response:
    """JSON with str() for what json cannot encode (datetimes in the stats)."""
    return Response(json.dumps(body, default=str).encode(), status, media_type="application/json")


def serve_health(stats: Callable[[], dict[str, Any]], host: str = "127.0.0.1", port: int = 8765,
                 log: Callable[[str], None] = lambda m: None) -> HealthServer:
    """Serve `stats()` as JSON on /health in a daemon thread; returns the server (call .shutdown()).

    Several workers may run on one machine: when `port` is taken, this one serves on a free port instead and
    says where in `log` (its heartbeat row names the worker either way)."""
    try:
        server = HealthServer(health_app(stats), host, port, name="health")
    except OSError as e:
        if e.errno != errno.EADDRINUSE or port == 0:
            raise
        server = HealthServer(health_app(stats), host, 0, name="health")
        log(f"health port {port} is in use (another worker on this machine?): serving {server.url}/health instead")
    server.start()
    return server
