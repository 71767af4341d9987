"""Alembic migrations of the operational store, on SQLite and a throwaway PostgreSQL: an empty database
upgrades to a head equal to the old hand-rolled v4 schema and to the tables the code uses; a store made by
the hand-rolled migrations 1-4 (frozen as SQL in legacy_store/) upgrades in place with every row intact."""

import datetime as dt
import itertools
import os
import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from actp_pipeline.store import SCHEMA_REVISION, connect_store, migrate, schema
from actp_pipeline.store.engine import make_engine
from actp_pipeline.store.migrations import __main__ as migrations_cli
from actp_pipeline.store.migrations import alembic_config, current_revision
from actp_pipeline.store.queues import render_queue

LEGACY = Path(__file__).parent / "legacy_store"
BOOKKEEPING = {"schema_version", "alembic_version"}
AFTER_V4 = {"ads_plan_claims", "account_tokens", "links", "clicks", "page_views", "conversions", "webhook_events",
            "alerts", "ad_spend", "approval_decisions", "studio_users", "studio_roles", "studio_audit"}
CHANGED_AFTER_V4 = {"approvals"}  # 0010: one row per (scope, subject); v4's per-variant rows become content rows
# tables of revisions after the hand-rolled v4 (0005: one executor per ads plan; 0006: per-account OAuth tokens;
# 0007: the hooks service's links and attribution events; 0008: operational alerts and today's ads spend;
# 0009: links.channel, organic or paid; 0011: the studio's users, roles and audit log)


_db_ids = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_url(request, tmp_path):
    """A factory of fresh, empty databases on one backend."""
    if request.param == "sqlite":
        return lambda: f"sqlite:///{tmp_path / f'store{next(_db_ids)}.db'}"
    server = request.getfixturevalue("postgres_server")
    return lambda: server.create_database(f"actp_mig_{os.getpid()}_{next(_db_ids)}")


def load_legacy(engine: sa.Engine, version: int) -> None:
    """The store as the hand-rolled code left it at `version` (the frozen SQL, sections 0..version)."""
    text = (LEGACY / f"v4_{engine.dialect.name}.sql").read_text()
    sections = re.split(r"^-- version (\d+):.*$", text, flags=re.M)
    with engine.begin() as c:
        for number, body in zip(sections[1::2], sections[2::2]):
            if int(number) > version:
                break
            for stmt in filter(None, (s.strip() for s in body.split(";\n"))):
                c.exec_driver_sql(stmt.rstrip(";"))


def shape(engine: sa.Engine) -> dict:
    """Tables, columns, keys, indexes and unique constraints as the database reports them."""
    out = {}
    with engine.connect() as c:
        i = sa.inspect(c)
        for t in sorted(set(i.get_table_names()) - BOOKKEEPING):
            out[t] = {
                "columns": [(x["name"], str(x["type"]), x["nullable"], x.get("default")) for x in i.get_columns(t)],
                "pk": i.get_pk_constraint(t)["constrained_columns"],
                "indexes": sorted((x["name"], tuple(x["column_names"]), x["unique"]) for x in i.get_indexes(t)),
                "unique": sorted(tuple(x["column_names"]) for x in i.get_unique_constraints(t)),
                "foreign_keys": i.get_foreign_keys(t),
            }
    return out


T0 = dt.datetime(2025, 3, 1, 12, 30, 15, 123456)
_QUEUE = {"attempts": 1, "max_attempts": 3, "available_at": T0, "claim_token": "tok", "claimed_by": "w1",
          "lease_expires_at": T0 + dt.timedelta(minutes=5), "last_error": "boom", "created_at": T0, "updated_at": T0}
