"""Where ACTP keeps its data and which outside systems it talks to, read from the environment once.

Everything lives under one data directory (default `.actp/`, `ACTP_HOME` overrides) so the embedded
default needs no server; `ACTP_DATABASE_URL` moves the operational store to Postgres.

Secrets (`ACTP_PLATFORM_API_KEY`, `ACTP_ADS_ACCESS_TOKEN`, `ACTP_DATABASE_URL`) come from the environment
or are absent (None); no secret ever falls back to another one. Only the embedded sandbox, when it is the
system talked to, gets its public, non-secret key (SANDBOX_API_KEY).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_URL = "http://127.0.0.1:8787"  # `actp sandbox` listens here by default
SANDBOX_API_KEY = "sandbox-key"  # the sandbox's published key: not a secret, it guards nothing real
# the first day research partitions exist (the demo's first simulated day); ACTP_RESEARCH_START overrides
RESEARCH_START = "2026-06-01"


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("ACTP_HOME", ".actp")).resolve())
    database_url: str | None = field(default_factory=lambda: _env("ACTP_DATABASE_URL"))
    platform_url: str = field(default_factory=lambda: os.environ.get("ACTP_PLATFORM_URL", SANDBOX_URL))
    # None = not set: the sandbox's public key when talking to the sandbox, else absent
    platform_api_key: str | None = field(default_factory=lambda: _env("ACTP_PLATFORM_API_KEY"))
    publisher: str = field(default_factory=lambda: os.environ.get("ACTP_PUBLISHER", "api"))  # api | browser
    # the ads API (Meta Marketing API shape); unset = the sandbox's, beside the platform API
    ads_url: str | None = field(default_factory=lambda: _env("ACTP_ADS_URL"))
    ads_access_token: str | None = field(default_factory=lambda: _env("ACTP_ADS_ACCESS_TOKEN"))
    research_start: str = field(default_factory=lambda: os.environ.get("ACTP_RESEARCH_START", RESEARCH_START))

    def __post_init__(self) -> None:
        if self.platform_api_key is None and self.on_sandbox:
            object.__setattr__(self, "platform_api_key", SANDBOX_API_KEY)

    @property
    def on_sandbox(self) -> bool:
        """True when the platform is the embedded sandbox (its default address)."""
        return self.platform_url.rstrip("/") == SANDBOX_URL

    @property
    def ads_base_url(self) -> str:
        return self.ads_url or self.platform_url.rstrip("/") + "/graph"

    @property
    def ads_token(self) -> str | None:
        """The ads access token; the sandbox's public key only for the sandbox's own ads API; else None."""
        if self.ads_access_token:
            return self.ads_access_token
        return SANDBOX_API_KEY if self.ads_url is None and self.on_sandbox else None

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'store.db'}"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"

    @property
    def sandbox_state(self) -> Path:
        return self.data_dir / "sandbox" / "state.db"
