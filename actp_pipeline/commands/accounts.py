"""`actp accounts`: connect platform accounts through OAuth, list them (status and expiry, never a token),
disconnect them, and make the key that encrypts their tokens."""

from __future__ import annotations

import os

import click

from actp_pipeline.commands.context import settings

PLATFORM_CHOICE = click.Choice(["tiktok", "youtube", "meta"])


def _engine():
    from actp_pipeline.store import connect_store

    return connect_store(settings().store_url)


def _oauth_base(given: str | None) -> str | None:
    """Where OAuth is spoken: --oauth-url, ACTP_OAUTH_URL, or the platform URL when it is a sandbox on
    loopback; None = the platforms' real endpoints."""
    from actp_pipeline.accounts.platforms import is_loopback

    base = given or os.environ.get("ACTP_OAUTH_URL") or None
    if base is None and is_loopback(settings().platform_url):
        base = settings().platform_url
    return base


def _when(value) -> str:
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _connect(platform: str, account: str, no_browser: bool, port: int, timeout: float, oauth_url: str | None) -> int:
    from actp_pipeline.accounts import NoTokenKey, TokenCipher
    from actp_pipeline.accounts.connect import ConnectFailed, connect
    from actp_pipeline.accounts.oauth import OAuthRefused, OAuthUnavailable
    from actp_pipeline.accounts.platforms import MissingClient, provider

    try:
        cipher = TokenCipher.from_env()  # first: without a key nothing is asked of the platform
        prov = provider(platform, _oauth_base(oauth_url))
    except (NoTokenKey, MissingClient) as exc:
        raise click.ClickException(f"actp accounts connect: {exc}") from None

    def show(url: str) -> None:
        click.echo(f"Open this URL to authorize ACTP on {platform}:\n  {url}")
        if not no_browser:
            import webbrowser

            webbrowser.open(url)

    paste = (lambda prompt: click.prompt(prompt, type=str)) if no_browser else None
    try:
        st = connect(_engine(), prov, account, cipher=cipher, open_url=show, paste=paste, port=port, timeout_s=timeout)
    except (ConnectFailed, OAuthRefused, OAuthUnavailable) as exc:
        raise click.ClickException(f"actp accounts connect: {exc}") from None
    click.echo(f"{platform}/{account}: connected ({st.token_kind} token, expires {_when(st.access_expires_at)})")
    return 0


def _list() -> int:
    from actp_pipeline.accounts import list_accounts

    rows = list_accounts(_engine())
    if not rows:
        click.echo("no accounts: connect one with `actp accounts connect tiktok|youtube|meta`")
        return 0
    for a in rows:
        refresh = "" if a.refresh_expires_at is None else f", refresh until {_when(a.refresh_expires_at)}"
        line = f"{a.platform}/{a.account}: {a.status}, {a.token_kind} token expires {_when(a.access_expires_at)}{refresh}"
        if a.status == "needs_reconnect":
            line += f" -- reconnect: actp accounts connect {a.platform} --account {a.account}"
            if a.last_error:
                line += f" ({a.last_error[:160]})"
        click.echo(line)
    return 0


def make() -> click.Group:
    @click.group("accounts")
    def accounts() -> None:
        """Platform accounts and their OAuth tokens (encrypted with ACTP_TOKEN_KEY, never shown)."""

    @accounts.command("keygen")
    def keygen_cmd() -> int:
        """Print a new token key: put it in ACTP_TOKEN_KEY (prepend it, comma-separated, to rotate)."""
        from actp_pipeline.accounts import keygen

        click.echo(keygen())
        return 0

    @accounts.command("connect")
    @click.argument("platform", type=PLATFORM_CHOICE)
    @click.option("--account", default="main", help="ACTP's name for the account")
    @click.option("--no-browser", is_flag=True, help="print the URL and paste back the redirect URL instead of "
                                                      "opening a browser and listening on 127.0.0.1")
    @click.option("--port", type=click.IntRange(0, 65535), default=0,
                  help="loopback port of the redirect (0 = any free port; register http://127.0.0.1:*/callback/)")
    @click.option("--timeout", type=click.FloatRange(1, 3600), default=300.0, help="seconds to wait for the redirect")
    @click.option("--oauth-url", default=None, help="base URL of the OAuth endpoints (a sandbox); default: the "
                                                    "platform's own, or the sandbox when ACTP_PLATFORM_URL is one")
    def connect_cmd(platform: str, account: str, no_browser: bool, port: int, timeout: float,
                    oauth_url: str | None) -> int:
        """Authorize ACTP on PLATFORM (OAuth authorization code with state and PKCE) and store the tokens."""
        return _connect(platform, account, no_browser, port, timeout, oauth_url)

    @accounts.command("list")
    def list_cmd() -> int:
        """Each account's status and expiry (never a token)."""
        return _list()

    @accounts.command("disconnect")
    @click.argument("platform", type=PLATFORM_CHOICE)
    @click.option("--account", default="main", help="ACTP's name for the account")
    def disconnect_cmd(platform: str, account: str) -> int:
        """Forget an account's tokens."""
        from actp_pipeline.accounts import disconnect

        if not disconnect(_engine(), platform, account):
            click.echo(f"{platform}/{account}: not connected")
            return 1
        click.echo(f"{platform}/{account}: disconnected")
        return 0

    return accounts
