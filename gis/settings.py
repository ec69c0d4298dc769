"""Settings: one object, built when asked for (never at import time), passed down from there."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "gisplan"


class Settings(BaseSettings):
    """gisplan's settings, read from ``GISPLAN_*`` environment variables.

    Parameters
    ----------
    database_url
        Any PostGIS server (SQLAlchemy URL or ``postgresql://`` URI), as the role the app runs as.
        Unset: the embedded cluster (as its role ``gisplan_app``).
    owner_database_url
        The same database as the role that owns the schema (``gisplan_owner``): the migrations run
        as it. Unset: they run as ``database_url``'s role (which must then own the schema).
    home
        Where the embedded cluster's description, import reports and rejects live.
    working_crs
        The metric CRS data are stored in, e.g. ``EPSG:4548``. Unset: the database keeps the one
        chosen when it was first loaded (the CGCS2000 3-degree Gauss–Krüger zone covering the data).
    basemap_url
        An online raster tile template for the web map's basemap, e.g. Tianditu's with your key
        (``https://t0.tianditu.gov.cn/vec_w/wmts?...&tk=KEY``). Unset (the default): the basemap is
        drawn offline from the project's own layers, and the page requests nothing outside.
    attribution
        The data attribution the maps show (the bundled sample is OpenStreetMap, ODbL).
    """

    model_config = SettingsConfigDict(env_prefix="GISPLAN_", extra="ignore")

    database_url: str | None = None
    owner_database_url: str | None = None
    home: Path = Field(default_factory=_default_home)
    working_crs: str | None = None
    api_default_limit: int = 100
    api_max_limit: int = 10_000
    basemap_url: str | None = None
    basemap_attribution: str | None = None
    attribution: str = "© OpenStreetMap 贡献者 / contributors (ODbL)"

    @field_validator("database_url", "owner_database_url", "basemap_url")
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        return v or None

    @property
    def reports_dir(self) -> Path:
        return self.home / "imports"
