"""Whose token a native post goes out with: an EnvVar token is one account's, so on a real host it never
posts for another account (the post would land on the token's own creator)."""

from __future__ import annotations

import pytest

from actp_pipeline.publish.dialects import DialectContext, DialectUnavailable
from actp_pipeline.settings import SANDBOX_URL, Settings


def _ctx(tmp_path, **kw) -> DialectContext:
    return DialectContext(settings=Settings(data_dir=tmp_path, **kw), data_dir=tmp_path)


def test_an_env_token_posts_for_the_default_account_only_on_a_real_host(tmp_path):
    real = _ctx(tmp_path, platform_url="https://platform.example", dialect_tokens={"tiktok": "tt-secret"})
    assert real.token("tiktok", "main") == "tt-secret"
    with pytest.raises(DialectUnavailable, match="actp accounts connect tiktok --account brand2") as e:
        real.token("tiktok", "brand2")
    assert "tt-secret" not in str(e.value)
    assert real.settings.dialect_url("tiktok") is None  # a real token goes to TikTok's own host


def test_a_real_token_is_never_sent_to_the_sandboxs_default_address(tmp_path):
    mixed = _ctx(tmp_path, platform_url=SANDBOX_URL, dialect_tokens={"tiktok": "tt-secret"})
    assert mixed.settings.dialect_url("tiktok") is None  # TikTok's real host, not 127.0.0.1:8787
    assert mixed.settings.dialect_url("youtube") == SANDBOX_URL  # no token of its own: the sandbox
    with pytest.raises(DialectUnavailable):
        mixed.token("tiktok", "brand2")


def test_the_sandbox_and_the_aggregator_take_their_key_for_every_account(tmp_path):
    sandbox = _ctx(tmp_path, platform_url=SANDBOX_URL)
    assert sandbox.token("tiktok", "acct07") == sandbox.settings.dialect_token("tiktok")
    local = _ctx(tmp_path, platform_url="https://platform.example", dialect_tokens={"tiktok": "k"},
                 dialect_urls={"tiktok": "http://127.0.0.1:9"})
    assert local.token("tiktok", "acct07") == "k"  # a sandbox on this machine, any port
    agg = _ctx(tmp_path, platform_url="https://platform.example", dialect_tokens={"aggregator": "ayr-key"})
    assert agg.token("aggregator", "brand2") == "ayr-key"  # the business's key; accounts are Profile-Keys
