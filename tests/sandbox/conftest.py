"""Shared fixtures of the sandbox tests: a sandbox server on loopback, an authenticated client, and MP4s
without a (readable) descriptor. The MP4s with descriptors come from tests/conftest.py."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from actp_pipeline.sandbox import SandboxServer, WorldConfig
from tests.media import make_mp4

KEY = "sandbox-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
START = datetime.fromisoformat("2025-03-01T12:00:00+00:00")


def sandbox_config(**kw) -> WorldConfig:
    """The tests' world config: START and a fixed truth token unless given."""
    kw.setdefault("start", START)
    kw.setdefault("truth_token", "truth-for-tests")
    return WorldConfig(**kw)


@pytest.fixture
def world_config() -> WorldConfig:
    """The config of the `sandbox` fixture (a module overrides this fixture for another world)."""
    return sandbox_config()


@pytest.fixture
def sandbox(world_config):
    with SandboxServer(world_config) as server:
        yield server


@pytest.fixture
def client(sandbox):
    with httpx.Client(base_url=sandbox.url, headers=AUTH, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def mp4_without_descriptor(media_dir) -> Path:
    return make_mp4(media_dir / "plain.mp4", None, color="red")


@pytest.fixture(scope="session")
def mp4_bad_descriptor(media_dir) -> Path:
    return make_mp4(media_dir / "bad_comment.mp4", json.dumps({"other": 1}), color="blue")
