"""New sites: the maximal covering answer is optimal (checked by enumeration) and consistent."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gis.demo import sample_path
from gis.gaps.siting import solve_mclp
from gis.workspace import Workspace


def best_by_enumeration(cost: np.ndarray, weights: np.ndarray, radius: float, k: int) -> float:
    reach = cost <= radius
    return max(
        weights[reach[:, list(combo)].any(axis=1)].sum() for combo in itertools.combinations(range(cost.shape[1]), k)
    )


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_mclp_is_optimal_on_small_random_cases(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0, 1000, size=(12, 7))
    weights = rng.integers(1, 100, size=12).astype(float)
    client, candidate = np.nonzero(cost <= 300.0)
    for k in (1, 2, 3):
        chosen = solve_mclp(client, candidate, weights, cost.shape[1], k)
        assert len(chosen) == k
        got = weights[(cost[:, chosen] <= 300.0).any(axis=1)].sum()
        assert got == pytest.approx(best_by_enumeration(cost, weights, 300.0, k))


def test_proposed_sites_on_the_sample(ws: Workspace) -> None:
    for layer in ("compounds", "facilities", "roads"):
        ws.load(layer, sample_path(), source_layer=layer)
    sites = ws.propose_sites("幼儿园", k=2)
    before, after = sites.attrs["before"], sites.attrs["after"]
    assert len(sites) == 2 and list(sites["rank"]) == [1, 2]
    assert sites.attrs["weight"] == "children"
    assert after["compounds_covered"] == before["compounds_covered"] + sites["new_compounds"].sum()
    assert after["demand_covered"] == pytest.approx(before["demand_covered"] + sites["new_demand"].sum())
    assert sites["new_demand"].is_monotonic_decreasing  # ranked by what each adds
    # no pair of candidates covers more uncovered demand than the pair chosen
    one = ws.propose_sites("kindergarten", k=1)
    assert one["new_demand"].iloc[0] <= sites["new_demand"].sum() + 1e-9
    with ws.engine.connect() as conn:
        from sqlalchemy import text

        stored = conn.execute(
            text("SELECT count(*) FROM site_proposals WHERE run_id = :r"), {"r": sites.attrs["run_id"]}
        )
        assert stored.scalar_one() == 2


def test_cli_propose_writes_the_sites(ws: Workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    import geopandas as gpd

    for layer in ("compounds", "facilities", "roads"):
        ws.load(layer, sample_path(), source_layer=layer)
    out = tmp_path / "sites.gpkg"
    env = {
        "GISPLAN_DATABASE_URL": ws.engine.url.render_as_string(hide_password=False),
        "GISPLAN_HOME": str(tmp_path),
        "COLUMNS": "200",
        "PATH": "/usr/bin:/bin",
    }
    run = [sys.executable, "-m", "gis", "gaps", "--facility", "elderly_station", "--propose", "2", "--out", str(out)]
    result = subprocess.run(run, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "→" in result.stdout  # coverage before → after
    sites = gpd.read_file(out)
    assert len(sites) == 2 and list(sites["rank"]) == [1, 2]
    twice = [*run[:5], "--facility", "kindergarten", "--propose", "1"]
    bad = subprocess.run(twice, env=env, capture_output=True, text=True, check=False)
    assert bad.returncode != 0  # --propose with two types is refused
