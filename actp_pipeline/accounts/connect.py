"""`actp accounts connect`: the documented authorization-code flow for a desktop tool.

1. a fresh state and PKCE pair; 2. the authorize URL, opened in a browser (and printed); 3. the redirect
comes back to a one-shot listener on 127.0.0.1 (a tiny Starlette app on uvicorn) or, with --no-browser,
the user pastes the URL the browser was sent to; 4. the state is checked (constant time); 5. the code is
exchanged (Meta: then for a long-lived token); 6. the tokens are stored encrypted. The cipher is checked
first: without ACTP_TOKEN_KEY nothing is asked of the platform.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from typing import Self
from urllib.parse import parse_qsl, urlsplit

import httpx
from sqlalchemy.engine import Engine

from . import oauth
from .crypto import TokenCipher
from .platforms import Provider
from .tokens import AccountStatus, Clock, save_tokens, wall_clock

CALLBACK_PATH = "/callback/"
PASTE_PORT = 8719  # the redirect URI of --no-browser (nothing listens: the user copies the URL)


class ConnectFailed(RuntimeError):
    """The flow did not finish: denied, state mismatch, timeout (never carries a code or token)."""


class LoopbackListener:
    """A one-shot redirect listener on 127.0.0.1: the first request to the callback path with a state or
    an error is kept; the server stops after it."""

    def __init__(self, port: int = 0):
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse
        from starlette.routing import Route

        from actp_pipeline.serving import BackgroundServer

        self._got = threading.Event()
        self.params: dict[str, str] = {}

        async def callback(request):
            params = dict(request.query_params)
            if not self._got.is_set() and ("state" in params or "error" in params):
                self.params = params
                self._got.set()
            return HTMLResponse("<!doctype html><title>ACTP</title><p>ACTP received the answer: you can close "
                                "this tab and go back to the terminal.</p>", headers={"Cache-Control": "no-store"})

        app = Starlette(routes=[Route(CALLBACK_PATH.rstrip("/"), callback), Route(CALLBACK_PATH, callback)])
        self._server = BackgroundServer(app, "127.0.0.1", port, name="actp-oauth-callback")
        self.redirect_uri = f"http://127.0.0.1:{self._server.port}{CALLBACK_PATH}"

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()

    def wait(self, timeout_s: float) -> dict[str, str]:
        if not self._got.wait(timeout_s):
            raise ConnectFailed(f"no answer on {self.redirect_uri} within {timeout_s:.0f} s")
        return self.params


def params_of_redirect(url: str) -> dict[str, str]:
    """The query of a pasted redirect URL (or of a bare query string)."""
    text = url.strip()
    query = urlsplit(text).query if "://" in text else text.lstrip("?")
    return dict(parse_qsl(query, keep_blank_values=True))


def _check(params: dict[str, str], state: str, platform: str) -> str:
    if params.get("error"):
        raise ConnectFailed(f"{platform} did not grant access: {params['error']}"
                            + (f" ({params['error_description'][:200]})" if params.get("error_description") else ""))
    got = params.get("state") or ""
    if not hmac.compare_digest(got.encode(), state.encode()):
        raise ConnectFailed("the state of the redirect does not match this request's (a forged or stale "
                            "redirect): nothing was stored; run connect again")
    code = params.get("code")
    if not code:
        raise ConnectFailed("the redirect carries no code")
    return code


def connect(engine: Engine, provider: Provider, account: str, *, cipher: TokenCipher,
            open_url: Callable[[str], object], paste: Callable[[str], str] | None = None,
            port: int = 0, timeout_s: float = 300.0, now: Clock = wall_clock,
            http: httpx.Client | None = None) -> AccountStatus:
    """Walk the flow and store the tokens. `open_url(url)` shows the authorize URL (a browser, a print);
    `paste(prompt)` when given is the --no-browser fallback that returns the redirect URL the user copied."""
    state = secrets.token_urlsafe(24)
    challenge = None if provider.platform == "meta" else oauth.pkce(provider.platform)
    if paste is not None:
        redirect_uri = f"http://127.0.0.1:{port or PASTE_PORT}{CALLBACK_PATH}"
        open_url(oauth.authorize_url(provider, redirect_uri, state, challenge, account))
        params = params_of_redirect(paste("paste the URL your browser was sent to (it starts with "
                                          f"{redirect_uri})"))
    else:
        with LoopbackListener(port) as listener:
            redirect_uri = listener.redirect_uri
            opener = threading.Thread(target=open_url, args=(oauth.authorize_url(provider, redirect_uri, state,
                                                                                 challenge, account),), daemon=True)
            opener.start()
            params = listener.wait(timeout_s)
    code = _check(params, state, provider.platform)
    tokens = oauth.exchange_code(provider, code, redirect_uri, challenge, http)
    return save_tokens(engine, cipher, provider.platform, account, tokens, provider.token_url, now=now)
