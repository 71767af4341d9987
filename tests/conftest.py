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


# ------------------------------------------------------------ real MP4 creatives (see tests/media.py)
@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sandbox_media")


@pytest.fixture(scope="session")
def mp4_with_descriptor(media_dir):
    """(path, variant) of an MP4 carrying variant()'s descriptor."""
    from actp_pipeline import creative
    from tests.media import make_mp4, variant

    v = variant()
    return make_mp4(media_dir / "variant_a.mp4", creative.descriptor_json(v)), v


@pytest.fixture(scope="session")
def mp4_other_descriptor(media_dir):
    """(path, variant) of an MP4 carrying other_variant()'s descriptor."""
    from actp_pipeline import creative
    from tests.media import make_mp4, other_variant

    v = other_variant()
    return make_mp4(media_dir / "variant_b.mp4", creative.descriptor_json(v), color="white"), v
