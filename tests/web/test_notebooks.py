"""The notebooks run top to bottom on the bundled sample against the test database, show the
numbers the library computes, keep no outputs in git, and their maps work with no network."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from gis.settings import Settings
from gis.workspace import Workspace

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def run(path: Path, settings: Settings, tmp_path: Path, probe: str) -> tuple[Any, dict[str, Any]]:
    """Execute the notebook in ``tmp_path`` with the test database, then a probe cell printing JSON."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"import json as _j\nprint('PROBE' + _j.dumps({probe}, default=str))"))
    env = {"GISPLAN_DATABASE_URL": settings.database_url or "", "GISPLAN_HOME": str(settings.home)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment
    try:
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    return nb, json.loads(text.split("PROBE", 1)[1])


def outputs_text(nb: Any) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(o.get("text", ""))
            parts.extend(str(v) for k, v in o.get("data", {}).items() if k in ("text/plain", "text/html"))
    return "\n".join(parts)


def map_html(nb: Any) -> str:
    """The last folium map a notebook displayed (its HTML output)."""
    found = [
        o["data"]["text/html"]
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if "text/html" in o.get("data", {}) and "leaflet" in o["data"]["text/html"].lower()
    ]
    assert found, "the notebook showed no map"
    return str(found[-1])


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs (nbstripout)"


def test_quick_start(settings: Settings, ws: Workspace, tmp_path: Path, watched: Any) -> None:
    nb, got = run(
        NOTEBOOKS / "01_快速开始.ipynb", settings, tmp_path, "{'layers': len(layers), 'summary': summary.to_dict()}"
    )
    assert got["layers"] == len(ws.layers())
    xueyuan = ws.layer("compounds", where={"street": "学院路街道"})
    assert got["summary"]["小区数"] == len(xueyuan)
    assert got["summary"]["户数"] == int(xueyuan["households"].sum())
    text = outputs_text(nb)
    assert "unknown layer '小区们'; valid layers: buildings, compounds" in text
    assert (tmp_path / "out" / "01_小区地图.html").is_file()
    check_offline_in_browser(map_html(nb), tmp_path, watched)


def test_service_gaps(settings: Settings, ws: Workspace, tmp_path: Path, watched: Any) -> None:
    nb, got = run(
        NOTEBOOKS / "02_服务缺口分析.ipynb",
        settings,
        tmp_path,
        "{'uncovered': uncovered_kindergarten, 'run': int(gaps.attrs['run_id']), 'after': after, 'before': before}",
    )
    # the notebook's figure is the library's: the stored run it made, read back independently
    results = ws.gap_run(got["run"]).results
    kg = results[results["facility_type"] == "kindergarten"]
    assert got["uncovered"] == int((~kg["covered"]).sum())
    assert f"{len(kg)} 个小区中 {got['uncovered']} 个在半径外" in outputs_text(nb)
    assert got["after"]["compounds_covered"] > got["before"]["compounds_covered"]
    check_offline_in_browser(map_html(nb), tmp_path, watched)


def test_pipeline_check(settings: Settings, ws: Workspace, tmp_path: Path) -> None:
    nb, got = run(
        NOTEBOOKS / "03_管线体检.ipynb",
        settings,
        tmp_path,
        "{'overhead': overhead_total_m, 'findings': len(findings), 'run': int(findings.attrs['run_id'])}",
    )
    # independently: the overhead lines' length inside each compound (shapely, not the SQL)
    overhead = ws.layer("pipelines", where={"laying": "overhead"})
    compounds = ws.layer("compounds")
    inside = sum(line.intersection(c).length for c in compounds.geometry for line in overhead.geometry)
    assert got["overhead"] == pytest.approx(inside, rel=1e-6)
    with ws.engine.connect() as conn:
        from sqlalchemy import text

        stored = conn.execute(
            text("SELECT count(*) FROM pipeline_findings WHERE run_id = :r"), {"r": got["run"]}
        ).scalar()
    assert got["findings"] == stored
    assert "管线" in map_html(nb)


def check_offline_in_browser(page_html: str, tmp_path: Path, watched: Any) -> None:
    """Open a notebook's map output in headless Chromium with only loopback resolving."""
    path = tmp_path / "notebook-map.html"
    path.write_text(f'<!doctype html><html><head><meta charset="utf-8"></head><body>{page_html}</body></html>')
    w = watched()
    w.page.goto(path.as_uri())
    frame = w.page.frame_locator("iframe").first
    frame.locator("path.leaflet-interactive").first.wait_for(timeout=20_000)
    assert w.errors == [] and w.outside() == []
    shot = w.page.screenshot()
    from io import BytesIO

    import numpy as np
    from PIL import Image

    image = np.asarray(Image.open(BytesIO(shot)).convert("RGB")).astype(float)
    assert image.std() > 20, "blank map"


def test_programme_and_monthly_report(settings: Settings, ws: Workspace, tmp_path: Path, watched: Any) -> None:
    nb, got = run(
        NOTEBOOKS / "04_改造进度与月报.ipynb",
        settings,
        tmp_path,
        "{'overdue': overdue_count, 'projects': report_projects, 'households': report_households, 'month': month}",
    )
    # independently of the programme module: the planned compounds of the layer, summed with pandas
    compounds = ws.layer("compounds")
    planned = compounds[compounds["plan_year"] == compounds["plan_year"].max()]
    assert got["projects"] == len(planned)
    assert got["households"] == int(planned["households"].sum())
    status = ws.programme.status()
    assert got["overdue"] == int(status["overdue"].sum()) > 0
    text = outputs_text(nb)
    assert f"其中滞后 {got['overdue']} 个" in text
    assert (tmp_path / "out" / f"月报_{got['month']}.xlsx").is_file()
    page = map_html(nb)
    assert "挂图作战" in page
    check_offline_in_browser(page, tmp_path, watched)


def test_evidence_and_acceptance(settings: Settings, ws: Workspace, tmp_path: Path) -> None:
    nb, got = run(
        NOTEBOOKS / "05_资料与验收.ipynb",
        settings,
        tmp_path,
        "{'flagged': flagged, 'verify_ok': verify_ok, 'failed': failed_total, 'passed': passed_total, "
        "'refusal': refusal, 'target': target}",
    )
    # independently: a photo is far when its point lies over 200 m (evidence.yaml) from its compound's shape
    items = ws.layer("evidence")
    compounds = ws.layer("compounds").set_index("fid")
    far = [
        row.fid
        for row in items.itertuples()
        if row.geometry is not None and row.geometry.distance(compounds.loc[row.compound_id].geometry) > 200
    ]
    assert got["flagged"] == len(far) == 2  # the demo's photo 2 km off, the notebook's 1.5 km off
    assert got["verify_ok"] is True
    points = {i.id: i.points for i in ws.acceptance.rules.items}
    assert got["failed"] == sum(points.values()) - (points["fire_access"] - 3) and got["passed"] == 100
    assert "须先通过综合验收" in got["refusal"]
    assert ws.programme.projects().set_index("compound_id").loc[got["target"], "stage"] == "accepted"
    assert (tmp_path / "out" / f"验收表_{got['target']}.xlsx").is_file()
    report = next((tmp_path / "out").glob("一区一策_*.html")).read_text(encoding="utf-8")
    assert "改造前后对比" in report and "综合验收" in report
    assert "资料" in outputs_text(nb)


def test_funds_and_residents(settings: Settings, ws: Workspace, tmp_path: Path) -> None:
    nb, got = run(
        NOTEBOOKS / "06_资金与居民参与.ipynb",
        settings,
        tmp_path,
        "{'site': site, 'breaches': breach_rules, 'refused': refused, 'passed': bool(passed['passed']), "
        "'missed': bool(missed['passed']), 'before': before, 'shown': len(shown), 'quarter': quarter, "
        "'received': float(month.by_street['funds_received'].sum()), "
        "'paid': float(month.by_street['funds_paid'].sum()), "
        "'total': float(ranking['total'].iloc[0])}",
    )
    # hand-worked: contract 520 > tender control 500; the change of 60 > 10 % of 520 with no approval;
    # 50 paid from residents' funds with none received (and none planned)
    assert {"contract_within_tender", "change_needs_approval", "payment_within_received"} <= set(got["breaches"])
    assert "budget_within_estimate" not in got["breaches"]  # no budget recorded
    assert set(ws.funds.check(compound_id=got["site"])["rule"]) == set(got["breaches"])
    assert "万元" in got["refused"]  # the negative payment refused, nothing written
    entries = ws.funds.entries()
    assert (entries["amount"].astype(float) >= 0).all()
    # the 月报's columns: the entries' sums (the notebook's ledger is the only one)
    assert got["received"] == float(entries.loc[entries["kind"] == "received", "amount"].astype(float).sum()) == 300
    assert got["paid"] == float(entries.loc[entries["kind"] == "payment", "amount"].astype(float).sum()) == 250
    # participation 9000/12000 and 115/160 >= 2/3, consent 6700/9000 and 90/115 > 1/2: passed;
    # 7900/12000 < 2/3 of the area: missed however many owners took part
    assert got["passed"] is True and got["missed"] is False
    assert ws.programme.projects().set_index("compound_id").loc[got["site"], "property_mgmt_after"] == "basic"
    assert got["before"] == 0 and got["shown"] == 1  # nothing shown before moderation
    published = ws.residents.published_feedback(got["site"])
    assert not published["text"].str.contains("13800001111").any()
    # the total: the scored items' points over their weights, on 100
    scores = ws.assessment.scores(got["quarter"])
    scored = scores.items[scores.items["scored"]]
    expected = sum(float(p) for p in scored["points"]) * 100 / sum(float(w) for w in scored["weight"])
    assert got["total"] == pytest.approx(expected, abs=0.01)
    assert (tmp_path / "out" / f"季度考核_{got['quarter']}.xlsx").is_file()
    assert "leaflet" in map_html(nb).lower()
