"""The creatives gallery's data: one DuckDB connection over the warehouse's Parquet files per request, the
filters and the page (LIMIT/OFFSET) pushed into SQL, so a page costs the same with 10 or 10,000 creatives.

A creative is a variant (warehouse `variants`); its account is its round's account (scope.py), and only the
variants the user sees enter the connection (an Arrow table `acc` joined to every query), so no row, count,
filter option or chart point of another account can come out. Its numbers come from the decisions table
(score/winners.py: the scored posts plus the creative's decision and its reason in words) or, before the
loop has decided, from the scores table (score/scores.py). Both carry one row per post and repeat the
creative's posterior in its fair cell (score/cells.py: platform, platform account, `cell_window`) on each;
the gallery keeps one row per creative per cell, read from its newest post, and shows the creative's
best-measured cell (the most views) on its card. The allocation table adds the next round's share and the
cell's mode with its reason (score/allocation.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.store import schema
from actp_pipeline.store.warehouse import Warehouse
from actp_pipeline.studio.access import Access
from actp_pipeline.studio.memo import Lru, files_key
from actp_pipeline.studio.scope import variant_accounts
from actp_pipeline.studio.users import ALL

PAGE_SIZE = 24
UNSCORED = "unscored"
DECISIONS = ("winner", "not_yet", "insufficient_data", UNSCORED)
CELL_OPTIONS = 300  # the newest cells offered in the filter's list (any cell can still be typed)
VARIANT_COLUMNS = ["variant_id", "round_id", "topic", "hook_pattern", "angle", "cta_style", "format", "length_s",
                   "hook", "caption"]
CELL_KEY = ["platform", "platform_account", "cell_window"]
BEST_COLUMNS = "variant_id, platform, platform_account, cell_window, decision, p_best"
RANK = "coalesce(b.decision = 'winner', FALSE) DESC, b.p_best DESC NULLS LAST, s.variant_id"  # a stable order
ALLOCATION_COLUMNS = {"variant_id", "platform", "account", "cell_window", "share", "next_round_posts", "mode",
                      "mode_reason"}


@dataclass(frozen=True)
class Filters:
    """The gallery's query parameters, checked (a bad one is a 400 naming it)."""

    platform: str | None = None
    account: str | None = None
    cell: str | None = None
    decision: str | None = None
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Filters:
        def text(name: str) -> str | None:
            value = (params.get(name) or "").strip()
            if len(value) > 200:
                raise ValueError(f"filter {name!r} is {len(value)} characters long: at most 200")
            return value or None

        raw = (params.get("page") or "1").strip()
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"page must be a whole number from 1, got {raw!r}")
        decision = text("decision")
        if decision is not None and decision not in DECISIONS:
            raise ValueError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
        return cls(text("platform"), text("account"), text("cell"), decision, int(raw))

    def link(self, page: int) -> str:
        """The gallery URL of these filters at `page`."""
        shown = {k: v for k, v in (("platform", self.platform), ("account", self.account), ("cell", self.cell),
                                    ("decision", self.decision)) if v}
        return "/?" + urlencode({**shown, "page": page})

    @property
    def narrowed(self) -> bool:
        return any((self.platform, self.account, self.cell, self.decision))


_snapshots: Lru[pa.Table] = Lru(16)  # a few warehouse versions of a few tables


def _cached(key: tuple, make: Callable[[], pa.Table]) -> pa.Table:
    return _snapshots.get_or_make(key, make)


def _files_key(warehouse: Warehouse, table: str) -> tuple:
    return (table, *files_key(warehouse, [table]))


def snapshot(warehouse: Warehouse, table: str, columns: list[str]) -> pa.Table:
    """`columns` of a warehouse table (NULL where it lacks one), read once per version of its files."""
    def make() -> pa.Table:
        with _Views(warehouse, table) as con:
            have = _columns(con, table)
            return con.sql(f"SELECT {', '.join(c if c in have else f'NULL AS {c}' for c in columns)} "
                           f"FROM {table}").to_arrow_table()
    return _cached(("snapshot", tuple(columns), *_files_key(warehouse, table)), make)


