"""The facade: :class:`Workspace` (layers, imports, analyses, exports; the programme's desks from
:mod:`gis.workspace.renovation`) and :func:`connect`."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Unpack

import folium
import geopandas as gpd
import pandas as pd
from pyproj import CRS
from sqlalchemy import Engine

from gis import clock
from gis.crs import parse_crs
from gis.errors import AsOfError, InvalidRequestError
from gis.export import assessment_map, offline_map
from gis.export.context import ExportContext, ExportNeeds, as_of_needs
from gis.gaps import distributed, inputs, runs
from gis.gaps.analysis import GapInputs, GapParameters
from gis.gaps.catchments import walking_catchment
from gis.gaps.partitions import Sizing
from gis.gaps.runs import AlsoStored, GapRun, read_run
from gis.ingest import ImportReport, history, load_file
from gis.ingest.load import ImportOptions
from gis.pipelines import runs as pipeline_runs
from gis.pipelines.tools import PipelineTools
from gis.registry import Registry, registry
from gis.roles import Role, visible_layers
from gis.settings import Settings
from gis.store import audit, layers, schema
from gis.store.database import Database
from gis.store.engine import make_engine, resolve_url, sqlalchemy_url
from gis.workspace.renovation import RenovationDesks


class Workspace(RenovationDesks):
    """A gisplan database and the layer registry.

    Build it with :func:`gis.connect`. Methods take explicit arguments and return GeoDataFrames,
    DataFrames or report models.
    """

    def __init__(self, engine: Engine, *, settings: Settings | None = None, read_engine: Engine | None = None) -> None:
        self.engine = engine
        self.read_engine = read_engine or engine  # the public's reads (a hot standby, when one is set)
        self.db = Database(engine)
        self.settings = settings or Settings()
        self.registry: Registry = registry()
        self._catchments: dict[tuple[Any, ...], gpd.GeoDataFrame] = {}

    def reader(self, role: Role) -> Engine:
        """Where a role's reads go: the public's to the hot standby when one is set
        (``GISPLAN_READ_DATABASE_URL``), a planner's and an admin's to the primary (never behind
        their own edits)."""
        return self.read_engine if role == "public" else self.engine

    def __repr__(self) -> str:
        crs = self.working_crs
        url = self.engine.url.render_as_string(hide_password=True)
        return f"<gisplan Workspace {url} working_crs={crs and crs.to_string()}>"

    # -- state -------------------------------------------------------------------------------
    @property
    def working_crs(self) -> CRS | None:
        """The metric CRS layers are stored in; None until the first import created the schema."""
        return self.db.working_crs

    def check(self) -> None:
        """Verify that the database schema matches the layer definitions (when it exists yet).

        Raises
        ------
        RegistryError
            A field declared in ``layers/`` has no column (a migration is missing).

        Examples
        --------
        >>> ws.check()  # after updating gisplan: upgrades the tables, then checks them
        """
        schema.bring_up_to_date(self.engine, self.registry)

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
            counts = {layer.id: layers.count(self.engine, layer)[0] for layer in self.registry.layers.values()}
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
        as_of: date | datetime | str | None = None,
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
        as_of
            As it stood then, from the audit log: a date (its end, programme time zone), an aware datetime
            or ISO text; compounds, facilities, pipelines (others: :class:`gis.errors.NoRowHistoryError`).

        Examples
        --------
        >>> ws.layer("compounds", where={"street": "学院路街道"}).plot()
        >>> ws.layer("compounds", as_of=date(2026, 3, 31))  # as reported for March
        """
        layer = self.registry.layer(layer_id)
        working = self.db.require_schema()
        if as_of is not None:
            at = clock.as_of_instant(as_of)
            gdf = layers.read_as_of(self.engine, layer, working, at, where=where, bbox=bbox, bbox_crs=bbox_crs)
        else:
            gdf = layers.read(self.engine, layer, working, where=where, bbox=bbox, bbox_crs=bbox_crs)
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

    def facility_type(self, name: str) -> str:
        """The facility type code of a name in any accepted spelling (``ws.facility_type("幼儿园")`` →
        ``"kindergarten"``); a NotFoundError lists the valid ones."""
        return inputs.facility_type(self.registry, name)

    def analysis_inputs(
        self, facility: str | list[str] | None, *, standard: str, params: GapParameters | None
    ) -> GapInputs:
        """The set-up every analysis shares (:func:`gis.gaps.inputs.gap_inputs`), county rule files
        from ``GISPLAN_HOME/standards``."""
        return inputs.gap_inputs(
            self.db,
            self.registry,
            facility,
            standard=standard,
            params=params,
            standards_dir=self.settings.home / "standards",
        )

    def gaps(
        self,
        facility: str | list[str] | None = None,
        *,
        standard: str = "gb50180",
        params: GapParameters | None = None,
        actor: str = "notebook",
    ) -> gpd.GeoDataFrame:
        """Service gaps: per compound and facility type, walking distance to the nearest facility
        against the standard's radius, and the residents / children / elderly affected.

        Each call is stored as a run (``gap_runs``); its id, standard, basis and warnings are in
        ``result.attrs``. Without roads the distances are straight lines (``basis == "euclidean"``).

        Parameters
        ----------
        facility
            One facility type or several (``"kindergarten"``, ``"幼儿园"``); default: every type the
            standard gives a radius.
        standard
            ``gb50180`` or the id of a county rule file (``$GISPLAN_HOME/standards/*.yaml``).
        params
            Network tolerance and access-leg limits (:class:`gis.gaps.analysis.GapParameters`).

        Examples
        --------
        >>> gaps = ws.gaps("kindergarten")
        >>> gaps[~gaps.covered][["compound_name", "distance_m", "radius_m"]]
        """
        run = self.run_gaps(facility, standard=standard, params=params, actor=actor)
        out = run.results
        out.attrs.update({"run_id": run.run_id, "standard": run.standard, "basis": run.basis, "warnings": run.warnings})
        return out

    def run_gaps(
        self,
        facility: str | list[str] | None = None,
        *,
        standard: str = "gb50180",
        params: GapParameters | None = None,
        actor: str = "notebook",
        also: AlsoStored | None = None,
        engine: Literal["local", "dask"] = "local",
        client: Any = None,
        sizing: Sizing | None = None,
    ) -> GapRun:
        """As :meth:`gaps`, returning the whole run (results, summary, network, warnings).

        ``also(conn, run)`` runs in the transaction that stores the run, last: what it writes commits
        with the run or not at all (a job marks itself done so).

        ``engine="dask"``: partition by partition on a Dask ``client`` (else a LocalCluster of this
        machine's cores, made for the run), each partition reading its own box; the same rows but
        for those beyond their radius, which say so instead of giving a distance
        (:mod:`gis.gaps.partitions`). ``sizing``: how large a partition may grow.

        Examples
        --------
        >>> run = ws.run_gaps(["kindergarten", "elderly_station"])
        >>> run.summary()
        >>> run.basis, run.warnings
        >>> from dask.distributed import Client
        >>> run = ws.run_gaps(engine="dask", client=Client("tcp://scheduler:8786"))
        """
        setup = self.analysis_inputs(facility, standard=standard, params=params)
        if engine == "dask":
            if also is not None:
                raise InvalidRequestError("also= is for a run stored in one transaction: engine='local'")
            return distributed.run_on_dask(self.engine, setup, actor, self.settings, client=client, sizing=sizing)
        if engine != "local":
            raise InvalidRequestError(f"engine must be local or dask, not {engine!r}")
        return runs.run_analysis(self.engine, setup, actor, also=also)

    def propose_sites(
        self,
        facility: str,
        k: int = 1,
        *,
        standard: str = "gb50180",
        candidates: gpd.GeoDataFrame | None = None,
        params: GapParameters | None = None,
        actor: str = "notebook",
        engine: Literal["local", "dask"] = "local",
        client: Any = None,
    ) -> gpd.GeoDataFrame:
        """Where ``k`` new facilities would cover the most uncovered demand (maximal covering, exact).

        ``engine="dask"``: ``k`` sites for each district, one Dask task a district (on ``client``,
        else a LocalCluster made for it), each reading its district's compounds and, by the
        partitions' halo rule, the facilities and roads around them; the rows carry ``district``.

        Parameters
        ----------
        facility
            The facility type (``"kindergarten"``, ``"养老驿站"`` ...).
        k
            How many new sites.
        candidates
            Possible sites (any geometry, in any CRS); default: a point inside each compound.

        Returns
        -------
        GeoDataFrame
            One row per site, ranked by the demand it adds; ``attrs`` holds coverage ``before`` and
            ``after`` and the run id.

        Examples
        --------
        >>> sites = ws.propose_sites("kindergarten", k=2)
        >>> sites.attrs["before"], sites.attrs["after"]
        """
        setup = self.analysis_inputs(facility, standard=standard, params=params)
        if candidates is not None:
            candidates = candidates.to_crs(setup.working_crs)
        if engine == "dask":
            if candidates is not None:
                raise InvalidRequestError("candidates= is for engine='local': on Dask each district's compounds are")
            return distributed.sites_on_dask(self.engine, setup, k, actor, self.settings, client=client)
        if engine != "local":
            raise InvalidRequestError(f"engine must be local or dask, not {engine!r}")
        return runs.run_siting(self.engine, setup, k, actor, candidates)

    def catchment(
        self, facility: str, *, standard: str = "gb50180", params: GapParameters | None = None
    ) -> gpd.GeoDataFrame:
        """The walking catchment (life circle) of a facility type: where its service radius under
        the standard reaches on foot, drawn from the same network as :meth:`gaps`.

        Examples
        --------
        >>> ws.catchment("kindergarten").area.sum() / 1e6  # km²
        """
        setup = self.analysis_inputs(facility, standard=standard, params=params)
        (code,) = setup.types
        radius = setup.standard.rule(code).radius_m
        # the web map asks for the same catchment again and again: reuse it while the inputs stand
        params_key = tuple(sorted(setup.params.__dict__.items()))
        changes = layers.stamp(self.engine, [self.registry.layer("facilities"), self.registry.layer("roads")])
        key = (code, setup.standard.id, radius, params_key, changes)
        cached = self._catchments.get(key)
        if cached is not None:
            return cached.copy()
        assert radius is not None  # checked by the set-up
        area = walking_catchment(setup.facilities_of(code), setup.roads, radius, setup.params)
        frame = {
            "facility_type": [code],
            "radius_m": [radius],
            "radius_status": [setup.standard.rule(code).status],
            "basis": [setup.basis],
            "standard": [setup.standard.id],
        }
        result = gpd.GeoDataFrame(frame, geometry=[area], crs=setup.working_crs)
        if len(self._catchments) >= 32:
            self._catchments.pop(next(iter(self._catchments)))
        self._catchments[key] = result
        return result.copy()

    def map(
        self,
        colour: Literal["stage", "gap", "progress", "assessment"] = "stage",
        *,
        facility: str | None = None,
        quarter: str | None = None,
        catchment: bool = False,
        planner: bool = False,
        title: str | None = None,
        as_of: date | datetime | str | None = None,
    ) -> folium.Map:
        """An offline folium map of the compounds, facilities and basemap layers.

        Leaflet's JS and CSS are inlined from the project's own assets, so the map renders in a
        notebook or from a saved file on a PC with no network (``GeoDataFrame.explore()`` loads
        them from CDNs). Popups and legend in Chinese, with English.

        Parameters
        ----------
        colour
            ``"stage"`` (renovation stage), ``"gap"`` (service gap for ``facility``, from the
            latest analysis of that type) or ``"progress"`` (the progress map 挂图作战: stages,
            overdue projects outlined, this month's figures per street) or ``"assessment"`` (the
            季度考核得分图 of ``quarter``: compounds coloured by their street's total).
        facility
            A facility type (``"kindergarten"`` or ``"幼儿园"``) for ``colour="gap"`` and the catchment.
        catchment
            Draw the facility type's walking catchment (life circle).
        planner
            Include the restricted pipelines (never for a public audience).
        as_of
            The compounds, facilities (pipelines) and programme as they stood then (:meth:`layer`);
            not with ``colour="gap"`` or ``catchment``, which draw analyses of the layers of now.

        Examples
        --------
        >>> m = ws.map("gap", facility="kindergarten", catchment=True)
        >>> m  # shows inline in Jupyter
        >>> gis.export.offline_map.save(m, Path("out/map.html"))
        """
        self.db.require_schema()
        if colour == "assessment":
            if quarter is None or as_of is not None:
                raise InvalidRequestError('an assessment map names its quarter (quarter="2026Q3"), not as_of')
            scores = self.assessment.scores(quarter)
            ctx = self.export_context("planner" if planner else "public", assessment_map.NEEDS)
            return assessment_map.build_map(ctx, scores.ranking(), scores.quarter, published=scores.published)
        if as_of is not None and (colour == "gap" or catchment):
            raise AsOfError("a map as of a date draws stages or progress, not analyses of today's layers")
        code = self.facility_type(facility) if facility is not None else None
        if colour == "gap" and code is None:
            code = offline_map.default_facility(runs.gap_overview(self.engine))
        options = offline_map.MapOptions(
            colour=colour, facility=code, catchment=catchment, planner=planner, title=title
        )
        context = self.export_context(options.role, offline_map.needs(options), as_of=as_of)
        return offline_map.build_map(context, options)

    def export_context(
        self,
        role: Role = "public",
        needs: ExportNeeds | None = None,
        *,
        on: date | None = None,
        as_of: date | datetime | str | None = None,
    ) -> ExportContext:
        """What an export draws, read once for ``role`` (a layer the role may not see is never read):
        the exports take this, never the workspace. ``needs`` is the export module's ``NEEDS``
        (default: every layer the role sees and the latest gap results); ``on`` dates it.

        ``as_of``: the layers and programme as they stood then (:meth:`layer`); what cannot be rebuilt
        (layers audited per import, results of today's layers) is left out, named in ``ctx.left_out``.

        Examples
        --------
        >>> from gis.export import gpkg
        >>> gpkg.export_gpkg(ws.export_context("planner", gpkg.NEEDS), Path("out/gisplan.gpkg"))
        >>> ws.export_context("planner", gpkg.NEEDS, as_of=date(2026, 3, 31)).left_out
        """
        needs = needs or ExportNeeds()
        at = clock.as_of_instant(as_of) if as_of is not None else None
        working = self.db.require_schema()
        visible = [layer.id for layer in visible_layers(self.registry, role)]
        wanted = visible if needs.layers is None else [i for i in needs.layers if i in visible]
        left_out: tuple[str, ...] = ()
        if at is not None:  # what the audit and the event log rebuild; the rest is named as left out
            rebuilt = [i for i, layer in self.registry.layers.items() if layer.table in audit.ROW_AUDITED]
            needs, wanted, left_out = as_of_needs(needs, wanted, rebuilt)
            on = at.astimezone(clock.zone()).date()
        pipes = "pipelines" in visible  # restricted: only a planner's (or admin's) context holds them
        return ExportContext(
            registry=self.registry,
            role=role,
            working_crs=working,
            layers={layer_id: self.layer(layer_id, as_of=at) for layer_id in wanted},
            attribution=self.settings.attribution,
            today=clock.today(on),
            gaps=runs.latest_results(self.engine) if needs.gaps else None,
            findings=pipeline_runs.latest_findings(self.engine) if needs.findings and pipes else None,
            pipeline_inventory=self.pipelines.inventory() if needs.pipelines and pipes else None,
            overhead_lines=self.pipelines.bury() if needs.pipelines and pipes else None,
            progress=self.progress_overview(on=on, as_of=at) if needs.progress else None,
            catchment=self.catchment(needs.catchment) if needs.catchment else None,
            as_of=at,
            left_out=left_out,
            pairs=self.evidence.pairs(role) if needs.evidence else None,
            acceptance=self.acceptance.public() if needs.evidence else None,
        )

    @property
    def pipelines(self) -> PipelineTools:
        """Pipeline checks (restricted data): ``ws.pipelines.check()``, ``.bury()``, ``.inventory()``."""
        return PipelineTools(self.db)

    def gap_run(self, run_id: int | None = None) -> GapRun:
        """A stored gap run (the latest by default).

        Examples
        --------
        >>> run = ws.gap_run()
        >>> run.run_id, run.standard, run.basis
        >>> ws.gap_run(12).results
        """
        return read_run(self.engine, run_id)

    def imports(self, limit: int = 20) -> pd.DataFrame:
        """The latest imports with their counts: ``ws.imports(5)[["at", "actor", "layer", "source", "path"]]``."""
        return history.latest(self.db, limit)

    def close(self) -> None:
        """Release the workspace's database connections (``ws.close()``; the workspace is not used afterwards)."""
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def connect(
    url: str | None = None, *, settings: Settings | None = None, check: bool = True, serving: bool = False
) -> Workspace:
    """Open a workspace.

    Parameters
    ----------
    url
        A PostGIS URL (``postgresql://user:pass@host/db``); else ``GISPLAN_DATABASE_URL``; else the embedded one.
    check
        Bring the schema up to date and check it against the layer definitions (:meth:`Workspace.check`).
    serving
        For a web server: ``GISPLAN_DB_POOL`` connections, ``GISPLAN_STATEMENT_TIMEOUT_S``, and the
        public's reads on ``GISPLAN_READ_DATABASE_URL`` when set (``ws.read_engine``).

    Examples
    --------
    >>> import gis
    >>> ws = gis.connect()
    >>> ws.layers()
    """
    settings = settings or Settings()
    engine = make_engine(url or resolve_url(settings), settings=settings, serving=serving)
    reader = None
    if serving and settings.read_database_url:  # a web server's public reads go to the standby
        reader = make_engine(sqlalchemy_url(settings.read_database_url), settings=settings, serving=True)
    ws = Workspace(engine, settings=settings, read_engine=reader)
    if check:
        ws.check()
    return ws
