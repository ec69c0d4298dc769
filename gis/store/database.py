"""A small handle on the database that the domains take instead of the whole workspace."""

from __future__ import annotations

from dataclasses import dataclass

from pyproj import CRS
from sqlalchemy import Engine

from gis.errors import NotFoundError
from gis.store import schema

_working_crs: dict[str, CRS] = {}  # database URL -> its working CRS, once it has one


@dataclass(frozen=True)
class Database:
    """The engine and what every domain asks of it: the working CRS, and that the schema exists."""

    engine: Engine

    @property
    def working_crs(self) -> CRS | None:
        """The metric CRS layers are stored in; None until the first import created the schema.

        Fixed when the schema is made, so kept per database once it exists (asked on nearly every
        request; after ``gisplan db restore`` of another database's dump, restart the server)."""
        key = self.engine.url.render_as_string(hide_password=True)
        known = _working_crs.get(key)
        if known is None:
            with self.engine.connect() as conn:
                known = schema.stored_working_crs(conn)
            if known is not None:
                _working_crs[key] = known
        return known

    def require_schema(self) -> CRS:
        """The working CRS, or :class:`NotFoundError` when nothing was loaded yet."""
        crs = self.working_crs
        if crs is None:
            raise NotFoundError(
                "this database has no gisplan layers yet: load something first (ws.load or gisplan load)"
            )
        return crs

    @property
    def srid(self) -> int:
        """The working CRS's EPSG code (the schema must exist)."""
        srid = self.require_schema().to_epsg()
        if srid is None:  # pragma: no cover - the schema is only ever created with an EPSG CRS
            raise NotFoundError("the working CRS has no EPSG code")
        return srid
