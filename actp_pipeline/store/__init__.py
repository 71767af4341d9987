"""The operational store: state with concurrent writers (queues, posts ledger, heartbeats, approvals).

SQLAlchemy Core so the same code runs on SQLite (embedded default, WAL) and Postgres (production).
"""

from actp_pipeline.store.engine import connect_store
from actp_pipeline.store.migrations import SCHEMA_REVISION, migrate
from actp_pipeline.store.schema import metadata

__all__ = ["SCHEMA_REVISION", "connect_store", "metadata", "migrate"]
