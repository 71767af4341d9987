"""Approvals per scope: the state machine (every legal and illegal move), cascade on a strategy change, the
render and publish gates (fail-closed), auto-approve rules, and `actp approve` from the command line."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from actp_pipeline import approvals
from actp_pipeline.approvals import decisions, gate
from actp_pipeline.approvals.rules import AutoRules, ScopeRules, load_rules
from actp_pipeline.approvals.states import STATUSES, TRANSITIONS
from actp_pipeline.cli import actp
from actp_pipeline.generate.moderation import moderate
from actp_pipeline.generate.variants import MatrixShape, build_matrix, record_round
from actp_pipeline.publish.posts import PublishReport, publish_item
from actp_pipeline.store import schema
from actp_pipeline.store.engine import connect_store
from actp_pipeline.store.queues import publish_queue

pytestmark = pytest.mark.approvals_gate
MANUAL = AutoRules(ScopeRules(content=False, schedule=False, strategy=False))


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


def _round(topic="skincare", shape=MatrixShape(2, 1, 1, 1), bad=False):
    m = build_matrix(pd.DataFrame(), topic=topic, shape=shape, round_id="r1")
    if bad:
        m.loc[1, "caption"] += "\nEmail jo@example.com"
    return moderate(m)


def _jobs(engine):
    with engine.connect() as c:
        return set(c.execute(sa.select(schema.render_jobs.c.variant_id)).scalars())


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize("to", STATUSES)
def test_every_transition_is_legal_or_refused(engine, start, to):
    with engine.begin() as c:
        decisions.create(c, [{"scope": "content", "subject_id": "v", "status": start}], by="t", reason="t")
    if to in TRANSITIONS[start]:
        assert approvals.decide(engine, "content", "v", to, by="ann", reason="why")["status"] == to
        log = approvals.history(engine, "content", "v")
        assert log[["from_status", "to_status", "decided_by", "reason"]].values.tolist() == [[start, to, "ann", "why"]]
    else:
        with pytest.raises(approvals.IllegalTransition, match=f"{start} -> {to} is not allowed"):
            approvals.decide(engine, "content", "v", to, by="ann", reason="why")
        assert approvals.history(engine).empty


def test_unknown_scope_and_subject_are_clear_errors(engine):
    with pytest.raises(approvals.ApprovalError, match="unknown approval scope 'copy'"):
        approvals.decide(engine, "copy", "v", "approved", by="a", reason="r")
    with pytest.raises(approvals.ApprovalError, match="no content approval for 'nope'"):
        approvals.decide(engine, "content", "nope", "approved", by="a", reason="r")


def test_default_rules_approve_a_round_and_quarantine_moderation_rejects(engine):
    moderated = _round(bad=True)
    counts = record_round(engine, moderated, platform="tiktok")
    assert counts == {"new_variants": 2, "approved": 1, "renders_queued": 1, "rejected": 1}
    good, bad = moderated["variant_id"]
    with engine.connect() as c:
        assert decisions.get(c, "content", good)["decided_by"] == "auto:content_moderation_passed"
        assert decisions.get(c, "strategy", "*")["decided_by"] == "auto:strategy"
        row = decisions.get(c, "content", bad)
    assert row["status"] == "rejected" and row["quarantined"] and row["decided_by"] == "moderation-rules"
    assert _jobs(engine) == {good}


def test_an_unapproved_variant_is_never_enqueued(engine):
    moderated = _round()
    assert record_round(engine, moderated, rules=MANUAL)["renders_queued"] == 0
    vid = moderated["variant_id"].iloc[0]
    approvals.decide(engine, "content", vid, "approved", by="ann", reason="ok")
    assert record_round(engine, moderated, rules=MANUAL)["renders_queued"] == 0  # strategy still pending
    assert _jobs(engine) == set()
    approvals.decide(engine, "strategy", "*", "approved", by="ann", reason="ok")
    assert record_round(engine, moderated, rules=MANUAL)["renders_queued"] == 1
    assert _jobs(engine) == {vid}


def test_a_strategy_change_sends_dependents_to_needs_review(engine):
    first = _round()
    record_round(engine, first, rules=MANUAL)
    a, b = first["variant_id"]
    for scope, sid in (("strategy", "*"), ("content", a)):
        approvals.decide(engine, scope, sid, "approved", by="ann", reason="ok")
    approvals.decide(engine, "content", b, "rejected", by="ann", reason="off brand")
    with engine.begin() as c:
        gate.ensure_schedule(c, {"id": 7, "variant_id": a, "platform": "tiktok", "account": "main"},
                             AutoRules(ScopeRules(schedule=True)))
    record_round(engine, _round(topic="haircare"), rules=MANUAL)  # another topic: a new strategy
    with engine.connect() as c:
        got = {s: decisions.get(c, *s)["status"] for s in [("strategy", "*"), ("content", a), ("content", b),
                                                            ("schedule", "7")]}
    assert set(got.values()) == {"needs_review"}
    log = approvals.history(engine, "content", a)
    assert log.iloc[-1]["decided_by"] == "cascade:strategy" and "topic" in log.iloc[-1]["reason"]


def test_cascade_leaves_quarantine_and_auto_rules_reapprove_only_what_was_approved(engine):
    record_round(engine, _round(bad=True))
    moderated = _round(topic="haircare", bad=True)
    record_round(engine, _round(topic="haircare", bad=True))
    with engine.connect() as c:
        rows = {r["subject_id"]: r for r in c.execute(sa.select(schema.approvals)).mappings()}
    quarantined = [r for r in rows.values() if r["quarantined"]]
    assert quarantined and all(r["status"] == "rejected" for r in quarantined)
    assert rows[moderated["variant_id"].iloc[0]]["status"] == "approved"


def _queue_item(engine, vid, tmp_path):
    media = tmp_path / "v.mp4"
    media.write_bytes(b"x")
    publish_queue(engine).enqueue([{"variant_id": vid, "platform": "tiktok", "account": "main",
                                    "idempotency_key": f"k-{vid}", "scheduled_at": schema.utcnow(),
                                    "payload": {"media_path": str(media), "caption": "c", "hashtags": []}}],
                                  unique_column="idempotency_key")
    return publish_queue(engine).claim("w1")[0]


class Recorder:
    def __init__(self):
        self.sent = []

    def publish(self, **kw):
        self.sent.append(kw["idempotency_key"])
        return {"post_id": "p1", "url": "https://p/1", "live_at": None}

    def find_post(self, key):
        return None


def test_an_unapproved_post_is_never_sent_and_says_why(engine, tmp_path, monkeypatch):
    manual = tmp_path / "rules.json"
    manual.write_text(json.dumps({"default": {"content": False, "schedule": False, "strategy": False}}))
    monkeypatch.setenv("ACTP_APPROVAL_RULES", str(manual))
    moderated = _round()
    record_round(engine, moderated, rules=MANUAL)
    vid = moderated["variant_id"].iloc[0]
    item, pub, report = _queue_item(engine, vid, tmp_path), Recorder(), PublishReport()
    publish_item(engine, pub, item, report)
    assert pub.sent == [] and "content pending" in report.errors[item["idempotency_key"]]
    with engine.connect() as c:
        row = c.execute(sa.select(schema.publish_queue)).mappings().one()
    assert row["status"] == "queued" and row["attempts"] == 0 and row["last_error"].startswith(gate.HELD)
    for scope, sid in (("content", vid), ("strategy", "*")):
        approvals.decide(engine, scope, sid, "approved", by="ann", reason="ok")
    assert not approvals.is_publishable(engine, vid, item["id"])  # the schedule waits (manual rules)
    approvals.decide(engine, "schedule", str(item["id"]), "approved", by="ann", reason="slot ok")
    assert approvals.is_publishable(engine, vid, item["id"])
    from actp_pipeline.approvals.waiting import release_held

    assert release_held(engine) == 1
    item = publish_queue(engine).claim("w1")[0]
    publish_item(engine, pub, item, PublishReport())
    assert pub.sent == [item["idempotency_key"]]


def test_the_gate_is_fail_closed(engine, tmp_path, monkeypatch):
    moderated = _round()
    record_round(engine, moderated)
    item = _queue_item(engine, moderated["variant_id"].iloc[0], tmp_path)
    monkeypatch.setattr(decisions, "get", lambda *a, **k: (_ for _ in ()).throw(sa.exc.OperationalError("x", {}, None)))
    assert gate.publish_refusal(engine, item).startswith(f"{gate.HELD}: approvals could not be read")
    assert not approvals.is_publishable(engine, item["variant_id"])


def test_rules_file_defaults_and_errors(tmp_path, monkeypatch):
    assert load_rules().for_account("main") == ScopeRules(content=True, schedule=True, strategy=True, ads=False)
    f = tmp_path / "rules.json"
    f.write_text(json.dumps({"accounts": {"main": {"schedule": False}}}))
    monkeypatch.setenv("ACTP_APPROVAL_RULES", str(f))
    rules = load_rules()
    assert not rules.allows("schedule", "main") and rules.allows("schedule", "other") and not rules.allows("ads", "x")
    f.write_text(json.dumps({"default": {"adz": True}}))
    with pytest.raises(approvals.ApprovalError, match="unknown scope 'adz'"):
        load_rules()


def test_legacy_per_variant_rows_become_content_rows(tmp_path):
    from alembic import command

    from actp_pipeline.store import migrate
    from actp_pipeline.store.engine import make_engine
    from actp_pipeline.store.migrations import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as c:
        command.upgrade(alembic_config(c), "0009")
        c.execute(sa.text("INSERT INTO approvals VALUES ('v1', 'approved', 'ok', 'ann', '2026-01-01 00:00:00'),"
                          " ('v2', 'rejected', 'PII', 'moderation-rules', '2026-01-01 00:00:00')"))
    migrate(engine)
    with engine.connect() as c:
        v1, v2 = (decisions.get(c, "content", v) for v in ("v1", "v2"))
    assert (v1["status"], v1["decided_by"], v1["quarantined"]) == ("approved", "ann", False)
    assert (v2["status"], v2["quarantined"]) == ("rejected", True)
    assert approvals.history(engine)["subject_id"].tolist() == ["v1", "v2"]


def test_cli_lists_approves_and_refuses(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("ACTP_HOME", str(tmp_path))
    monkeypatch.setenv("ACTP_DATABASE_URL", str(engine.url))
    record_round(engine, _round(), rules=MANUAL)
    runner = CliRunner()
    out = runner.invoke(actp, ["approve", "list", "--scope", "content"])
    assert out.exit_code == 0 and "pending" in out.output
    vid = _round()["variant_id"].iloc[0]
    out = runner.invoke(actp, ["approve", "content", vid, "--by", "ann", "--reason", "looks right"])
    assert out.exit_code == 0, out.output
    assert approvals.history(engine, "content", vid).iloc[-1]["decided_by"] == "ann"
    out = runner.invoke(actp, ["approve", "content", vid, "--reason", "again"])
    assert out.exit_code == 1 and "already approved" in out.output
    out = runner.invoke(actp, ["approve", "reject", "content", "nope", "--reason", "x"])
    assert out.exit_code == 1 and "no content approval for 'nope'" in out.output
    out = runner.invoke(actp, ["approve", "ads", "p1:acc", "--reason", "x"])
    assert out.exit_code == 1 and "no ads plan 'p1'" in out.output
