"""A partitioned gap analysis on Dask: one task per partition, each reading its own box from PostGIS.

The rule that makes a partition's rows equal the whole area's is :mod:`gis.gaps.partitions`'. Here:

- the run is a row of ``gap_runs`` with status ``running`` until every task has written its rows,
  then ``complete`` in one statement (readers of results see complete runs only: :mod:`gis.gaps.runs`);
- every read of the run is in one snapshot of the database: the coordinator holds a repeatable-read
  transaction open and exports it (``pg_export_snapshot()``); each task's reads begin with
  ``SET TRANSACTION SNAPSHOT``, so an import during the run changes none of them;
- the road network's components (its islands) are found a road tile a task (:func:`road_tile`,
  :mod:`gis.gaps.components`), so that no task holds the whole network; the whole area's facts
  (facility counts, the island lines' ids) go to each worker once;
- a partition's task receives a small descriptor (:class:`PartTask`: a box, ids, the halo, the
  rule), never a graph or a frame, and writes its own compounds' rows
  by COPY in one transaction that first deletes any rows of them in this run: a task retried after
  a worker died replaces, never duplicates;
- a worker opens the database from its own environment (``GISPLAN_DATABASE_URL``, else the embedded
  cluster of ``GISPLAN_HOME``), never from a task's arguments.

Dask is optional (``pip install gisplan[dask]``); it is imported when a client is made.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import geopandas as gpd
import pandas as pd
from pyproj import CRS
from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sqlalchemy_exc

from gis.errors import InvalidRequestError
from gis.gaps import components, partitions, runs
from gis.gaps.analysis import (
    COMPOUND_COLUMNS,
    FACILITY_COLUMNS,
    NO_ROADS,
    ROAD_COLUMNS,
    GapInputs,
    GapParameters,
    GlobalFacts,
    walkable_roads,
)
from gis.gaps.inputs import LayerReader, layer_reader
from gis.gaps.runs import GapRun, RunRecord
from gis.registry import registry
from gis.settings import Settings
from gis.standards import Standard
from gis.store import layers
from gis.store.database import Database
from gis.store.engine import engine_url, make_engine, resolve_url

SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+-[0-9]+$")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_engines: dict[str, Engine] = {}


@dataclass(frozen=True)
class PartTask:
    """One partition's work, as sent to a worker."""

    run_id: int
    snapshot: str
    part: partitions.Partition
    halo: partitions.Halo
    types: tuple[str, ...]
    standard: Standard
    params: GapParameters


@dataclass(frozen=True)
class PartDone:
    """What a task reports back: small figures, never its rows."""

    segments_read: int
    compounds_no_road: int
    beyond: int  # rows reported as beyond their radius (no distance)
    warnings: list[str]
    seconds: float
    peak_mb: float
    worker_pid: int


def worker_engine() -> Engine:
    """The database of this process's environment (a worker's own settings), opened once."""
    url = resolve_url(Settings())
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def road_tile(core: partitions.Box, snapshot: str, params: GapParameters) -> components.TileParts:
    """A road tile's task (:mod:`gis.gaps.components`): the walkable lines touching ``core`` widened
    by the joining tolerance, read in the snapshot, and their components."""
    reg = registry()
    with _snapshot_reads(worker_engine(), snapshot) as (conn, working):
        box = partitions.widen(core, params.tolerance_m)
        roads = layer_reader(conn, reg, working, box)("roads", ROAD_COLUMNS, ("foot",))
    return components.tile_parts(walkable_roads(roads, reg.layer("roads").not_walkable), params, core)


