"""An ASGI app served by uvicorn on a thread of its own: the sandbox, the worker's /health endpoint and the
hooks service all run this way, inside a process that has other work to do (tests, the demo, a worker).

The listening socket is bound when the server is made, so its port is known at once (port 0 picks a free
one) and a port in use fails there, as an OSError. uvicorn installs no signal handlers off the main
thread; whoever runs the process decides what SIGINT/SIGTERM do and calls stop().
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port), IPv6 when the host is an IPv6 address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


class BackgroundServer:
    """`app` under uvicorn on a daemon thread: start(), stop() (idempotent), host, port, url.

    Quiet unless `verbose` (then uvicorn logs its access lines); keep-alive connections stay open a minute,
    so clients that pace their calls (a worker polling metrics) rarely race a server-side close.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, name: str = "asgi",
                 verbose: bool = False):
        self.name = name
        self._sock = bind(host, port)
        self._address = self._sock.getsockname()  # kept: the url stays readable after stop()
        config = uvicorn.Config(
            app, interface="asgi3", lifespan="off", ws="none", log_config=LOGGING_CONFIG if verbose else None,
            access_log=verbose, proxy_headers=False, server_header=False, timeout_keep_alive=60, timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def host(self) -> str:
        return str(self._address[0])

    @property
    def port(self) -> int:
        return int(self._address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Serve on the thread; returns once uvicorn accepts connections."""
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"the {self.name} server was stopped; create a new one")
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                            name=self.name, daemon=True)
            self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.name} server did not start on {self.url}")
            time.sleep(0.005)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the serving thread (for a foreground server: until stop() or a crash)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """Close the listener and every connection; in-flight requests get a few seconds to finish."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
        if thread is not None:
            self._server.should_exit = True
            thread.join(STOP_TIMEOUT_S)
        self._sock.close()
