"""The `actp` command on click: every command and option name still works, help shows every default,
errors are one line with the old exit codes, and `actp sql`'s hint runs with the installed duckdb."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from actp_pipeline.cli import COMMANDS, actp, main
from actp_pipeline.store.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, env=None, timeout=120):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("ACTP_", "DAGSTER_HOME"))}, **(env or {})}
    return subprocess.run([sys.executable, "-m", "actp_pipeline.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_version_and_help_list_every_command(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("actp, version ")
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("demo", "sandbox", "ui", "worker", "queue", "ads", "sql", "research"):
        assert name in out and name in COMMANDS


def _all_commands(group, ctx_path=()):
    import click

    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield (*ctx_path, name), cmd
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, (*ctx_path, name))


def test_every_option_has_help_and_shows_its_default():
    import click

    for path, cmd in _all_commands(actp):
        assert cmd.help, f"actp {' '.join(path)} has no help"
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.is_flag and p.name != "help":
                assert p.help, f"actp {' '.join(path)} {p.opts[0]} has no help"
                if p.default is not None:
                    assert p.show_default is not False, f"actp {' '.join(path)} {p.opts[0]} hides its default"


def test_demo_defaults_come_from_the_settings_resource(capsys):
    from actp_pipeline.demo import DEMO_START, DemoConfig
    from resources import LoopSettings

    d = DemoConfig.defaults()
    for name in ("topic", "hook_patterns", "angles", "cta_styles", "formats", "max_length_s", "max_posts_per_day"):
        assert d[name] == LoopSettings.model_fields[name].default
    assert d["start"] == DEMO_START and DemoConfig(data_dir=Path(".")).start.tzinfo is not None
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--paid-days" in out and "--posts-per-day" in out and "[default: 2026-06-01T06:00]" in out


def test_bad_values_are_one_line_with_exit_2(tmp_path, capsys):
    d = ["--data-dir", str(tmp_path)]
    for argv in ([*d, "demo", "--days", "zero"], [*d, "queue", "retry", "videos", "3"], [*d, "queue", "cancel"],
                 [*d, "worker", "--publisher", "carrier-pigeon"], [*d, "research", "backfill", "--start", "2026-06-03",
                                                                   "--end", "2026-06-01"], [*d, "nope"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("actp"), (argv, err)


def test_queue_commands(tmp_path, capsys):
    d = ["--data-dir", str(tmp_path)]
    assert main([*d, "queue", "status"]) == 0
    assert "renders: empty" in capsys.readouterr().out
    assert main([*d, "queue", "retry", "uploads", "7"]) == 1
    assert "uploads #7: retry refused" in capsys.readouterr().out


def test_sql_writes_views_and_its_hint_works(tmp_path, capsys):
    Warehouse(tmp_path / "warehouse").write("scores", pd.DataFrame({"variant_id": ["v1", "v2"], "score": [0.5, 0.7]}))
    assert main(["--data-dir", str(tmp_path), "sql"]) == 0
    out = capsys.readouterr().out
    assert "views scores" in out
    hint = next(line.split("or in Python: ", 1)[1] for line in out.splitlines() if line.startswith("or in Python: "))
    res = subprocess.run(hint, shell=True, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "scores" in res.stdout, res.stderr
    assert main(["--data-dir", str(tmp_path), "sql", "SELECT count(*) AS n FROM scores"]) == 0
    assert "2" in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path), "sql", "SELECT * FROM nowhere"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_plain_lines_without_a_terminal(tmp_path):
    """Not a terminal (tests, CI): no progress bars or escape codes, only the lines."""
    res = _cli("--data-dir", str(tmp_path), "research", "backfill", "--start", "2026-06-01", "--end", "2026-06-02",
               env={"ACTP_PLATFORM_URL": "http://127.0.0.1:9"})
    assert res.returncode == 1
    assert res.stderr.strip() == ("actp research backfill: platform at http://127.0.0.1:9 unreachable: start "
                                  "`actp sandbox` or set ACTP_PLATFORM_URL")
    assert "\x1b[" not in res.stderr


@pytest.mark.slow
def test_research_backfill_is_one_run(tmp_path):
    import dagster as dg

    from actp_pipeline.sandbox import SandboxServer, WorldConfig

    with SandboxServer(WorldConfig(seed=3, start=pd.Timestamp("2026-06-05T06:00Z").to_pydatetime())) as sb:
        res = _cli("--data-dir", str(tmp_path), "research", "backfill", "--start", "2026-06-01", "--end",
                   "2026-06-03", env={"ACTP_PLATFORM_URL": sb.url, "ACTP_PLATFORM_API_KEY": sb.config.api_keys[0],
                        "ACTP_RESEARCH_START": "2026-05-01"}, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "materialized 3 partitions" in res.stdout and "\x1b[" not in res.stderr
    instance = dg.DagsterInstance.from_config(str(tmp_path / "dagster"))
    runs = instance.get_runs()
    assert len(runs) == 1 and runs[0].job_name == "research_job"
    assert runs[0].tags["dagster/asset_partition_range_start"] == "2026-06-01"
