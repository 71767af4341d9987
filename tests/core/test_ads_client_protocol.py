"""The ads-client Protocol: MetaAdsClient and TikTokAdsClient implement it, and it holds exactly the calls the
core makes."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from actp_pipeline.ads import actions, evidence, orchestrator
from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.meta import MetaAdsClient
from actp_pipeline.ads.meta_sdk import MetaSdkAdsClient
from actp_pipeline.ads.tiktok import TikTokAdsClient

PROTOCOL_METHODS = sorted(n for n, v in vars(AdsClient).items() if inspect.isfunction(v) and not n.startswith("_"))


@pytest.fixture
def meta():
    with MetaAdsClient("http://127.0.0.1:9", "token") as client:  # no request is made
        yield client


def test_meta_ads_client_is_an_ads_client(meta):
    assert isinstance(meta, AdsClient)


def test_tiktok_ads_client_is_an_ads_client():
    with TikTokAdsClient("http://127.0.0.1:9", "token") as client:  # no request is made
        assert isinstance(client, AdsClient)


@pytest.mark.parametrize("cls", [MetaAdsClient, MetaSdkAdsClient, TikTokAdsClient])
@pytest.mark.parametrize("name", PROTOCOL_METHODS)
def test_ads_clients_accept_every_call_of_the_protocol(name, cls):
    """Each Protocol parameter exists in the client with the same kind and default; what the client adds
    has a default, so a call written against the Protocol works unchanged."""
    want = inspect.signature(getattr(AdsClient, name)).parameters
    have = inspect.signature(getattr(cls, name)).parameters
    for p in want.values():
        assert p.name in have, f"{cls.__name__}.{name} lacks {p.name}"
        assert have[p.name].kind == p.kind and have[p.name].default == p.default, f"{name}({p.name})"
    extra = [q for q in have.values() if q.name not in want]
    assert all(q.default is not inspect.Parameter.empty for q in extra), f"{name} requires {extra}"


def _client_calls(module) -> set[str]:
    """Methods called on a name `client` (or `self.client`) in a module's source."""
    tree = ast.parse(Path(module.__file__).read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (isinstance(owner, ast.Name) and owner.id == "client") or (
                    isinstance(owner, ast.Attribute) and owner.attr == "client"):
                out.add(node.func.attr)
    return out


def test_the_protocol_is_exactly_what_the_core_calls():
    called = _client_calls(actions) | _client_calls(evidence) | _client_calls(orchestrator)
    assert called == set(PROTOCOL_METHODS)
