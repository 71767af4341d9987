import itertools
import os

import pytest

from tests.pg import ThrowawayPostgres

_db_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    try:
        server = ThrowawayPostgres().start()
    except Exception as e:  # noqa: BLE001 - reported as skip or failure below
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs a PostgreSQL for the store tests: {e}")
        pytest.skip(f"no PostgreSQL available: {e}")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh database on the session's throwaway cluster."""
    return postgres_server.create_database(f"actp_test_{os.getpid()}_{next(_db_names)}")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """The operational store's URL on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")
