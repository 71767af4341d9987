"""The approvals sensor against a real store: a person's approval queues the render of that variant once,
releases what the publish gate held, and a schedule approved by a person asks for a publish_schedule run."""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from actp_pipeline import approvals
from actp_pipeline.approvals.rules import AutoRules, ScopeRules
from actp_pipeline.generate.moderation import moderate
from actp_pipeline.generate.variants import MatrixShape, build_matrix, record_round
from actp_pipeline.publish.posts import PublishReport, publish_item
from actp_pipeline.store import schema
from actp_pipeline.store.queues import publish_queue
from resources import LoopSettings, StoreResource
from sensors.approvals import approvals_sensor
from tests.core.test_approvals import Recorder

pytestmark = pytest.mark.approvals_gate  # the real gate, no fixture approvals
CONTENT_BY_HAND = AutoRules(ScopeRules(content=False, schedule=False))


@pytest.fixture
def store(tmp_path, monkeypatch):
    rules = tmp_path / "rules.json"  # the publish gate reads the rules file: schedules wait for a person too
    rules.write_text(json.dumps({"default": {"content": False, "schedule": False}}))
    monkeypatch.setenv("ACTP_APPROVAL_RULES", str(rules))
    return StoreResource(data_dir=str(tmp_path / "data"))


def _round(store: StoreResource) -> list[str]:
    """A round recorded as the variants asset records it (strategy auto-approved, content waiting), and
    written to the warehouse."""
    moderated = moderate(build_matrix(pd.DataFrame(), topic="skincare", shape=MatrixShape(2, 1, 1, 1), round_id="r1"))
    counts = record_round(store.engine(), moderated, platform="tiktok", rules=CONTENT_BY_HAND)
    assert counts["renders_queued"] == 0 and counts["approved"] == 0
    store.warehouse().write("variants", moderated.assign(
        moderation_findings=[json.dumps(f) for f in moderated["moderation_findings"]]))
    return moderated["variant_id"].tolist()


def _renders(store: StoreResource) -> list[tuple[str, str | None]]:
    rj = schema.render_jobs
    with store.engine().connect() as c:
        return [(vid, payload.get("platform")) for vid, payload in c.execute(sa.select(rj.c.variant_id, rj.c.payload))]


def _tick(instance, store, cursor):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor,
                                  resources={"store": store, "loop": LoopSettings(targets=["tiktok:main"])})
    return approvals_sensor(ctx)


def test_an_approval_queues_its_render_once_and_advances_the_cursor(store):
    first, second = _round(store)
    with dg.instance_for_test() as instance:
        start = _tick(instance, store, None)  # the log so far: the strategy's auto approval, nothing renderable
        assert not start.run_requests and start.cursor and _renders(store) == []
        idle = _tick(instance, store, start.cursor)
        assert not idle.run_requests and "no new approval decisions" in idle.skip_reason.skip_message
        assert idle.cursor == start.cursor

        approvals.decide(store.engine(), "content", first, "approved", by="ann", reason="on brand")
        tick = _tick(instance, store, start.cursor)
        assert int(tick.cursor) > int(start.cursor) and not tick.run_requests
        assert "1 renders queued" in tick.skip_reason.skip_message
        assert _renders(store) == [(first, "tiktok")]  # only the approved one; the other still waits

        again = _tick(instance, store, tick.cursor)
        assert "no new approval decisions" in again.skip_reason.skip_message
        replay = _tick(instance, store, start.cursor)  # the same decisions seen twice: still one render
        assert "0 renders queued" in replay.skip_reason.skip_message and _renders(store) == [(first, "tiktok")]

        approvals.decide(store.engine(), "content", second, "rejected", by="ann", reason="off brand")
        rejected = _tick(instance, store, tick.cursor)
        assert "none an approval" in rejected.skip_reason.skip_message and len(_renders(store)) == 1


def test_a_schedule_approval_releases_the_held_item_and_runs_publish_schedule(store, tmp_path):
    vid = _round(store)[0]
    engine = store.engine()
    approvals.decide(engine, "content", vid, "approved", by="ann", reason="on brand")
    media = tmp_path / "v.mp4"
    media.write_bytes(b"x")
    q = publish_queue(engine)
    payload = {"media_path": str(media), "caption": "c", "hashtags": []}
    q.enqueue([{"variant_id": vid, "platform": "tiktok", "account": "main", "idempotency_key": "k1",
                "scheduled_at": schema.utcnow(), "payload": payload}], unique_column="idempotency_key")
    item, pub = q.claim("w1")[0], Recorder()
    publish_item(engine, pub, item, PublishReport())
    assert pub.sent == [] and q.claim("w1") == []  # held: its schedule waits, not claimable for 300 s
    with dg.instance_for_test() as instance:
        before = _tick(instance, store, None)
        assert not before.run_requests  # the content approval alone releases nothing
        approvals.decide(engine, "schedule", str(item["id"]), "approved", by="ann", reason="slot ok")
        tick = _tick(instance, store, before.cursor)
        assert [r.run_key for r in tick.run_requests] == [f"approvals:{tick.cursor}"]
    item = q.claim("w1")[0]  # released now, not after the re-check delay
    publish_item(engine, pub, item, PublishReport())
    assert pub.sent == ["k1"]
