"""`actp sql`: a DuckDB file of views over the warehouse's Parquet tables, and a query against it.

The duckdb Python package has no `duckdb` command-line binary, so the hint printed is one that works
with what is installed: `actp sql "SELECT ..."`, or the same in Python with this interpreter.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from actp_pipeline.commands.context import settings


def python_hint(path: Path) -> str:
    """A shell command that opens the file with the installed duckdb package and lists its views."""
    code = f"import duckdb; duckdb.connect({str(path)!r}, read_only=True).sql('SHOW TABLES').show()"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def make() -> click.Command:
    @click.command("sql")
    @click.argument("query", required=False)
    @click.option("--max-rows", type=click.IntRange(1), default=40, help="rows shown of a query's result")
    def sql(query: str | None, max_rows: int) -> int:
        """Write DATA_DIR/warehouse.duckdb, views over every warehouse table; with QUERY, run it there
        (read-only) and print the result."""
        import duckdb

        from actp_pipeline.store.warehouse import Warehouse

        s = settings()
        path = s.data_dir / "warehouse.duckdb"
        names = Warehouse(s.warehouse_dir).write_views(path)
        if query is None:
            click.echo(f"{path}: views {', '.join(names) or '(none yet)'}")
            click.echo(f'query it with: actp sql "SELECT * FROM {names[0] if names else "scores"} LIMIT 5"')
            click.echo(f"or in Python: {python_hint(path)}")
            return 0
        con = duckdb.connect(str(path), read_only=True)
        try:
            rel = con.sql(query)
            if rel is not None:
                rel.show(max_rows=max_rows)
        except duckdb.Error as e:
            raise click.ClickException(f"actp sql: {str(e).splitlines()[0]}") from None
        finally:
            con.close()
        return 0

    return sql
