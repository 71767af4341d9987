"""Engines for the store: SQLite tuned for several writer processes, or Postgres."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the single writer; busy_timeout makes writers queue instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
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
    """An engine whose schema is migrated to the current version."""
    from actp_pipeline.store.schema import migrate

    engine = make_engine(url)
    migrate(engine)
    return engine


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
