"""`python -m actp_pipeline.store.migrations [--url URL] COMMAND`: Alembic's own command line on the store's
scripts, with no alembic.ini: `history --verbose`, `current`, `upgrade head`, `upgrade head --sql`, ...
The URL defaults to the store of ACTP's settings (ACTP_DATABASE_URL, else the data directory's SQLite file).
"""

from __future__ import annotations

import logging
import sys
from argparse import Namespace

from alembic.config import CommandLine

from actp_pipeline.settings import Settings
from actp_pipeline.store.engine import make_engine
from actp_pipeline.store.migrations import adopt_legacy, alembic_config, lock

WRITES = {"upgrade", "downgrade", "stamp"}  # these hold the migration lock and adopt a hand-rolled store first
NO_DATABASE = {"history", "heads", "branches", "show", "list_templates", "merge", "edit"}


def _needs_database(name: str, options: Namespace) -> bool:
    if getattr(options, "sql", False) or name in NO_DATABASE:
        return False
    return name != "revision" or bool(getattr(options, "autogenerate", False))


def main(argv: list[str] | None = None) -> None:
    """Run one Alembic command on the store; no database is opened (or created) for read-only script views."""
    cli = CommandLine(prog="python -m actp_pipeline.store.migrations")
    cli.parser.add_argument("--url", help="the store's SQLAlchemy URL (default: ACTP's settings)")
    options = cli.parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("a command is needed, e.g. history or current")
    if not options.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    url = options.url or Settings().store_url
    name = options.cmd[0].__name__
    if not _needs_database(name, options):
        cfg = alembic_config(url=url)
        cfg.cmd_opts = options
        cli.run_cmd(cfg, options)
        return
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(conn)
            cfg.cmd_opts = options
            if name in WRITES:
                lock(conn)
                adopt_legacy(conn, cfg)
            cli.run_cmd(cfg, options)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
