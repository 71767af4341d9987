"""The operational store's schema history, in Alembic (configured here in code: no alembic.ini).

Opening a store runs `upgrade head` under a lock (Postgres: an advisory lock; SQLite: BEGIN IMMEDIATE), so
several processes opening a fresh store at once migrate it exactly once. A store made by the hand-rolled
migrations ACTP had before (a `schema_version` table at 1..4) is stamped at the matching revision first.
Alembic is imported inside the functions: importing the store stays cheap for code that never opens one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine

SCRIPT_LOCATION = Path(__file__).resolve().parent
SCHEMA_REVISION = "0011"  # the head revision; a test holds it to the scripts
# the hand-rolled `schema_version` -> the revision that reproduces it
LEGACY_REVISIONS = {1: "0001", 2: "0002", 3: "0003", 4: "0004"}
# the key the hand-rolled migrate() locked on too, so an old and a new process never migrate at once
PG_LOCK_KEY = 884271


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic's Config for the store's scripts; env.py migrates `connection` (or prints SQL for `url`)."""
    from alembic.config import Config

    cfg = Config(stdout=sys.stdout)  # the stdout of now (Alembic's default is the one seen at its import)
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def lock(conn: Connection) -> None:
    """Hold the store's migration lock until `conn`'s transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
    elif conn.dialect.name == "sqlite":
        # the write lock now, not at the first DDL: a second opener waits here (busy_timeout), then sees head
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def current_revision(conn: Connection) -> str | None:
    """The revision the store is at (None for an empty database or one not yet adopted)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def adopt_legacy(conn: Connection, cfg: Config) -> None:
    """Stamp a store of the hand-rolled migrations at its matching revision and drop its `schema_version`
    (Alembic's `alembic_version` is the one record from now on); anything else is left alone."""
    from alembic import command

    inspector = sa.inspect(conn)
    if inspector.has_table("alembic_version") or not inspector.has_table("schema_version"):
        return
    version = conn.exec_driver_sql("SELECT MAX(version) FROM schema_version").scalar() or 0
    if version not in LEGACY_REVISIONS and version != 0:
        raise RuntimeError(
            f"the store at {_shown(conn)} is at schema version {version}, newer than this code "
            f"({SCHEMA_REVISION}); upgrade ACTP"
        )
    if version:
        command.stamp(cfg, LEGACY_REVISIONS[version])
    conn.exec_driver_sql("DROP TABLE schema_version")


def _refuse_unknown(conn: Connection, cfg: Config) -> None:
    """A revision these scripts do not know was written by newer code: stop before touching anything."""
    from alembic.script import ScriptDirectory

    at = current_revision(conn)
    known = {script.revision for script in ScriptDirectory.from_config(cfg).walk_revisions()}
    if at is not None and at not in known:
        raise RuntimeError(
            f"the store at {_shown(conn)} is at schema revision {at!r}, newer than this code "
            f"({SCHEMA_REVISION}); upgrade ACTP"
        )


def _shown(conn: Connection) -> str:
    return conn.engine.url.render_as_string(hide_password=True)


def migrate(engine: Engine) -> str:
    """Bring the store to the head revision and return it; safe from several processes at once."""
    from alembic import command

    with engine.connect() as conn:  # the common case, a store at head, needs no write lock
        if current_revision(conn) == SCHEMA_REVISION:
            return SCHEMA_REVISION
    with engine.begin() as conn:
        lock(conn)
        cfg = alembic_config(conn)
        adopt_legacy(conn, cfg)
        _refuse_unknown(conn, cfg)
        command.upgrade(cfg, "head")
    return SCHEMA_REVISION
