"""The sandbox service: world, state and clock wired together and served by uvicorn on loopback.

`SandboxServer` runs it on a background thread (tests, the demo); `serve_forever` runs it in the
foreground until SIGINT/SIGTERM (the `actp sandbox` command). The simulated clock starts at `start` when
given, else at `WorldConfig.start` (a fixed instant by default, never the real date); a state file that
already has a clock keeps it.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from actp_pipeline.serving import BackgroundServer

from .app import SandboxAPI
from .clock import SimClock, iso
from .state import SandboxState
from .world import World, WorldConfig

DEFAULT_PORT = 8787  # the default of Settings.platform_url


class SandboxServer:
    """The sandbox service: a seeded world behind a loopback HTTP API.

    with SandboxServer(WorldConfig(seed=7), start=datetime(2025, 3, 1, tzinfo=UTC)) as sandbox:
        httpx.get(sandbox.url + "/sandbox/health")

    `start` (keyword) is the simulated clock's first instant; it overrides `config.start`. A state file
    that already holds a clock keeps its own start and offset (a restart never moves time back).
    """

    def __init__(
        self,
        config: WorldConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: Path | str | None = None,
        *,
        verbose: bool = False,
        start: datetime | None = None,
    ):
        self.config = config or WorldConfig()
        if start is not None:
            self.config = dataclasses.replace(self.config, start=start)  # normalised to UTC by WorldConfig
        self.world = World(self.config)
        self.state = SandboxState(state_path)
        try:
            self.clock = self._clock()
            self.api = SandboxAPI(self.world, self.state, self.clock)
            self._http = BackgroundServer(self.api, host, port, name="actp-sandbox", verbose=verbose)
        except BaseException:
            self.state.close()
            raise
        self._stopped = False
        self._stop_lock = threading.Lock()

    def _clock(self) -> SimClock:
        """The clock kept in the state (its start and offset), else a new one at config.start."""
        self.state.check_seed(self.config.seed)
        start = datetime.fromisoformat(self.state.setdefault_meta("clock_start", iso(self.config.start)))
        offset = float(self.state.get_meta("clock_offset_s") or 0.0)
        latest = self.state.latest_created_at()  # never restart before something already happened
        if latest is not None:
            offset = max(offset, (datetime.fromisoformat(latest) - start).total_seconds())
        return SimClock(start, self.config.speed, offset, on_change=self._persist_offset)

    def _persist_offset(self, offset_s: float) -> None:
        self.state.set_meta("clock_offset_s", repr(float(offset_s)))

    @property
    def host(self) -> str:
        return self._http.host

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def truth_token(self) -> str:
        return self.config.truth_token

    def start(self) -> SandboxServer:
        if self._stopped:
            raise RuntimeError("this sandbox server was stopped; create a new one")
        self._http.start()
        return self

    def wait(self) -> None:
        """Block until the server stops (interruptible: the main thread still receives signals)."""
        while self._http.running:
            self._http.join(0.5)

    def stop(self) -> None:
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            self._http.stop()
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
    start: datetime | None = None,
) -> None:
    """Run the sandbox in the foreground until SIGINT or SIGTERM (the `actp sandbox` command)."""
    server = SandboxServer(config, host, port, state_path, verbose=verbose, start=start)
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
        server.start()
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        server.stop()
