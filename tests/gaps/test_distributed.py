"""The partitioned analysis on Dask (a LocalCluster of two worker processes) against a real PostGIS.

Liechtenstein's compounds, facilities and roads (OSM), small partitions forced. The run on Dask must
equal the single-process run row for row (rows beyond their radius reported as such); a second run,
with one worker killed while its partitions were being written, must complete with the same rows
and no row twice. Dask's warning of a large task graph is an error here: nothing big is ever
shipped to a worker.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from gis.errors import InvalidRequestError, ServerError
from gis.gaps import distributed, runs
from gis.gaps.analysis import GapParameters
from gis.gaps.partitions import Sizing, mark_beyond
from gis.gaps.siting import propose
from gis.settings import Settings
from gis.standards import load_standard
from gis.store.engine import engine_url
from gis.workspace import Workspace
from tests.helpers import cli
from tests.helpers.gaps import compare_rows, grid_world

pytestmark = pytest.mark.heavy  # and Dask's "Sending large graph" is an error (pyproject.toml)
TYPES = ["kindergarten", "primary_school", "supermarket", "clinic"]


def _rows_now(ws: Workspace) -> tuple[int | None, int]:
    """The running run's id and how many rows its partitions have committed."""
    with ws.engine.connect() as conn:
        run = conn.execute(text("SELECT max(id) FROM gap_runs WHERE status = 'running'")).scalar()
        if run is None:
            return None, 0
        return run, int(conn.execute(text("SELECT count(*) FROM gap_results WHERE run_id = :r"), {"r": run}).scalar())


def test_dask_equals_one_process_and_survives_a_killed_worker(ws: Workspace, data_dir: Path) -> None:
    pbf = data_dir / "fallback-liechtenstein" / "liechtenstein-latest.osm.pbf"
    for layer in ("compounds", "facilities", "roads"):
        ws.load(layer, pbf)
    local = ws.run_gaps(TYPES)
    n = len(ws.layer("compounds"))
    sizing = Sizing(max_compounds=max(2, n // 10))  # about ten partitions
    client = distributed.make_client(ws.engine, ws.settings, workers=2)
    try:
        first = ws.run_gaps(TYPES, engine="dask", client=client, sizing=sizing)
        assert first.run_id != local.run_id and len(first.results) == n * len(TYPES)
        assert compare_rows(mark_beyond(local.results.copy()), first.results) == []
        with ws.engine.connect() as conn:
            inputs = conn.execute(text("SELECT inputs FROM gap_runs WHERE id = :r"), {"r": first.run_id}).scalar()
        assert inputs["partitions"] >= 8, (n, inputs)
        # roads far from every compound are read by no partition: the overhead may be under 1
        assert inputs["halo_overhead"] == round(inputs["segments_read"] / inputs["road_segments"], 3) > 0
        assert set(first.warnings) >= {w for w in local.warnings if "island" in w}

        pids: dict[str, int] = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["run"] = ws.run_gaps(TYPES, engine="dask", client=client, sizing=sizing)
            except Exception as exc:  # reported below, in the test's thread
                result["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        killed = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and thread.is_alive():
            run_id, rows = _rows_now(ws)
            if run_id is not None and 0 < rows < n * len(TYPES):
                os.kill(victim, signal.SIGKILL)
                killed = (run_id, rows)
                break
            time.sleep(0.02)
        thread.join(timeout=300)
        assert not thread.is_alive() and "error" not in result, result.get("error")
        assert killed is not None, "the run ended before a worker could be killed mid-run"
        second = result["run"]
        assert second.run_id == killed[0]
        assert compare_rows(first.results, second.results) == []
        with ws.engine.connect() as conn:
            held = conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT (compound_fid, facility_type)) FROM gap_results WHERE run_id = :r"
                ),
                {"r": second.run_id},
            ).one()
            status = conn.execute(text("SELECT status FROM gap_runs WHERE id = :r"), {"r": second.run_id}).scalar()
        assert tuple(held) == (n * len(TYPES), n * len(TYPES)) and status == "complete"
        assert victim not in client.run(os.getpid).values()  # the nanny started a new one
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()


def test_the_embedded_database_refuses_a_remote_scheduler(tmp_path: Path) -> None:
    embedded = Settings(home=tmp_path, database_url=None)
    with pytest.raises(InvalidRequestError, match=r"127\.0\.0\.1 only"):
        distributed.check_scheduler("tcp://10.0.0.5:8786", embedded)
    distributed.check_scheduler("tcp://127.0.0.1:8786", embedded)  # this machine's own: allowed
    distributed.check_scheduler("tcp://10.0.0.5:8786", Settings(home=tmp_path, database_url="postgresql://h/db"))


