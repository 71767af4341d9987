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


# ------------------------------------------------------------ approvals (actp_pipeline/approvals)
@pytest.fixture(autouse=True)
def _publish_items_approved(request, monkeypatch):
    """Tests that queue publish items by hand (for variants no round recorded) see them approved: the real
    gate still runs, after a content and strategy approval "by test-fixture". Tests marked `approvals_gate`
    get the gate as production has it (tests/core/test_approvals.py)."""
    if request.node.get_closest_marker("approvals_gate"):
        return
    from actp_pipeline.approvals import decisions, gate
    from actp_pipeline.publish import posts

    def granted(engine, item, rules=None):
        with engine.begin() as conn:
            for scope, sid, key in (("content", item["variant_id"], "*"), ("strategy", "*", "*")):
                decisions.create(conn, [{"scope": scope, "subject_id": sid, "account": key}], by="test-fixture",
                                 reason="queued by the test")
                decisions.move(conn, [decisions.get(conn, scope, sid)], "approved", by="test-fixture",
                               reason="queued by the test", strict=False)
        return gate.publish_refusal(engine, item, rules)

    monkeypatch.setattr(posts, "publish_refusal", granted)
