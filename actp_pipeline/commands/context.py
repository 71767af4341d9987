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
        return httpx.get(f"{url}/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
