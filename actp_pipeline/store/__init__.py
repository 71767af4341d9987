"""The operational store: state with concurrent writers (queues, posts ledger, heartbeats, approvals).

SQLAlchemy Core so the same code runs on SQLite (embedded default, WAL) and Postgres (production).
"""

from actp_pipeline.store.engine import connect_store
from actp_pipeline.store.schema import SCHEMA_VERSION, metadata, migrate

__all__ = ["SCHEMA_VERSION", "connect_store", "metadata", "migrate"]
