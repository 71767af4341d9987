"""Where each platform's OAuth lives, who the client is, and how early its tokens are refreshed.

The real endpoints are the documented ones; a loopback base URL (the sandbox) serves the same paths
(sandbox/oauth.py). Client credentials come from EnvVars; on a sandbox base they default to the sandbox's
published clients. The refresh margin is how long before expiry `get_token` refreshes: an hour for
TikTok's 24-hour tokens, 10 minutes for Google's hour, a week for Meta's 60-day long-lived tokens.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

PLATFORMS = ("tiktok", "youtube", "meta")
META_VERSION = "v21.0"  # the Graph version the ads clients use too
REAL = {
    "tiktok": ("https://www.tiktok.com/v2/auth/authorize/", "https://open.tiktokapis.com/v2/oauth/token/",
               "https://open.tiktokapis.com/v2/oauth/revoke/"),
    "youtube": ("https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token",
                "https://oauth2.googleapis.com/revoke"),
    "meta": (f"https://www.facebook.com/{META_VERSION}/dialog/oauth",
             f"https://graph.facebook.com/{META_VERSION}/oauth/access_token", None),
}
SANDBOX_PATHS = {
    "tiktok": ("/v2/auth/authorize/", "/v2/oauth/token/", "/v2/oauth/revoke/"),
    "youtube": ("/o/oauth2/v2/auth", "/token", "/revoke"),
    "meta": (f"/{META_VERSION}/dialog/oauth", f"/graph/{META_VERSION}/oauth/access_token", None),
}
CLIENT_ENV = {
    "tiktok": ("ACTP_TIKTOK_CLIENT_KEY", "ACTP_TIKTOK_CLIENT_SECRET"),
    "youtube": ("ACTP_GOOGLE_CLIENT_ID", "ACTP_GOOGLE_CLIENT_SECRET"),
    "meta": ("ACTP_META_APP_ID", "ACTP_META_APP_SECRET"),
}
SCOPES = {
    "tiktok": "user.info.basic,video.publish,video.upload,video.list",
    "youtube": "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly",
    "meta": "ads_management,ads_read,business_management,pages_show_list,instagram_basic,"
            "instagram_content_publish,instagram_manage_insights",
}
MARGIN_S = {"tiktok": 3600.0, "youtube": 600.0, "meta": 7 * 24 * 3600.0}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class MissingClient(RuntimeError):
    """The platform's client id/secret EnvVars are not set (the message names them, never a value)."""


def is_loopback(url: str | None) -> bool:
    return bool(url) and urlsplit(url).hostname in LOOPBACK


def base_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Provider:
    """One platform's OAuth endpoints and client (the secret never in a repr)."""

    platform: str
    authorize_url: str
    token_url: str
    revoke_url: str | None
    client_id: str
    client_secret: str = field(repr=False)
    scope: str
    sandbox: bool = False

    @property
    def margin_s(self) -> float:
        return MARGIN_S[self.platform]


def provider(platform: str, base_url: str | None = None, env: Mapping[str, str] | None = None) -> Provider:
    """The provider of `platform`: at `base_url` when it is a loopback (sandbox) URL, else the real one."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}: one of {', '.join(PLATFORMS)}")
    env = os.environ if env is None else env
    id_env, secret_env = CLIENT_ENV[platform]
    client_id, secret = env.get(id_env) or "", env.get(secret_env) or ""
    sandbox = base_url is not None and is_loopback(base_url)
    if sandbox:
        from actp_pipeline.sandbox.oauth import (
            SANDBOX_CLIENTS,  # the sandbox's public clients
        )

        client_id = client_id or SANDBOX_CLIENTS[platform][0]
        secret = secret or SANDBOX_CLIENTS[platform][1]
        root = base_of(base_url)  # type: ignore[arg-type]
        authorize, token, revoke = (None if p is None else root + p for p in SANDBOX_PATHS[platform])
    else:
        authorize, token, revoke = REAL[platform]
    if not client_id or not secret:
        raise MissingClient(f"{platform}: set {id_env} and {secret_env} (the app's client credentials from the "
                            "platform's developer console)")
    return Provider(platform, authorize, token, revoke, client_id, secret, env.get(f"ACTP_{platform.upper()}_SCOPE")
                    or SCOPES[platform], sandbox)  # type: ignore[arg-type]


def provider_for_token_url(platform: str, token_url: str, env: Mapping[str, str] | None = None) -> Provider:
    """The provider that issued a stored token (refresh goes back where the token came from)."""
    return provider(platform, token_url if is_loopback(token_url) else None, env)
