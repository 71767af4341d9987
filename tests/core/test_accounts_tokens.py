"""Accounts and tokens (actp_pipeline/accounts), without a sandbox: the cipher and its key rotation, the
store on SQLite and PostgreSQL, when get_token refreshes, and what it does when the platform refuses or
cannot be reached (the token endpoint is an httpx.MockTransport speaking TikTok's and Google's shapes)."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs

import httpx
import pytest
import sqlalchemy as sa

from actp_pipeline.accounts import (
    NeedsReconnect,
    NotConnected,
    NoTokenKey,
    TokenCipher,
    TokenUnavailable,
    disconnect,
    get_token,
    keygen,
    list_accounts,
    save_tokens,
)
from actp_pipeline.accounts.crypto import TokenKeyMismatch
from actp_pipeline.accounts.oauth import TokenSet, pkce
from actp_pipeline.accounts.platforms import MissingClient, provider
from actp_pipeline.store import connect_store
from actp_pipeline.store.schema import account_tokens

T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
TIKTOK_URL = "https://open.tiktokapis.com/v2/oauth/token/"
GOOGLE_URL = "https://oauth2.googleapis.com/token"
ACCESS, REFRESH = "act.secret-access-0001", "rft.secret-refresh-0001"


@pytest.fixture(autouse=True)
def clients(monkeypatch):
    for name, value in {"ACTP_TIKTOK_CLIENT_KEY": "ck", "ACTP_TIKTOK_CLIENT_SECRET": "cs",
                        "ACTP_GOOGLE_CLIENT_ID": "gid", "ACTP_GOOGLE_CLIENT_SECRET": "gs"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def cipher():
    return TokenCipher([keygen()])


class Clock:
    def __init__(self, at: dt.datetime = T0):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **kw) -> None:
        self.at += dt.timedelta(**kw)


class FakeTokenEndpoint:
    """TikTok's token endpoint: rotates the refresh token; `refuse` / `down` make it answer badly."""

    def __init__(self):
        self.calls: list[dict[str, str]] = []
        self.refuse = self.down = False
        self.n = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.calls.append(form)
        if self.down:
            return httpx.Response(503, text="unavailable")
        if self.refuse:
            return httpx.Response(400, json={"error": "invalid_grant", "error_description":
                                             f"refresh token {form.get('refresh_token')} is invalid", "log_id": "x"})
        self.n += 1
        return httpx.Response(200, json={"access_token": f"act.new-{self.n}", "expires_in": 86400, "open_id": "o",
                                         "refresh_token": f"rft.new-{self.n}", "refresh_expires_in": 31536000,
                                         "scope": "video.publish", "token_type": "Bearer"})


def store(store_url, cipher, clock, platform="tiktok", url=TIKTOK_URL, refresh=REFRESH, expires_in=86400.0):
    engine = connect_store(store_url)
    save_tokens(engine, cipher, platform, "main", TokenSet(ACCESS, expires_in, refresh, 365 * 86400.0, "video.publish",
                                                           "open-1"), url, now=clock)
    return engine


# ------------------------------------------------------------------------------------------ cipher
def test_cipher_round_trip_and_rotation():
    old, new = keygen(), keygen()
    before = TokenCipher([old])
    sealed = before.encrypt("tok")
    assert "tok" not in sealed and before.decrypt(sealed) == "tok"
    rotated = TokenCipher([new, old])  # encrypt with the first, decrypt with any
    assert rotated.decrypt(sealed) == "tok"
    again = rotated.rotate(sealed)
    assert TokenCipher([new]).decrypt(again) == "tok"
    with pytest.raises(TokenKeyMismatch):
        TokenCipher([new]).decrypt(sealed)


def test_no_key_and_a_bad_key_say_how_to_make_one_without_echoing_it():
    with pytest.raises(NoTokenKey, match="actp accounts keygen"):
        TokenCipher.from_env({})
    with pytest.raises(NoTokenKey, match="actp accounts keygen") as info:
        TokenCipher.from_env({"ACTP_TOKEN_KEY": "not-a-fernet-key-value"})
    assert "not-a-fernet-key-value" not in str(info.value)
    assert TokenCipher.from_env({"ACTP_TOKEN_KEY": f" {keygen()} , {keygen()}"}) is not None
    assert "keys hidden" in repr(TokenCipher([keygen()]))


def test_pkce_forms():
    tt, g = pkce("tiktok"), pkce("youtube")
    assert len(tt.challenge) == 64 and int(tt.challenge, 16) >= 0  # TikTok desktop: hex SHA-256
    assert len(g.challenge) == 43 and "=" not in g.challenge  # RFC 7636 S256
    assert 43 <= len(tt.verifier) <= 128 and tt.verifier not in repr(tt)


def test_real_providers_need_client_envvars(monkeypatch):
    monkeypatch.delenv("ACTP_META_APP_ID", raising=False)
    with pytest.raises(MissingClient, match="ACTP_META_APP_ID and ACTP_META_APP_SECRET"):
        provider("meta")
    p = provider("tiktok")
    assert p.token_url == TIKTOK_URL and p.authorize_url == "https://www.tiktok.com/v2/auth/authorize/"
    assert "cs" not in repr(p)
    sandbox = provider("youtube", "http://127.0.0.1:8787", env={})
    assert sandbox.sandbox and sandbox.token_url == "http://127.0.0.1:8787/token"


