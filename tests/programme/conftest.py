"""A programme fixture: eight compounds in two districts and three streets (synthetic), a year's plan.

The plan and the month-by-month script are plain data here; the tests compute what the reports
must say from these rows themselves (pandas / plain Python), never through gis.programme.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gis.workspace import Workspace
from tests.helpers.programme import COMPOUNDS, PLAN, STAGES, YEAR, Fixture, d, write_compounds


@pytest.fixture
def compounds(ws: Workspace, tmp_path: Path) -> Fixture:
    """The eight compounds loaded; no programme yet."""
    path = write_compounds(tmp_path / "compounds.geojson")
    ws.load("compounds", path, actor="fixture")
    gdf = ws.layer("compounds")
    fid = {str(r["extra"].get("编号") or r["source_key"]): int(r["fid"]) for r in gdf.to_dict("records")}
    assert set(fid) == {c[0] for c in COMPOUNDS}, fid
    return Fixture(ws, fid, path)


@pytest.fixture
def planned(compounds: Fixture) -> Fixture:
    """The compounds with the year's plan entered through the library."""
    for key, (cats, items, dates, invest, funding, after) in PLAN.items():
        compounds.ws.programme.plan(
            compounds.fid[key],
            YEAR,
            categories=cats,
            items=items,
            planned={s: d(x) for s, x in zip(STAGES, dates, strict=True)},
            investment_planned=invest,
            funding=funding,
            property_mgmt_after=after,
            responsible_street=COMPOUNDS[int(key[1:]) - 1][3],
            responsible_dept="区住房城乡建设委",
            actor="fixture",
        )
    return compounds