def all_accounts(engine: Engine) -> pa.Table:
    """(variant_id, account) of every content approval row (scope.variant_accounts), re-read only when the
    content rows change (their count or newest decision time): a page must not pay 10,000 rows each time."""
    t = schema.approvals
    with engine.connect() as conn:
        mark = tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.decided_at)).where(
            t.c.scope == "content")).one())

    def make() -> pa.Table:
        accounts = variant_accounts(engine)
        return pa.table({"variant_id": pa.array(list(accounts), pa.string()),
                         "account": pa.array(list(accounts.values()), pa.string())})
    return _cached(("accounts", str(engine.url), *mark), make)


def seen_accounts(engine: Engine, access: Access) -> pa.Table:
    """(variant_id, account) of the variants the user sees: scope.visible_variants' rule (a content row of a
    granted account; everything for a "*" grant), applied to the cached account map."""
    table = all_accounts(engine)
    if access.sees_all:
        return table
    return table.filter(pc.is_in(table["account"], pa.array(sorted(access.roles), pa.string())))


_db: duckdb.DuckDBPyConnection | None = None
_lock = threading.Lock()


def _cursor() -> duckdb.DuckDBPyConnection:
    """A connection of its own (temp tables and registered frames are private to it) to one in-memory DuckDB
    database shared by the process: opening a new database costs ~20-50 ms, a cursor well under 1 ms."""
    global _db
    with _lock:
        if _db is None:
            _db = duckdb.connect()
        return _db.cursor()


class _Views:
    """A DuckDB connection with a view over one warehouse table's Parquet files."""

    def __init__(self, warehouse: Warehouse, table: str) -> None:
        self.con = _cursor()
        self.con.execute(f"CREATE TEMP VIEW {table} AS SELECT * FROM {warehouse.relation_sql(table)}")

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.con.close()


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


