"""The Docker Compose recipe, its image and the Postgres instance file, checked without a server: every file
parses, every command line is one the real CLI accepts, every variable is documented and no secret is
written down, the workspace points at the code servers, the instance file passes Dagster's own config
schema, and Dagster's own queue code keeps run slots for renders and uploads under a backfill storm.
`docker compose config` runs when a Compose v2 client is installed (the engine is not needed)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.deploy import recipe
from tests.deploy.recipe import COMPOSE, DOCKER, ROOT, env_example, is_secret, load, parse_cli, refs
from tests.deploy.run_queue import assert_renders_and_uploads_never_starve, storm_with_main_at_its_cap

SERVICES = {"postgres", "code-main", "code-local", "webserver", "daemon", "hooks", "worker", "worker-browser"}
WORKERS = ("worker", "worker-browser")
# compose.yaml's own knobs; every other ACTP_ variable it passes is one the code reads
RECIPE_ONLY = {"ACTP_IMAGE", "ACTP_BROWSER_IMAGE", "ACTP_WORKERS", "ACTP_BROWSER_WORKERS", "ACTP_UI_PORT",
               "ACTP_HOOKS_PORT", "ACTP_STORE_DB"}


def services() -> dict[str, dict]:
    return load(COMPOSE)["services"]


def argv(service: str) -> list[str]:
    return recipe.command_argv(services()[service]["command"])


def environment(service: str) -> dict[str, str]:
    env = services()[service].get("environment") or {}
    assert isinstance(env, dict), f"{service}: environment as a mapping"
    return {k: "" if v is None else str(v) for k, v in env.items()}


def compose_values() -> str:
    """Every value of compose.yaml (Compose interpolates values, not comments), one per line."""
    return "\n".join(value for _, value in recipe.scalars(load(COMPOSE)))


def code_read_variables() -> set[str]:
    """Every ACTP_ name the project reads: its source (settings, resources, services) and the instance file."""
    paths = [recipe.INSTANCE_YAML, *(p for pkg in ("actp_pipeline", "assets", "sensors", "resources", "local_ops")
                                     for p in (ROOT / pkg).rglob("*.py"))]
    from resources.loop import LOOP_ENV_PREFIX, LoopSettings

    loop = {f"{LOOP_ENV_PREFIX}{field.upper()}" for field in LoopSettings.model_fields}  # read by loop_from_env
    return loop | {name for path in paths for name in re.findall(r"ACTP_[A-Z0-9_]*[A-Z0-9]", path.read_text())}


# ---------------------------------------------------------------- compose: services and their commands
def test_compose_has_every_service_with_the_right_command():
    assert set(services()) == SERVICES
    modules = recipe.repo_workspace()
    for service, location in (("code-main", "actp_pipeline"), ("code-local", "local_ops")):
        cmd = argv(service)
        assert cmd[:3] == ["dagster", "api", "grpc"], cmd
        params = parse_cli(cmd)
        assert params["location_name"] == location and params["module_name"] == modules[location]
        assert params["host"] == "0.0.0.0"
        health = services()[service]["healthcheck"]["test"]
        assert health[1:4] == ["dagster", "api", "grpc-health-check"]
        assert parse_cli(health[1:])["port"] == params["port"]
    assert argv("webserver")[0] == "dagster-webserver"
    assert parse_cli(argv("webserver"))["workspace"] == (str(DOCKER / "workspace.yaml"),)
    assert argv("daemon")[:2] == ["dagster-daemon", "run"]
    assert parse_cli(argv("daemon"))["workspace"] == (str(DOCKER / "workspace.yaml"),)
    assert argv("hooks")[:2] == ["actp", "hooks"] and parse_cli(argv("hooks"))["host"] == "0.0.0.0"
    for worker in WORKERS:
        assert argv(worker)[:2] == ["actp", "worker"]
        parse_cli(argv(worker))
    assert parse_cli(argv("worker-browser"))["publisher"] == "browser"


def test_workspace_points_at_the_code_servers():
    """deploy/docker/workspace.yaml: one gRPC server per location of workspace.yaml, at the host (service)
    and port that service's `dagster api grpc` serves, under the location name it serves."""
    entries = [e["grpc_server"] for e in load(DOCKER / "workspace.yaml")["load_from"]]
    assert {e["location_name"] for e in entries} == set(recipe.repo_workspace())
    for entry in entries:
        params = parse_cli(argv(entry["host"]))
        assert params["port"] == entry["port"] and params["location_name"] == entry["location_name"]


def test_ports_published_match_what_the_processes_listen_on():
    hooks_port = parse_cli(argv("hooks"))["port"]
    assert [p.rsplit(":", 1)[1] for p in services()["hooks"]["ports"]] == [str(hooks_port)]
    web = parse_cli(argv("webserver"))
    assert [p.rsplit(":", 1)[1] for p in services()["webserver"]["ports"]] == [str(web["port"])]
    assert all(p.startswith("127.0.0.1:") for p in services()["webserver"]["ports"]), "the UI has no login"
    assert f":{hooks_port}/healthz" in " ".join(services()["hooks"]["healthcheck"]["test"])


