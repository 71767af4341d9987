"""ACTP core: the loop's domain logic, stores and sandbox, with no Dagster import (see DESIGN.md)."""
