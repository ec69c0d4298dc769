"""A small handle on the database that the domains take instead of the whole workspace."""

from __future__ import annotations

from dataclasses import dataclass

from pyproj import CRS
from sqlalchemy import Engine

from gis.errors import NotFoundError
from gis.store import schema


@dataclass(frozen=True)
class Database:
    """The engine and what every domain asks of it: the working CRS, and that the schema exists."""

    engine: Engine

    @property
    def working_crs(self) -> CRS | None:
        """The metric CRS layers are stored in; None until the first import created the schema."""
        with self.engine.connect() as conn:
            return schema.stored_working_crs(conn)

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