def test_workers_have_no_port_and_a_configurable_replica_count():
    for worker in WORKERS:
        spec = services()[worker]
        assert not ({"ports", "expose", "container_name"} & set(spec)), f"{worker} must only pull (and scale)"
        (name, op, default), = refs(str(spec["deploy"]["replicas"]))
        assert name in env_example() and op == ":-" and int(default) >= 1
        assert str(env_example()[name]) == default
        health_port = parse_cli(argv(worker))["health_port"]
        if "healthcheck" in spec:
            assert f"127.0.0.1:{health_port}/health" in " ".join(spec["healthcheck"]["test"])


def test_postgres_holds_both_databases_and_every_user_waits_for_it():
    pg = services()["postgres"]
    assert "healthcheck" in pg and any(v.endswith(":/var/lib/postgresql/data") for v in pg["volumes"])
    assert "./initdb:/docker-entrypoint-initdb.d:ro" in pg["volumes"]
    assert (DOCKER / "initdb" / "10-actp-store.sh").stat().st_mode & 0o111
    store_db = refs(pg["environment"]["ACTP_STORE_DB"])[0]
    url_db = refs(environment("worker")["ACTP_DATABASE_URL"])[-1]
    assert store_db == url_db, "the store's database in the URL is the one initdb creates"
    assert refs(pg["environment"]["POSTGRES_DB"]) == refs(environment("code-main")["ACTP_DAGSTER_PG_DB"])
    assert refs(pg["environment"]["POSTGRES_USER"]) == refs(environment("code-main")["ACTP_DAGSTER_PG_USER"])
    assert refs(pg["environment"]["POSTGRES_PASSWORD"]) == refs(environment("code-main")["ACTP_DAGSTER_PG_PASSWORD"])
    for name, spec in services().items():
        if name != "postgres":
            assert spec["depends_on"]["postgres"]["condition"] == "service_healthy", name


def test_instance_variables_reach_every_dagster_process():
    wanted = {v["env"] for v in load(recipe.INSTANCE_YAML)["storage"]["postgres"]["postgres_db"].values()
              if isinstance(v, dict)}
    assert wanted == {f"ACTP_DAGSTER_PG_{x}" for x in ("HOST", "PORT", "USER", "PASSWORD", "DB")}
    for service in ("code-main", "code-local", "webserver", "daemon"):
        assert wanted <= set(environment(service)), service
    for service in ("hooks", *WORKERS):
        assert not wanted & set(environment(service)), f"{service} needs the store, not the instance"


# ---------------------------------------------------------------- compose: variables and secrets
def test_every_variable_is_documented_and_every_documented_one_is_used():
    text, documented = compose_values(), env_example()
    used = {name for name, _, _ in refs(text)}
    assert used - set(documented) == set(), "used in compose.yaml, missing from .env.example"
    assert set(documented) - used == set(), "documented in .env.example, not used by compose.yaml"
    assert {v for v in documented if v.startswith("ACTP_")} - RECIPE_ONLY <= code_read_variables()
    for name, op, default in refs(text):
        if op == ":-" and documented[name]:
            assert documented[name] == default, f"{name}: .env.example says {documented[name]!r}, compose {default!r}"


def test_no_secret_is_written_down():
    text, documented = compose_values(), env_example()
    for name, op, arg in refs(text):
        if is_secret(name):
            assert op == "", f"${{{name}{op}{arg}}}: a secret takes no default"
    for name, value in documented.items():
        assert not (is_secret(name) and value), f".env.example gives {name} a value"
        assert not recipe.looks_like_credential(value), name
    for name, spec in services().items():
        for key, value in environment(name).items():
            assert not recipe.looks_like_credential(value), f"{name}.{key}"
            if key.endswith("DATABASE_URL"):
                assert recipe.url_password_is_a_secret_ref(value), f"{name}.{key}: password as ${{VAR}}"
            elif is_secret(key):
                names = refs(value)
                assert names and recipe.strip_refs(value) == "", f"{name}.{key} must be ${{VAR}}"
                assert all(is_secret(n) and op == "" for n, op, _ in names), f"{name}.{key}"
    for path, value in recipe.scalars(load(COMPOSE)):
        assert not recipe.looks_like_credential(value), path


def test_each_service_gets_only_its_secrets():
    hooks_only = {"ACTP_STRIPE_WEBHOOK_SECRETS", "ACTP_HOOKS_TOKEN", "ACTP_META_VERIFY_TOKEN"}
    for name in services():
        if name != "hooks":
            assert not hooks_only & set(environment(name)), name
    assert "ACTP_ADS_ACCESS_TOKEN" in environment("code-main")
    for name in ("code-local", "hooks", *WORKERS, "webserver", "daemon"):
        assert "ACTP_ADS_ACCESS_TOKEN" not in environment(name), name
    for name in ("webserver", "daemon"):
        assert not {k for k in environment(name) if not k.startswith("ACTP_DAGSTER_PG_")}, name


# ---------------------------------------------------------------- the image
def stages(dockerfile: str) -> dict[str, str]:
    """Stage name -> its instructions (FROM line included, comments left out)."""
    code = "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    parts = re.split(r"(?m)^(?=FROM )", code)
    return {re.match(r"FROM \S+(?: AS (\S+))?", p).group(1) or "": p for p in parts if p.startswith("FROM ")}


