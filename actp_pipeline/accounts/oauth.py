"""The OAuth 2.0 calls ACTP makes, per platform's documents: the authorize URL (state, PKCE), the code
exchange, the refresh, and Meta's fb_exchange_token for a long-lived token. httpx, no SDK: none of the
platforms' SDKs covers the user-token flow of a desktop tool.

- TikTok (Login Kit for Desktop): authorize at www.tiktok.com/v2/auth/authorize/ with client_key, scope
  (comma-separated), response_type=code, redirect_uri, state, code_challenge (hex SHA-256 of the verifier)
  and code_challenge_method=S256; POST /v2/oauth/token/ form-encoded (authorization_code with code_verifier,
  or refresh_token; the refresh token rotates).
- Google: accounts.google.com/o/oauth2/v2/auth with access_type=offline and prompt=consent (so a refresh
  token is issued), S256 PKCE; POST oauth2.googleapis.com/token.
- Meta: www.facebook.com/v<X.Y>/dialog/oauth; GET graph.facebook.com/v<X.Y>/oauth/access_token with the
  code, then grant_type=fb_exchange_token for a long-lived (~60-day) token; no refresh token.

Errors never carry a token: a refusal is OAuthRefused(error, description) and the description is scrubbed
of every secret the call sent.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from .platforms import Provider

TIMEOUT_S = 30.0
# query parameters that carry a secret: httpx logs each request's URL (INFO), and Meta's token endpoint takes
# them in the query string of a GET
SECRET_PARAMS = ("access_token", "fb_exchange_token", "client_secret", "refresh_token", "code", "code_verifier",
                 "token", "appsecret_proof")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:" + "|".join(SECRET_PARAMS) + r")=)[^&\s\"']*")


class RedactSecrets(logging.Filter):
    """Blanks secret query parameters in the log records of httpx/httpcore (installed on import)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = str(record.msg) % record.args if isinstance(record.args, tuple) else str(record.msg)
            record.args = None
        record.msg = _SECRET_QUERY.sub(r"\1<redacted>", str(record.msg))
        return True


