"""The local machine's health endpoint (default 127.0.0.1:8765, GET /health)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


def serve_health(stats: Callable[[], dict[str, Any]], host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """Serve `stats()` as JSON on /health in a daemon thread; returns the server (call .shutdown())."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.split("?")[0] != "/health":
                self._send(404, {"error": {"code": "unknown_route", "message": f"no route {self.path}"}})
                return
            try:
                self._send(200, stats())
            except Exception as e:  # the store may be unreachable: say so instead of hanging up
                self._send(503, {"status": "degraded", "error": str(e)[:500]})

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
