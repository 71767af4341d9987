"""OAuth 2.0 as the sandbox speaks it for TikTok (Login Kit v2), Google (YouTube) and Meta (Facebook Login):
authorization codes with PKCE, token exchange, refresh, Meta's fb_exchange_token and revocation.
Framework-free: routes/oauth.py serves it at the platforms' own paths.

Tokens minted here are valid for that platform's API calls until they expire on the sandbox clock: the
app (app.py) swaps a live minted bearer token for the API key of its account before the TikTok and YouTube
dialects see the request, and `transport.Auth.valid_key` accepts a live Meta token on the Graph routes.
Nothing secret is kept: grants are stored by the SHA-256 of the token (state meta table), so they survive
a restart and no token is ever written in the clear.

Paths (real host -> sandbox path)
---------------------------------
  TikTok  www.tiktok.com/v2/auth/authorize/            GET  /v2/auth/authorize/
          open.tiktokapis.com/v2/oauth/token/          POST /v2/oauth/token/    (form: authorization_code | refresh_token)
          open.tiktokapis.com/v2/oauth/revoke/         POST /v2/oauth/revoke/
  Google  accounts.google.com/o/oauth2/v2/auth         GET  /o/oauth2/v2/auth
          oauth2.googleapis.com/token                  POST /token             (form: authorization_code | refresh_token)
          oauth2.googleapis.com/revoke                 POST /revoke
  Meta    www.facebook.com/v<X.Y>/dialog/oauth         GET  /v<X.Y>/dialog/oauth
          graph.facebook.com/v<X.Y>/oauth/access_token GET  /graph/v<X.Y>/oauth/access_token (code, or
                                                            grant_type=fb_exchange_token)

Lifetimes: TikTok access 24 h (expires_in 86400), refresh 365 days (refresh_expires_in), the refresh token
rotates on every refresh (the old one stops working); Google access 3599 s, the refresh token does not
expire and is not rotated; Meta short-lived user token 1 h, long-lived 60 days (expires_in 5184000), no
refresh token. Codes are single-use and live 10 simulated minutes.

Differences from the real platforms (known ones)
------------------------------------------------
- SANDBOX ONLY: the authorize pages are not a login. GET of an authorize URL answers a small consent page
  with Approve/Deny links; with the test parameter `approve=1` it redirects at once to the redirect_uri
  with `code` and `state` (`approve=0`: error=access_denied), and `account=<name>` picks which of the
  world's accounts of that platform grants access (default: its first). No cookie, no password.
- Clients are fixed and public (SANDBOX_CLIENTS), not registered apps; a redirect_uri is accepted when it
  is an http(s) URL on a loopback host with a port (TikTok's desktop rule), for every platform (Google and
  Meta check an exact registered URI instead).
- PKCE: TikTok's desktop flow takes code_challenge as the hex SHA-256 of the verifier (what ACTP sends;
  Login Kit for Desktop); Google takes S256 (base64url, RFC 7636) or plain. Meta's code flow has no PKCE.
- Scopes are echoed as asked (TikTok: comma-separated; Google: space-separated); every token may call
  every sandbox API of its platform whatever its scope.
- Errors: TikTok's {"error", "error_description", "log_id"} and Google's {"error", "error_description"}
  with HTTP 400 (401 for invalid_client); Meta's in the Graph error shape (OAuthException, code 100 for a
  bad parameter or code, 190 for a bad token, 101 for a bad app). An expired minted token used on an API
  route gets that dialect's ordinary invalid-token answer (TikTok 401 access_token_invalid, Google 401
  authError, Graph 190 without Meta's "session has expired" subcode 463).
- Meta: a long-lived token may be exchanged again (fb_exchange_token) while it is valid, for a new 60-day
  token; system-user tokens are not minted here (they are made in Business Manager).
- Expiry counts the sandbox clock (advanced by /sandbox/clock/advance), not wall time. Revocation (TikTok,
  Google) ends the access token and its refresh token; Meta's DELETE /me/permissions is not served.
- Minted tokens stand for the API key of their account (API key i <-> account i of the platform), so rate
  limits and quotas are shared with that key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from .clock import SimClock
from .errors import ApiError
from .model import WorldConfig
from .state import SandboxState

# the sandbox's published OAuth clients (not secrets: they guard nothing real), like SANDBOX_API_KEY
SANDBOX_CLIENTS: dict[str, tuple[str, str]] = {
    "tiktok": ("sbx-tiktok-client-key", "sbx-tiktok-client-secret"),
    "youtube": ("sbx-google-client.apps.googleusercontent.com", "sbx-google-client-secret"),
    "meta": ("100000000000001", "sbx-meta-app-secret"),
}
TIKTOK_ACCESS_S = 24 * 3600
TIKTOK_REFRESH_S = 365 * 24 * 3600
GOOGLE_ACCESS_S = 3599
META_SHORT_S = 3600
META_LONG_S = 60 * 24 * 3600
CODE_TTL_S = 600
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_META_KEY = "oauth.{kind}.{digest}"


class OAuthError(ApiError):
    """An OAuth refusal: `error` is the RFC 6749 code (invalid_grant, invalid_client, ...)."""

    def __init__(self, status: int, error: str, description: str, graph_code: int = 100):
        super().__init__(status, error, description)
        self.error = error
        self.description = description
        self.graph_code = graph_code


def invalid_request(msg: str) -> OAuthError:
    return OAuthError(400, "invalid_request", msg)


def invalid_grant(msg: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", msg, graph_code=100)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def tiktok_challenge(verifier: str) -> str:
    """TikTok desktop's code_challenge: the hex SHA-256 of the verifier."""
    return hashlib.sha256(verifier.encode("ascii")).hexdigest()


