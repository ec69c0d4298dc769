"""The store of gap runs (``gap_runs``, ``gap_results``, ``site_proposals``): the one owner of these tables.

"The latest result" has one meaning everywhere (web map, exports, GeoPackage, tables, notebooks):
for each facility type, the results of the newest run that analysed that type. A compound that was
not in that run (added since) has no latest result of that type; an older run never fills in for
it. A compound deleted since has no latest result at all, though its types' newest runs still hold
its rows (which compounds stand is read from the layer's owner, :mod:`gis.store.layers`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from gis.errors import NotFoundError, ServerError
from gis.gaps.analysis import RESULT_COLUMNS, GapInputs, analyse, summarise
from gis.gaps.siting import propose
from gis.registry import registry
from gis.standards import Standard
from gis.store import layers
from gis.store.copy import copy_columns
from gis.store.database import Database

RENAMED = {"compound_fid": "compound_id", "nearest_fid": "nearest_facility_id", "nearest_name": "nearest_facility_name"}
STORED = {column: stored for stored, column in RENAMED.items()}
# the columns stored besides run_id and geom, as the tables name them
RESULT_FIELDS = [STORED.get(c, c) for c in RESULT_COLUMNS]
SITE_FIELDS = ["rank", "facility_type", "candidate", "new_compounds", "new_compound_names", "new_demand"]

# the runs that may be read: a partitioned run is written by many tasks, and stays "running" until all
# have committed (migration 0013)
COMPLETE = "SELECT id FROM gap_runs WHERE status = 'complete'"
# the newest run of each facility type: every reader of "latest" goes through this
LATEST_RUNS = f"""SELECT facility_type, max(run_id) AS run_id FROM gap_results WHERE run_id IN ({COMPLETE})
                  GROUP BY facility_type"""
# a result names its compound by id: the geometry is the compound's, as it stands (none once deleted)
LATEST_RESULTS = f"""SELECT r.*, c.geom FROM gap_results r JOIN ({LATEST_RUNS}) l USING (facility_type, run_id)
                     LEFT JOIN compounds c ON c.fid = r.compound_fid
                     ORDER BY r.facility_type, r.compound_fid"""
INSERT_RUN = """INSERT INTO gap_runs (actor, standard, basis, parameters, inputs, network, warnings, status)
                VALUES (:actor, :standard, :basis, CAST(:p AS jsonb), CAST(:i AS jsonb), CAST(:n AS jsonb),
                        CAST(:w AS jsonb), :status) RETURNING id"""
COMPLETE_RUN = """UPDATE gap_runs SET status = 'complete', inputs = CAST(:i AS jsonb), network = CAST(:n AS jsonb),
                  warnings = CAST(:w AS jsonb) WHERE id = :r AND status = 'running'"""
FAIL_RUN = "UPDATE gap_runs SET status = 'failed' WHERE id = :r AND status = 'running'"
# A running run is held by its coordinator: a session-level advisory lock on its connection, let go
# when that connection closes, however the coordinator ends (as the jobs' leases, gis.store.jobs)
RUN_LOCK_CLASS = 0x67617073  # "gaps": the first key of the two-key advisory locks (never used by another lock)
HOLD_RUN = f"SELECT pg_advisory_lock({RUN_LOCK_CLASS}, CAST(:r AS integer))"
TRY_RUN = f"SELECT pg_try_advisory_lock({RUN_LOCK_CLASS}, CAST(:r AS integer))"
LET_GO_RUN = f"SELECT pg_advisory_unlock({RUN_LOCK_CLASS}, CAST(:r AS integer))"
STALE_RUNS = "SELECT id FROM gap_runs WHERE status = 'running' AND at < now() - make_interval(secs => :s)"
RUN_STATUS = "SELECT status FROM gap_runs WHERE id = :r FOR SHARE"
RUN_ROWS = "SELECT count(*) FROM gap_results WHERE run_id = :r"
DELETE_PART = "DELETE FROM gap_results WHERE run_id = :r AND compound_fid = ANY(:ids)"
INSERT_SITES = f"""INSERT INTO site_proposals (run_id, {", ".join(SITE_FIELDS)}, geom)
                   VALUES (:run_id, {", ".join(f":{c}" for c in SITE_FIELDS)}, ST_GeomFromWKB(:geom, :srid))"""
RUNS = """SELECT id, at, standard, basis, parameters, inputs FROM gap_runs WHERE status = 'complete'
          ORDER BY id DESC LIMIT :n"""
LAST_RUN = "SELECT max(id) FROM gap_runs WHERE status = 'complete'"
RUN_META = "SELECT standard, basis, network, warnings, at FROM gap_runs WHERE id = :i AND status = 'complete'"
RESULTS_SRID = "SELECT Find_SRID('public', 'compounds', 'geom')"
RUN_RESULTS = """SELECT r.*, c.geom FROM gap_results r LEFT JOIN compounds c ON c.fid = r.compound_fid
                 WHERE r.run_id = :i ORDER BY r.facility_type, r.compound_fid"""
COMPOUND_LATEST = f"""SELECT r.facility_type, r.run_id, r.distance_m, r.radius_m, r.radius_status, r.covered,
                             r.nearest_name, r.flag, r.level
                      FROM gap_results r JOIN ({LATEST_RUNS}) l USING (facility_type, run_id)
                      WHERE r.compound_fid = :c ORDER BY r.facility_type"""
OVERVIEW = f"""SELECT r.facility_type, r.run_id, r.compound_fid, r.radius_m, r.radius_status, r.level, r.covered
               FROM gap_results r JOIN ({LATEST_RUNS}) l USING (facility_type, run_id)
               ORDER BY r.facility_type"""
TYPE_LATEST_RUN = f"SELECT max(run_id) FROM gap_results WHERE facility_type = :t AND run_id IN ({COMPLETE})"
TYPE_RESULTS = """SELECT compound_fid, distance_m, covered, nearest_name, flag, radius_m, radius_status, affected
                  FROM gap_results WHERE run_id = :r AND facility_type = :t"""


@dataclass
class GapRun:
    """A stored run: its id, per-compound results, a summary by type and what to know about it."""

    run_id: int
    standard: str
    basis: str
    results: gpd.GeoDataFrame
    network: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        return summarise(self.results)


@dataclass(frozen=True)
class RunRecord:
    """Everything a run stores: who ran it under which standard, how, on what, and what it found.

    Parameters
    ----------
    actor
        Who ran it (``notebook``, ``cli:alice``, ``api:planner``).
    standard
        The standard used (its id and whether a county rule overrode it are stored).
    basis
        ``network`` or ``euclidean``.
    parameters
        The parameters of the run (tolerances, types, ``propose`` ...).
    inputs
        Counts of what the run read.
    network
        The network summary (None on a straight-line basis or for a siting run).
    warnings
        What the reader of the results must know.
    results
        The per-compound results (columns of :data:`gis.gaps.analysis.RESULT_COLUMNS`), in the working CRS.
    srid
        The EPSG code of the working CRS (the geometries are stored in it).
    sites
        Proposed sites (columns of :data:`gis.gaps.siting.SITE_COLUMNS`), for a siting run.
    """

    actor: str
    standard: Standard
    basis: str
    parameters: dict[str, Any]
    inputs: dict[str, Any]
    network: dict[str, Any] | None
    warnings: list[str]
    results: gpd.GeoDataFrame
    srid: int
    sites: gpd.GeoDataFrame | None = None


# What else must commit with a run, in its transaction (a job marking itself done): given the stored run.
AlsoStored = Callable[[Connection, GapRun], None]


def store_run(engine: Engine, record: RunRecord, *, also: AlsoStored | None = None) -> int:
    """Write a run, its results and any proposed sites in one transaction; returns the run id.

    ``also(conn, run)``, when given, runs last in that transaction: what it writes commits with the
    run or not at all (an exception from it rolls the run back)."""
    with engine.begin() as conn:
        run_id = _insert_run(conn, record, "complete")
        if len(record.results):
            copy_results(conn, record.results, run_id)
        if record.sites is not None and len(record.sites):
            conn.execute(text(INSERT_SITES), _rows(record.sites, SITE_FIELDS, run_id, record.srid))
        if also is not None:
            also(conn, stored(record, run_id))
    return run_id


def _insert_run(conn: Connection, record: RunRecord, status: str) -> int:
    params = {**record.parameters, "standard_overridden": record.standard.overridden}
    return int(
        conn.execute(
            text(INSERT_RUN),
            {
                "actor": record.actor,
                "standard": record.standard.id,
                "basis": record.basis,
                "p": json.dumps(params, ensure_ascii=False),
                "i": json.dumps(record.inputs, ensure_ascii=False),
                "n": json.dumps(record.network, ensure_ascii=False, default=str) if record.network else None,
                "w": json.dumps(record.warnings, ensure_ascii=False),
                "status": status,
            },
        ).scalar_one()
    )


# -- a run written by many tasks (gis.gaps.distributed) ----------------------------------------------
def begin_run(engine: Engine, record: RunRecord) -> int:
    """A run's row, ``running`` (seen by no reader) until :func:`complete_run`; ``record``'s results
    are not written (the tasks write theirs: :func:`replace_part`)."""
    with engine.begin() as conn:
        return _insert_run(conn, record, "running")


def hold_run(conn: Connection, run_id: int) -> None:
    """Hold a running run on the coordinator's ``conn`` for as long as that connection lives: a run
    no one holds is abandoned (:func:`sweep_abandoned`)."""
    conn.execute(text(HOLD_RUN), {"r": run_id})


def let_go_run(conn: Connection, run_id: int) -> None:
    """Let go of a run held by :func:`hold_run` (a pooled connection outlives the run: its lock would too)."""
    conn.execute(text(LET_GO_RUN), {"r": run_id})


def sweep_abandoned(engine: Engine, older_than_s: float = 60.0) -> list[int]:
    """Fail the running runs whose coordinator is gone (no one holds them: it was killed, or lost its
    connection) and began more than ``older_than_s`` ago; returns their ids. A late task of such a
    run writes nothing (:func:`replace_part`)."""
    with engine.connect() as conn:
        stale = [int(r[0]) for r in conn.execute(text(STALE_RUNS), {"s": older_than_s})]
        swept = []
        for run_id in stale:
            if conn.execute(text(TRY_RUN), {"r": run_id}).scalar():
                try:
                    fail_run(engine, run_id)
                    swept.append(run_id)
                finally:
                    conn.execute(text(LET_GO_RUN), {"r": run_id})
        conn.commit()
    return swept


def replace_part(engine: Engine, run_id: int, compound_ids: list[int], rows: pd.DataFrame) -> None:
    """A partition's rows of a running run, in one transaction that first deletes any rows of these
    compounds in the run: a task run twice (its worker died after committing) leaves one copy.

    Raises
    ------
    ServerError
        The run is no longer running (failed, or swept as abandoned): nothing is written.
    """
    with engine.begin() as conn:
        status = conn.execute(text(RUN_STATUS), {"r": run_id}).scalar()
        if status != "running":
            raise ServerError(f"gap run {run_id} is {status or 'gone'}, not running: its rows are not written")
        conn.execute(text(DELETE_PART), {"r": run_id, "ids": compound_ids})
        if len(rows):
            copy_results(conn, rows, run_id)


def complete_run(
    engine: Engine, run_id: int, *, expected_rows: int, inputs: dict[str, Any], network: Any, warnings: list[str]
) -> None:
    """Make a running run visible, with what the whole run found, once it holds ``expected_rows``
    rows (every compound once per type).

    Raises
    ------
    ServerError
        The run holds another number of rows (a task's rows are missing or doubled): it is failed.
    """
    with engine.begin() as conn:
        held = int(conn.execute(text(RUN_ROWS), {"r": run_id}).scalar_one())
        if held != expected_rows:
            raise ServerError(f"gap run {run_id} holds {held} rows, not the {expected_rows} its partitions owe")
        conn.execute(
            text(COMPLETE_RUN),
            {
                "r": run_id,
                "i": json.dumps(inputs, ensure_ascii=False),
                "n": json.dumps(network, ensure_ascii=False, default=str) if network else None,
                "w": json.dumps(warnings, ensure_ascii=False),
            },
        )


def fail_run(engine: Engine, run_id: int) -> None:
    """Mark a running run failed and drop what its tasks wrote."""
    with engine.begin() as conn:
        conn.execute(text(FAIL_RUN), {"r": run_id})
        conn.execute(text("DELETE FROM gap_results WHERE run_id = :r"), {"r": run_id})


def stored(record: RunRecord, run_id: int) -> GapRun:
    """The run ``record`` describes, as stored under ``run_id``."""
    return GapRun(
        run_id=run_id,
        standard=record.standard.id,
        basis=record.basis,
        results=record.results,
        network=record.network,
        warnings=record.warnings,
    )


def run_analysis(engine: Engine, setup: GapInputs, actor: str, *, also: AlsoStored | None = None) -> GapRun:
    """Analyse ``setup``'s compounds, facilities and roads and store the run as ``actor``'s (``also``:
    as for :func:`store_run`); the stored run."""
    compounds, facilities, roads = setup.compounds, setup.facilities, setup.roads
    results, network, notes = analyse(compounds, facilities, roads, setup.standard, setup.types, setup.params)
    inputs = {
        "compounds": len(compounds),
        "facilities": {t: len(setup.facilities_of(t)) for t in setup.types},
        "road_segments": len(roads),
    }
    record = RunRecord(
        actor=actor,
        standard=setup.standard,
        basis=setup.basis,
        parameters={**setup.params.__dict__, "facility_types": setup.types},
        inputs=inputs,
        network=network,
        warnings=notes + setup.skipped,
        results=results,
        srid=setup.srid,
    )
    return stored(record, store_run(engine, record, also=also))


def run_siting(
    engine: Engine, setup: GapInputs, k: int, actor: str, candidates: gpd.GeoDataFrame | None = None
) -> gpd.GeoDataFrame:
    """Propose ``k`` sites of ``setup``'s one type (:func:`gis.gaps.siting.propose`; ``candidates`` in
    the working CRS, default a point inside each compound) and store them as ``actor``'s siting run.

    Returns the sites, ranked; ``attrs`` holds the run id, coverage before and after, the weight
    maximised, the radius and the basis."""
    (code,) = setup.types
    compounds, facilities, roads = setup.compounds, setup.facilities, setup.roads
    proposal = propose(compounds, facilities, roads, setup.standard, code, k, setup.params, candidates)
    inputs = {
        "compounds": len(compounds),
        "facilities": len(setup.facilities_of(code)),
        "candidates": len(candidates) if candidates is not None else len(compounds),
        "before": proposal.before,
        "after": proposal.after,
    }
    record = RunRecord(
        actor=actor,
        standard=setup.standard,
        basis=setup.basis,
        parameters={**setup.params.__dict__, "propose": k, "facility_type": code, "weight": proposal.weight},
        inputs=inputs,
        network=None,
        warnings=[] if setup.basis == "network" else ["NO ROAD NETWORK: straight-line coverage"],
        results=gpd.GeoDataFrame(columns=["geometry"], geometry="geometry", crs=setup.working_crs),
        srid=setup.srid,
        sites=proposal.sites,
    )
    run_id = store_run(engine, record)
    sites = proposal.sites
    sites.attrs.update(
        {
            "run_id": run_id,
            "before": proposal.before,
            "after": proposal.after,
            "weight": proposal.weight,
            "radius_m": proposal.radius_m,
            "radius_status": proposal.radius_status,
            "basis": setup.basis,
        }
    )
    return sites


# A run's rows arrive in two binary COPYs into temporary tables — per compound and type what the
# analysis found, per compound its residents — and are joined into gap_results by the server, with
# each type's constants and the names copied from the layers (a row of 21 values sent one by one
# cost about 20 µs of Python; here only the values that vary are sent, grouped by layout).
ROWS_IN = """CREATE TEMP TABLE gap_rows_in (compound_fid bigint, facility_type text, distance_m float8,
             euclidean_m float8, covered boolean, nearest_fid bigint, flag text, demand float8, affected float8,
             capacity_ratio float8) ON COMMIT DROP"""
COMPOUNDS_IN = "CREATE TEMP TABLE gap_compounds_in (compound_fid bigint, population float8) ON COMMIT DROP"
JOIN_RESULTS = f"""INSERT INTO gap_results (run_id, {", ".join(RESULT_FIELDS)})
    SELECT %(run_id)s, r.compound_fid, c.name, r.facility_type, r.distance_m, t.radius_m, r.covered, t.basis,
           t.level, t.radius_status, r.euclidean_m, r.nearest_fid, f.name, r.flag, c.district, c.street,
           p.population, t.demand_group, r.demand, r.affected, r.capacity_ratio
    FROM gap_rows_in r
    JOIN unnest(%(types)s::text[], %(radii)s::float8[], %(bases)s::text[], %(levels)s::text[],
                %(statuses)s::text[], %(groups)s::text[])
         AS t(facility_type, radius_m, basis, level, radius_status, demand_group) USING (facility_type)
    JOIN gap_compounds_in p USING (compound_fid)
    LEFT JOIN compounds c ON c.fid = r.compound_fid
    LEFT JOIN facilities f ON f.fid = r.nearest_fid
    ORDER BY r.compound_fid, r.facility_type"""  # in key order: the primary key's index grows at its end
SORT_MEMORY_MB = 256
ROW_TYPES = {
    "compound_fid": "bigint",
    "facility_type": "text",
    "distance_m": "float8",
    "euclidean_m": "float8",
    "covered": "boolean",
    "nearest_fid": "bigint",
    "flag": "text",
    "demand": "float8",
    "affected": "float8",
    "capacity_ratio": "float8",
}
TYPE_CONSTANTS = {
    "types": "facility_type",
    "radii": "radius_m",
    "bases": "basis",
    "levels": "level",
    "statuses": "radius_status",
    "groups": "demand_group",
}


def copy_results(conn: Connection, results: pd.DataFrame, run_id: int) -> None:
    """The run's result rows, in ``conn``'s transaction (no geometry: the compound's id; the
    compound's name, district and street and the nearest facility's name copied from the layers)."""
    frame = results.rename(columns=STORED)
    conn.execute(text(ROWS_IN))
    conn.execute(text(COMPOUNDS_IN))
    copy_columns(conn, "gap_rows_in", {name: (frame[name], sql) for name, sql in ROW_TYPES.items()})
    people = frame.drop_duplicates("compound_fid")
    copy_columns(
        conn,
        "gap_compounds_in",
        {"compound_fid": (people["compound_fid"], "bigint"), "population": (people["population"], "float8")},
    )
    kinds = frame.drop_duplicates("facility_type")
    constants = {
        key: kinds[column].astype(object).where(kinds[column].notna(), None).tolist()
        for key, column in TYPE_CONSTANTS.items()
    }
    conn.execute(text("ANALYZE gap_rows_in, gap_compounds_in"))  # unanalysed, they would be joined row by row
    # the join sorts the run's rows into key order: in memory, not in 4 MB runs spilled to disk (a
    # quarter of the statement at 324k rows); a cap, not an allocation, and for this statement only
    conn.execute(text(f"SET LOCAL work_mem = '{SORT_MEMORY_MB}MB'"))
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(JOIN_RESULTS, {"run_id": run_id, **constants})


def _rows(frame: gpd.GeoDataFrame, fields: list[str], run_id: int, srid: int) -> list[dict[str, Any]]:
    """The frame's rows as bound values: Python scalars, None for NaN and NA, geometry as WKB."""
    values = pd.DataFrame({name: frame[name].astype(object).where(frame[name].notna(), None) for name in fields})
    values["geom"] = shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object))
    return cast("list[dict[str, Any]]", values.assign(run_id=run_id, srid=srid).to_dict("records"))


