"""The store's Alembic revisions, one file each (a package only so that an installed ACTP ships them)."""