# version -> table -> rows that version's tables hold (every column type: JSON, naive UTC, doubles, booleans);
# ids come from the database, as they did in the stores the hand-rolled code made
LEGACY_ROWS = {
    1: {
        "render_jobs": [
            {"variant_id": "v1", "payload": {"hook": "question", "n": [1, 2]}, "output_path": "/m/v1.mp4",
             "checksum": "abc", "probe": {"duration": 12.5}, "status": "succeeded", **_QUEUE},
            {"variant_id": "v2", "payload": {}, "status": "queued", **_QUEUE, "claim_token": None},
        ],
        "publish_queue": [
            {"variant_id": "v1", "platform": "tiktok", "account": "main", "idempotency_key": "k1",
             "scheduled_at": T0, "payload": {"caption": "héllo ✓"}, "external_id": "x1", "post_url": "https://p/1",
             "status": "done", **_QUEUE},
        ],
        "posts": [
            {"idempotency_key": "k1", "variant_id": "v1", "platform": "tiktok", "account": "main",
             "external_id": "x1", "url": "https://p/1", "live_at": T0, "posted_at": T0, "publish_item_id": 3},
        ],
        "approvals": [{"variant_id": "v1", "status": "approved", "reason": "ok", "decided_by": "ann", "decided_at": T0}],
        "worker_heartbeats": [
            {"worker_id": "w1", "status": "idle", "started_at": T0, "last_heartbeat": T0, "jobs_completed": 4,
             "jobs_running": 0, "system_info": {"cpus": 2}},
        ],
    },
    2: {
        "rate_keys": [{"platform": "tiktok", "account": "*", "blocked_until": 1740832215.125, "block_reason": "429",
                       "updated_at": 1740832200.5}],
        "rate_events": [{"platform": "tiktok", "account": "main", "at": 1740832201.000001}],
        "circuit_breakers": [
            {"platform": "tiktok", "account": "main", "state": "open", "failures": 5, "successes": 0, "open_s": 60.0,
             "opened_at": 1740832100.25, "open_until": 1740832160.25, "trial_token": None, "trial_started_at": None,
             "last_error": "503", "version": 6, "updated_at": 1740832100.25},
        ],
    },
    3: {},
    4: {
        "ad_accounts": [
            {"account_id": "act_1", "name": "Main", "auto_execute": True, "global_daily_budget": 150.0,
             "max_daily_budget": 500.0, "auto_scale_winners": False, "auto_pause_losers": None, "updated_at": T0},
        ],
        "ad_goals": [{"account_id": "act_1", "goal": "purchases", "priority": 1, "core_signal": "purchase",
                      "budget_cap": 80.0, "active": False, "updated_at": T0}],
        "ads_automation_runs": [
            {"run_id": "r1", "plan_id": "p1", "mode": "execute", "trigger": "cli", "dagster_run_id": None, "as_of": T0,
             "started_at": T0, "finished_at": T0, "status": "success", "accounts": ["act_1"],
             "summary": {"budgets_scaled": 1}, "errors_count": 0, "config": {"dry": False}},
        ],
        "ads_automation_actions": [
            {"run_id": "r1", "plan_id": "p1", "seq": 0, "action_key": "p1:0", "account_id": "act_1",
             "goal": "purchases", "action": "scale_budget", "rule": "winner", "target_id": "as_1", "variant_id": "v1",
             "status": "success", "blocked_by": None, "reason": "P(best)=0.97", "note": None,
             "params": {"from": 20, "to": 30}, "metrics": {"roas": 2.5}, "result_id": None, "error": None, "at": T0,
             "created_at": T0, "finished_at": T0},
        ],
        "ad_plan_approvals": [{"plan_id": "p1", "account_id": "act_1", "approved_by": "ann", "approved_at": T0}],
    },
}


def insert_legacy_rows(engine: sa.Engine, version: int) -> int:
    meta = sa.MetaData()
    meta.reflect(engine)
    n = 0
    with engine.begin() as c:
        for v in range(1, version + 1):
            for table, rows in LEGACY_ROWS[v].items():
                for row in rows:  # one by one: the rows of a table need not name the same columns
                    c.execute(meta.tables[table].insert().values(row))
                n += len(rows)
    return n


def all_rows(engine: sa.Engine) -> dict[str, list[dict]]:
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as c:
        return {
            name: [dict(r) for r in c.execute(sa.select(t).order_by(*t.primary_key.columns)).mappings()]
            for name, t in meta.tables.items() if name not in BOOKKEEPING
        }


def test_the_scripts_are_one_line_of_readable_revisions():
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [SCHEMA_REVISION]
    revisions = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in revisions] == ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008",
                                               "0009", "0010", "0011"]
    assert [r.down_revision for r in revisions] == [None, "0001", "0002", "0003", "0004", "0005", "0006", "0007",
                                                    "0008", "0009", "0010"]
    assert all(r.doc.startswith("add ") for r in revisions)  # `history` says what each adds


def test_an_empty_database_upgrades_to_the_old_v4_schema(new_url):
    fresh, legacy = make_engine(new_url()), make_engine(new_url())
    assert migrate(fresh) == SCHEMA_REVISION
    load_legacy(legacy, 4)
    assert {t: s for t, s in shape(fresh).items() if t not in AFTER_V4 | CHANGED_AFTER_V4} == \
        {t: s for t, s in shape(legacy).items() if t not in CHANGED_AFTER_V4}
    assert set(shape(fresh)) == set(schema.metadata.tables)


