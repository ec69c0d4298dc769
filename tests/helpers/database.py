"""The suite's PostGIS server: its superuser's URL and the passwords of gisplan's two roles."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
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
