"""Formula injection in the programme's spreadsheets: hostile names, streets, reasons and notes in
the 统计月报 (its table, overdue list and corrections; XLSX and CSV) and the schedule table
(时间配档表), read back with openpyxl and csv; the schedule's text survives write → import exactly."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd

from gis.programme import MonthReport, Project, programme_defs
from gis.programme.monthly import MonthInputs
from gis.programme.status import project_frame
from gis.programme.store import CORRECTION_FIELDS
from tests.helpers.hostile import CONTROL, CONTROL_CLEAN, FORMULAS
from tests.helpers.programme import YEAR, Fixture

DEFS = programme_defs()
ON = date(2026, 6, 30)
STAGES = ["survey", "design", "tender", "construction", "completed"]
NAME, DISTRICT, STREET, REASON, ACTOR = FORMULAS[0], FORMULAS[1], FORMULAS[2], FORMULAS[3], FORMULAS[4]


def _dated(*days: str) -> dict[str, date]:
    return {s: date.fromisoformat(d) for s, d in zip(STAGES, days, strict=False)}


def _report() -> MonthReport:
    """One project, still at tender on 30 June though construction was due on 1 May (overdue), in a
    compound whose name, district and street are formulas; a correction with a formula reason."""
    project = Project(
        compound_id=1,
        year=2026,
        id=11,
        stage="tender",
        investment_planned=Decimal("500"),
        planned=_dated("2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01", "2026-06-15"),
        actual=_dated("2026-02-03", "2026-03-05", "2026-04-10"),
    )
    compounds = pd.DataFrame(
        [(1, NAME + CONTROL, DISTRICT, STREET, 5, 300, 30_000.0, "none")],
        columns=[
            *("compound_id", "name", "district", "street"),
            *("buildings", "households", "floor_area_m2", "property_mgmt"),
        ],
    )
    corrections = pd.DataFrame(
        [
            (
                7,
                datetime(2026, 6, 3, 2, 30, tzinfo=UTC),
                ACTOR,
                {"investment_spent": [None, "300.00"]},
                REASON,
                "2026-05",
                1,
                NAME,
                STREET,
            )
        ],
        columns=CORRECTION_FIELDS,
    )
    frame = project_frame([project], compounds, {}, ON, DEFS)
    inputs = MonthInputs("2026-06", 2026, ON, frame, corrections, DEFS, datetime(2026, 7, 1, 9, tzinfo=UTC))
    return MonthReport.compute(inputs)


def test_monthly_report_xlsx_holds_hostile_text_as_text(tmp_path: Path) -> None:
    report = _report()
    assert len(report.overdue) == 1 and len(report.corrections) == 1
    book = openpyxl.load_workbook(report.write(tmp_path / "m.xlsx"))
    cells = {c.value: c.data_type for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None}
    assert not [v for v, t in cells.items() if t == "f"], "a value was written as a formula"
    # the table, the overdue list (name with its id, control characters gone) and the correction
    for value in (DISTRICT, STREET, f"{NAME}{CONTROL_CLEAN}（1）", NAME, REASON, ACTOR):
        assert cells.get(value) == "s", value


def test_monthly_report_csv_holds_hostile_text_as_text(tmp_path: Path) -> None:
    raw = _report().write(tmp_path / "m.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    # the street's row: district and street quoted, the figures untouched
    assert rows[1][:6] == ["'" + DISTRICT, "'" + STREET, "1", "5", "300", "3.00"]


def test_schedule_keeps_hostile_text_through_write_and_import(compounds: Fixture, tmp_path: Path) -> None:
    ws, fid = compounds.ws, compounds.fid
    hostile = {"c1": (FORMULAS[0], FORMULAS[3]), "c2": (FORMULAS[1], FORMULAS[2])}
    for key, (dept, note) in hostile.items():
        planned = {"construction": date(2026, 5, 1), "completed": date(2026, 10, 31)}
        ws.programme.plan(fid[key], YEAR, categories=["basic"], planned=planned, actor="t")
        ws.programme.plan(fid[key], YEAR, responsible_dept=dept, note=note, actor="t")
    expected = {fid[key]: values for key, values in hostile.items()}
    path = ws.programme.write_schedule(tmp_path / "配档表.xlsx", YEAR)
    assert _dept_and_note(path, expected) == expected
    report = ws.programme.import_schedule(path, actor="规划师")
    # the two projects read back unchanged (the other rows are compounds planned for the year)
    assert report.rejected == [] and report.updated == 0 and report.unchanged == 2
    again = ws.programme.write_schedule(tmp_path / "again.xlsx", YEAR)
    assert _dept_and_note(again, expected) == expected


def _dept_and_note(path: Path, compounds: dict[int, tuple[str, str]]) -> dict[int, tuple[str, str]]:
    """责任部门 and 备注 of some compounds' rows, each checked to be a literal string cell."""
    sheet = openpyxl.load_workbook(path)["时间配档表"]
    col = {sheet.cell(3, c).value: c for c in range(1, sheet.max_column + 1)}
    rows = {sheet.cell(r, 1).value: r for r in range(4, sheet.max_row + 1) if sheet.cell(r, 1).value}
    out = {}
    for compound in compounds:
        dept, note = (sheet.cell(rows[compound], col[h]) for h in ("责任部门", "备注"))
        assert dept.data_type == note.data_type == "s", compound
        out[compound] = (dept.value, note.value)
    return out