def list_runs(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    """The newest stored runs, newest first: id, at, standard, basis, parameters and inputs
    (none before anything was loaded)."""
    if Database(engine).working_crs is None:
        return []
    with engine.connect() as conn:
        rows = conn.execute(text(RUNS), {"n": limit}).all()
    return [dict(r._mapping) for r in rows]


def read_run(engine: Engine, run_id: int | None = None) -> GapRun:
    """A stored run (the latest when ``run_id`` is None) as a GapRun."""
    with engine.connect() as conn:
        if run_id is None:
            run_id = conn.execute(text(LAST_RUN)).scalar()
            if run_id is None:
                raise NotFoundError("no gap analysis has been run yet: ws.gaps() or gisplan gaps")
        meta = conn.execute(text(RUN_META), {"i": run_id}).one_or_none()
        if meta is None:
            raise NotFoundError(f"no gap run {run_id}")
        # the column's SRID, so a run without rows (a siting run) still has its CRS
        srid = int(conn.execute(text(RESULTS_SRID)).scalar_one())
        gdf = gpd.read_postgis(text(RUN_RESULTS), conn, geom_col="geom", params={"i": run_id}, crs=srid)
    gdf = gdf.rename(columns=RENAMED).rename_geometry("geometry")[[*RESULT_COLUMNS, "geometry"]]
    return GapRun(
        run_id=int(run_id),
        standard=meta.standard,
        basis=meta.basis,
        results=gdf,
        network=meta.network,
        warnings=list(meta.warnings),
    )


def standing(engine: Engine) -> set[int]:
    """The compounds that stand now: a run keeps the rows of compounds deleted since, which are no
    one's latest result."""
    return layers.fids(engine, registry().layer("compounds"))


def latest_results(engine: Engine) -> gpd.GeoDataFrame:
    """The latest result of every facility type ever analysed: the rows of the newest run of each type
    (the runs may differ by type: a later run of kindergartens alone does not hide the clinics of an
    earlier one, but a compound missing from a type's newest run has no result of that type), for
    the compounds that stand."""
    with engine.connect() as conn:
        gdf = gpd.read_postgis(text(LATEST_RESULTS), conn, geom_col="geom")
    gdf = gdf[gdf["compound_fid"].isin(standing(engine))]
    gdf = gdf.rename(columns=RENAMED).rename_geometry("geometry")
    return gdf[["run_id", *RESULT_COLUMNS, "geometry"]]


def finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: unknown is null."""
    return None if value is None or value != value or value in (float("inf"), float("-inf")) else value


def compound_gaps(engine: Engine, compound_id: int) -> list[dict[str, Any]]:
    """One compound's latest result for each facility type analysed (none once it is deleted)."""
    if compound_id not in standing(engine):
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            text(COMPOUND_LATEST),
            {"c": compound_id},
        ).all()
    return [
        {
            "facility_type": r.facility_type,
            "run": r.run_id,
            "level": r.level,
            "distance_m": finite(r.distance_m),
            "radius_m": r.radius_m,
            "radius_status": r.radius_status,
            "covered": r.covered,
            "nearest": r.nearest_name,
            "flag": r.flag,
        }
        for r in rows
    ]


