"""The operational store and the warehouse, under one data directory."""


import functools
from pathlib import Path

import dagster as dg
from pydantic import Field
from sqlalchemy.engine import Engine

from actp_pipeline.store import connect_store
from actp_pipeline.store.warehouse import Warehouse


@functools.lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    # one engine (and pool) per process and URL; migrated on first use
    return connect_store(url)


class StoreResource(dg.ConfigurableResource):
    """Operational store (SQLite in `data_dir` unless `database_url` names Postgres) and Parquet warehouse."""

    data_dir: str = Field(description="The data directory (ACTP_HOME; `.actp` by default): store, warehouse, media.")
    database_url: str | None = Field(None, description="ACTP_DATABASE_URL (an EnvVar) for Postgres; absent = SQLite "
                                                       "in the data directory.")

    @property
    def root(self) -> Path:
        return Path(self.data_dir)

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.root / 'store.db'}"

    def engine(self) -> Engine:
        return _engine(self.url)

    def warehouse(self) -> Warehouse:
        return Warehouse(self.root / "warehouse")

    @property
    def media_dir(self) -> Path:
        return self.root / "media"
