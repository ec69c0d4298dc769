"""The suite's PostGIS server: its superuser's URL and the passwords of gisplan's two roles; and what a
database holds, table by table (row count and an md5 of the ordered rows), computed by the test, not
by gisplan.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from gis.store.privileges import OWNER_ROLE


@dataclass(frozen=True)
class SuiteServer:
    """A PostGIS server for the suite: its superuser's URL (libpq form) and the roles' passwords."""

    admin_url: str
    owner_password: str
    app_password: str

    def url(self, database: str, role: str | None = None) -> str:
        """``database``'s URL as ``role`` (the owner or the app), or as the superuser."""
        url = make_url(self.admin_url).set(database=database)
        if role is not None:
            password = self.owner_password if role == OWNER_ROLE else self.app_password
            url = url.set(username=role, password=password)
        return url.render_as_string(hide_password=False)

    @contextlib.contextmanager
    def database(self, template: str) -> Iterator[str]:
        """A fresh database copied from ``template`` by the superuser, dropped afterwards; yields its name."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield name
        finally:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


COLUMNS = """SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped
             ORDER BY attnum"""
ROWS = "SELECT count(*), md5(string_agg(r, '|' ORDER BY r)) FROM (SELECT ROW({})::text AS r FROM {}) t"


def table_checksums(
    conn: psycopg.Connection, tables: Iterable[str], *, leave_out: Mapping[str, Collection[str]] | None = None
) -> dict[str, tuple[int, str | None]]:
    """Each table's rows: (count, md5 of the rows as text, in order; None when empty), in ``conn``'s schema.

    ``leave_out[table]`` names what is not read: a column (``at``), or a key of a JSON column
    (``report.seconds``, ``after.meta.at``: the value with that path removed)."""
    leave_out = leave_out or {}
    found: dict[str, tuple[int, str | None]] = {}
    for table in tables:
        skipped = set(leave_out.get(table, ()))
        keys: dict[str, list[list[str]]] = {}
        for item in skipped:
            column, dot, path = item.partition(".")
            if dot:
                keys.setdefault(column, []).append(path.split("."))
        parts: list[sql.Composable] = []
        for (column,) in conn.execute(COLUMNS, (sql.Identifier(table).as_string(conn),)).fetchall():
            if column in skipped:
                continue
            part: sql.Composable = sql.Identifier(column)
            for path in keys.get(column, []):
                part = sql.SQL("({} #- {})").format(part, sql.Literal(path))
            parts.append(part)
        query = sql.SQL(ROWS).format(sql.SQL(", ").join(parts), sql.Identifier(table))
        row = conn.execute(query).fetchone()
        assert row is not None
        found[table] = (int(row[0]), row[1])
    return found
