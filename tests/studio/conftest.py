"""The studio's fixtures: a world of two accounts (tests/studio/world.py) and logged-in test clients."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from actp_pipeline.studio.app import create_app
from tests.studio import world as worlds

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return worlds.build(tmp_path_factory.mktemp("studio_world"))


@pytest.fixture
def app(world, tmp_path):
    return create_app(world.store_url, world.warehouse_dir, world.media_dir, tmp_path, secure_cookies=False,
                      secret="test-secret")


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def login(client: TestClient, name: str, password: str = worlds.PASSWORD):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "username": name, "password": password, "next": "/health"},
                       follow_redirects=False)


@pytest.fixture
def as_user(app):
    """as_user(name) -> a TestClient logged in as that person of the world (see world.PEOPLE)."""
    def make(name: str) -> TestClient:
        client = TestClient(app)
        answer = login(client, name)
        assert answer.status_code == 303, answer.text
        return client
    return make
