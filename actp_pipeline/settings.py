"""Where ACTP keeps its data and which outside systems it talks to, read from the environment once.

Everything lives under one data directory (default `.actp/`, `ACTP_HOME` overrides) so the embedded
default needs no server; `ACTP_DATABASE_URL` moves the operational store to Postgres.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("ACTP_HOME", ".actp")).resolve())
    database_url: str | None = field(default_factory=lambda: os.environ.get("ACTP_DATABASE_URL") or None)
    platform_url: str = field(default_factory=lambda: os.environ.get("ACTP_PLATFORM_URL", "http://127.0.0.1:8787"))
    platform_api_key: str = field(default_factory=lambda: os.environ.get("ACTP_PLATFORM_API_KEY", "sandbox-key"))
    publisher: str = field(default_factory=lambda: os.environ.get("ACTP_PUBLISHER", "api"))  # api | browser
    # the ads API (Meta Marketing API shape); unset = the sandbox's, beside the platform API
    ads_url: str | None = field(default_factory=lambda: os.environ.get("ACTP_ADS_URL") or None)
    ads_access_token: str | None = field(default_factory=lambda: os.environ.get("ACTP_ADS_ACCESS_TOKEN") or None)

    @property
    def ads_base_url(self) -> str:
        return self.ads_url or self.platform_url.rstrip("/") + "/graph"

    @property
    def ads_token(self) -> str:
        return self.ads_access_token or self.platform_api_key

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
