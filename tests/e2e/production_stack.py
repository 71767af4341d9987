"""ACTP laid out the way deploy/docker/compose.yaml runs it, as processes on this machine: the Dagster instance
(dagster.postgres.yaml) and the operational store in two databases of one throwaway PostgreSQL, both code
locations served by `dagster api grpc`, `dagster-daemon run` on a workspace that names those servers, and
`actp worker` as its own process that is given only the store's URL and the platform's.

Every process gets its environment here, from the variables the README documents; nothing is patched in.
Their logs are kept in files and the last lines of each are printed when a test fails."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
LOCATIONS = {"actp_pipeline": "actp_pipeline.definitions", "local_ops": "local_ops.definitions"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ProductionStack:
    """The processes of one deployment. `env` is what every ACTP process reads (README: production)."""

    root: Path
    pg_port: int
    pg_user: str
    dagster_db: str
    store_url: str
    platform_url: str
    platform_key: str
    loop_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    _logs: dict[str, IO[str]] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def data_dir(self) -> Path:
        return self.root / "actp_home"

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("ACTP_", "DAGSTER_")) or k == "ACTP_CHROMIUM"}
        return {**base, "DAGSTER_HOME": str(self.home), "ACTP_HOME": str(self.data_dir),
                "ACTP_DAGSTER_PG_HOST": "127.0.0.1", "ACTP_DAGSTER_PG_PORT": str(self.pg_port),
                "ACTP_DAGSTER_PG_USER": self.pg_user, "ACTP_DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
                "ACTP_DAGSTER_PG_DB": self.dagster_db, "ACTP_DATABASE_URL": self.store_url,
                "ACTP_PLATFORM_URL": self.platform_url, "ACTP_PLATFORM_API_KEY": self.platform_key,
                "ACTP_PUBLISHER": "native", "ACTP_TIKTOK_ACCESS_TOKEN": self.platform_key,
                "ACTP_TIKTOK_BASE_URL": self.platform_url, **self.loop_env}

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = self._logs[name] = open(self.root / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def start(self, worker_id: str) -> "ProductionStack":
        self.home.mkdir(parents=True)
        self.data_dir.mkdir(parents=True)
        shutil.copy(ROOT / "dagster.postgres.yaml", self.home / "dagster.yaml")
        ports = {name: free_port() for name in LOCATIONS}
        for name, module in LOCATIONS.items():
            self._spawn(f"code-{name}", [sys.executable, "-m", "dagster", "api", "grpc", "-m", module,
                                          "-d", str(ROOT), "-h", "127.0.0.1", "-p", str(ports[name]),
                                          "--location-name", name])
        workspace = self.root / "workspace.yaml"
        workspace.write_text("load_from:\n" + "".join(
            f"  - grpc_server:\n      host: 127.0.0.1\n      port: {ports[n]}\n      location_name: {n}\n"
            for n in LOCATIONS))
        for name in LOCATIONS:
            self._wait_grpc(name, ports[name])
        self._spawn("daemon", [sys.executable, "-m", "dagster._daemon", "run", "-w", str(workspace)])
        self._spawn("worker", [sys.executable, "-m", "actp_pipeline.cli", "worker", "--worker-id", worker_id,
                               "--heartbeat", "1", "--idle-sleep", "0.5", "--health-port", "0"])
        return self

    def _wait_grpc(self, name: str, port: int, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            proc = self.procs[f"code-{name}"]
            if proc.poll() is not None:
                raise RuntimeError(f"code server {name} exited with {proc.returncode}:\n{self.tail(f'code-{name}')}")
            res = subprocess.run([sys.executable, "-m", "dagster", "api", "grpc-health-check", "-p", str(port)],
                                 capture_output=True, text=True, env=self.env(), timeout=60)
            if res.returncode == 0:
                return
            time.sleep(1)
        raise RuntimeError(f"code server {name} not serving after {timeout_s:.0f} s:\n{self.tail(f'code-{name}')}")

    def alive(self) -> dict[str, int | None]:
        """Each process's exit code (None while it runs)."""
        return {name: proc.poll() for name, proc in self.procs.items()}

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.root / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"----- {name} -----\n{self.tail(name)}" for name in self.procs)

    def stop(self) -> None:
        """SIGTERM to each process group (the daemon's and the code servers' run subprocesses with them), then
        SIGKILL to whatever is left after 20 s."""
        for name in ("worker", "daemon", *(f"code-{n}" for n in LOCATIONS)):
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for log in self._logs.values():
            log.close()
