"""Running the hooks service: on a thread beside other work (tests, the demo, benchmarks) or in the
foreground (`actp hooks`, uvicorn handling SIGINT/SIGTERM)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from actp_pipeline.hooks.service import HooksConfig, HooksService
from actp_pipeline.serving import BackgroundServer, bind
from actp_pipeline.store.engine import connect_store

DEFAULT_PORT = 8788


class HooksServer:
    """The service on a background thread: `with HooksServer(store_url) as hooks: hooks.url ...`."""

    def __init__(self, store_url: str, config: HooksConfig | None = None, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], dt.datetime] | None = None):
        self.engine = connect_store(store_url)
        self.service = HooksService(self.engine, config, **({"clock": clock} if clock else {}))
        self._server = BackgroundServer(self.service.app(), host, port, name="hooks")

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> HooksServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self.service.close()
        self.engine.dispose()

    def __enter__(self) -> HooksServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_forever(store_url: str, host: str, port: int, config: HooksConfig | None = None,
                  verbose: bool = False) -> None:
    """The service in the foreground until SIGINT/SIGTERM; the click log is drained before exit."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    engine = connect_store(store_url)
    service = HooksService(engine, config or HooksConfig.from_env())
    sock = bind(host, port)
    server = uvicorn.Server(uvicorn.Config(
        service.app(), lifespan="off", ws="none", log_config=LOGGING_CONFIG if verbose else None,
        access_log=verbose, proxy_headers=False, server_header=False, timeout_keep_alive=60))
    try:
        server.run(sockets=[sock])
    finally:
        service.close()
        engine.dispose()
        sock.close()
