"""Contract: ACTP's OAuth flow (actp_pipeline/accounts) against the sandbox's token endpoints at the
platforms' real paths: connect -> the minted token works on that platform's API -> it expires on the
sandbox clock (401) -> ACTP's refresh runs before expiry and the call works again; TikTok's refresh token
rotates, PKCE and state are checked, errors have each platform's documented shape, and `actp accounts`
connects and lists without showing a token."""

from __future__ import annotations

import threading
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from actp_pipeline.accounts import (
    NeedsReconnect,
    TokenCipher,
    get_token,
    keygen,
    list_accounts,
)
from actp_pipeline.accounts import oauth as actp_oauth
from actp_pipeline.accounts.connect import ConnectFailed, connect
from actp_pipeline.accounts.platforms import provider
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.oauth import SANDBOX_CLIENTS
from actp_pipeline.store import connect_store

START = datetime.fromisoformat("2025-03-01T12:00:00+00:00")
CREATOR_INFO = "/v2/post/publish/creator_info/query/"


@pytest.fixture
def sandbox():
    cfg = WorldConfig(start=START, truth_token="truth-for-tests", api_keys=("key-a", "key-b"),
                      accounts={"tiktok": ["main", "second"], "youtube": ["main"], "instagram": ["main"]})
    with SandboxServer(cfg) as server:
        yield server


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def cipher():
    return TokenCipher([keygen()])


def approve(url: str, account: str | None = None) -> None:
    """The test's user: approve on the sandbox's consent page (the sandbox-only approve=1 parameter)."""
    extra = "&approve=1" + (f"&account={account}" if account else "")
    httpx.get(url + extra, follow_redirects=True, timeout=30)


def advance(server: SandboxServer, hours: float) -> None:
    httpx.post(server.url + "/sandbox/clock/advance", json={"hours": hours}, timeout=30).raise_for_status()


