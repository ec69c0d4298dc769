"""Formula injection: hostile text through every XLSX and CSV writer of the exports and imports,
read back with openpyxl (a literal string cell, the exact text) and csv (a leading quote), and the
public XLSX export of names holding control characters over HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import pytest
import shapely
from openpyxl import Workbook, load_workbook

from api.main import create_app
from gis import cells
from gis.cells import safe_cell, safe_csv
from gis.export.files import write_results
from gis.export.gap_tables import write_csv, write_xlsx
from gis.ingest.import_report import Problem, write_problems
from gis.workspace import Workspace
from gis.xlsx_style import put
from tests.helpers.hostile import CONTROL, CONTROL_CLEAN, FORMULAS, write_layers
from tests.helpers.live import serve


def _quoted(value: str) -> str:
    """What a CSV must hold for a formula: the same text behind a single quote."""
    return "'" + value


def _csv(text: str | bytes | Path) -> list[list[str]]:
    """The rows of a CSV, its bytes decoded as they are (no newline translation)."""
    raw = text.read_bytes() if isinstance(text, Path) else text
    decoded = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return list(csv.reader(io.StringIO(decoded.removeprefix("\ufeff"), newline="")))


def _cells(path: Path) -> list[tuple[object, str]]:
    book = load_workbook(path)
    return [(c.value, c.data_type) for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None]


def test_the_neutralisation_by_hand() -> None:
    assert [safe_csv(v) for v in FORMULAS] == [
        '\'=HYPERLINK("http://x","y")',
        "'+1+cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(1,2)",
        "'\t=1+1",
        "'\r=1+1",
    ]
    # numbers, plain-number text and harmless text are left alone
    assert [safe_csv(v) for v in (-3, -2.5, "-12.5", "+7", "1e-3", "学院路", "a=b", None)] == [
        -3,
        -2.5,
        "-12.5",
        "+7",
        "1e-3",
        "学院路",
        "a=b",
        None,
    ]
    assert safe_cell(CONTROL) == CONTROL_CLEAN and safe_cell("a\tb\nc") == "a\tb\nc" and safe_cell(-1) == -1


def test_put_writes_text_as_a_literal_string(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for r, value in enumerate([*FORMULAS, CONTROL, "#N/A", -5, 2.5], start=1):
        put(sheet, r, 1, value)
    book.save(tmp_path / "put.xlsx")
    back = load_workbook(tmp_path / "put.xlsx").active
    assert back is not None
    assert [(c.value, c.data_type) for (c,) in back.iter_rows()] == [
        *[(v, "s") for v in FORMULAS],
        (CONTROL_CLEAN, "s"),
        ("#N/A", "s"),  # not an error cell
        (-5, "n"),
        (2.5, "n"),
    ]


def _gap_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district": [*FORMULAS, CONTROL],
            "street": [CONTROL, *FORMULAS],
            "facility": "幼儿园",
            "radius_m": 300.0,
            "compounds": 2,
            "covered": 1,
            "uncovered": 1,
            "coverage": 50.0,
            "residents_uncovered": -1.0,  # a negative number stays a number
        }
    )


def test_gap_tables_hold_hostile_text_as_text(tmp_path: Path) -> None:
    table = _gap_table()
    write_xlsx({"按街道": table}, tmp_path / "gaps.xlsx", title="缺口", issued=date(2026, 11, 30))
    cells = _cells(tmp_path / "gaps.xlsx")
    for value in [*FORMULAS, CONTROL_CLEAN]:
        assert (value, "s") in cells, value
    assert not [c for c in cells if c[1] == "f"]
    assert (-1, "n") in cells
    write_csv(table, tmp_path / "gaps.csv")
    rows = _csv(tmp_path / "gaps.csv")
    assert [r[0] for r in rows[1:]] == [*[_quoted(v) for v in FORMULAS], CONTROL]
    assert [r[1] for r in rows[1:]] == [CONTROL, *[_quoted(v) for v in FORMULAS]]
    assert {r[8] for r in rows[1:]} == {"-1.0"}


def test_result_csv_holds_hostile_text_as_text(tmp_path: Path) -> None:
    n = len(FORMULAS)
    frame = gpd.GeoDataFrame(
        {"compound_name": FORMULAS, "street": "学院路街道", "distance_m": [-1.5] * n, "fid": range(n)},
        geometry=[shapely.Point(0, 0)] * n,
        crs=4547,
    )
    write_results(frame, tmp_path / "r.csv")
    rows = _csv(tmp_path / "r.csv")
    assert rows[0] == ["compound_name", "street", "distance_m", "fid"]
    assert rows[1:] == [[_quoted(v), "学院路街道", "-1.5", str(i)] for i, v in enumerate(FORMULAS)]


def test_rejects_csv_holds_hostile_text_as_text(tmp_path: Path) -> None:
    problems = [
        Problem(index=i, key=v, reason="no geometry", attributes={"名称": v, "户数": -3})
        for i, v in enumerate(FORMULAS)
    ]
    write_problems(tmp_path / "rejects.csv", problems)
    rows = _csv(tmp_path / "rejects.csv")
    assert rows[1:] == [[str(i), _quoted(v), "no geometry", "", _quoted(v), "-3"] for i, v in enumerate(FORMULAS)]


@pytest.fixture
def hostile_server(ws: Workspace, tmp_path: Path) -> Iterator[tuple[str, Workspace]]:
    compounds, facilities = write_layers(tmp_path)
    ws.load("compounds", compounds, actor="test")
    ws.load("facilities", facilities, actor="test")
    ws.gaps(["kindergarten"])
    with serve(create_app(workspace=ws)) as base:
        yield base, ws


def test_public_exports_of_hostile_names_over_http(hostile_server: tuple[str, Workspace]) -> None:
    base, ws = hostile_server
    districts = set(ws.layer("compounds")["district"])  # the formulas, as an import keeps them
    assert {"=1+1", '=HYPERLINK("http://x","y")'} <= districts
    xlsx = httpx.get(f"{base}/api/exports/gaps.xlsx", timeout=60)
    assert xlsx.status_code == 200, xlsx.text  # a control character in a street used to answer 500
    book = load_workbook(io.BytesIO(xlsx.content))
    cells = [(c.value, c.data_type) for sheet in book for row in sheet.iter_rows() for c in row]
    assert (CONTROL_CLEAN, "s") in cells
    for value in districts:
        assert (value, "s") in cells, value
    assert not [c for c in cells if c[1] == "f"]
    by_district = httpx.get(f"{base}/api/exports/gaps.csv", params={"by": "district"}, timeout=60)
    assert by_district.status_code == 200
    assert {r[0] for r in _csv(by_district.content)[1:]} == {_quoted(v) for v in districts}
    run = ws.gap_run().run_id
    results = httpx.get(f"{base}/api/exports/gaps/{run}.csv", timeout=60)
    assert results.status_code == 200
    rows = _csv(results.content)
    column = rows[0].index("district")
    assert {r[column] for r in rows[1:]} == {_quoted(v) for v in districts}


def test_the_illegal_characters_are_openpyxls() -> None:
    """gis.cells restates openpyxl's pattern (so a CSV export does not load openpyxl): the same one."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    assert cells.ILLEGAL_CHARACTERS_RE.pattern == ILLEGAL_CHARACTERS_RE.pattern
