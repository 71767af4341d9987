"""The sandbox's HTTP transport: a threaded stdlib server on loopback that speaks JSON (and HTML on /web/).

All behaviour a client sees is decided in api.py; this module reads requests (Content-Length or
chunked bodies, streamed so large uploads never sit in memory), writes the responses, keeps quiet
unless asked to be verbose, and wires world, state and clock together in `SandboxServer`.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sys
import threading
import traceback
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from .api import JSON, Request, Response, SandboxAPI
from .clock import SimClock, iso
from .errors import ApiError
from .state import SandboxState
from .world import World, WorldConfig

DEFAULT_PORT = 8787  # the default of Settings.platform_url
_READ_CHUNK = 1024 * 1024
_CONNECTION_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class _Body:
    """The request body, read lazily (Content-Length or chunked), with a size limit per read."""

    def __init__(self, rfile: BinaryIO, headers: Any):
        self._rfile = rfile
        self.chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        self.length = 0
        self.error: ApiError | None = None
        if not self.chunked:
            raw = headers.get("Content-Length")
            if raw is not None:
                try:
                    self.length = int(raw)
                    if self.length < 0:
                        raise ValueError
                except ValueError:
                    self.error = ApiError(400, "invalid_request", "Content-Length must be a non-negative integer",
                                          field="Content-Length")
                    self.length = 0
        self.consumed = not self.chunked and self.length == 0 and self.error is None

    def _too_large(self, limit: int) -> ApiError:
        return ApiError(413, "payload_too_large", f"the request body is larger than {limit} bytes", field="body")

    def _exactly(self, n: int) -> Iterator[bytes]:
        """`n` bytes of the body in pieces; a body that ends early is a 400."""
        while n:
            data = self._rfile.read(min(n, _READ_CHUNK))
            if not data:
                raise ApiError(400, "invalid_request", "the request body ended early", field="body")
            n -= len(data)
            yield data

    def chunks(self, limit: int) -> Iterator[bytes]:
        if self.error is not None:
            raise self.error
        if self.consumed:
            return
        if not self.chunked:
            if self.length > limit:
                raise self._too_large(limit)
            yield from self._exactly(self.length)
            self.consumed = True
            return
        total = 0
        while True:
            line = self._rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ApiError(400, "invalid_request", "malformed chunked body", field="body") from None
            if size == 0:
                while self._rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self.consumed = True
                return
            total += size
            if total > limit:
                raise self._too_large(limit)
            yield from self._exactly(size)
            self._rfile.readline(16)  # CRLF after the chunk

    def read_all(self, limit: int) -> bytes:
        return b"".join(self.chunks(limit))

    def copy_to(self, fileobj: Any, limit: int) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        for data in self.chunks(limit):
            fileobj.write(data)
            digest.update(data)
            size += len(data)
        return size, digest.hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ACTP-Sandbox/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait for delayed ACKs
    server: _HTTPServer

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        body = _Body(self.rfile, self.headers)
        try:
            req = Request(
                method=self.command,
                path=unquote(split.path),
                query=parse_qs(split.query, keep_blank_values=True),
                headers=self.headers,
                body=body,
            )
            resp = self.server.api.handle(req)
        except ApiError as exc:
            resp = Response(exc.status, exc.body(), exc.headers)
        except _CONNECTION_ERRORS:
            self.close_connection = True
            return
        except Exception:  # a bug in the sandbox: say so, keep serving
            sys.stderr.write(f"actp sandbox: error handling {self.command} {split.path}\n{traceback.format_exc()}")
            resp = Response(500, {"error": {"code": "internal", "message": "internal sandbox error"}})
        if not body.consumed:
            self.close_connection = True  # unread body bytes would poison the next request
        self._send(resp)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def _send(self, resp: Response) -> None:
        if resp.content_type == JSON:
            payload = json.dumps(resp.body, separators=(",", ":")).encode("ascii")
        else:
            payload = resp.body.encode("utf-8") if isinstance(resp.body, str) else bytes(resp.body)
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            for name, value in resp.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except _CONNECTION_ERRORS:
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unsupported method) in the same JSON shape."""
        self.close_connection = True
        text = message or self.responses.get(code, ("error",))[0]
        self._send(Response(code, {"error": {"code": "http_error", "message": text}}))

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: SandboxAPI, verbose: bool):
        self.api = api
        self.verbose = verbose
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if self.verbose or not isinstance(exc, _CONNECTION_ERRORS + (OSError,)):
            super().handle_error(request, client_address)


class SandboxServer:
    """The sandbox service: a seeded world behind a loopback HTTP API.

    with SandboxServer(WorldConfig(seed=7)) as sandbox:
        httpx.get(sandbox.url + "/v1/health")
    """

    def __init__(
        self,
        config: WorldConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: Path | str | None = None,
        *,
        verbose: bool = False,
    ):
        self.config = config or WorldConfig()
        self.world = World(self.config)
        self.state = SandboxState(state_path)
        try:
            self.state.check_seed(self.config.seed)
            start = datetime.fromisoformat(self.state.setdefault_meta("clock_start", iso(self.config.start)))
            offset = float(self.state.get_meta("clock_offset_s") or 0.0)
            latest = self.state.latest_created_at()  # never restart before something already happened
            if latest is not None:
                offset = max(offset, (datetime.fromisoformat(latest) - start).total_seconds())
            self.clock = SimClock(start, self.config.speed, offset, on_change=self._persist_offset)
            self.api = SandboxAPI(self.world, self.state, self.clock)
            self._httpd = _HTTPServer((host, port), self.api, verbose)
        except BaseException:
            self.state.close()
            raise
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._stop_lock = threading.Lock()

    def _persist_offset(self, offset_s: float) -> None:
        self.state.set_meta("clock_offset_s", repr(float(offset_s)))

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def truth_token(self) -> str:
        return self.config.truth_token

    def start(self) -> SandboxServer:
        if self._stopped:
            raise RuntimeError("this sandbox server was stopped; create a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="actp-sandbox", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join(timeout=10)
            self._httpd.server_close()
            if self.clock.speed > 0:
                self.clock.checkpoint()
            self.state.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_forever(
    config: WorldConfig | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    state_path: Path | str | None = None,
    *,
    verbose: bool = False,
) -> None:
    """Run the sandbox in the foreground until interrupted (the `actp sandbox` command)."""
    server = SandboxServer(config, host, port, state_path, verbose=verbose)
    print(f"ACTP sandbox listening on {server.url}", file=sys.stderr)
    print(f"  API keys: {', '.join(server.config.api_keys)}", file=sys.stderr)
    print(f"  truth token: {server.truth_token}", file=sys.stderr)
    print(f"  simulated now: {iso(server.clock.now())} (speed {server.clock.speed})", file=sys.stderr)
    users = ", ".join(f"{u} / {pw}" for u, pw in server.config.web_users.items())
    print(f"  web upload site: {server.url}/web/login ({users or 'no users'})", file=sys.stderr, flush=True)
    previous = None
    if threading.current_thread() is threading.main_thread():
        def _terminate(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        server._httpd.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        server.stop()