def test_dockerfile_builds_the_project_with_pip_and_chromium_only_for_the_browser_worker():
    text = (DOCKER / "Dockerfile").read_text()
    found = stages(text)
    assert list(found) == ["base", "worker-browser", "app"], "app last: the default target"
    assert found["base"].startswith("FROM python:3.11-slim AS base")
    assert "pip install ." in found["base"] and "imageio_ffmpeg" in found["base"]
    assert "chromium" in found["worker-browser"]
    assert "chromium" not in found["base"].lower() and "chromium" not in found["app"].lower()
    copied = re.findall(r"(?m)^COPY (\S+) (\S+)$", text)
    for src, _ in copied:
        assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= {src for src, _ in copied}, "every package of pyproject.toml is in the image"
    assert ("deploy/docker/workspace.yaml", recipe.IMAGE_WORKSPACE) in copied
    assert ("dagster.postgres.yaml", "${DAGSTER_HOME}/dagster.yaml") in copied
    # the build context is the whole repository: the ignore file lets in exactly what the COPYs take
    ignore = [ln for ln in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines() if ln and ln[0] != "#"]
    assert ignore[0] == "**"
    assert all(f"!{src}" in ignore or f"!{src}/**" in ignore for src, _ in copied)
    for service, spec in services().items():
        if "build" in spec:
            assert spec["build"]["target"] == ("worker-browser" if service == "worker-browser" else "app")
            assert (COMPOSE.parent / spec["build"]["context"] / spec["build"]["dockerfile"]).resolve() == \
                (DOCKER / "Dockerfile").resolve()


# ---------------------------------------------------------------- dagster.postgres.yaml
@pytest.fixture
def instance_env(monkeypatch):
    for key, value in {"HOST": "127.0.0.1", "PORT": "5432", "USER": "actp", "PASSWORD": "x", "DB": "dagster"}.items():
        monkeypatch.setenv(f"ACTP_DAGSTER_PG_{key}", value)


def test_instance_file_passes_dagsters_config_schema(tmp_path, instance_env):
    from dagster._core.instance.config import ConcurrencyConfig, PoolGranularity, dagster_instance_config
    from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator

    shutil.copy(recipe.INSTANCE_YAML, tmp_path / "dagster.yaml")
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    default_queue = QueuedRunCoordinator().get_run_queue_config()  # the coordinator the file leaves in place
    conc = ConcurrencyConfig.from_concurrency_settings(config["concurrency"], default_queue)
    queue = conc.run_queue_config
    limits = {(t["key"], t.get("value")): t["limit"] for t in queue.tag_concurrency_limits}
    main_cap = limits[("dagster/code_location", "actp_pipeline")]
    # the local location's two sensor-launched jobs (one run each at a time) always find their slots
    assert main_cap + 2 <= queue.max_concurrent_runs
    assert limits[("dagster/backfill", None)] < main_cap
    assert conc.pool_config.default_pool_limit == 1 and conc.pool_config.pool_granularity == PoolGranularity.RUN


def _instance_from_concurrency(tmp_path: Path, concurrency: dict):
    @contextlib.contextmanager
    def make():
        home = tmp_path / f"home{len(list(tmp_path.iterdir()))}"
        home.mkdir()
        (home / "dagster.yaml").write_text(yaml.safe_dump({
            "storage": {"sqlite": {"base_dir": str(home / "storage")}}, "concurrency": concurrency,
            "telemetry": {"enabled": False}}))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance
    return make


def test_run_queue_keeps_slots_for_renders_and_uploads(tmp_path):
    """Dagster's own dequeue step, on the instance file's `concurrency:` (SQLite here; PostgreSQL in
    test_postgres_instance.py): a research backfill storm never holds back a render or an upload run."""
    assert_renders_and_uploads_never_starve(_instance_from_concurrency(tmp_path, recipe.instance_concurrency()))


def test_without_the_limits_the_storm_would_starve_renders(tmp_path):
    """The control: the laptop's dagster.yaml (4 runs, no tag limits) lets main-location runs take every slot."""
    plain = load(ROOT / "dagster.yaml")["concurrency"]
    with _instance_from_concurrency(tmp_path, plain)() as instance:
        assert storm_with_main_at_its_cap(instance) == []


# ---------------------------------------------------------------- the real Compose client, when installed
def _compose_v2() -> bool:
    try:
        return subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _compose_v2(), reason="no Docker Compose v2 client (`docker compose version` fails)")
def test_docker_compose_config_accepts_the_file():
    env = {**os.environ, "ACTP_PLATFORM_URL": "https://platform.test"}  # required; .env.example leaves it empty
    for profile in ([], ["--profile", "browser"]):
        res = subprocess.run(["docker", "compose", "--env-file", str(recipe.ENV_EXAMPLE), "-f", str(COMPOSE),
                              *profile, "config", "-q"], capture_output=True, text=True, timeout=60, env=env)
        assert res.returncode == 0, res.stderr
