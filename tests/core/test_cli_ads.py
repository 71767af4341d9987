"""`actp ads`: accounts, goals, plans, approvals and the audit log from the command line."""

import datetime as dt
import json

from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit
from actp_pipeline.ads.plan import plan
from actp_pipeline.cli import main
from actp_pipeline.store import connect_store


def test_ads_commands(tmp_path, capsys):
    d = ["--data-dir", str(tmp_path)]
    assert main([*d, "ads", "goal", "acc1", "streams", "--priority", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["core_signal"] == "smartlink_click"
    assert main([*d, "ads", "account", "acc1", "--budget", "25", "--auto-scale", "on"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["global_daily_budget"] == 25.0 and row["auto_scale_winners"] is True and row["auto_execute"] is False
    # bad input: a clear message, exit code 2, nothing written
    assert main([*d, "ads", "goal", "acc1", "leads", "--priority", "9"]) == 2
    assert "priority must be an integer 1-5" in capsys.readouterr().err
    assert main([*d, "ads", "goal", "acc1"]) == 2
    assert main([*d, "ads", "plan"]) == 1 and "no plan yet" in capsys.readouterr().out

    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    now = dt.datetime(2026, 11, 20, 12)
    plan_id = ads_audit.record_plan(engine, plan(ad_accounts.goals(engine), now=now), as_of=now, trigger="test")
    assert main([*d, "ads", "plan"]) == 0
    out = capsys.readouterr().out
    assert plan_id in out and "create_campaign (ensure_learning) dry_run" in out and "nobody yet" in out
    assert main([*d, "ads", "approve", plan_id, "--account", "other"]) == 1
    assert "no actions for other" in capsys.readouterr().err
    assert main([*d, "ads", "approve", plan_id, "--by", "ana"]) == 0
    assert ad_accounts.approvals(engine, plan_id) == {"acc1": "ana"}
    assert main([*d, "ads", "log"]) == 0 and "ensure_learning" in capsys.readouterr().out
    assert main([*d, "ads", "list"]) == 0 and "streams" in capsys.readouterr().out
