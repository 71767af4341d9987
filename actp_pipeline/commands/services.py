"""The long-running commands: `actp sandbox`, `actp ui` and `actp worker`. Defaults come from the core's
own configuration (WorldConfig, WorkerConfig), so the command line and the code cannot disagree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from actp_pipeline.commands.context import platform_up, settings
from actp_pipeline.commands.progress import Bars

LIVE_SPEED = 60.0  # simulated seconds per real second when the sandbox runs beside `dagster dev`
UI_PORT = 3000
ROOT = Path(__file__).resolve().parents[2]


def make_sandbox() -> click.Command:
    from actp_pipeline.sandbox import WorldConfig
    from actp_pipeline.sandbox.server import DEFAULT_PORT

    @click.command("sandbox")
    @click.option("--host", default="127.0.0.1", help="interface to listen on (loopback only by design)")
    @click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, help="port; 0 = a free one")
    @click.option("--seed", type=int, default=WorldConfig.seed, help="the world's seed")
    @click.option("--speed", type=click.FloatRange(0), default=LIVE_SPEED,
                  help="simulated seconds per real second; 0 = the clock moves only when advanced")
    @click.option("--topic", default=WorldConfig.topic, help="the niche of the simulated market")
    @click.option("--start", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
                  default=WorldConfig.start.strftime("%Y-%m-%dT%H:%M"),
                  help="the simulated clock at first start (UTC); a saved state keeps its own")
    @click.option("--memory", is_flag=True, help="keep no state on disk")
    def sandbox(host: str, port: int, seed: int, speed: float, topic: str, start, memory: bool) -> int:
        """Serve the sandbox platform on loopback: every platform's API over a seeded world."""
        import datetime as dt

        from actp_pipeline.sandbox import serve_forever

        s = settings()
        world = WorldConfig(seed=seed, speed=speed, topic=topic, start=start.replace(tzinfo=dt.UTC))
        serve_forever(world, host, port, None if memory else s.sandbox_state)
        return 0

    return sandbox


def make_ui() -> click.Command:
    @click.command("ui")
    @click.option("--port", type=click.IntRange(1, 65535), default=UI_PORT, help="the Dagster UI's port")
    @click.option("--speed", type=click.FloatRange(0), default=LIVE_SPEED,
                  help="the started sandbox's simulated seconds per real second")
    @click.option("--no-sandbox", is_flag=True, help="do not start the sandbox even if no platform answers")
    @click.option("--postgres", is_flag=True, help="Dagster instance on Postgres (dagster.postgres.yaml)")
    def ui(port: int, speed: float, no_sandbox: bool, postgres: bool) -> int:
        """dagster dev on both code locations, DAGSTER_HOME under the data directory, and the sandbox if no
        platform answers."""
        return _dagster_dev(port, speed, no_sandbox, postgres)

    return ui


