"""What every `actp` command shares: the settings of this invocation (the root's --data-dir)."""

from __future__ import annotations

from pathlib import Path

import click

from actp_pipeline.settings import Settings


def settings() -> Settings:
    """Settings from the environment, with the data directory the root command was given."""
    data_dir = click.get_current_context().find_root().params.get("data_dir")
    return Settings(**({"data_dir": Path(data_dir).resolve()} if data_dir else {}))


def platform_up(url: str) -> bool:
    """A cheap health probe of the platform (the sandbox or a real adapter's base URL)."""
    import httpx

    try:
        return httpx.get(f"{url}/sandbox/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def warnings_to_log(data_dir: Path) -> Path:
    """Python warnings (Dagster's beta notices among them) go to <data_dir>/logs/dagster.log beside Dagster's
    own log lines, not between the command's progress lines."""
    import logging

    path = Path(data_dir) / "logs" / "dagster.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    logging.captureWarnings(True)
    log = logging.getLogger("py.warnings")
    log.propagate = False
    if not any(getattr(h, "baseFilename", None) == str(path.resolve()) for h in log.handlers):
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s WARNING %(message)s"))
        log.addHandler(handler)
    return path