def creator_info(server: SandboxServer, token: str) -> httpx.Response:
    return httpx.post(server.url + CREATOR_INFO, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def do_connect(server, engine, cipher, platform, account="main", **kw):
    return connect(engine, provider(platform, server.url, env={}), account, cipher=cipher,
                   open_url=kw.pop("open_url", approve), now=server.clock.now, timeout_s=20, **kw)


def test_tiktok_connect_use_expire_refresh(sandbox, engine, cipher):
    st = do_connect(sandbox, engine, cipher, "tiktok")
    assert st.status == "connected" and st.external_id
    assert (st.access_expires_at - st.connected_at).total_seconds() == 24 * 3600
    assert (st.refresh_expires_at - st.connected_at).days == 365
    first = get_token(engine, "tiktok", "main", cipher=cipher, now=sandbox.clock.now)
    assert creator_info(sandbox, first).json()["data"]["creator_username"] == "main"

    advance(sandbox, 25)  # past expiry on the sandbox clock
    gone = creator_info(sandbox, first)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "access_token_invalid"
    second = get_token(engine, "tiktok", "main", cipher=cipher, now=sandbox.clock.now)
    assert second != first and creator_info(sandbox, second).status_code == 200

    advance(sandbox, 23.5)  # inside the 1-hour margin, not yet expired: refreshed before expiry
    assert creator_info(sandbox, second).status_code == 200
    third = get_token(engine, "tiktok", "main", cipher=cipher, now=sandbox.clock.now)
    assert third != second and creator_info(sandbox, third).status_code == 200
    assert get_token(engine, "tiktok", "main", cipher=cipher, now=sandbox.clock.now) == third  # no needless refresh


def test_minted_token_stands_for_its_account_and_api_keys_still_work(sandbox, engine, cipher):
    do_connect(sandbox, engine, cipher, "tiktok", "second", open_url=lambda url: approve(url, "second"))
    token = get_token(engine, "tiktok", "second", cipher=cipher, now=sandbox.clock.now)
    assert creator_info(sandbox, token).json()["data"]["creator_username"] == "second"
    assert creator_info(sandbox, "key-a").json()["data"]["creator_username"] == "main"
    assert creator_info(sandbox, "act.not-a-token").status_code == 401


def test_tiktok_refresh_token_rotates_and_a_spent_one_is_refused(sandbox):
    p = provider("tiktok", sandbox.url, env={})
    pk = actp_oauth.pkce("tiktok")
    seen = {}

    def grab(url):
        r = httpx.get(url + "&approve=1", timeout=30)
        seen.update({k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()})

    grab(actp_oauth.authorize_url(p, "http://127.0.0.1:9/callback/", "st", pk))
    assert seen["state"] == "st" and "scopes" in seen
    tokens = actp_oauth.exchange_code(p, seen["code"], "http://127.0.0.1:9/callback/", pk)
    with pytest.raises(actp_oauth.OAuthRefused, match="invalid_grant"):  # codes are single-use
        actp_oauth.exchange_code(p, seen["code"], "http://127.0.0.1:9/callback/", pk)
    new = actp_oauth.refresh(p, tokens.refresh_token)
    assert new.refresh_token != tokens.refresh_token and new.expires_in == 86400
    with pytest.raises(actp_oauth.OAuthRefused, match="invalid_grant") as info:
        actp_oauth.refresh(p, tokens.refresh_token)
    assert tokens.refresh_token not in str(info.value)


def test_pkce_verifier_must_match(sandbox):
    p = provider("tiktok", sandbox.url, env={})
    pk, other = actp_oauth.pkce("tiktok"), actp_oauth.pkce("tiktok")
    r = httpx.get(actp_oauth.authorize_url(p, "http://127.0.0.1:9/callback/", "s", pk) + "&approve=1", timeout=30)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    resp = httpx.post(sandbox.url + "/v2/oauth/token/", data={
        "client_key": p.client_id, "client_secret": p.client_secret, "code": code, "grant_type": "authorization_code",
        "redirect_uri": "http://127.0.0.1:9/callback/", "code_verifier": other.verifier}, timeout=30)
    body = resp.json()
    assert resp.status_code == 400 and body["error"] == "invalid_grant"
    assert set(body) == {"error", "error_description", "log_id"}  # TikTok's OAuth error struct


def test_a_forged_state_stores_nothing(sandbox, engine, cipher):
    def forged(url):
        r = httpx.get(url + "&approve=1", timeout=30)
        loc = r.headers["location"].replace("state=", "state=forged")
        httpx.get(loc, timeout=30)

    with pytest.raises(ConnectFailed, match="state"):
        do_connect(sandbox, engine, cipher, "tiktok", open_url=forged)
    assert list_accounts(engine) == []


def test_denied_consent_is_reported(sandbox, engine, cipher):
    with pytest.raises(ConnectFailed, match="access_denied"):
        do_connect(sandbox, engine, cipher, "youtube", open_url=lambda url: httpx.get(url + "&approve=0",
                                                                                       follow_redirects=True))


def test_paste_fallback(sandbox, engine, cipher):
    shown: list[str] = []

    def paste(prompt: str) -> str:
        r = httpx.get(shown[0] + "&approve=1", timeout=30)  # the browser lands on a page nobody serves
        return r.headers["location"]

    st = do_connect(sandbox, engine, cipher, "youtube", open_url=shown.append, paste=paste)
    assert st.status == "connected"


def test_google_refresh_keeps_the_refresh_token(sandbox, engine, cipher):
    do_connect(sandbox, engine, cipher, "youtube")
    first = get_token(engine, "youtube", "main", cipher=cipher, now=sandbox.clock.now)
    channels = lambda tok: httpx.get(sandbox.url + "/youtube/v3/channels", params={"part": "id", "mine": "true"},
                                     headers={"Authorization": f"Bearer {tok}"}, timeout=30)
    assert channels(first).status_code == 200
    advance(sandbox, 1)
    assert channels(first).status_code == 401
    for _ in range(2):  # twice: the refresh token from connect still works (Google does not rotate it)
        advance(sandbox, 1)
        token = get_token(engine, "youtube", "main", cipher=cipher, now=sandbox.clock.now)
        assert channels(token).status_code == 200


def test_google_token_endpoint_shapes(sandbox):
    r = httpx.post(sandbox.url + "/token", data={"grant_type": "refresh_token", "client_id": SANDBOX_CLIENTS["youtube"][0],
                                                 "client_secret": SANDBOX_CLIENTS["youtube"][1], "refresh_token": "x"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant" and set(r.json()) == {"error", "error_description"}
    r = httpx.post(sandbox.url + "/token", data={"grant_type": "password", "client_id": "x"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_meta_code_then_long_lived_token_on_graph(sandbox, engine, cipher):
    st = do_connect(sandbox, engine, cipher, "meta")
    assert st.token_kind == "long_lived" and (st.access_expires_at - st.connected_at).days == 60
    token = get_token(engine, "meta", "main", cipher=cipher, now=sandbox.clock.now)
    campaigns = lambda tok: httpx.get(sandbox.url + "/graph/v21.0/act_oauth/campaigns", params={"access_token": tok},
                                      timeout=30)
    assert campaigns(token).status_code == 200
    advance(sandbox, 24 * 54)  # within the week's margin: exchanged again for a new 60-day token
    renewed = get_token(engine, "meta", "main", cipher=cipher, now=sandbox.clock.now)
    assert renewed != token and campaigns(renewed).status_code == 200
    advance(sandbox, 24 * 61)
    bad = campaigns(renewed)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 190
    with pytest.raises(NeedsReconnect):  # expired: a long-lived token cannot be exchanged any more
        get_token(engine, "meta", "main", cipher=cipher, now=sandbox.clock.now)
    assert list_accounts(engine)[0].status == "needs_reconnect"


def test_meta_oauth_errors_are_graph_errors_and_the_catch_all_is_intact(sandbox):
    r = httpx.get(sandbox.url + "/graph/v21.0/oauth/access_token",
                  params={"grant_type": "fb_exchange_token", "client_id": SANDBOX_CLIENTS["meta"][0],
                          "client_secret": SANDBOX_CLIENTS["meta"][1], "fb_exchange_token": "EAAnope"})
    err = r.json()["error"]
    assert r.status_code == 400 and err["type"] == "OAuthException" and err["code"] == 190 and "fbtrace_id" in err
    r = httpx.get(sandbox.url + "/graph/v21.0/act_x/campaigns", params={"access_token": "key-a"})
    assert r.status_code == 200


def test_refused_refresh_marks_needs_reconnect(sandbox, engine, cipher):
    do_connect(sandbox, engine, cipher, "tiktok")
    token = get_token(engine, "tiktok", "main", cipher=cipher, now=sandbox.clock.now)
    p = provider("tiktok", sandbox.url, env={})
    httpx.post(p.revoke_url, data={"client_key": p.client_id, "client_secret": p.client_secret, "token": token},
               timeout=30).raise_for_status()
    assert creator_info(sandbox, token).status_code == 401
    advance(sandbox, 23.5)
    with pytest.raises(NeedsReconnect) as info:
        get_token(engine, "tiktok", "main", cipher=cipher, now=sandbox.clock.now)
    assert token not in str(info.value)
    assert list_accounts(engine)[0].status == "needs_reconnect"
    do_connect(sandbox, engine, cipher, "tiktok")  # reconnecting clears it
    assert list_accounts(engine)[0].status == "connected"


def test_cli_connect_and_list(sandbox, tmp_path, monkeypatch):
    import webbrowser

    from actp_pipeline.cli import main

    monkeypatch.setenv("ACTP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ACTP_PLATFORM_URL", sandbox.url)
    monkeypatch.delenv("ACTP_DATABASE_URL", raising=False)
    monkeypatch.delenv("ACTP_OAUTH_URL", raising=False)
    monkeypatch.delenv("ACTP_TOKEN_KEY", raising=False)
    assert main(["accounts", "connect", "tiktok"]) == 1  # no key: refused before anything else

    monkeypatch.setenv("ACTP_TOKEN_KEY", keygen())
    monkeypatch.setattr(webbrowser, "open", approve)
    assert main(["accounts", "connect", "tiktok", "--timeout", "20"]) == 0
    assert main(["accounts", "list"]) == 0


def test_cli_refuses_without_a_key_and_says_how(tmp_path, monkeypatch, capsys):
    from actp_pipeline.cli import main

    monkeypatch.setenv("ACTP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ACTP_TOKEN_KEY", raising=False)
    assert main(["accounts", "connect", "meta"]) == 1
    assert "actp accounts keygen" in capsys.readouterr().err
    assert main(["accounts", "keygen"]) == 0
    key = capsys.readouterr().out.strip()
    TokenCipher([key])  # a valid Fernet key


def test_two_workers_refresh_once(sandbox, engine, cipher):
    do_connect(sandbox, engine, cipher, "tiktok")
    advance(sandbox, 23.5)
    calls: list[str] = []
    original = actp_oauth.refresh

    def counted(*a, **kw):
        calls.append("refresh")
        return original(*a, **kw)

    results: list[str] = []
    errors: list[BaseException] = []

    def worker():
        try:
            results.append(get_token(engine, "tiktok", "main", cipher=cipher, now=sandbox.clock.now))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    import actp_pipeline.accounts.tokens as tokens_mod

    tokens_mod.oauth.refresh = counted
    try:
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        tokens_mod.oauth.refresh = original
    assert not errors and calls == ["refresh"] and len(set(results)) == 1 and len(results) == 4
    assert creator_info(sandbox, results[0]).status_code == 200


def test_a_401_refreshes_at_once_whatever_the_clocks_say(sandbox, engine, cipher):
    """Connected on the wall clock (as the CLI does) while the sandbox's clock runs ahead: the caller hands
    back the token the platform refused and gets a fresh one."""
    connect(engine, provider("tiktok", sandbox.url, env={}), "main", cipher=cipher, open_url=approve, timeout_s=20)
    token = get_token(engine, "tiktok", "main", cipher=cipher)
    advance(sandbox, 25)
    assert creator_info(sandbox, token).status_code == 401
    assert get_token(engine, "tiktok", "main", cipher=cipher) == token  # ACTP's clock says it is valid
    fresh = get_token(engine, "tiktok", "main", cipher=cipher, rejected=token)
    assert fresh != token and creator_info(sandbox, fresh).status_code == 200
    assert get_token(engine, "tiktok", "main", cipher=cipher, rejected=token) == fresh  # already replaced


def test_native_publishing_takes_the_connected_accounts_token_and_follows_its_refresh(sandbox, engine, tmp_path,
                                                                                        monkeypatch):
    from actp_pipeline.publish.dialects import DialectUnavailable, native_publisher
    from actp_pipeline.settings import Settings

    key = keygen()
    monkeypatch.setenv("ACTP_TOKEN_KEY", key)
    do_connect(sandbox, engine, TokenCipher([key]), "tiktok")
    # no TikTok EnvVar and not the embedded sandbox's default address: only the token store has a token
    settings = Settings(platform_url=sandbox.url, publisher="native", dialect_tokens={},
                        dialect_urls={"tiktok": sandbox.url})
    with pytest.raises(DialectUnavailable, match="ACTP_TIKTOK_ACCESS_TOKEN"):
        native_publisher(tmp_path, clock=sandbox.clock.now, settings=settings).adapter("tiktok", "main")
    pub = native_publisher(tmp_path, clock=sandbox.clock.now, settings=settings, engine=engine)
    try:
        first = pub.adapter("tiktok", "main")
        token = first._http.headers["Authorization"].removeprefix("Bearer ")
        assert creator_info(sandbox, token).json()["data"]["creator_username"] == "main"
        assert pub.adapter("tiktok", "main") is first  # unchanged token: the same adapter
        advance(sandbox, 25)  # past the 24 h expiry on the sandbox clock: refreshed, and the adapter rebuilt
        second = pub.adapter("tiktok", "main")
        fresh = second._http.headers["Authorization"].removeprefix("Bearer ")
        assert second is not first and fresh != token and creator_info(sandbox, fresh).status_code == 200
        assert creator_info(sandbox, token).status_code == 401
    finally:
        pub.close()