def s256_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Grant:
    platform: str
    account: str
    kind: str  # access | refresh
    expires: float | None  # epoch seconds on the sandbox clock; None = does not expire
    family: str  # one connection: its access and refresh tokens share it (revocation ends them all)


class OAuthServer:
    """Codes, tokens and their lifetimes for the three platforms, kept in the state's meta table."""

    def __init__(self, config: WorldConfig, state: SandboxState, clock: SimClock):
        self.config = config
        self.state = state
        self.clock = clock
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------ helpers
    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _load(self, kind: str, key: str) -> dict[str, Any] | None:
        raw = self.state.get_meta(_META_KEY.format(kind=kind, digest=digest(key)))
        return json.loads(raw) if raw else None

    def _save(self, kind: str, key: str, record: dict[str, Any]) -> None:
        self.state.set_meta(_META_KEY.format(kind=kind, digest=digest(key)), json.dumps(record, separators=(",", ":")))

    def _revoked(self, family: str) -> bool:
        return self.state.get_meta(f"oauth.revoked.{family}") is not None

    def accounts(self, platform: str) -> list[str]:
        return list(self.config.accounts.get(platform) or ["main"])

    def check_client(self, platform: str, client_id: str | None, secret: str | None = None,
                     need_secret: bool = True) -> None:
        cid, csecret = SANDBOX_CLIENTS[platform]
        if not client_id or not hmac.compare_digest(client_id.encode(), cid.encode()):
            raise OAuthError(401, "invalid_client", "unknown client (the sandbox knows only its published clients)",
                             graph_code=101)
        if need_secret and (not secret or not hmac.compare_digest(secret.encode(), csecret.encode())):
            raise OAuthError(401, "invalid_client", "client authentication failed (wrong or missing client secret)",
                             graph_code=101)

    @staticmethod
    def check_redirect(uri: str | None) -> str:
        if not uri:
            raise invalid_request("redirect_uri is required")
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK or parts.port is None:
            raise invalid_request("redirect_uri must be an http(s) URL on 127.0.0.1 or localhost with a port")
        if parts.query or parts.fragment:
            raise invalid_request("redirect_uri must be static (no query, no fragment)")
        return uri

    # ------------------------------------------------------------------------------ authorize
    def authorize(self, platform: str, params: dict[str, str]) -> str:
        """The redirect URL the consent answers with (code and state, or error=access_denied)."""
        client = params.get("client_key" if platform == "tiktok" else "client_id")
        self.check_client(platform, client, need_secret=False)
        redirect_uri = self.check_redirect(params.get("redirect_uri"))
        if platform != "meta" and params.get("response_type") != "code":
            raise invalid_request("response_type must be code")
        state = params.get("state") or ""
        if params.get("approve") != "1":
            return redirect_uri + "?" + urlencode({"error": "access_denied", "error_description":
                                                   "the user denied the request", "state": state})
        challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
        if platform == "tiktok" and not challenge:
            raise invalid_request("code_challenge is required for desktop apps")
        if challenge and platform == "youtube" and (method or "plain") not in ("S256", "plain"):
            raise invalid_request("code_challenge_method must be S256 or plain")
        account = params.get("account") or self.accounts(platform)[0]
        if account not in self.accounts(platform):
            raise invalid_request(f"no {platform} account {account!r} in this sandbox world")
        scope = params.get("scope") or ""
        code = secrets.token_urlsafe(24)
        self._save("code", code, {"platform": platform, "client": client, "redirect_uri": redirect_uri,
                                  "challenge": challenge, "method": method or "plain", "account": account,
                                  "scope": scope, "expires": self._now() + CODE_TTL_S, "used": False})
        answer = {"code": code, "state": state}
        if platform == "tiktok":
            answer["scopes"] = scope
        elif platform == "youtube":
            answer["scope"] = scope
        return redirect_uri + "?" + urlencode(answer)

    # ------------------------------------------------------------------------------ tokens
    def _mint(self, platform: str, account: str, scope: str, family: str, *, long_lived: bool = False,
              with_refresh: bool = True) -> dict[str, Any]:
        now = self._now()
        prefix = {"tiktok": "act.", "youtube": "ya29.", "meta": "EAAsbx"}[platform]
        access = prefix + secrets.token_urlsafe(32)
        life = {"tiktok": TIKTOK_ACCESS_S, "youtube": GOOGLE_ACCESS_S,
                "meta": META_LONG_S if long_lived else META_SHORT_S}[platform]
        self._save("token", access, {"platform": platform, "account": account, "kind": "access",
                                     "expires": now + life, "family": family, "scope": scope})
        out: dict[str, Any] = {"access_token": access, "expires_in": life, "token_type": "Bearer"}
        if platform == "tiktok":
            refresh = "rft." + secrets.token_urlsafe(32)
            self._save("token", refresh, {"platform": platform, "account": account, "kind": "refresh",
                                          "expires": now + TIKTOK_REFRESH_S, "family": family, "scope": scope})
            out.update(refresh_token=refresh, refresh_expires_in=TIKTOK_REFRESH_S, scope=scope,
                       open_id=self.open_id(account))
        elif platform == "youtube":
            out["scope"] = scope
            if with_refresh:
                refresh = "1//sbx" + secrets.token_urlsafe(32)
                self._save("token", refresh, {"platform": platform, "account": account, "kind": "refresh",
                                              "expires": None, "family": family, "scope": scope})
                out["refresh_token"] = refresh
        else:
            out["token_type"] = "bearer"
        return out

    def open_id(self, account: str) -> str:
        return "sbx-" + hashlib.sha256(f"{self.config.seed}:tiktok:{account}".encode()).hexdigest()[:24]

    def exchange_code(self, platform: str, form: dict[str, str]) -> dict[str, Any]:
        client = form.get("client_key" if platform == "tiktok" else "client_id")
        self.check_client(platform, client, form.get("client_secret"))
        code = form.get("code")
        if not code:
            raise invalid_request("code is required")
        with self._lock:
            record = self._load("code", code)
            if record is None or record["platform"] != platform or record["client"] != client:
                raise invalid_grant("the authorization code is invalid")
            if record["used"] or record["expires"] <= self._now():
                raise invalid_grant("the authorization code has expired or was already used")
            record["used"] = True
            self._save("code", code, record)
        if form.get("redirect_uri") != record["redirect_uri"]:
            raise invalid_grant("redirect_uri does not match the one of the authorization request")
        self._check_verifier(platform, record, form.get("code_verifier"))
        family = secrets.token_hex(8)
        return self._mint(platform, record["account"], record["scope"], family)

    @staticmethod
    def _check_verifier(platform: str, record: dict[str, Any], verifier: str | None) -> None:
        challenge = record.get("challenge")
        if not challenge:
            return
        if not verifier or not _VERIFIER.match(verifier):
            raise invalid_request("Code verifier or code challenge is invalid.")
        if platform == "tiktok":
            expected = tiktok_challenge(verifier)
        else:
            expected = s256_challenge(verifier) if record.get("method") == "S256" else verifier
        if not hmac.compare_digest(expected.encode(), challenge.encode()):
            raise invalid_grant("Code verifier or code challenge is invalid.")

    def refresh(self, platform: str, form: dict[str, str]) -> dict[str, Any]:
        client = form.get("client_key" if platform == "tiktok" else "client_id")
        self.check_client(platform, client, form.get("client_secret"))
        token = form.get("refresh_token")
        if not token:
            raise invalid_request("refresh_token is required")
        with self._lock:
            record = self._load("token", token)
            if (record is None or record["platform"] != platform or record["kind"] != "refresh"
                    or record.get("rotated") or self._revoked(record["family"])):
                raise invalid_grant("The refresh token is invalid, revoked or was already used.")
            if record["expires"] is not None and record["expires"] <= self._now():
                raise invalid_grant("The refresh token has expired.")
            if platform == "tiktok":  # rotation: the refresh token sent stops working
                record["rotated"] = True
                self._save("token", token, record)
        if platform == "youtube":
            out = self._mint(platform, record["account"], record["scope"], record["family"], with_refresh=False)
            return out
        return self._mint(platform, record["account"], record["scope"], record["family"])

    def fb_exchange(self, params: dict[str, str]) -> dict[str, Any]:
        """grant_type=fb_exchange_token: a valid Meta user token -> a long-lived (60-day) one."""
        self.check_client("meta", params.get("client_id"), params.get("client_secret"))
        token = params.get("fb_exchange_token") or ""
        grant = self.lookup(token, "meta")
        if grant is None:
            raise OAuthError(400, "invalid_token", "Error validating access token: the token is invalid or has "
                             "expired (an expired token cannot be exchanged)", graph_code=190)
        return self._mint("meta", grant.account, "", grant.family, long_lived=True)

    def revoke(self, platform: str, form: dict[str, str]) -> None:
        token = form.get("token") or ""
        if platform == "tiktok":
            self.check_client(platform, form.get("client_key"), form.get("client_secret"))
        record = self._load("token", token) if token else None
        if record is None or record["platform"] != platform:
            raise invalid_request("the token is invalid or unknown") if platform == "youtube" else invalid_grant(
                "the token is invalid or unknown")
        self.state.set_meta(f"oauth.revoked.{record['family']}", "1")

    # ------------------------------------------------------------------------------ the API's view
    def lookup(self, token: str, platform: str) -> Grant | None:
        """The grant of a live access token of `platform` (None when unknown, expired, revoked or other)."""
        if not token or len(token) > 512:
            return None
        record = self._load("token", token)
        if record is None or record["platform"] != platform or record["kind"] != "access":
            return None
        if record["expires"] is not None and record["expires"] <= self._now():
            return None
        if self._revoked(record["family"]):
            return None
        return Grant(platform, record["account"], "access", record["expires"], record["family"])

    def key_for(self, token: str, platform: str) -> str | None:
        """The API key a live minted token stands for: that of its account (key i <-> account i)."""
        grant = self.lookup(token, platform)
        keys = self.config.api_keys
        if grant is None or not keys:
            return None
        accounts = self.accounts(platform)
        index = accounts.index(grant.account) if grant.account in accounts else 0
        return keys[index % len(keys)]


