"""The analytical warehouse: one Parquet dataset per asset, queried in-process with DuckDB.

Files are written to a temp name and renamed, so a reader sees the previous version or the new one,
never half a file; files are immutable once written, so several processes never fight over a lock.
Layout: <root>/<table>/<partition or "_">/<part>.parquet.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=-]*$")
UNPARTITIONED = "_"
T = TypeVar("T")


def _select(table: str, columns: list[str] | None) -> str:
    return f"SELECT {', '.join(columns) if columns else '*'} FROM {table}"


def _check(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid warehouse {what} name {name!r}: use letters, digits, _ . = -")
    return name


TEMP_MAX_AGE_S = 3600.0  # a Parquet write takes seconds; a .tmp file this old was left by a killed writer


class Warehouse:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _dir(self, table: str, partition: str | None) -> Path:
        return self.root / _check(table, "table") / _check(partition or UNPARTITIONED, "partition")

    def write(self, table: str, df: pd.DataFrame, *, partition: str | None = None, part: str = "data",
              replace_partition: bool = True) -> Path:
        """Write `df` as one Parquet file; with `replace_partition` the partition holds only this file."""
        folder = self._dir(table, partition)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{_check(part, 'part')}.parquet"
        tmp = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
        os.replace(tmp, target)
        if replace_partition:
            for other in folder.glob("*.parquet"):
                if other != target:
                    other.unlink(missing_ok=True)
        return target

    def sweep_temp(self, older_than_s: float = TEMP_MAX_AGE_S, now: float | None = None) -> int:
        """Remove the `.tmp` files writers killed mid-write left in the partitions (a live write takes
        seconds; one untouched for `older_than_s` is dead); returns how many went."""
        now = time.time() if now is None else now
        removed = 0
        for tmp in self.root.glob("*/*/.*.tmp") if self.root.is_dir() else []:
            try:
                if now - tmp.stat().st_mtime > older_than_s:
                    tmp.unlink()
                    removed += 1
            except FileNotFoundError:  # its writer finished meanwhile
                continue
        return removed

    def files(self, table: str, partitions: list[str] | None = None) -> list[Path]:
        base = self.root / _check(table, "table")
        if not base.exists():
            return []
        dirs = [base / _check(p, "partition") for p in partitions] if partitions is not None else sorted(base.iterdir())
        return sorted(f for d in dirs if d.is_dir() for f in d.glob("*.parquet"))

    def exists(self, table: str) -> bool:
        return bool(self.files(table))

    def partitions(self, table: str) -> list[str]:
        return sorted({f.parent.name for f in self.files(table)})

    def read(self, table: str, partitions: list[str] | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """All rows of a table (or of some partitions) as a DataFrame; empty frame when there is none."""
        files = self.files(table, partitions)
        if not files:
            return pd.DataFrame(columns=columns or [])
        return self.query(_select(table, columns), tables={table: partitions})

    def read_arrow(self, table: str, partitions: list[str] | None = None, columns: list[str] | None = None) -> pa.Table:
        """Rows as an Arrow table, for a caller that knows its columns: Arrow's strings become pandas' without a
        Python object per value (3x faster than `read` on captions), but nullable integers, dates and decimals
        convert otherwise than `read`'s, so `read` stays the general reader."""
        return self._with_views({table: partitions}, lambda con: con.sql(_select(table, columns)).to_arrow_table())

    def relation_sql(self, table: str, partitions: list[str] | None = None) -> str:
        files = self.files(table, partitions)
        if not files:
            raise LookupError(f"warehouse table {table!r} has no data yet under {self.root}")
        listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        return f"read_parquet([{listed}], union_by_name=true)"

    def query(self, sql: str, *, tables: dict[str, list[str] | None]) -> pd.DataFrame:
        """Run DuckDB SQL in which each name in `tables` is a view over that table's Parquet files."""
        return self._with_views(tables, lambda con: con.execute(sql).df())

    def _with_views(self, tables: dict[str, list[str] | None], run: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """`run` on a fresh connection in which each name in `tables` is a view over its Parquet files."""
        con = duckdb.connect()
        try:
            for name, parts in tables.items():
                con.execute(f"CREATE VIEW {_check(name, 'table')} AS SELECT * FROM {self.relation_sql(name, parts)}")
            return run(con)
        finally:
            con.close()

    def write_views(self, db_path: Path) -> list[str]:
        """A DuckDB file of views over every table, for people who want to explore with SQL."""
        db_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = db_path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        con = duckdb.connect(str(tmp))
        names = []
        try:
            for table_dir in sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.exists() else []:
                glob = str(table_dir / "*" / "*.parquet").replace("'", "''")
                con.execute(f"CREATE VIEW {table_dir.name} AS SELECT * FROM read_parquet('{glob}', union_by_name=true)")
                names.append(table_dir.name)
        finally:
            con.close()
        os.replace(tmp, db_path)
        return names