def run_part(task: PartTask, facts: GlobalFacts) -> PartDone:
    """A partition's task: read its box in the snapshot, analyse (with the whole area's ``facts``,
    sent to each worker once), write its own compounds' rows."""
    start = time.perf_counter()
    engine = worker_engine()
    reg = registry()
    part, halo = task.part, task.halo
    with _snapshot_reads(engine, task.snapshot) as (conn, working):

        def within(by: float) -> LayerReader:
            return layer_reader(conn, reg, working, partitions.widen(part.box, by))

        own = within(0.0)("compounds", COMPOUND_COLUMNS, ())
        own = own[own["fid"].isin(part.compound_ids)]
        compounds = own
        if halo.compounds_m > 0:
            near = within(halo.compounds_m)("compounds", COMPOUND_COLUMNS, ())
            compounds = pd.concat([own, near[~near["fid"].isin(part.compound_ids)]])
        facilities = within(halo.facilities_m)("facilities", FACILITY_COLUMNS, ())
        roads = walkable_roads(within(halo.roads_m)("roads", ROAD_COLUMNS, ("foot",)), reg.layer("roads").not_walkable)
    inputs = partitions.PartInputs(compounds, facilities, roads)
    rows, warnings = partitions.analyse_part(part, inputs, task.standard, list(task.types), task.params, facts)
    runs.replace_part(engine, task.run_id, list(part.compound_ids), rows)
    return PartDone(
        segments_read=partitions.segment_count(roads),
        compounds_no_road=partitions.no_road_count(rows, task.params),
        beyond=int(rows["distance_m"].isna().sum()),
        warnings=warnings,
        seconds=time.perf_counter() - start,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        worker_pid=os.getpid(),
    )


@contextlib.contextmanager
def _snapshot_reads(engine: Engine, snapshot: str) -> Iterator[tuple[Connection, CRS]]:
    """A read-only transaction in the run's exported snapshot, and the working CRS."""
    if not SNAPSHOT_ID.match(snapshot):
        raise InvalidRequestError(f"not a snapshot id: {snapshot!r}")
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # the transaction's first statement
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        yield conn, Database(engine).require_schema()


@contextlib.contextmanager
def _exported_snapshot(engine: Engine) -> Iterator[tuple[Connection, str]]:
    """A repeatable-read transaction held open for the block, and its exported snapshot's id (every
    task of the run reads in it: :func:`_snapshot_reads`)."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as hold, hold.begin():
        yield hold, str(hold.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())


@contextlib.contextmanager
def _client_for_run(
    client: Any, engine: Engine, settings: Settings, *, scheduler: str | None = None, workers: int | None = None
) -> Iterator[Any]:
    """``client``, or one made for the run (:func:`make_client`) and closed after it, its cluster too."""
    if client is not None:
        yield client
        return
    own = make_client(engine, settings, scheduler=scheduler, workers=workers)
    try:
        yield own
    finally:
        cluster = own.cluster
        own.close()
        if cluster is not None:
            cluster.close()


@dataclass(frozen=True)
class SiteTask:
    """One district's siting, as sent to a worker."""

    snapshot: str
    district: str | None
    facility_type: str
    k: int
    standard: Standard
    params: GapParameters
    actor: str


def run_district_sites(task: SiteTask) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """A district's task: read its compounds, and the facilities and roads around them by the
    partitions' halo rule (R: the type's radius; no 2SFCA), in the snapshot; propose ``k`` sites for
    its compounds among points inside them; store the siting run. Its sites, with ``district``, and
    the run's facts (id, coverage before and after, weight, radius, basis)."""
    reg = registry()
    rule = partitions.halo(float(task.standard.rule(task.facility_type).radius_m or 0.0), task.params, two_step=False)
    with _snapshot_reads(worker_engine(), task.snapshot) as (conn, working):
        own = layers.read(
            conn, reg.layer("compounds"), working, columns=COMPOUND_COLUMNS, where={"district": task.district}
        )
        minx, miny, maxx, maxy = (float(v) for v in own.total_bounds)
        box = (minx, miny, maxx, maxy)
        frames = {
            "compounds": own,
            "facilities": layer_reader(conn, reg, working, partitions.widen(box, rule.facilities_m))(
                "facilities", FACILITY_COLUMNS, ()
            ),
            "roads": layer_reader(conn, reg, working, partitions.widen(box, rule.roads_m))(
                "roads", ROAD_COLUMNS, ("foot",)
            ),
        }
    setup = GapInputs(
        standard=task.standard,
        working_crs=working,
        types=[task.facility_type],
        params=task.params,
        read=lambda layer_id, _columns, _extra: frames[layer_id],
        not_walkable=reg.layer("roads").not_walkable,
    )
    sites = runs.run_siting(worker_engine(), setup, task.k, task.actor)
    return sites.assign(district=task.district), dict(sites.attrs)


