"""The audit log holds reasons and numbers, never SQL, its parameters or a credential (issue 9, class 5)."""

import pytest
import sqlalchemy as sa

from actp_pipeline.ads.audit import safe_error


def _integrity_error() -> str:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY, secret TEXT)")
        c.exec_driver_sql("INSERT INTO t VALUES ('plan-1:0', 'tok-123')")
    with pytest.raises(sa.exc.IntegrityError) as e, engine.begin() as c:
        c.execute(sa.text("INSERT INTO t VALUES (:k, :s)"), {"k": "plan-1:0", "s": "tok-123"})
    return str(e.value)


def test_a_database_error_keeps_its_reason_and_loses_its_sql():
    raw = _integrity_error()
    assert "INSERT INTO" in raw and "tok-123" in raw  # what used to land in the audit log
    clean = safe_error(raw)
    assert "UNIQUE constraint failed" in clean
    assert "INSERT" not in clean and "tok-123" not in clean and "sqlalche.me" not in clean
    assert "[SQL withheld]" in clean and "[parameters withheld]" in clean


@pytest.mark.parametrize("raw,secret", [
    ("401 from https://graph.example/act_1/campaigns?access_token=EAAB123xyz&fields=id", "EAAB123xyz"),
    ("request failed: headers {'Authorization': 'Bearer sk-live-777'}", "sk-live-777"),
    ("login failed: password=hunter2 for creator", "hunter2"),
])
def test_credentials_are_redacted(raw, secret):
    clean = safe_error(raw)
    assert secret not in clean and "[redacted]" in clean


def test_audit_rows_store_the_scrubbed_error(tmp_path):
    from actp_pipeline.ads import audit
    from actp_pipeline.ads.plan.rules import PlannedAction
    from actp_pipeline.store import connect_store, schema

    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    fields = {f: None for f in PlannedAction.__dataclass_fields__}
    fields.update(account_id="acc1", goal="virality", action="set_budget", rule="r", params={}, metrics={},
                  reason="why", note="")
    a = PlannedAction(**{k: v for k, v in fields.items() if k in PlannedAction.__dataclass_fields__})
    audit.begin_action(engine, "run1", "plan1", 0, a, "as1", {}, "2026-06-01T00:00:00Z")
    audit.end_action(engine, "plan1:0", audit.FAILED, error=_integrity_error())
    with engine.connect() as c:
        stored = c.execute(sa.select(schema.ads_automation_actions.c.error)).scalar()
    assert "UNIQUE constraint failed" in stored and "INSERT" not in stored and "tok-123" not in stored