def _dagster_dev(port: int, speed: float, no_sandbox: bool, postgres: bool) -> int:
    from actp_pipeline.definitions import instance_home

    s = settings()
    env = dict(os.environ, ACTP_HOME=str(s.data_dir))
    home = instance_home(s.data_dir)
    if postgres:
        home = s.data_dir / "dagster-postgres"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text((ROOT / "dagster.postgres.yaml").read_text())
    env["DAGSTER_HOME"] = str(home)
    children = []
    if not no_sandbox and "ACTP_PLATFORM_URL" not in os.environ and not platform_up(s.platform_url):
        # its world starts on the first research day, so the partitions and the simulated market line up
        children.append(subprocess.Popen([sys.executable, "-m", "actp_pipeline.cli", "sandbox", "--speed", str(speed),
                                          "--start", s.research_start], env=env, start_new_session=True))
        click.echo(f"started the sandbox at {s.platform_url} (simulated time x{speed:g})", err=True)
    # dagster dev shuts its webserver, daemon and code servers down on SIGINT. A shell that starts us in
    # the background makes SIGINT ignored for its children, so restore it, and pass SIGTERM on as SIGINT.
    dev = subprocess.Popen([sys.executable, "-m", "dagster", "dev", "-w", str(ROOT / "workspace.yaml"),
                            "-p", str(port)], env=env, cwd=ROOT,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    signal.signal(signal.SIGTERM, lambda *_: dev.send_signal(signal.SIGINT))
    try:
        return dev.wait()
    except KeyboardInterrupt:
        return dev.wait()
    finally:
        for c in children:
            c.terminate()
            c.wait(timeout=10)


def make_worker() -> click.Command:
    from actp_pipeline.worker.loop import WorkerConfig

    d = WorkerConfig()

    @click.command("worker")
    @click.option("--worker-id", default=None, show_default="$ACTP_WORKER_ID or host-pid", help="this worker's name")
    @click.option("--render-only", is_flag=True, help="only render (no uploads)")
    @click.option("--publish-only", is_flag=True, help="only upload (no renders)")
    @click.option("--lease", type=click.FloatRange(min=0, min_open=True), default=d.lease_s,
                  help="lease seconds (heartbeats renew it)")
    @click.option("--heartbeat", type=click.FloatRange(min=0, min_open=True), default=d.heartbeat_s,
                  help="heartbeat interval seconds")
    @click.option("--idle-sleep", type=click.FloatRange(0), default=d.idle_sleep_s,
                  help="seconds to wait when the queues have nothing due")
    @click.option("--render-concurrency", type=click.IntRange(1), default=d.render_concurrency,
                  help="videos rendered at once")
    @click.option("--health-port", type=click.IntRange(0, 65535), default=d.health_port,
                  help="port of the /health endpoint; 0 disables it")
    @click.option("--exit-when-idle", is_flag=True, help="stop when no open work is left")
    @click.option("--publisher", type=click.Choice(["native", "browser"]), default=None,
                  show_default="$ACTP_PUBLISHER or native", help="how to upload: each platform's own API, or "
                  "its upload page in a browser")
    def worker(**opts: Any) -> int:
        """Pull renders and uploads from the store until SIGINT/SIGTERM (or until idle with --exit-when-idle)."""
        if opts["render_only"] and opts["publish_only"]:
            raise click.BadParameter("give --render-only or --publish-only, not both", param_hint="--render-only")
        return _work(**opts)

    return worker


def _work(worker_id: str | None, render_only: bool, publish_only: bool, lease: float, heartbeat: float,
          idle_sleep: float, render_concurrency: int, health_port: int, exit_when_idle: bool,
          publisher: str | None) -> int:
    import threading

    from actp_pipeline.publish.platforms import HttpPlatform, make_publisher
    from actp_pipeline.publish.posts import PublishGuards
    from actp_pipeline.store import connect_store
    from actp_pipeline.worker.loop import WorkerConfig, default_worker_id, open_work, run_worker

    s = settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    cfg = WorkerConfig(renders=not publish_only, publish=not render_only, lease_s=lease, heartbeat_s=heartbeat,
                       idle_sleep_s=idle_sleep, exit_when_idle=exit_when_idle, render_concurrency=render_concurrency,
                       health_port=None if health_port == 0 else health_port)
    wid = worker_id or default_worker_id()
    engine = connect_store(s.store_url)
    how = publisher or s.publisher
    with HttpPlatform(s.platform_url, s.platform_api_key) as client, Bars() as bars:
        chosen = make_publisher(how, client, data_dir=s.data_dir, engine=engine)
        bars.line(f"worker {wid}: store {engine.url.render_as_string(hide_password=True)}, platform {s.platform_url}"
                  f" via {how}" + (f", health on port {cfg.health_port} (or a free one if taken)" if cfg.health_port else ""))
        work = open_work(engine)
        tasks = {"render": bars.bar("renders", work["pending_renders"] if exit_when_idle else None),
                 "upload": bars.bar("uploads", work["pending_uploads"] if exit_when_idle else None)}
        try:
            totals = run_worker(engine, worker_id=wid, media_dir=s.media_dir, publisher=chosen, cfg=cfg, stop=stop,
                                clock=client.now, guards=PublishGuards.for_store(engine, client.now), log=bars.line,
                                on_item=lambda kind, item, outcome: _count(bars, tasks[kind], outcome))
        finally:
            chosen.close()
    print(json.dumps(totals))
    return 0


AGAIN = ("retried", "deferred", "lost_lease")  # outcomes after which the item comes back to the queue


def _count(bars: Bars, task: Any, outcome: str) -> None:
    """One finished render or upload on its bar (a retried or deferred one is counted when it ends)."""
    if outcome not in AGAIN:
        bars.progress.advance(task)
