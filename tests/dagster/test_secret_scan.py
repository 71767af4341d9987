"""No secret value in run storage, event logs, metadata, the warehouse or an error message (issue 9, class 1).

Secrets reach the resources only as EnvVars; a run that succeeds and a run that fails (the platform refuses a
wrong key) are scanned byte for byte, files and Dagster's storage, for the secret values."""

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import pytest

from actp_pipeline.sandbox import SandboxServer, WorldConfig
from assets import LOOP_ASSETS, LOOP_CHECKS
from resources.defaults import default_resources
from sensors import STAGE_JOBS

PLATFORM_KEY = "plat-9f3c2a7e51d04b8c"
WRONG_KEY = "wrong-4e1b77c0d2a94f35"
ADS_TOKEN = "ads-0a6d93b2c8e54f17"


def _leaks(root: Path, secrets: list[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{s} in {path.relative_to(root)}" for s in secrets if s.encode() in data]
    return found


def _materialize(instance, partition: str):
    """The research job as the UI and the demo run it: a named job of Definitions built from the environment."""
    defs = dg.Definitions(assets=LOOP_ASSETS, asset_checks=LOOP_CHECKS, jobs=STAGE_JOBS, resources=default_resources())
    return defs.resolve_job_def("research_job").execute_in_process(instance=instance, partition_key=partition,
                                                                   raise_on_error=False)


def test_secrets_stay_out_of_runs_logs_and_files(tmp_path, monkeypatch):
    world = WorldConfig(seed=3, start=dt.datetime(2026, 11, 10, 6), speed=0.0, api_keys=(PLATFORM_KEY, ADS_TOKEN))
    with SandboxServer(world, state_path=tmp_path / "sandbox.db") as sb:
        for name in [n for n in list(os.environ) if n.startswith("ACTP_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("ACTP_HOME", str(tmp_path / "data"))
        monkeypatch.setenv("ACTP_PLATFORM_URL", sb.url)
        monkeypatch.setenv("ACTP_PLATFORM_API_KEY", PLATFORM_KEY)
        monkeypatch.setenv("ACTP_ADS_ACCESS_TOKEN", ADS_TOKEN)
        res = default_resources()
        assert isinstance(res["platform"].api_key, dg.EnvVar) and isinstance(res["ads"].access_token, dg.EnvVar)
        (tmp_path / "dagster").mkdir()
        with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
            ok = _materialize(instance, "2026-11-10")
            assert ok.success
            monkeypatch.setenv("ACTP_PLATFORM_API_KEY", WRONG_KEY)  # the platform refuses it: a failed run
            failed = _materialize(instance, "2026-11-11")
            assert not failed.success
            errors = [e.step_failure_data.error.to_string() for e in failed.get_step_failure_events()]
            assert errors and any("401" in e or "unauthorized" in e.lower() for e in errors), errors
            assert not any(s in e for e in errors for s in (PLATFORM_KEY, WRONG_KEY, ADS_TOKEN))
            records = instance.get_event_records(dg.EventRecordsFilter(event_type=dg.DagsterEventType.STEP_FAILURE))
            texts = [str(r.event_log_entry.to_json()) for r in records]
            for run in instance.get_runs():
                texts += [str(run.run_config), str(run.tags)]
                texts += [e.to_json() for e in instance.all_logs(run.run_id)]
            assert not [s for s in (PLATFORM_KEY, WRONG_KEY, ADS_TOKEN) if any(s in t for t in texts)]
    assert _leaks(tmp_path / "dagster", [PLATFORM_KEY, WRONG_KEY, ADS_TOKEN]) == []
    assert _leaks(tmp_path / "data", [PLATFORM_KEY, WRONG_KEY, ADS_TOKEN]) == []


@pytest.mark.parametrize("name", ["ACTP_PLATFORM_API_KEY", "ACTP_ADS_ACCESS_TOKEN"])
def test_no_secret_falls_back_to_another(monkeypatch, name):
    for var in ("ACTP_PLATFORM_API_KEY", "ACTP_ADS_ACCESS_TOKEN", "ACTP_ADS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ACTP_PLATFORM_URL", "https://api.example.com")
    monkeypatch.setenv(name, "only-this-one")
    res = default_resources()
    values = {"ACTP_PLATFORM_API_KEY": res["platform"].api_key, "ACTP_ADS_ACCESS_TOKEN": res["ads"].access_token}
    other = next(v for k, v in values.items() if k != name)
    assert other is None  # absent, never the other secret
    assert isinstance(values[name], dg.EnvVar)
