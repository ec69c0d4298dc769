"""The 统计月报 as a user holds it: the month's figures and ``write(path)`` to XLSX or CSV.

``ws.report_month("2026-11")`` and ``ws.programme.submit("2026-11")`` give a :class:`MonthReport`;
a submitted month's report is the stored one, exactly as it was sent.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from gis.cells import safe_row
from gis.errors import ProgrammeError
from gis.programme.monthly import Metric, MonthFigures
from gis.programme.monthly_xlsx import write_xlsx


class MonthReport(MonthFigures):
    """A month's statistics; ``write(path)`` saves it as XLSX or CSV by the suffix.

    ``.by_street``, ``.by_district``, ``.totals``, ``.overdue``, ``.corrections``, ``.coverage``;
    ``.to_dict()`` is what the API returns and what a submission stores.
    """

    def write(self, path: str | Path) -> Path:
        """Write the report: ``.xlsx`` (the bureau's layout) or ``.csv`` (UTF-8 with BOM, for Excel)."""
        path = Path(path)
        suffix = path.suffix.lower()
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".xlsx":
            write_xlsx(self, path)
        elif suffix == ".csv":
            write_csv(self, path)
        else:
            raise ProgrammeError(f"write the report as .xlsx or .csv, not {suffix or 'no suffix'}")
        return path


def write_csv(report: MonthFigures, path: Path) -> None:
    """The street table with its subtotals and total, one header row (flat labels), and three columns
    more per row: its overdue inspection findings, how many self-check flags (自查) it has and what they
    say (the lists themselves are in the XLSX, the JSON and the printout); text neutralised
    (:func:`gis.cells.safe_row`)."""
    ms = report.metrics
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(safe_row(["区县", "街道", *[m.flat for m in ms], *CSV_TAIL]))
        for kind, district, street, values in report.table():
            cells = [_csv_value(values.get(m.id), m) for m in ms]
            tail = _row_checks(report, kind, district, street)
            w.writerow([*safe_row([district, street if kind != "total" else ""]), *cells, *safe_row(tail)])


CSV_TAIL = ["督查问题逾期未整改（个）", "自查须核实（项）", "自查说明"]


def _row_checks(report: MonthFigures, kind: str, district: str, street: str) -> list[str]:
    """A row's overdue findings and self-check flags: a street's own, a district's (小计) and the total's."""
    found, flags = report.findings, report.self_check
    if kind == "street":
        late = (found["district"].astype(str) == district) & (found["street"].astype(str) == street)
        mine = (flags["district"] == district) & (flags["street"] == street)
    elif kind == "subtotal":
        late = found["district"].astype(str) == district
        mine = (flags["district"] == district) & (flags["street"] == "小计")
    else:
        late = found["finding_id"].notna()
        mine = flags["district"] == "合计"
    said = [f"{r['check_zh']}：{r['subject']}" for r in flags[mine].to_dict("records")]
    return [str(int(late.sum())), str(int(mine.sum())), "；".join(said)]


def _csv_value(v: Any, m: Metric) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if m.kind in ("area", "money"):
        return f"{float(v):.2f}"
    if m.kind == "rate":
        return f"{float(v):.1f}"
    return str(int(v))