def sites_on_dask(
    engine: Engine, setup: GapInputs, k: int, actor: str, settings: Settings, *, client: Any = None
) -> gpd.GeoDataFrame:
    """``k`` sites of ``setup``'s one type for each district, a Dask task each
    (:func:`run_district_sites`), every task reading in one snapshot; one siting run stored per
    district. The sites of all, by district then rank; ``attrs["districts"]``: per district its
    run id and coverage before and after."""
    (code,) = setup.types
    with _client_for_run(client, engine, settings) as own, _exported_snapshot(engine) as (hold, snapshot):
        districts = layers.distinct(hold, registry().layer("compounds"), "district")
        tasks = [SiteTask(snapshot, d, code, k, setup.standard, setup.params, actor) for d in districts]
        found: list[tuple[gpd.GeoDataFrame, dict[str, Any]]] = own.gather(
            own.map(run_district_sites, tasks, pure=False, retries=2)
        )
    per = {
        str(d): {key: a.get(key) for key in ("run_id", "before", "after", "weight", "radius_m", "radius_status")}
        for d, (_, a) in zip(districts, found, strict=True)
    }
    frames = [f for f, _ in found]
    sites = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=setup.working_crs)
    sites.attrs.update({"districts": per, "basis": found[0][1].get("basis") if found else None})
    return sites


def check_scheduler(address: str | None, settings: Settings) -> None:
    """Refuse a scheduler on another machine when the database is the embedded one: it listens on
    127.0.0.1 only, so a remote worker could never reach it.

    Raises
    ------
    InvalidRequestError
        The embedded database and a scheduler that is not on this machine.
    """
    if address and not settings.database_url:
        host = urlparse(address if "://" in address else f"tcp://{address}").hostname or ""
        if host not in LOOPBACK:
            raise InvalidRequestError(
                f"the embedded database listens on 127.0.0.1 only: the workers of the scheduler at {address} "
                "could not reach it; set GISPLAN_DATABASE_URL (in the workers' environment too) to a PostgreSQL "
                "server they can reach / 内置数据库仅监听本机，远程调度器的计算节点无法连接"
            )


def make_client(engine: Engine, settings: Settings, *, scheduler: str | None = None, workers: int | None = None) -> Any:
    """A Dask client: on ``scheduler`` (else ``DASK_SCHEDULER_ADDRESS``), whose workers must have the
    database in their own environment, or on a new LocalCluster of ``workers`` processes (default:
    the cores) with one thread each (an analysis holds the interpreter lock in pure-Python
    stretches: processes, not threads), started with ``engine``'s database in their environment.

    Raises
    ------
    InvalidRequestError
        The embedded database and a scheduler on another machine (:func:`check_scheduler`).
    """
    from dask.distributed import Client, LocalCluster  # an optional extra: gisplan[dask]

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    check_scheduler(address, settings)
    if address:
        return Client(address)
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"GISPLAN_DATABASE_URL": engine_url(engine), "GISPLAN_HOME": str(settings.home)},
    )
    return Client(cluster)


def run_on_dask(
    engine: Engine,
    setup: GapInputs,
    actor: str,
    settings: Settings,
    *,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    sizing: partitions.Sizing | None = None,
) -> GapRun:
    """:func:`run_partitioned` on ``client``, or on a client made for the run (:func:`make_client`)
    and closed after it."""
    with _client_for_run(client, engine, settings, scheduler=scheduler, workers=workers) as own:
        return run_partitioned(engine, setup, actor, client=own, sizing=sizing)


