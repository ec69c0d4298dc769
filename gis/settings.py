"""Settings: one object, built when asked for (never at import time), passed down from there."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

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
    public_url
        The address users reach the service at, e.g. ``https://gis.example.gov.cn/gisplan`` behind a
        TLS proxy. Every absolute link the API writes starts with it. Unset: links use the address the
        server itself listens on; never the client's ``Host`` header.
    access_log
        A file that ``gisplan serve`` appends the access log to (one JSON line per request), besides
        standard error.
    auth_failures, auth_window_s
        At most ``auth_failures`` failed authentications per client address within ``auth_window_s``
        seconds; past that the address gets 429 with ``Retry-After`` until the window has moved on.
        Counted in each server process.
    max_body_mb, max_feature_mb, max_schedule_mb, max_evidence_mb
        The most a request's body may hold, in MB (MiB), checked while it streams and before the
        token: a feature edit (Part 4 create, replace, update), the schedule table import, an evidence
        upload (its files together; each file also within layers/programme/evidence.yaml's max_bytes),
        and every other request. A larger body is answered 413 unread.
    db_connect_timeout_s, db_pool_timeout_s
        How long to wait for the database to accept a connection (libpq's ``connect_timeout``), and
        for a free connection of the pool, before answering that the database is unavailable.
    edit_workers
        How many worker processes ``gisplan serve`` runs feature edits and schedule imports in (work
        that would otherwise hold up every other request).
    job_queue
        At most this many analysis jobs queued or running at once (all server processes together);
        past it ``POST /api/gaps`` answers 429 with ``Retry-After``.
    job_keep_days
        A finished job (done, failed, cancelled) is forgotten this many days after it finished; its run
        stays. Each server process looks once an hour.
    heavy_requests
        At most this many heavy requests (whole-file exports, catchments, a whole run's GeoJSON or
        CSV) at once in each server process; past it they answer 503 with ``Retry-After``.
    db_pool
        Database connections each server process keeps (and uses at most at once).
    read_database_url
        A hot standby (a streaming replica of the database) that ``gisplan serve`` reads the
        public's tiles, features, collections and map state from; planners and admins read and
        write the primary (``database_url``), so an edit is never hidden from its author by the
        standby's lag. Unset: everyone reads the primary.
    tile_cache_mb
        The vector tiles each server process keeps in memory, in MB (0: none). A kept tile is served
        until its layer changes (any import or edit), never by time (:mod:`gis.ogc.tile_cache`).
    statement_timeout_s
        The web server's database statements are cancelled past this many seconds (0: never). Only
        the server's: the command line, notebooks, migrations and the analysis jobs have none.
    """

    model_config = SettingsConfigDict(env_prefix="GISPLAN_", extra="ignore")

    database_url: str | None = None
    owner_database_url: str | None = None
    read_database_url: str | None = None
    home: Path = Field(default_factory=_default_home)
    working_crs: str | None = None
    api_default_limit: int = 100
    api_max_limit: int = 10_000
    basemap_url: str | None = None
    basemap_attribution: str | None = None
    attribution: str = "© OpenStreetMap 贡献者 / contributors (ODbL)"
    public_url: str | None = None
    access_log: Path | None = None
    auth_failures: int = Field(default=10, ge=1)
    auth_window_s: int = Field(default=60, ge=1)
    max_body_mb: float = Field(default=1, gt=0)
    max_feature_mb: float = Field(default=10, gt=0)
    max_schedule_mb: float = Field(default=20, gt=0)
    max_evidence_mb: float = Field(default=100, gt=0)
    edit_workers: int = Field(default=2, ge=1)
    db_connect_timeout_s: int = Field(default=3, ge=1)
    db_pool_timeout_s: float = Field(default=5, gt=0)
    # jobs and workers
    job_queue: int = Field(default=8, ge=1)
    job_keep_days: int = Field(default=30, ge=1)
    heavy_requests: int = Field(default=4, ge=1)
    db_pool: int = Field(default=10, ge=1)
    statement_timeout_s: float = Field(default=30, ge=0)
    tile_cache_mb: float = Field(default=64, ge=0)

    @field_validator("database_url", "owner_database_url", "read_database_url", "basemap_url")
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        return v or None

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, v: str | None) -> str | None:
        if not v:
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"GISPLAN_PUBLIC_URL must be an http(s) address without a query, got {v!r}")
        return v.rstrip("/")

    @field_validator("access_log", mode="before")
    @classmethod
    def _blank_path_is_unset(cls, v: object) -> object:
        return v or None

    @property
    def reports_dir(self) -> Path:
        return self.home / "imports"
