"""Alembic environment: gisplan runs migrations programmatically (``gis.store.schema.upgrade``).

The connection and the working CRS's SRID are handed over in ``config.attributes``; the SRID is
also recorded in ``gisplan_meta`` by the first migration, where later migrations read it.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs the alembic CLI by hand
    raise RuntimeError("run migrations through gisplan (gis.store.schema.upgrade), which passes the connection")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