for _name in ("httpx", "httpcore"):
    if not any(isinstance(f, RedactSecrets) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(RedactSecrets())


class OAuthRefused(RuntimeError):
    """The platform refused the grant (invalid_grant, access_denied, ...): reconnecting is the way out."""

    def __init__(self, platform: str, error: str, description: str = ""):
        super().__init__(f"{platform} refused: {error}" + (f" ({description})" if description else ""))
        self.platform = platform
        self.error = error


class OAuthUnavailable(RuntimeError):
    """The token endpoint could not be reached or failed (5xx): try again later."""


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint answered (tokens hidden from repr)."""

    access_token: str = field(repr=False)
    expires_in: float | None  # None = does not expire
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_in: float | None = None
    scope: str = ""
    external_id: str | None = None
    kind: str = "user"  # user | long_lived | system_user


@dataclass(frozen=True)
class Pkce:
    verifier: str = field(repr=False)
    challenge: str
    method: str = "S256"


def pkce(platform: str) -> Pkce:
    """A fresh verifier (64 unreserved characters) and its challenge as the platform wants it."""
    verifier = secrets.token_urlsafe(48)[:64]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if platform == "tiktok":  # Login Kit for Desktop: the hex form of the SHA-256
        return Pkce(verifier, digest.hex())
    return Pkce(verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("="))


def authorize_url(p: Provider, redirect_uri: str, state: str, challenge: Pkce | None,
                  account: str | None = None) -> str:
    if p.platform == "tiktok":
        params = {"client_key": p.client_id, "scope": p.scope, "response_type": "code",
                  "redirect_uri": redirect_uri, "state": state}
    elif p.platform == "youtube":
        params = {"client_id": p.client_id, "redirect_uri": redirect_uri, "response_type": "code",
                  "scope": p.scope, "state": state, "access_type": "offline", "prompt": "consent",
                  "include_granted_scopes": "true"}
    else:
        params = {"client_id": p.client_id, "redirect_uri": redirect_uri, "state": state, "scope": p.scope,
                  "response_type": "code"}
    if challenge is not None and p.platform != "meta":
        params.update(code_challenge=challenge.challenge, code_challenge_method=challenge.method)
    if p.sandbox and account:
        params["account"] = account  # the sandbox's test parameter: which world account grants access
    return p.authorize_url + "?" + urlencode(params)


def _scrub(text: str, secrets_sent: list[str]) -> str:
    for s in secrets_sent:
        if s:
            text = text.replace(s, "<redacted>")
    return text[:300]


def _call(p: Provider, method: str, url: str, data: dict[str, str], http: httpx.Client | None,
          secrets_sent: list[str]) -> dict[str, Any]:
    """One call to a token endpoint: its JSON answer, or OAuthRefused / OAuthUnavailable."""
    client = http or httpx.Client(timeout=TIMEOUT_S)
    try:
        if method == "GET":
            resp = client.get(url, params=data, headers={"Cache-Control": "no-cache"})
        else:
            resp = client.post(url, data=data, headers={"Cache-Control": "no-cache"})
    except httpx.HTTPError as exc:
        raise OAuthUnavailable(f"{p.platform}: the token endpoint did not answer ({type(exc).__name__})") from None
    finally:
        if http is None:
            client.close()
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code >= 500 or not isinstance(body, dict):
        raise OAuthUnavailable(f"{p.platform}: the token endpoint answered HTTP {resp.status_code}")
    error = body.get("error")
    if isinstance(error, dict):  # Graph's shape
        raise OAuthRefused(p.platform, f"code {error.get('code')}", _scrub(str(error.get("message", "")), secrets_sent))
    if error or resp.status_code >= 400:
        raise OAuthRefused(p.platform, str(error or f"HTTP {resp.status_code}"),
                           _scrub(str(body.get("error_description", "")), secrets_sent))
    if not body.get("access_token"):
        raise OAuthRefused(p.platform, "no_access_token", "the token endpoint answered no access_token")
    return body


def _token_set(p: Provider, body: dict[str, Any], kind: str = "user") -> TokenSet:
    def num(name: str) -> float | None:
        value = body.get(name)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    expires = num("expires_in")
    if p.platform == "meta" and expires is None:
        kind = "system_user" if kind != "long_lived" else kind  # Meta omits expires_in for tokens that never expire
    return TokenSet(str(body["access_token"]), expires, body.get("refresh_token") or None,
                    num("refresh_expires_in"), str(body.get("scope") or ""), body.get("open_id"), kind)


def exchange_code(p: Provider, code: str, redirect_uri: str, verifier: Pkce | None,
                  http: httpx.Client | None = None) -> TokenSet:
    """The authorization code for tokens (Meta: then for a long-lived token)."""
    key = "client_key" if p.platform == "tiktok" else "client_id"
    data = {key: p.client_id, "client_secret": p.client_secret, "code": code, "redirect_uri": redirect_uri}
    if p.platform != "meta":
        data["grant_type"] = "authorization_code"
        if verifier is not None:
            data["code_verifier"] = verifier.verifier
    sent = [p.client_secret, code, verifier.verifier if verifier else ""]
    body = _call(p, "GET" if p.platform == "meta" else "POST", p.token_url, data, http, sent)
    tokens = _token_set(p, body)
    if p.platform == "meta":
        return long_lived(p, tokens.access_token, http)
    return tokens


def refresh(p: Provider, refresh_token: str, http: httpx.Client | None = None) -> TokenSet:
    """A refresh_token grant (TikTok, Google). Google keeps the refresh token: the caller keeps its own
    when the answer has none."""
    key = "client_key" if p.platform == "tiktok" else "client_id"
    data = {key: p.client_id, "client_secret": p.client_secret, "grant_type": "refresh_token",
            "refresh_token": refresh_token}
    return _token_set(p, _call(p, "POST", p.token_url, data, http, [p.client_secret, refresh_token]))


def long_lived(p: Provider, access_token: str, http: httpx.Client | None = None) -> TokenSet:
    """Meta: a valid user token for a long-lived one (grant_type=fb_exchange_token)."""
    data = {"grant_type": "fb_exchange_token", "client_id": p.client_id, "client_secret": p.client_secret,
            "fb_exchange_token": access_token}
    body = _call(p, "GET", p.token_url, data, http, [p.client_secret, access_token])
    return _token_set(p, body, kind="long_lived")


def revoke(p: Provider, token: str, http: httpx.Client | None = None) -> None:
    """Revoke a token where the platform has an endpoint (TikTok, Google); best effort."""
    if p.revoke_url is None:
        return
    data = {"token": token}
    if p.platform == "tiktok":
        data.update(client_key=p.client_id, client_secret=p.client_secret)
    client = http or httpx.Client(timeout=TIMEOUT_S)
    try:
        client.post(p.revoke_url, data=data)
    except httpx.HTTPError:
        pass
    finally:
        if http is None:
            client.close()