# ------------------------------------------------------------------------------------------- store
def test_tokens_are_encrypted_at_rest_and_never_listed(store_url, cipher):
    engine = store(store_url, cipher, Clock())
    with engine.connect() as conn:
        row = conn.execute(sa.select(account_tokens)).one()
    assert ACCESS not in json.dumps([str(v) for v in row]) and REFRESH not in json.dumps([str(v) for v in row])
    (status,) = list_accounts(engine)
    assert status.status == "connected" and status.access_expires_at == dt.datetime(2026, 1, 6, 12, 0)
    assert ACCESS not in repr(status) and REFRESH not in repr(status)
    assert get_token(engine, "tiktok", "main", cipher=cipher, now=Clock()) == ACCESS
    assert disconnect(engine, "tiktok", "main")
    with pytest.raises(NotConnected, match="actp accounts connect tiktok"):
        get_token(engine, "tiktok", "main", cipher=cipher)
    with pytest.raises(NotConnected):
        get_token(engine, "youtube", "other", cipher=cipher)


def test_refresh_before_expiry_rotates_and_stores(store_url, cipher):
    clock, fake = Clock(), FakeTokenEndpoint()
    engine = store(store_url, cipher, clock)
    http = httpx.Client(transport=httpx.MockTransport(fake))
    clock.advance(hours=22, minutes=59)  # 61 minutes left: outside TikTok's 1-hour margin
    assert get_token(engine, "tiktok", "main", cipher=cipher, now=clock, http=http) == ACCESS and not fake.calls
    clock.advance(minutes=2)  # 59 minutes left: refreshed before expiry
    assert get_token(engine, "tiktok", "main", cipher=cipher, now=clock, http=http) == "act.new-1"
    assert fake.calls[0] == {"client_key": "ck", "client_secret": "cs", "grant_type": "refresh_token",
                             "refresh_token": REFRESH}
    clock.advance(hours=23, minutes=30)
    assert get_token(engine, "tiktok", "main", cipher=cipher, now=clock, http=http) == "act.new-2"
    assert fake.calls[1]["refresh_token"] == "rft.new-1"  # the rotated refresh token was kept
    (status,) = list_accounts(engine)
    assert status.refreshed_at is not None and status.status == "connected"


def test_refused_refresh_needs_reconnect_and_hides_the_token(store_url, cipher):
    clock, fake = Clock(), FakeTokenEndpoint()
    engine = store(store_url, cipher, clock)
    fake.refuse = True
    clock.advance(hours=23, minutes=30)
    with pytest.raises(NeedsReconnect) as info:
        get_token(engine, "tiktok", "main", cipher=cipher, now=clock,
                  http=httpx.Client(transport=httpx.MockTransport(fake)))
    (status,) = list_accounts(engine)
    assert status.status == "needs_reconnect" and "invalid_grant" in status.last_error
    assert REFRESH not in status.last_error and REFRESH not in str(info.value) and ACCESS not in str(info.value)


def test_platform_down_serves_a_valid_token_and_refuses_an_expired_one(store_url, cipher):
    clock, fake = Clock(), FakeTokenEndpoint()
    engine = store(store_url, cipher, clock)
    fake.down = True
    http = httpx.Client(transport=httpx.MockTransport(fake))
    clock.advance(hours=23, minutes=30)
    assert get_token(engine, "tiktok", "main", cipher=cipher, now=clock, http=http) == ACCESS
    clock.advance(hours=1)
    with pytest.raises(TokenUnavailable):
        get_token(engine, "tiktok", "main", cipher=cipher, now=clock, http=http)
    assert list_accounts(engine)[0].status == "connected"  # not the account's fault
    fake.down = False
    assert get_token(engine, "tiktok", "main", cipher=cipher, now=clock, http=http) == "act.new-1"


def test_a_token_without_refresh_token_or_expiry(store_url, cipher):
    clock = Clock()
    engine = store(store_url, cipher, clock, platform="youtube", url=GOOGLE_URL, refresh=None, expires_in=3599)
    clock.advance(minutes=55)  # within the margin, no refresh token: served until it expires
    assert get_token(engine, "youtube", "main", cipher=cipher, now=clock) == ACCESS
    clock.advance(minutes=5)
    with pytest.raises(NeedsReconnect):
        get_token(engine, "youtube", "main", cipher=cipher, now=clock)
    engine = connect_store(store_url)
    save_tokens(engine, cipher, "meta", "bm", TokenSet("EAAsystem", None, kind="system_user"), "https://x", now=clock)
    clock.advance(days=5000)
    assert get_token(engine, "meta", "bm", cipher=cipher, now=clock) == "EAAsystem"  # never expires


def test_a_held_claim_makes_the_other_worker_wait_then_serve(store_url, cipher):
    clock, fake = Clock(), FakeTokenEndpoint()
    engine = store(store_url, cipher, clock)
    clock.advance(hours=23, minutes=30)
    from actp_pipeline.accounts.tokens import _claim

    with engine.connect() as conn:
        version = conn.execute(sa.select(account_tokens.c.version)).scalar_one()
    assert _claim(engine, "tiktok", "main", version) is not None
    assert _claim(engine, "tiktok", "main", version) is None  # held: nobody else refreshes this version
    # the holder never finishes: a waiting worker serves the still-valid token when its wait is over
    assert get_token(engine, "tiktok", "main", cipher=cipher, now=clock, wait_s=0.3,
                     http=httpx.Client(transport=httpx.MockTransport(fake))) == ACCESS
    assert not fake.calls