# --------------------------------------------------------------------------------- bearer swap
# path prefixes whose dialects take a Bearer header and map it to an account (Graph checks its token in
# transport.Auth.valid_key instead, as it may come in a form body)
BEARER_PLATFORMS = (("/v2/oauth", None), ("/v2/auth", None), ("/v2/", "tiktok"), ("/youtube/", "youtube"),
                    ("/upload/youtube/", "youtube"))


def platform_of(path: str) -> str | None:
    for prefix, platform in BEARER_PLATFORMS:
        if path == prefix.rstrip("/") or path.startswith(prefix.rstrip("/") + "/"):
            return platform
    return None


def swap_bearer(scope: dict[str, Any], minted: Callable[[str, str], str | None],
                api_keys: tuple[str, ...]) -> dict[str, Any]:
    """The ASGI scope with a live minted Bearer token replaced by the API key it stands for (`minted(token,
    platform)`, i.e. transport.Auth.minted); anything else passes unchanged (the dialect then judges it)."""
    platform = platform_of(scope.get("path", ""))
    if platform is None:
        return scope
    headers = scope.get("headers") or []
    for i, (name, value) in enumerate(headers):
        if name.lower() != b"authorization":
            continue
        scheme, _, token = value.decode("latin-1").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or token in api_keys:
            return scope
        key = minted(token, platform)
        if key is None:
            return scope
        new = list(headers)
        new[i] = (name, f"Bearer {key}".encode("latin-1"))
        return {**scope, "headers": new}
    return scope
