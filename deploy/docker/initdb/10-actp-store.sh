#!/bin/sh
# Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d), after it created
# POSTGRES_DB (the Dagster instance's database): the operational store's database on the same server,
# owned by the same role. Dagster and ACTP each keep an `alembic_version` table, hence two databases.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -c "CREATE DATABASE \"${ACTP_STORE_DB:-actp}\" OWNER \"$POSTGRES_USER\""
