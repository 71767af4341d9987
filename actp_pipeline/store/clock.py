"""One clock for leases, heartbeats and reaping: the database's.

Workers on several machines share one store; their own clocks drift and can be set wrong. A worker ten
minutes ahead would reap a healthy worker's lease, one three minutes behind would see a fresh heartbeat
as stale. So every time that decides who holds what (a claim's lease, its renewal and fence, a heartbeat,
the reaper's and the offline check's "now", a backoff's end) is computed by the database in the statement
that uses it. On PostgreSQL that is the server's `clock_timestamp()`; SQLite runs inside each process on
the one machine that holds the file, so its clock is that machine's and is shared by every process there.

These are SQL expressions, not a query: they cost nothing extra per statement. `db_now` is the same clock
read once, for code that needs a value (e.g. to report it).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

# SQLite's text form of a DateTime as SQLAlchemy reads it back; millisecond precision from strftime('%f')
_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%f"


def now_sql(dialect: str, plus_s: sa.ColumnElement | float | None = None) -> sa.ColumnElement[dt.datetime]:
    """The database's current UTC time (naive, like every DateTime of the store), plus `plus_s` seconds
    (a number or a bound parameter) when given."""
    if dialect == "postgresql":
        now = sa.func.timezone("UTC", sa.func.clock_timestamp())
        if plus_s is not None:
            now = now + sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.cast(plus_s, sa.Float))
        return sa.type_coerce(now, sa.DateTime)
    if dialect == "sqlite":
        args = [sa.literal(_SQLITE_FORMAT), sa.literal("now")]
        if plus_s is not None:
            args.append(sa.func.printf("%+.6f seconds", sa.cast(plus_s, sa.Float)))
        return sa.type_coerce(sa.func.strftime(*args), sa.DateTime)
    raise ValueError(f"no database clock for dialect {dialect!r} (the store runs on SQLite or PostgreSQL)")


def db_now(bind: Engine | Connection) -> dt.datetime:
    """The database's current UTC time, read once."""
    stmt = sa.select(now_sql(bind.dialect.name))
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return conn.execute(stmt).scalar_one()
    return bind.execute(stmt).scalar_one()