class Gallery:
    """The warehouse seen by one user for one request (use as a context manager: it holds a DuckDB connection)."""

    def __init__(self, warehouse: Warehouse, engine: Engine, access: Access) -> None:
        self.con = _cursor()
        self.tables = {t for t in ("variants", "decisions", "scores", "allocation") if warehouse.exists(t)}
        self.scored_from = next((t for t in ("decisions", "scores") if t in self.tables), None)
        self.warehouse, self.registered = warehouse, set()
        self.con.register("acc", seen_accounts(engine, access))
        for name, make in (("variants", self._variants_all), ("scored", self._cells_all),
                           ("allocation", self._allocation_all)):
            table = name if name != "scored" else self.scored_from
            if table is not None and table in self.tables:
                key = (make.__name__, *_files_key(warehouse, table))
                self.con.register(f"{name}_all", _cached(key, lambda m=make, t=table: m(warehouse, t)))
                self.registered.add(name)
        if "variants" not in self.registered:  # no round generated yet: an empty gallery, not an error
            self.con.register("variants_all", pa.table({c: pa.array([], pa.int64() if c == "length_s" else pa.string())
                                                        for c in VARIANT_COLUMNS}))
        self.sees_all = access.sees_all
        self._seen(access.sees_all)
        self._cells()
        if "scored" in self.registered:  # each creative's best-measured cell, once per warehouse version
            key = ("best", *_files_key(warehouse, self.scored_from))
            self.con.register("best_all", _cached(key, lambda: self.con.sql(
                f"SELECT {BEST_COLUMNS} FROM scored_all QUALIFY row_number() OVER (PARTITION BY variant_id "
                "ORDER BY views DESC, cell_window DESC) = 1").to_arrow_table()))
            key = ("cards", *key, *(_files_key(warehouse, t) for t in ("variants", "allocation") if t in self.tables))
            self.con.register("cards_all", _cached(key, lambda: self.con.sql(self._cards_sql()).to_arrow_table()))

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    @staticmethod
    def _variants_all(warehouse: Warehouse, table: str) -> pa.Table:
        """The variant columns the gallery shows (captions cut to 400 characters), for every variant."""
        with _Views(warehouse, table) as con:
            cols = _columns(con, table)
            picked = ", ".join(c if c in cols else f"NULL::VARCHAR AS {c}" for c in VARIANT_COLUMNS if c != "caption")
            caption = "left(CAST(caption AS VARCHAR), 400)" if "caption" in cols else "NULL::VARCHAR"
            return con.sql(f"SELECT {picked}, {caption} AS caption FROM {table}").to_arrow_table()

    @staticmethod
    def _allocation_all(warehouse: Warehouse, table: str) -> pa.Table:
        with _Views(warehouse, table) as con:
            if not ALLOCATION_COLUMNS <= _columns(con, table):
                return pa.table({c: pa.array([], pa.string()) for c in ["variant_id", *CELL_KEY]})
            return con.sql("SELECT variant_id::VARCHAR AS variant_id, platform::VARCHAR AS platform, "
                           "account::VARCHAR AS platform_account, cell_window::VARCHAR AS cell_window, share, "
                           "next_round_posts, mode::VARCHAR AS mode, mode_reason::VARCHAR AS mode_reason "
                           f"FROM {table}").to_arrow_table()

    @staticmethod
    def _cells_all(warehouse: Warehouse, table: str) -> pa.Table:
        """One row per creative per fair cell, its numbers from its newest post (see the module doc)."""
        with _Views(warehouse, table) as con:
            cols = _columns(con, table)
            when = next((c for c in ("last_snapshot_at", "live_at") if c in cols), None)

            def newest(c: str, cast: str) -> str:
                if c not in cols:
                    return f"NULL{cast} AS {c}"
                return f"arg_max({c}{cast}, {when}) AS {c}" if when else f"any_value({c}{cast}) AS {c}"

            numbers = ", ".join(newest(c, "::DOUBLE") for c in ("er_mean", "er_low", "er_high", "credible_mass",
                                                                 "p_best"))
            words = ", ".join(newest(c, "::VARCHAR") for c in ("decision", "reason", "cell_reason", "cell_leader"))
            return con.sql(
                f"SELECT variant_id::VARCHAR AS variant_id, platform::VARCHAR AS platform, account::VARCHAR AS "
                f"platform_account, cell_window::VARCHAR AS cell_window, count(*) AS posts, sum(views) AS views, "
                f"{numbers}, {words}, {f'max({when})' if when else 'NULL'} AS measured_at FROM {table} "
                f"GROUP BY ALL").to_arrow_table()

    def _seen(self, sees_all: bool) -> None:
        """Temp table `seen`: the visible variants with their account (a "*" user also sees rowless ones)."""
        if "variants" not in self.tables:
            self.con.execute("CREATE TEMP TABLE seen (variant_id VARCHAR, account VARCHAR)")
            return
        join = "LEFT JOIN" if sees_all else "JOIN"
        self.con.execute(f"CREATE TEMP TABLE seen AS SELECT v.variant_id, coalesce(acc.account, '{ALL}') AS account "
                         f"FROM variants_all v {join} acc ON v.variant_id = acc.variant_id")

    def _cells(self) -> None:
        """Temp table `cells`: the cells rows of the seen creatives only."""
        if self.scored_from is None:
            self.con.execute("CREATE TEMP TABLE cells (variant_id VARCHAR, platform VARCHAR, platform_account "
                             "VARCHAR, cell_window VARCHAR, posts BIGINT, views BIGINT, er_mean DOUBLE, "
                             "er_low DOUBLE, er_high DOUBLE, credible_mass DOUBLE, p_best DOUBLE, decision VARCHAR, "
                             "reason VARCHAR, cell_reason VARCHAR, cell_leader VARCHAR, measured_at TIMESTAMP)")
            return
        if self.sees_all:  # nothing to leave out: the cached frame itself
            self.con.execute("CREATE TEMP VIEW cells AS SELECT * FROM scored_all")
        else:
            self.con.execute("CREATE TEMP TABLE cells AS SELECT c.* FROM scored_all c SEMI JOIN seen "
                             "ON c.variant_id = seen.variant_id")


    def _where(self, f: Filters) -> tuple[str, str, list[Any]]:
        """(the FROM clause, the WHERE clause, its parameters) of the filtered gallery."""
        conds, params, cell_conds, cell_params = [], [], [], []
        for column, value in (("platform", f.platform), ("cell_window", f.cell)):
            if value is not None:
                cell_conds.append(f"{column} = ?")
                cell_params.append(value)
        if f.decision not in (None, UNSCORED):
            cell_conds.append("decision = ?")
            cell_params.append(f.decision)
        if cell_conds or "scored" not in self.registered:
            source = (f"seen s LEFT JOIN (SELECT {BEST_COLUMNS} FROM cells WHERE {' AND '.join(cell_conds) or 'TRUE'} "
                      f"QUALIFY row_number() OVER (PARTITION BY variant_id ORDER BY views DESC, cell_window DESC) = 1) "
                      f"b ON s.variant_id = b.variant_id")
        else:  # unfiltered by cell: the cached best cells (a creative outside `seen` never joins)
            source = "seen s LEFT JOIN best_all b ON s.variant_id = b.variant_id"
        if f.account is not None:
            conds.append("s.account = ?")
            params.append(f.account)
        if f.decision == UNSCORED:
            conds.append("s.variant_id NOT IN (SELECT variant_id FROM cells)")
            conds.append("FALSE" if f.platform or f.cell else "TRUE")
        elif cell_conds:
            conds.append("b.variant_id IS NOT NULL")
        return source, " AND ".join(conds) or "TRUE", cell_params + params

    def count(self, f: Filters) -> int:
        source, where, params = self._where(f)
        return int(self.con.execute(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchone()[0])

    def page(self, f: Filters, size: int = PAGE_SIZE) -> pd.DataFrame:
        """The creatives of page `f.page`: winners first, then by P(best), then by id (a stable order)."""
        source, where, params = self._where(f)
        self.con.execute(  # first the page's keys alone (narrow rows sort fast), then their columns
            f"CREATE OR REPLACE TEMP TABLE page AS SELECT s.variant_id, s.account, b.platform, b.platform_account, "
            f"b.cell_window, coalesce(b.decision = 'winner', FALSE) AS won, b.p_best AS p FROM {source} "
            f"WHERE {where} ORDER BY {RANK} LIMIT ? OFFSET ?", [*params, size, (f.page - 1) * size])
        order = "ORDER BY p.won DESC, p.p DESC NULLS LAST, p.variant_id"
        if "scored" in self.registered:  # one join to the cached cards (each join costs DuckDB ~4 ms)
            same = " AND ".join(f"k.{c} IS NOT DISTINCT FROM p.{c}" for c in CELL_KEY)
            return self.con.execute(f"SELECT k.*, p.account FROM page p JOIN cards_all k ON k.variant_id = "
                                    f"p.variant_id AND {same} {order}").df()
        alloc = self._allocation_join()
        return self.con.execute(
            f"SELECT v.*, p.account, c.* EXCLUDE (variant_id), n.n_cells, {alloc[0]} FROM page p "
            f"JOIN variants_all v ON v.variant_id = p.variant_id LEFT JOIN cells c ON c.variant_id = p.variant_id "
            f"AND c.platform = p.platform AND c.platform_account = p.platform_account AND c.cell_window = "
            f"p.cell_window LEFT JOIN (SELECT variant_id, count(*) AS n_cells FROM cells WHERE variant_id IN "
            f"(SELECT variant_id FROM page) GROUP BY 1) n ON n.variant_id = p.variant_id {alloc[1]} "
            f"{order}").df()

    def _cards_sql(self) -> str:
        """Every creative with each of its cells (or one empty cell), its count of cells and its allocation: the
        page's columns for every user, joined once per warehouse version."""
        cols, join = self._allocation_join()
        join = join.replace("p.platform", "c.platform").replace("p.cell_window", "c.cell_window").replace(
            "p.variant_id", "v.variant_id")
        return (f"SELECT v.*, c.* EXCLUDE (variant_id), n.n_cells, {cols} FROM variants_all v LEFT JOIN scored_all c "
                f"ON c.variant_id = v.variant_id LEFT JOIN (SELECT variant_id, count(*) AS n_cells FROM scored_all "
                f"GROUP BY 1) n ON n.variant_id = v.variant_id {join}")

    def _allocation_join(self) -> tuple[str, str]:
        if "allocation" not in self.registered or "mode" not in _columns(self.con, "allocation_all"):
            return "NULL AS share, NULL AS next_round_posts, NULL AS mode, NULL AS mode_reason", ""
        return ("a.share, a.next_round_posts, a.mode, a.mode_reason",
                "LEFT JOIN allocation_all a ON a.variant_id = p.variant_id AND a.platform = p.platform "
                "AND a.platform_account = p.platform_account AND a.cell_window = p.cell_window")

    def rivals(self, keys: pd.DataFrame) -> pd.DataFrame:
        """Every seen creative of the cells in `keys` (columns CELL_KEY) with its interval, by cell then mean."""
        if keys.empty:
            return pd.DataFrame(columns=[*CELL_KEY, "variant_id", "er_low", "er_mean", "er_high"])
        self.con.register("wanted", keys[CELL_KEY].drop_duplicates())
        return self.con.execute(
            "SELECT c.platform, c.platform_account, c.cell_window, c.variant_id, c.er_low, c.er_mean, c.er_high, "
            "c.p_best, c.decision, c.posts, c.views FROM cells c SEMI JOIN wanted w ON c.platform = w.platform "
            "AND c.platform_account = w.platform_account AND c.cell_window = w.cell_window "
            "WHERE c.er_low IS NOT NULL ORDER BY c.platform, c.platform_account, c.cell_window, c.er_mean DESC, "
            "c.variant_id").df()

    def options(self) -> dict[str, list[str]]:
        """The filter choices, from the seen creatives only."""
        lists = self.con.execute(  # one query: each costs DuckDB a few milliseconds however small
            "SELECT (SELECT list(DISTINCT platform ORDER BY platform) FROM cells), (SELECT list(DISTINCT account "
            "ORDER BY account) FROM seen), (SELECT list(cell_window ORDER BY cell_window DESC) FROM (SELECT "
            f"DISTINCT cell_window FROM cells ORDER BY 1 DESC LIMIT {CELL_OPTIONS}))").fetchone()
        platforms, accounts, cells = ([str(v) for v in (values or []) if v is not None] for values in lists)
        return {"platforms": platforms, "accounts": accounts, "cells": cells, "decisions": list(DECISIONS)}

    def creative(self, variant_id: str) -> tuple[dict[str, Any], pd.DataFrame]:
        """(the seen variant's row, its cells) for its own page; LookupError when the user does not see it."""
        row = self.con.execute("SELECT v.*, s.account FROM seen s JOIN variants_all v ON v.variant_id = s.variant_id "
                               "WHERE s.variant_id = ?", [variant_id]).df()
        if row.empty:
            raise LookupError(f"no creative {variant_id!r} you can see")
        cells = self.con.execute("SELECT * FROM cells WHERE variant_id = ? ORDER BY views DESC, cell_window DESC",
                                 [variant_id]).df()
        return row.iloc[0].to_dict(), cells

    def posts(self, variant_id: str) -> pd.DataFrame:
        """The variant's scored posts (one row each), newest first (a column the table lacks comes out empty)."""
        if self.scored_from is None:
            return pd.DataFrame()
        with _Views(self.warehouse, self.scored_from) as con:
            cols = _columns(con, self.scored_from)
            wanted = {"post_id": "post_id::VARCHAR", "platform": "platform", "platform_account": "account",
                      "cell_window": "cell_window::VARCHAR", "live_at": "live_at", "hours_live": "hours_live",
                      "views": "views", "engagements": "engagements", "engagement_rate": "engagement_rate"}
            picked = ", ".join(f"{expr if expr.split(':')[0] in cols else 'NULL'} AS {name}"
                               for name, expr in wanted.items())
            order = "live_at DESC NULLS LAST, " if "live_at" in cols else ""
            return con.execute(f"SELECT {picked} FROM {self.scored_from} WHERE variant_id = ? "
                               f"ORDER BY {order}post_id LIMIT 500", [variant_id]).df()


def render_states(engine: Engine, variant_ids: list[str]) -> dict[str, str]:
    """variant_id -> its render job's status (succeeded | queued | running | failed), for the given ids only."""
    if not variant_ids:
        return {}
    t = schema.render_jobs
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(t.c.variant_id, t.c.status).where(t.c.variant_id.in_(variant_ids))).all())


def with_page(f: Filters, page: int) -> Filters:
    return replace(f, page=page)
