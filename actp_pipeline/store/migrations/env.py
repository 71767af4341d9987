"""Alembic's entry point for the store: it migrates the connection its caller passes in
(`config.attributes["connection"]`, see actp_pipeline.store.migrations), inside the caller's transaction
and lock, so two processes opening one store never both migrate it. `--sql` prints the DDL instead."""

from alembic import context

from actp_pipeline.store.schema import metadata

config = context.config

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
else:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrate the store through actp_pipeline.store.migrations (it passes the connection)")
    # batch mode: on SQLite an ALTER that SQLite lacks becomes copy-and-move of the table
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)

with context.begin_transaction():
    context.run_migrations()
