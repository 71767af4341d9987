"""Engines for the store: SQLite tuned for several writer processes, or Postgres."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


BUSY_TIMEOUT_S = 30.0


def _enter_wal(cur: sqlite3.Cursor) -> None:
    """PRAGMA journal_mode=WAL, retried: on a fresh file, while another connection switches it, SQLite answers
    "database is locked" at once without calling the busy handler (seen with 4 processes opening one new store)."""
    deadline, pause = time.monotonic() + BUSY_TIMEOUT_S, 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the single writer; busy_timeout makes writers queue instead of failing.
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    _enter_wal(cur)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file's parent directory is created when missing."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def connect_store(url: str) -> Engine:
    """An engine whose schema is migrated to the head revision (see actp_pipeline.store.migrations)."""
    from actp_pipeline.store.migrations import migrate

    engine = make_engine(url)
    migrate(engine)
    return engine


def insert_or_ignore(dialect: str, table: sa.Table, *, on: list[str] | None = None) -> sa.Insert:
    """INSERT ... ON CONFLICT DO NOTHING for `dialect` (Postgres and SQLite both spell it so): a row that
    conflicts with an existing one (on the unique columns `on`, else on any unique constraint) is skipped."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the store runs on SQLite or Postgres
        raise NotImplementedError(f"no insert-or-ignore for {dialect}")
    return insert(table).on_conflict_do_nothing(index_elements=on)


def insert_ignoring_conflict(conn: Connection, table: sa.Table, values: dict[str, Any]) -> sa.CursorResult:
    """INSERT one row unless its key exists; the result's rowcount is 1 when it was inserted, else 0."""
    return conn.execute(insert_or_ignore(conn.dialect.name, table).values(**values))
