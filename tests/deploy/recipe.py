"""Reading the deployment recipe (deploy/, dagster.postgres.yaml): its files, its ${VAR} references, which
variables are secrets, and the command lines it runs, parsed by the real CLIs (actp, dagster,
dagster-webserver, dagster-daemon) without running them."""

from __future__ import annotations

import re
import shlex
import urllib.parse
from pathlib import Path
from typing import Any

import click
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
HELM = ROOT / "deploy" / "helm"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
INSTANCE_YAML = ROOT / "dagster.postgres.yaml"
IMAGE_WORKSPACE = "/opt/dagster/workspace.yaml"  # where the Dockerfile puts deploy/docker/workspace.yaml

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}; `$$` is a literal `$`
REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
SECRET_NAME = re.compile(r"(PASSWORD|SECRETS?|_TOKEN|_KEY|DATABASE_URL)$")
# literals that look like credentials: long runs of key alphabet with letters and digits, or known prefixes
TOKEN_LIKE = re.compile(r"(?=[A-Za-z0-9_\-+/=]*[0-9])(?=[A-Za-z0-9_\-+/=]*[A-Za-z])[A-Za-z0-9_\-+/=]{32,}")
KNOWN_PREFIXES = re.compile(
    r"\b(sk_live_|rk_live_|whsec_[A-Za-z0-9]|ghp_|xox[bap]-|AKIA[0-9A-Z]{12}|EAA[A-Za-z0-9]{20})")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def is_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def refs(text: str) -> list[tuple[str, str, str]]:
    """(name, operator, argument) of every ${...} in `text` (operator '' for a plain ${VAR})."""
    return [(m.group(1), m.group(2) or "", m.group(3) or "") for m in REF.finditer(text)]


def strip_refs(text: str) -> str:
    return REF.sub("", text)


def env_example() -> dict[str, str]:
    """NAME -> value of .env.example (comments and blank lines skipped)."""
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: {line!r} is not NAME=value"
            out[name.strip()] = value
    return out


def scalars(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every scalar of a parsed YAML document as (dotted path, text)."""
    if isinstance(node, dict):
        return [item for k, v in node.items() for item in scalars(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, list):
        return [item for i, v in enumerate(node) for item in scalars(v, f"{path}[{i}]")]
    return [] if node is None else [(path, str(node))]


def looks_like_credential(text: str) -> bool:
    literal = strip_refs(text)
    return bool(TOKEN_LIKE.search(literal) or KNOWN_PREFIXES.search(literal))


def url_password_is_a_secret_ref(value: str) -> bool:
    """A connection URL whose password is exactly one ${SECRET} reference without a default."""
    marked = value
    for i, m in enumerate(REF.finditer(value)):
        marked = marked.replace(m.group(0), f"ref{i}x", 1)
    password = urllib.parse.urlsplit(marked).password or ""
    found = re.fullmatch(r"ref(\d+)x", password)
    if not found:
        return False
    name, op, _ = refs(value)[int(found.group(1))]
    return is_secret(name) and op == ""


def command_argv(command: Any) -> list[str]:
    return list(command) if isinstance(command, list) else shlex.split(command)


def parse_cli(argv: list[str]) -> dict[str, Any]:
    """Parse a command line with the real click command it names (actp, dagster, dagster-webserver,
    dagster-daemon) without running it: unknown options and bad values raise click.UsageError. Returns
    the leaf command's parameters."""
    from actp_pipeline.cli import actp
    from dagster._cli import cli as dagster_cli
    from dagster._daemon.cli import cli as daemon_cli
    from dagster_webserver.cli import cli as webserver_cli

    roots = {"actp": actp, "dagster": dagster_cli, "dagster-webserver": webserver_cli, "dagster-daemon": daemon_cli}
    program, *args = argv
    args = [str(DOCKER / "workspace.yaml") if a == IMAGE_WORKSPACE else a for a in args]
    cmd, parent = roots[program], None
    while isinstance(cmd, click.Group):
        ctx = click.Context(cmd, info_name=cmd.name, parent=parent)
        name, args = args[0], args[1:]
        sub = cmd.get_command(ctx, name)
        assert sub is not None, f"{program}: no command {name!r} in {' '.join(argv)}"
        parent, cmd = ctx, sub
    return cmd.make_context(cmd.name, args, parent=parent).params


def repo_workspace() -> dict[str, str]:
    """Location name -> module of the repository's workspace.yaml (what `dagster dev` loads)."""
    return {e["python_module"]["location_name"]: e["python_module"]["module_name"]
            for e in load(ROOT / "workspace.yaml")["load_from"]}


def instance_concurrency() -> dict:
    return load(INSTANCE_YAML)["concurrency"]
