"""The Meta ads client takes the token of a connected account (`actp accounts connect meta`) when
ACTP_ADS_TOKEN_ACCOUNT names one, and fails closed when that account cannot give it."""

from __future__ import annotations

import dagster as dg
import pytest

from actp_pipeline.accounts import TokenCipher, keygen, save_tokens
from actp_pipeline.accounts.oauth import TokenSet
from actp_pipeline.store import connect_store
from resources.ads import AdsResource

GRAPH = "http://127.0.0.1:9/graph"


@pytest.fixture
def engine(tmp_path, monkeypatch):
    key = keygen()
    monkeypatch.setenv("ACTP_TOKEN_KEY", key)
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    save_tokens(engine, TokenCipher.from_env({"ACTP_TOKEN_KEY": key}), "meta", "ads",
                TokenSet("EAAstored-token", None, kind="system_user"), "https://graph.facebook.com/oauth")
    return engine


def _bearer(client) -> str:
    return client._http.headers["Authorization"]


def test_the_connected_accounts_token_comes_before_the_env_token(engine):
    res = AdsResource(base_url=GRAPH, access_token="env-token", library="httpx", token_account="ads")
    with res.client(engine) as client:
        assert _bearer(client) == "Bearer EAAstored-token"
    with AdsResource(base_url=GRAPH, access_token="env-token", library="httpx").client(engine) as client:
        assert _bearer(client) == "Bearer env-token"  # no account named: the EnvVar


def test_a_named_account_that_cannot_give_a_token_stops_the_run(engine, monkeypatch):
    res = AdsResource(base_url=GRAPH, access_token="env-token", library="httpx", token_account="other")
    with pytest.raises(dg.Failure, match="Meta account 'other'"):
        res.client(engine)  # never the env token instead: that would act for another account
    monkeypatch.setenv("ACTP_TOKEN_KEY", keygen())  # a key that cannot decrypt what is stored
    with pytest.raises(dg.Failure, match="Meta account 'ads'"):
        AdsResource(base_url=GRAPH, library="httpx", token_account="ads").client(engine)
    with pytest.raises(dg.Failure, match="needs the store"):
        AdsResource(base_url=GRAPH, library="httpx", token_account="ads").client(None)
