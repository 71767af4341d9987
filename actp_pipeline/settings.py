"""Where ACTP keeps its data and which outside systems it talks to, read from the environment once.

Everything lives under one data directory (default `.actp/`, `ACTP_HOME` overrides) so the embedded
default needs no server; `ACTP_DATABASE_URL` moves the operational store to Postgres.

Secrets (`ACTP_PLATFORM_API_KEY`, `ACTP_ADS_ACCESS_TOKEN`, `ACTP_DATABASE_URL`, `ACTP_ALERT_WEBHOOK_URL`, and the
per-platform tokens of `ACTP_PUBLISHER=native`: `ACTP_TIKTOK_ACCESS_TOKEN`, `ACTP_YOUTUBE_ACCESS_TOKEN`, `ACTP_INSTAGRAM_ACCESS_TOKEN`,
`ACTP_AGGREGATOR_API_KEY`) come from the environment or are absent (None); no secret ever falls back to another
one. Only the embedded sandbox, when it is the system talked to, gets its public, non-secret key
(SANDBOX_API_KEY).

Publishers (`ACTP_PUBLISHER`): `native` (the default: each post through its own platform's API,
publish/dialects.py) or `browser` (Playwright through the platform's upload page). `ACTP_PLATFORM_URL` is the
host of the sandbox's own endpoints (its clock and research feeds) and, when it is the sandbox, of every
dialect. A native platform's base URL is `ACTP_<PLATFORM>_BASE_URL` when set, else the sandbox
when the sandbox is the platform talked to, else the platform's real host (the adapter's default).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_URL = "http://127.0.0.1:8787"  # `actp sandbox` listens here by default
SANDBOX_API_KEY = "sandbox-key"  # the sandbox's published key: not a secret, it guards nothing real
PUBLISHER_KINDS = ("native", "browser")
# the platforms of `native`, each with its token's and its base URL's variable (publish/dialects.py builds them)
DIALECT_ENV: dict[str, tuple[str, str]] = {
    "tiktok": ("ACTP_TIKTOK_ACCESS_TOKEN", "ACTP_TIKTOK_BASE_URL"),
    "youtube": ("ACTP_YOUTUBE_ACCESS_TOKEN", "ACTP_YOUTUBE_BASE_URL"),
    "instagram": ("ACTP_INSTAGRAM_ACCESS_TOKEN", "ACTP_INSTAGRAM_BASE_URL"),
    "aggregator": ("ACTP_AGGREGATOR_API_KEY", "ACTP_AGGREGATOR_BASE_URL"),
}


def _pairs(var: str, example: str) -> dict[str, str]:
    """An EnvVar of "key=value,key=value" pairs as a dict; a malformed pair is an error naming the variable."""
    out = {}
    for part in (_env(var) or "").split(","):
        if part.strip():
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ValueError(f"{var}: {part.strip()!r} is not key=value (e.g. {example})")
            out[key.strip()] = value.strip()
    return out


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
    publisher: str = field(default_factory=lambda: os.environ.get("ACTP_PUBLISHER", "native"))  # PUBLISHER_KINDS
    # native publishing: platform -> its token (a secret: absent unless set) and its base URL override
    dialect_tokens: dict[str, str | None] = field(
        default_factory=lambda: {p: _env(token) for p, (token, _) in DIALECT_ENV.items()})
    dialect_urls: dict[str, str | None] = field(
        default_factory=lambda: {p: _env(url) for p, (_, url) in DIALECT_ENV.items()})
    # networks posted through another dialect than their own (e.g. through the aggregator): ACTP_PUBLISH_VIA
    publish_via: dict[str, str] = field(default_factory=lambda: _pairs("ACTP_PUBLISH_VIA", "tiktok=aggregator"))
    # the ads API (Meta Marketing API shape); unset = the sandbox's, beside the platform API
    ads_url: str | None = field(default_factory=lambda: _env("ACTP_ADS_URL"))
    ads_access_token: str | None = field(default_factory=lambda: _env("ACTP_ADS_ACCESS_TOKEN"))
    # Meta: the account connected with `actp accounts connect meta` whose stored token the ads client uses
    ads_token_account: str | None = field(default_factory=lambda: _env("ACTP_ADS_TOKEN_ACCOUNT"))
    # which ads API: meta (the Marketing API) or tiktok (API for Business)
    ads_platform: str = field(default_factory=lambda: os.environ.get("ACTP_ADS_PLATFORM", "meta"))
    # Meta: the custom conversion each custom core signal is read from (ads/meta_signals.py)
    ads_signal_actions: dict[str, str] = field(
        default_factory=lambda: _pairs("ACTP_ADS_SIGNAL_ACTIONS", "smartlink_click=123"))
    research_start: str = field(default_factory=lambda: os.environ.get("ACTP_RESEARCH_START", RESEARCH_START))
    # a Slack-compatible incoming webhook alerts go to (a secret: its path is its token); None = alerts are rows only
    alert_webhook_url: str | None = field(default_factory=lambda: _env("ACTP_ALERT_WEBHOOK_URL"))

    def __post_init__(self) -> None:
        if self.platform_api_key is None and self.on_sandbox:
            object.__setattr__(self, "platform_api_key", SANDBOX_API_KEY)

    @property
    def on_sandbox(self) -> bool:
        """True when the platform is the embedded sandbox (its default address)."""
        return self.platform_url.rstrip("/") == SANDBOX_URL

    @property
    def ads_base_url(self) -> str:
        """ACTP_ADS_URL, else the sandbox's: Graph under /graph, TikTok's API for Business at its root."""
        return self.ads_url or self.platform_url.rstrip("/") + ("" if self.ads_platform == "tiktok" else "/graph")

    @property
    def ads_token(self) -> str | None:
        """The ads access token; the sandbox's public key only for the sandbox's own ads API; else None."""
        if self.ads_access_token:
            return self.ads_access_token
        return SANDBOX_API_KEY if self.ads_url is None and self.on_sandbox else None

    def dialect_url(self, platform: str) -> str | None:
        """The base URL of `platform`'s own API: its override, else the sandbox (which serves every dialect at
        its root) when the sandbox is the platform talked to and no token of the platform's own is set, else
        None: the adapter's real host. A real token never goes to the sandbox's address by default."""
        if self.dialect_urls.get(platform):
            return str(self.dialect_urls[platform]).rstrip("/")
        return self.platform_url.rstrip("/") if self.on_sandbox and not self.dialect_tokens.get(platform) else None

    def dialect_token(self, platform: str) -> str | None:
        """`platform`'s token; the sandbox's public key only when that platform's API is the embedded sandbox
        (no override of its URL); else None. Never another platform's token, never the platform API key."""
        if self.dialect_tokens.get(platform):
            return self.dialect_tokens[platform]
        return SANDBOX_API_KEY if not self.dialect_urls.get(platform) and self.on_sandbox else None

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