def test_head_is_the_schema_the_code_uses(store_url):
    engine = connect_store(store_url)
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c, opts={"compare_server_default": True}), schema.metadata)
    assert diff == []


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_a_hand_rolled_store_upgrades_in_place_with_rows_intact(new_url, version):
    url = new_url()
    legacy = make_engine(url)
    load_legacy(legacy, version)
    inserted = insert_legacy_rows(legacy, version)
    before = all_rows(legacy)
    assert sum(map(len, before.values())) == inserted
    for v in range(1, version + 1):  # what we read back is what we wrote
        for table, rows in LEGACY_ROWS[v].items():
            assert [{k: r[k] for k in w} for r, w in zip(before[table], rows)] == rows, table

    engine = connect_store(url)
    with engine.connect() as c:
        assert current_revision(c) == SCHEMA_REVISION
        assert not sa.inspect(c).has_table("schema_version")
    after = all_rows(engine)
    assert {t: after[t] for t in before if t not in CHANGED_AFTER_V4} == \
        {t: rows for t, rows in before.items() if t not in CHANGED_AFTER_V4}
    # 0010: each per-variant approval is a content-scope row with its status, reason, decider and time
    assert [{"scope": "content", "subject_id": r["variant_id"], **{k: r[k] for k in r if k != "variant_id"}}
            for r in before["approvals"]] == [{k: a[k] for k in ("scope", "subject_id", "status", "reason",
                                                                 "decided_by", "decided_at")} for a in after["approvals"]]
    assert shape(engine) == shape(_fresh(new_url()))
    # the upgraded store works: new ids follow the old ones (Postgres sequences intact)
    q = render_queue(engine)
    assert q.enqueue([{"variant_id": "v3", "payload": {}}], unique_column="variant_id") == 1
    with engine.connect() as c:
        assert c.execute(sa.select(schema.render_jobs.c.id).order_by("id")).scalars().all() == [1, 2, 3]


def _fresh(url: str) -> sa.Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


def test_a_hand_rolled_store_newer_than_the_code_is_left_alone(new_url):
    url = new_url()
    legacy = make_engine(url)
    load_legacy(legacy, 4)
    with legacy.begin() as c:
        c.exec_driver_sql("INSERT INTO schema_version VALUES (5, '2025-02-01 00:00:00', 'from the future')")
    with pytest.raises(RuntimeError, match="schema version 5, newer than this code"):
        connect_store(url)
    with legacy.connect() as c:
        assert not sa.inspect(c).has_table("alembic_version")
        assert c.exec_driver_sql("SELECT MAX(version) FROM schema_version").scalar() == 5


@pytest.mark.parametrize("legacy_version", [None, 2])
def test_concurrent_opens_migrate_once(new_url, legacy_version):
    url = new_url()
    if legacy_version:
        load_legacy(make_engine(url), legacy_version)
    start, errors = threading.Barrier(4), []

    def opener():
        try:
            start.wait()
            connect_store(url).dispose()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with make_engine(url).connect() as c:
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == [SCHEMA_REVISION]


def test_downgrade_to_base_and_up_again(store_url):
    engine = connect_store(store_url)
    with engine.begin() as c:
        command.downgrade(alembic_config(c), "base")
    with engine.connect() as c:
        assert set(sa.inspect(c).get_table_names()) == {"alembic_version"}
    assert migrate(engine) == SCHEMA_REVISION
    assert set(shape(engine)) == set(schema.metadata.tables)


def test_history_and_current_read_without_an_ini(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no alembic.ini here, and none needed
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrations_cli.main(["--url", url, "history"])
    assert not (tmp_path / "store.db").exists()  # reading the scripts opens no database
    connect_store(url)
    migrations_cli.main(["--url", url, "current"])
    out = capsys.readouterr().out
    assert "<base> -> 0001, add the render and publish queues" in out
    assert "0003 -> 0004, add the ads orchestrator" in out
    assert "0004 -> 0005, add ads_plan_claims" in out
    assert "0005 -> 0006, add account_tokens" in out
    assert "0006 -> 0007, add links, clicks" in out
    assert "0007 -> 0008, add alerts and ad_spend" in out
    assert "0008 -> 0009, add links.channel" in out
    assert "0009 -> 0010, add approval scopes" in out
    assert "0010 -> 0011 (head), add the studio" in out
    assert out.rstrip().endswith("0011 (head)")


def test_links_made_before_0009_read_as_organic(new_url):
    """A link row of revision 0008 (no channel) comes out of 0009 as an organic post's link."""
    url = new_url()
    engine = make_engine(url)
    with engine.begin() as c:
        command.upgrade(alembic_config(c), "0008")
        c.execute(sa.text("INSERT INTO links (slug, idempotency_key, variant_id, platform, account, campaign, "
                          "destination, created_at) VALUES ('abcdefghijkl', 'k1', 'v1', 'tiktok', 'main', 'spring', "
                          "'https://shop.example.com/', :t)"), {"t": T0})
    assert migrate(engine) == SCHEMA_REVISION
    with engine.connect() as c:
        assert c.execute(sa.select(schema.links.c.channel)).scalars().all() == ["organic"]
