"""`gisplan demo` gives the sample a programme: its planned compounds become projects advanced to
today, the compound layer shows their stages, and this month's 月报 is written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio
from rich.console import Console

from gis.demo import run_demo, sample_path
from gis.workspace import Workspace


def test_demo_imports_the_sample_programme_and_writes_the_month_report(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    console = Console(record=True, width=200)
    run_demo(ws, console, out_dir=out)
    sample = pyogrio.read_dataframe(sample_path(), layer="compounds", read_geometry=False)
    planned = sample[sample["plan_year"].notna()]
    year = int(planned["plan_year"].max())

    status = ws.programme.status(year)
    assert sorted(status["name"]) == sorted(planned["name"])
    layer = ws.layer("compounds").set_index("fid")
    assert layer.loc[status["compound_id"], "stage"].fillna("-").tolist() == status["stage"].fillna("-").tolist()
    # every project advanced at least as far as the sample says it was
    order = ["survey", "design", "tender", "construction", "completed", "accepted"]
    was = planned.set_index("name")["stage"]
    assert all(order.index(r.stage) >= order.index(was[r.name]) for r in status.itertuples())

    reports = sorted(out.glob("月报_*.xlsx"))
    assert len(reports) == 1 and reports[0].with_suffix(".csv").exists() and (out / f"配档表_{year}.xlsx").exists()
    total = pd.read_csv(reports[0].with_suffix(".csv"), encoding="utf-8-sig").set_index("区县").loc["合计"]
    assert total["项目数（个）"] == len(planned) and total["户数（户）"] == planned["households"].sum()
    assert "统计月报" in console.export_text()