def test_the_command_on_dask_writes_what_one_process_does(haidian: Workspace, tmp_path: Path) -> None:
    ws = haidian
    env = {"GISPLAN_DATABASE_URL": engine_url(ws.engine), "GISPLAN_HOME": str(tmp_path)}
    kinds = ["--facility", "kindergarten", "--facility", "supermarket"]
    one, many = tmp_path / "one.csv", tmp_path / "many.csv"
    local = cli.run(["gaps", *kinds, "--out", str(one)], env)
    assert local.returncode == 0, local.stderr
    dask = cli.run(
        ["gaps", *kinds, "--engine", "dask", "--workers", "1", "--partition-segments", "1", "--out", str(many)], env
    )
    assert dask.returncode == 0, dask.stderr
    assert "supermarket" in dask.stdout and "run / 分析编号" in dask.stdout
    whole, parts = pd.read_csv(one, encoding="utf-8-sig"), pd.read_csv(many, encoding="utf-8-sig")
    assert compare_rows(mark_beyond(whole), parts) == []
    refused = cli.run(["gaps", "--scheduler", "tcp://127.0.0.1:1"], env)
    assert refused.returncode == 2 and "--engine dask" in refused.stderr


def test_sites_on_dask_are_each_districts_own(ws: Workspace, tmp_path: Path) -> None:
    """K sites per district, a task each reading its district and the halo around it, equal the
    sites chosen for that district's compounds with every facility and road in memory."""
    compounds, facilities, roads = grid_world(3)
    shift = (500_000.0, 4_400_000.0)  # into zone 39's working area
    compounds["district"] = np.where(compounds.geometry.centroid.x < 1500, "西区", "东区")
    for name, frame in (("compounds", compounds), ("facilities", facilities), ("roads", roads.drop(columns="source"))):
        frame.assign(geometry=frame.translate(*shift)).to_file(tmp_path / f"{name}.gpkg", engine="pyogrio")
        ws.load(name, tmp_path / f"{name}.gpkg")
    client = distributed.make_client(ws.engine, ws.settings, workers=2)
    try:
        sites = ws.propose_sites("kindergarten", k=2, engine="dask", client=client)
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    assert set(sites.attrs["districts"]) == {"西区", "东区"} and len(sites) == 4
    every = ws.layer("compounds")
    standard = load_standard("gb50180")
    for district, facts in sites.attrs["districts"].items():
        own = every[every["district"] == district]
        alone = propose(own, ws.layer("facilities"), ws.layer("roads"), standard, "kindergarten", 2, GapParameters())
        mine = sites[sites["district"] == district]
        assert list(mine["candidate"]) == list(alone.sites["candidate"])
        assert list(mine["new_demand"]) == pytest.approx(list(alone.sites["new_demand"]))
        assert facts["before"] == pytest.approx(alone.before) and facts["after"] == pytest.approx(alone.after)
        assert facts["run_id"] is not None


def test_a_run_whose_coordinator_is_gone_is_swept_and_its_late_rows_refused(haidian: Workspace) -> None:
    """A run is held by its coordinator's connection; once that is gone, the next run (or anyone)
    fails it and drops its rows, and a task still writing for it writes nothing."""
    ws = haidian
    setup = ws.analysis_inputs(["kindergarten"], standard="gb50180", params=None)
    record = runs.RunRecord(
        actor="test",
        standard=setup.standard,
        basis="network",
        parameters={},
        inputs={},
        network=None,
        warnings=[],
        results=ws.layer("compounds").iloc[:0],
        srid=setup.srid,
    )
    held, orphan = runs.begin_run(ws.engine, record), runs.begin_run(ws.engine, record)
    rows = runs.run_analysis(ws.engine, setup, "test").results
    first = rows[rows["compound_id"] == rows["compound_id"].iloc[0]]
    runs.replace_part(ws.engine, orphan, [int(first["compound_id"].iloc[0])], first)
    with ws.engine.connect() as coordinator:
        runs.hold_run(coordinator, held)
        with ws.engine.begin() as conn:  # both began an hour ago
            ago = "UPDATE gap_runs SET at = now() - interval '1 hour' WHERE id IN (:a, :b)"
            conn.execute(text(ago), {"a": held, "b": orphan})
        assert runs.sweep_abandoned(ws.engine) == [orphan]  # the held one is not touched
        runs.let_go_run(coordinator, held)
    with ws.engine.connect() as conn:
        both = conn.execute(text("SELECT id, status FROM gap_runs WHERE id IN (:a, :b)"), {"a": held, "b": orphan})
        status = {int(r[0]): r[1] for r in both}
        left = conn.execute(text("SELECT count(*) FROM gap_results WHERE run_id = :r"), {"r": orphan}).scalar()
    assert status == {held: "running", orphan: "failed"} and left == 0
    with pytest.raises(ServerError, match="failed, not running"):
        runs.replace_part(ws.engine, orphan, [int(first["compound_id"].iloc[0])], first)