def gap_overview(engine: Engine) -> dict[str, Any]:
    """Per facility type: the latest run that analysed it, its radius and its counts (of the
    compounds that stand)."""
    with engine.connect() as conn:
        rows = pd.read_sql(text(OVERVIEW), conn)
    rows = rows[rows["compound_fid"].isin(standing(engine))]
    return {
        str(ftype): {
            "run": int(part["run_id"].iloc[0]),
            "radius_m": finite(float(part["radius_m"].min())),
            # the status of the radius shown (the smallest; one run has one radius per type)
            "radius_status": str(part.sort_values("radius_m")["radius_status"].iloc[0]),
            "level": None if part["level"].isna().all() else str(part["level"].dropna().min()),
            "uncovered": int((~part["covered"].astype(bool)).sum()),
            "compounds": len(part),
        }
        for ftype, part in rows.groupby("facility_type", sort=True)
    }


def gap_by_compound(engine: Engine, facility_type: str) -> dict[str, Any] | None:
    """The latest results for one facility type, keyed by compound id (None if never analysed).

    Each value: distance in metres (None when unreachable), covered, nearest facility's name, flag.
    """
    with engine.connect() as conn:
        run = conn.execute(text(TYPE_LATEST_RUN), {"t": facility_type}).scalar()
        if run is None:
            return None
        rows = conn.execute(text(TYPE_RESULTS), {"r": run, "t": facility_type}).all()
        meta = conn.execute(text(RUN_META), {"i": run}).one()
    present = standing(engine)
    rows = [r for r in rows if r.compound_fid in present]
    return {
        "run": run,
        "facility_type": facility_type,
        "standard": meta.standard,
        "basis": meta.basis,
        "at": meta.at.isoformat(),
        "radius_m": rows[0].radius_m if rows else None,
        "radius_status": rows[0].radius_status if rows else None,
        "compounds": {
            str(r.compound_fid): {
                "distance_m": finite(r.distance_m),
                "covered": r.covered,
                "nearest": r.nearest_name,
                "flag": r.flag,
                "affected": finite(r.affected),
            }
            for r in rows
        },
    }
