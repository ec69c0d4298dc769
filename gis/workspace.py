"""The workspace: what a notebook holds after ``gis.connect()``; the CLI and the API use the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

import geopandas as gpd
import pandas as pd
from pyproj import CRS
from sqlalchemy import Engine, bindparam, column, func, literal_column, select, table, text
from sqlalchemy.sql.elements import ColumnElement

from gis import schema
from gis.crs import parse_crs
from gis.db import make_engine, resolve_url
from gis.ingest import ImportReport, load_file
from gis.ingest.load import ImportOptions
from gis.registry import SYSTEM_COLUMNS, Registry, registry
from gis.settings import Settings


class Workspace:
    """A gisplan database and the layer registry.

    Build it with :func:`gis.connect`. Methods take explicit arguments and return GeoDataFrames,
    DataFrames or report models.
    """

    def __init__(self, engine: Engine, *, settings: Settings | None = None) -> None:
        self.engine = engine
        self.settings = settings or Settings()
        self.registry: Registry = registry()

    def __repr__(self) -> str:
        crs = self.working_crs
        url = self.engine.url.render_as_string(hide_password=True)
        return f"<gisplan Workspace {url} working_crs={crs and crs.to_string()}>"

    # -- state -------------------------------------------------------------------------------
    @property
    def working_crs(self) -> CRS | None:
        """The metric CRS layers are stored in; None until the first import created the schema."""
        with self.engine.connect() as conn:
            return schema.stored_working_crs(conn)

    def check(self) -> None:
        """Verify that the database schema matches the layer definitions (when it exists yet).

        Raises
        ------
        RegistryError
            A field declared in ``layers/`` has no column (a migration is missing).
        """
        with self.engine.connect() as conn:
            if schema.stored_working_crs(conn) is not None:
                schema.check_schema(conn, self.registry)

    def _require_schema(self) -> CRS:
        crs = self.working_crs
        if crs is None:
            raise LookupError("this database has no gisplan layers yet: load something first (ws.load or gisplan load)")
        return crs

    # -- reading -------------------------------------------------------------------------------
    def layers(self) -> pd.DataFrame:
        """One row per layer: id, Chinese and English labels, geometry types, count, restricted.

        Examples
        --------
        >>> ws = gis.connect()
        >>> ws.layers()[["id", "label_zh", "count"]]
        """
        counts: dict[str, int] = {}
        if self.working_crs is not None:
            with self.engine.connect() as conn:
                for layer in self.registry.layers.values():
                    counts[layer.id] = conn.execute(select(func.count()).select_from(table(layer.table))).scalar_one()
        rows = [
            {
                "id": layer.id,
                "label_zh": layer.label.zh,
                "label_en": layer.label.en,
                "geometry": "/".join(layer.geometry),
                "count": counts.get(layer.id, 0),
                "restricted": layer.restricted,
            }
            for layer in self.registry.layers.values()
        ]
        return pd.DataFrame(rows)

    def layer(
        self,
        layer_id: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        bbox_crs: str | int = "EPSG:4326",
        where: dict[str, Any] | None = None,
        crs: str | int | None = None,
    ) -> gpd.GeoDataFrame:
        """Read a layer as a GeoDataFrame (in the working CRS unless ``crs`` is given).

        Parameters
        ----------
        layer_id
            A layer id (``compounds``, ``facilities``, ``pipelines``, ``roads``, ``buildings``).
        bbox
            (minx, miny, maxx, maxy) in ``bbox_crs`` (default longitude/latitude).
        where
            Field equality filters, ``{"street": "学院路街道"}``; a list value means "one of".
        crs
            Reproject the result, e.g. ``"EPSG:4326"``.

        Examples
        --------
        >>> ws.layer("compounds", where={"street": "学院路街道"}).plot()
        """
        layer = self.registry.layer(layer_id)
        working = self._require_schema()
        names = [
            "fid",
            *[f.id for f in layer.fields],
            "source",
            "source_key",
            "synthetic",
            "extra",
            "version",
            "geom",
        ]
        t = table(layer.table, *[column(n) for n in names])
        conditions: list[ColumnElement[bool]] = []
        for field, value in (where or {}).items():
            if field not in [f.id for f in layer.fields] and field not in SYSTEM_COLUMNS:
                valid = ", ".join(f.id for f in layer.fields)
                raise KeyError(f"layer {layer.id} has no field {field!r}; its fields: {valid}")
            if isinstance(value, list | tuple | set):
                conditions.append(t.c[field].in_(list(value)))
            else:
                conditions.append(t.c[field] == value)
        if bbox is not None:
            bcrs = parse_crs(bbox_crs)
            envelope = func.ST_MakeEnvelope(*[bindparam(None, float(v)) for v in bbox], bcrs.to_epsg())
            srid = working.to_epsg()
            conditions.append(t.c.geom.op("&&")(func.ST_Transform(envelope, srid)))
            conditions.append(func.ST_Intersects(t.c.geom, func.ST_Transform(envelope, srid)))
        query = (
            select(*[t.c[n] for n in names if n != "geom"], literal_column("geom")).where(*conditions).order_by(t.c.fid)
        )
        with self.engine.connect() as conn:
            gdf = gpd.read_postgis(query, conn, geom_col="geom", crs=working).rename_geometry("geometry")
        if crs is not None:
            gdf = gdf.to_crs(parse_crs(crs))
        return gdf

    # -- writing -------------------------------------------------------------------------------
    def load(self, layer: str, path: str | Path, **options: Unpack[ImportOptions]) -> ImportReport:
        """Import a file into a layer, in one transaction.

        Parameters
        ----------
        layer
            Target layer id.
        path
            Shapefile, GeoPackage, GeoJSON, FlatGeobuf, DXF, CSV with coordinate columns, or
            OpenStreetMap XML/PBF.
        encoding
            Text encoding of a Shapefile or CSV (detected when not given: .cpg, UTF-8, GB18030).
        crs
            The data's real CRS when the file's own is missing or wrong (``"EPSG:4547"``).
        coords
            ``"gcj02"`` (Amap, Tencent) or ``"bd09"`` (Baidu) for commercial-map coordinates.
        type
            The type (facilities) or kind (pipelines) of features that carry none.
        replace
            Swap the layer's whole content for this file's, atomically.
        strict
            Refuse the whole file if any feature cannot be used.
        source
            The name re-imports are matched under (default: the file name; ``osm`` for OSM).
        source_layer
            Which layer of a multi-layer file (GeoPackage) to read.
        actor
            Who is importing, for the audit log (default ``notebook``).

        Returns
        -------
        ImportReport
            Counts (inserted / updated / unchanged), repairs and the features set aside with reasons.

        Raises
        ------
        ImportRefusedError
            The file was refused whole; nothing changed. ``exc.report`` says why.

        Examples
        --------
        >>> ws.load("facilities", "schools.shp", type="primary_school", crs="EPSG:4547")
        """
        options.setdefault("actor", "notebook")
        return load_file(
            self.engine,
            self.registry,
            layer,
            path,
            working_crs=self.settings.working_crs,
            reports_dir=self.settings.reports_dir,
            **options,
        )

    def imports(self, limit: int = 20) -> pd.DataFrame:
        """The latest imports with their counts."""
        if self.working_crs is None:
            return pd.DataFrame(columns=["id", "at", "actor", "layer", "source", "path"])
        with self.engine.connect() as conn:
            return pd.read_sql(
                text("SELECT id, at, actor, layer, source, path, report FROM imports ORDER BY id DESC LIMIT :n"),
                conn,
                params={"n": limit},
            )

    def close(self) -> None:
        self.engine.dispose()


def connect(url: str | None = None, *, settings: Settings | None = None) -> Workspace:
    """Open a workspace.

    Parameters
    ----------
    url
        A PostGIS URL (``postgresql://user:pass@host/db``). Without one: ``GISPLAN_DATABASE_URL``,
        else the embedded database, started if needed.

    Examples
    --------
    >>> import gis
    >>> ws = gis.connect()
    >>> ws.layers()
    """
    settings = settings or Settings()
    ws = Workspace(make_engine(url or resolve_url(settings)), settings=settings)
    ws.check()
    return ws