def run_partitioned(
    engine: Engine, setup: GapInputs, actor: str, *, client: Any, sizing: partitions.Sizing | None = None
) -> GapRun:
    """Analyse ``setup``'s types partition by partition on ``client``'s workers and store the run as
    ``actor``'s: visible once every partition has written its rows, equal to :func:`gis.gaps.runs.
    run_analysis`'s but for rows beyond their radius (see :mod:`gis.gaps.partitions`).

    The workers open the database of their own environment: it must be ``engine``'s.
    """
    sizing = sizing or partitions.Sizing()
    reg = registry()
    types = tuple(setup.types)
    with _exported_snapshot(engine) as (hold, snapshot):
        read = layer_reader(hold, reg, setup.working_crs)
        compounds = read("compounds", [], ())
        facilities = read("facilities", ["type", "capacity"], ())
        rule = partitions.halo(
            partitions.largest_radius(setup.standard, list(types)),
            setup.params,
            two_step=partitions.two_step_types(setup.standard, list(types), facilities),
        )
        cell = max(rule.roads_m, 1.0)
        grid = partitions.EdgeGrid((0.0, 0.0), cell, layers.segment_grid(hold, reg.layer("roads"), cell))
        started = time.perf_counter()
        segments = grid.total_segments
        extent = layers.working_box(hold, reg.layer("roads"))
        network = _components(client, snapshot, extent, segments, setup.params, sizing)
        components_s = time.perf_counter() - started
        facts, summary, warnings = partitions.whole_area(facilities, setup.standard, list(types), network)
        parts = partitions.plan(compounds, grid, rule, sizing)
        record = RunRecord(
            actor=actor,
            standard=setup.standard,
            basis=facts.basis,
            parameters={**setup.params.__dict__, "facility_types": list(types), "engine": "dask"},
            inputs={},
            network=None,
            warnings=[],
            results=compounds.iloc[:0],
            srid=setup.srid,
        )
        runs.sweep_abandoned(engine)
        run_id = runs.begin_run(engine, record)
        runs.hold_run(hold, run_id)  # let go when this connection closes, however the command ends
        try:
            tasks = [PartTask(run_id, snapshot, p, rule, types, setup.standard, setup.params) for p in parts]
            shared = client.scatter(facts, broadcast=True)  # the island lines: once to each worker, not per task
            done: list[PartDone] = client.gather(client.map(run_part, tasks, facts=shared, pure=False, retries=2))
            no_road = sum(d.compounds_no_road for d in done)
            notes = list(dict.fromkeys(w for d in done for w in d.warnings))
            inputs = {
                "compounds": len(compounds),
                "facilities": facts.facility_counts,
                "road_segments": segments,
                "partitions": len(parts),
                "segments_read": sum(d.segments_read for d in done),
                "halo_overhead": round(sum(d.segments_read for d in done) / segments, 3) if segments else None,
                "peak_mb_per_worker": _peaks(done),
                "components_s": round(components_s, 2),
                "task_seconds": round(sum(d.seconds for d in done), 2),
                "longest_task_s": round(max((d.seconds for d in done), default=0.0), 2),
                "rows_beyond_radius": sum(d.beyond for d in done),
            }
            runs.complete_run(
                engine,
                run_id,
                expected_rows=len(compounds) * len(types),
                inputs=inputs,
                network=summary,
                warnings=[
                    *(warnings if facts.basis == "network" else [NO_ROADS]),
                    *partitions.no_road_warning(no_road, setup.params),
                    *notes,
                    *setup.skipped,
                ],
            )
        except BaseException:
            runs.fail_run(engine, run_id)
            raise
        finally:
            with contextlib.suppress(sqlalchemy_exc.DBAPIError):  # a broken connection has let go already
                runs.let_go_run(hold, run_id)
    return runs.read_run(engine, run_id)


def _components(
    client: Any,
    snapshot: str,
    extent: partitions.Box | None,
    segments: int,
    params: GapParameters,
    sizing: partitions.Sizing,
) -> components.Components | None:
    """The walkable network's components, a road tile a task, the tiles covering the roads'
    ``extent`` (None: no road, or no walkable one)."""
    if extent is None:
        return None
    cores = components.tiles(extent, segments, sizing.max_edges, params.tolerance_m)
    found = client.gather(client.map(road_tile, cores, snapshot=snapshot, params=params, pure=False, retries=2))
    merged = components.merge(found, params)
    return merged if merged.summary["edges"] else None


def _peaks(done: Sequence[PartDone]) -> dict[str, float]:
    """The peak resident memory of each worker process (MB), by pid."""
    peaks: dict[str, float] = {}
    for d in done:
        peaks[str(d.worker_pid)] = max(peaks.get(str(d.worker_pid), 0.0), round(d.peak_mb, 1))
    return peaks
