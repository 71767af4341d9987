"""Any failure after a create may have left the machine is `unknown` and looked up, never re-posted blind
(issue 9, class 4c): the publish worker with the native publisher, posting to the sandbox's TikTok over real
HTTP (TikTok's Direct Post has no idempotency key: every video/init that is uploaded becomes a post), with
the answers lost at each step after the create call."""

import datetime as dt

import pytest
import sqlalchemy as sa

from actp_pipeline.publish.posts import PublishGuards, publish_due
from actp_pipeline.publish.tiktok import TikTokPublisher
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import publish_queue
from actp_pipeline.store.schema import utcnow
from tests.core.test_platforms import INIT, STATUS, Faults
from tests.sandbox_posts import native, truth_posts

KEY = "actp-v0-tiktok-0123456789"
UPLOAD = "/v2/upload/video/"


@pytest.fixture
def sandbox():
    with SandboxServer(WorldConfig(seed=2, start=dt.datetime(2026, 11, 1, 6), truth_token="truth-for-tests")) as sb:
        yield sb


@pytest.fixture
def store(tmp_path, mp4_with_descriptor):
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    publish_queue(engine).enqueue([{"variant_id": "v0", "platform": "tiktok", "account": "main",
                                    "idempotency_key": KEY, "scheduled_at": utcnow(),
                                    "payload": {"media_path": str(mp4_with_descriptor[0]), "caption": "c"}}],
                                  unique_column="idempotency_key")
    return engine


def faulty_native(sb: SandboxServer, data_dir, faults: Faults):
    """The native publisher (publish/dialects.py) whose TikTok adapter talks to the sandbox through `faults`:
    built like the registry's own (token and host from the settings, the journal under data_dir), polling
    without waiting."""
    pub = native(sb.url, sb.config.api_keys[0], data_dir)

    def tiktok(ctx, account):
        return TikTokPublisher(ctx.token("tiktok", account), base_url=ctx.settings.dialect_url("tiktok"),
                               account=account, journal_path=ctx.data_dir / "publish" / "tiktok_journal.sqlite",
                               clock=ctx.aware_clock(), poll_interval_s=0.05, sleep=lambda s: None, transport=faults)

    pub.registry = {**pub.registry, "tiktok": tiktok}
    return pub


def _settle_twice(engine, publisher):
    """Two worker passes with the real guards (rate limits, breakers), as `actp worker` runs them."""
    guards = PublishGuards.for_store(engine, utcnow)
    first = publish_due(engine, publisher, worker_id="w", clock=utcnow, guards=guards)
    t = schema.publish_queue
    with engine.begin() as c:  # past the reconcile delay
        status_between = c.execute(sa.select(t.c.status)).scalar()
        c.execute(t.update().values(available_at=utcnow() - dt.timedelta(seconds=1)))
    second = publish_due(engine, publisher, worker_id="w", clock=utcnow, guards=guards)
    with engine.connect() as c:
        row = c.execute(sa.select(t.c.status, t.c.external_id)).one()
    return first, status_between, second, row


@pytest.mark.parametrize("faults", [
    pytest.param(lambda: Faults(lose={UPLOAD: 1}), id="final-chunk-answer-timed-out"),
    pytest.param(lambda: Faults(lose={UPLOAD: 1}, lost_as=500), id="final-chunk-answered-500"),
    pytest.param(lambda: Faults(refuse={STATUS: [429] * 4}), id="status-429-after-upload"),
    pytest.param(lambda: Faults(refuse={STATUS: [503] * 4}), id="status-503-after-upload"),
])
def test_a_post_made_without_an_answer_is_looked_up_not_reposted(sandbox, store, tmp_path, faults):
    engine, faults = store, faults()
    pub = faulty_native(sandbox, tmp_path, faults)
    try:
        first, between, second, (status, external_id) = _settle_twice(engine, pub)
    finally:
        pub.close()
    assert first.ambiguous == [KEY] and first.posted == [] and between == "unknown"
    assert second.reconciled == [KEY] and second.posted == [] and status == "posted"
    made = [p for p in truth_posts(sandbox.url) if p["platform"] == "tiktok"]
    assert len(made) == 1 and faults.sent.count(INIT) == 1  # one create reached the platform, ever
    assert external_id.startswith("v_pub_file~")  # the publish id, which the journal found again


@pytest.mark.parametrize("lost_as", [None, 502])
def test_a_lost_create_answer_is_looked_up_first_and_posted_once(sandbox, store, tmp_path, lost_as):
    """video/init's answer lost: the item is `unknown`; the lookup finds no post (no byte was uploaded, so none
    can appear), and only then is it posted: one post."""
    engine, faults = store, Faults(lose={INIT: 1}, lost_as=lost_as)
    pub = faulty_native(sandbox, tmp_path, faults)
    lookups: list[str] = []
    find_for = pub.find_post_for
    pub.find_post_for = lambda *args: lookups.append(args[-1]) or find_for(*args)
    try:
        first, between, second, (status, _) = _settle_twice(engine, pub)
    finally:
        pub.close()
    assert first.ambiguous == [KEY] and between == "unknown"
    assert lookups == [KEY] and second.posted == [KEY] and status == "posted"
    assert len([p for p in truth_posts(sandbox.url) if p["platform"] == "tiktok"]) == 1
