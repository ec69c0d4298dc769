"""The monthly statistical report (统计月报) of the renovation programme: figures, XLSX and CSV.

``ws.report_month("2026-11")`` gives a :class:`MonthReport`: per street (grouped by district) the
projects, buildings, households, floor area (万m²), investment (万元), the count per stage at the end
of the month, completion against plan and the overdue projects; then the overdue projects one by
one and the corrections made to submitted months since the previous submission (更正事项). A
submitted month's report is the stored one, exactly as it was sent.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import text

from gis.programme.service import ProgrammeError, ProjectNotFoundError, month_end, parse_month

if TYPE_CHECKING:
    from gis.programme.service import Programme


@dataclass(frozen=True)
class Metric:
    id: str
    zh: str  # the column's label under its group
    flat: str  # the label standing alone (CSV)
    group: str  # the merged header above it ("" = spans both header rows)
    kind: str = "count"  # count | area | money | rate | days


def metrics(stages: list[tuple[str, str]]) -> list[Metric]:
    """The report's columns; the stage columns come from the stage list (data)."""
    scale = "改造规模"
    out = [
        Metric("projects", "项目（个）", "项目数（个）", scale),
        Metric("buildings", "楼栋（栋）", "楼栋数（栋）", scale),
        Metric("households", "户数（户）", "户数（户）", scale),
        Metric("floor_area", "建筑面积（万平方米）", "建筑面积（万平方米）", scale, "area"),
        Metric("investment_planned", "计划", "计划投资（万元）", "投资（万元）", "money"),
        Metric("investment_spent", "累计完成", "累计完成投资（万元）", "投资（万元）", "money"),
        Metric("not_started", "未启动", "未启动（个）", "所处阶段（个）"),
    ]
    out += [Metric(sid, zh, f"{zh}（个）", "所处阶段（个）") for sid, zh in stages]
    out += [
        Metric("started", "已开工", "已开工（个）", "完成情况（个）"),
        Metric("planned_finished", "计划完工", "截至本月计划完工（个）", "完成情况（个）"),
        Metric("finished", "实际完工", "实际完工（个）", "完成情况（个）"),
        Metric("finish_rate", "完成率（%）", "完工完成率（%）", "完成情况（个）", "rate"),
        Metric("overdue", "项目（个）", "滞后项目（个）", "滞后", "count"),
        Metric("max_days_behind", "最长天数", "最长滞后天数", "滞后", "days"),
    ]
    return out


OVERDUE_COLUMNS = [
    ("compound_id", "小区编号"),
    ("name", "项目（小区）"),
    ("district", "区县"),
    ("street", "街道"),
    ("stage_zh", "当前阶段"),
    ("due_stage_zh", "应完成阶段"),
    ("due_date", "应完成日期"),
    ("days_behind", "滞后天数"),
]
CORRECTION_COLUMNS = [
    ("name", "项目（小区）"),
    ("street", "街道"),
    ("change", "更正内容"),
    ("corrects_month", "所属月份"),
    ("reason", "更正原因"),
    ("actor", "更正人"),
    ("at", "更正时间"),
]


@dataclass
class MonthReport:
    """A month's statistics; ``write(path)`` saves it as XLSX or CSV by the suffix."""

    month: str
    year: int
    as_of: date
    title: str
    area: str
    unit: str
    filer: str
    stages: list[tuple[str, str]]
    by_street: pd.DataFrame
    by_district: pd.DataFrame
    totals: dict[str, Any]
    overdue: pd.DataFrame
    corrections: pd.DataFrame
    coverage: pd.DataFrame
    generated_at: datetime
    locked: bool = False
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    deadline: date | None = None
    late: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def metrics(self) -> list[Metric]:
        return metrics(self.stages)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what the API returns and what a submission stores."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{str(k): _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]

        return {
            "month": self.month,
            "year": self.year,
            "as_of": self.as_of.isoformat(),
            "title": self.title,
            "area": self.area,
            "unit": self.unit,
            "filer": self.filer,
            "stages": [list(s) for s in self.stages],
            "columns": [{"id": m.id, "zh": m.flat} for m in self.metrics],
            "by_street": records(self.by_street),
            "by_district": records(self.by_district),
            "totals": {k: _plain(v) for k, v in self.totals.items()},
            "overdue": records(self.overdue),
            "corrections": records(self.corrections),
            "coverage": records(self.coverage),
            "generated_at": self.generated_at.isoformat(),
            "locked": self.locked,
            "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
            "submitted_by": self.submitted_by,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "late": self.late,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MonthReport:
        def frame(key: str) -> pd.DataFrame:
            return pd.DataFrame(d[key])

        return cls(
            month=d["month"],
            year=int(d["year"]),
            as_of=date.fromisoformat(d["as_of"]),
            title=d["title"],
            area=d["area"],
            unit=d["unit"],
            filer=d.get("filer") or "",
            stages=[(s[0], s[1]) for s in d["stages"]],
            by_street=frame("by_street"),
            by_district=frame("by_district"),
            totals=d["totals"],
            overdue=frame("overdue"),
            corrections=frame("corrections"),
            coverage=frame("coverage"),
            generated_at=datetime.fromisoformat(d["generated_at"]),
            locked=bool(d["locked"]),
            submitted_at=datetime.fromisoformat(d["submitted_at"]) if d["submitted_at"] else None,
            submitted_by=d["submitted_by"],
            deadline=date.fromisoformat(d["deadline"]) if d["deadline"] else None,
            late=d["late"],
            notes=list(d.get("notes") or []),
        )

    def write(self, path: str | Path) -> Path:
        """Write the report: ``.xlsx`` (the bureau's layout) or ``.csv`` (UTF-8 with BOM, for Excel)."""
        path = Path(path)
        suffix = path.suffix.lower()
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".xlsx":
            from gis.programme.monthly_xlsx import write_xlsx

            write_xlsx(self, path)
        elif suffix == ".csv":
            self._write_csv(path)
        else:
            raise ProgrammeError(f"write the report as .xlsx or .csv, not {suffix or 'no suffix'}")
        return path

    def table(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """The rows as printed: (kind, district, street, values) — kind street / subtotal / total."""
        rows: list[tuple[str, str, str, dict[str, Any]]] = []
        several = len(self.by_district) > 1
        for district, part in self.by_street.groupby("district", sort=False, dropna=False):
            for r in part.to_dict("records"):
                rows.append(("street", str(district), str(r["street"]), {str(k): v for k, v in r.items()}))
            if several:
                sub = {str(k): v for k, v in self.by_district[self.by_district["district"] == district].iloc[0].items()}
                rows.append(("subtotal", str(district), "小计", sub))
        rows.append(("total", "合计", "", self.totals))
        return rows

    def _write_csv(self, path: Path) -> None:
        ms = self.metrics
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["区县", "街道", *[m.flat for m in ms]])
            for kind, district, street, values in self.table():
                cells = [_csv_value(values.get(m.id), m) for m in ms]
                w.writerow([district, street if kind != "total" else "", *cells])


def _plain(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return _plain(v.item())
    if v is pd.NaT:
        return None
    return v


def _csv_value(v: Any, m: Metric) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if m.kind in ("area", "money"):
        return f"{float(v):.2f}"
    if m.kind == "rate":
        return f"{float(v):.1f}"
    return str(int(v))


def _figures(st: pd.DataFrame, stages: list[str], month_last: date) -> dict[str, Any]:
    """The metrics of a group of projects (rows of Programme.projects_on)."""
    finish_index = st["finish_index"].iloc[0] if len(st) else 0
    out: dict[str, Any] = {
        "projects": len(st),
        "buildings": int(st["buildings"].fillna(0).sum()),
        "households": int(st["households"].fillna(0).sum()),
        "floor_area": float(st["floor_area_m2"].fillna(0).sum()) / 10_000,
        "investment_planned": float(st["investment_planned"].fillna(0).sum()),
        "investment_spent": float(st["investment_spent"].fillna(0).sum()),
        "not_started": int(st["stage"].isna().sum()),
    }
    for s in stages:
        out[s] = int((st["stage"] == s).sum())
    construction = stages.index("construction") if "construction" in stages else len(stages)
    out["started"] = int((st["stage_index"] >= construction).sum())
    planned = [d for d in st["planned_finish"] if isinstance(d, date) and not pd.isna(d)]
    out["planned_finished"] = sum(1 for d in planned if d <= month_last)
    out["finished"] = int((st["stage_index"] >= finish_index).sum())
    out["finish_rate"] = 100.0 * out["finished"] / out["planned_finished"] if out["planned_finished"] else None
    out["overdue"] = int(st["overdue"].sum())
    out["max_days_behind"] = int(st.loc[st["overdue"], "days_behind"].max()) if out["overdue"] else 0
    return out


def compute_month(
    programme: Programme, month: str, *, year: int | None = None, today: date, upto_event: int | None = None,
    area: str | None = None,
) -> MonthReport:  # fmt: skip
    """The report of ``month`` from the data as they are now (the stage each project had reached at
    the end of the month, or today for the running month)."""
    defs = programme.defs
    y, _m = parse_month(month)
    year = year or y
    last_day = month_end(month)
    as_of = min(last_day, today)
    st = programme.projects_on(year, as_of)
    if st.empty:
        raise ProjectNotFoundError(f"the programme has no projects in {year} / {year}年无改造项目")
    stage_ids = defs.stage_ids
    st = st.assign(finish_index=defs.index(defs.finish_stage))
    streets = []
    for (district, street), part in st.groupby(["district", "street"], sort=True, dropna=False):
        streets.append({"district": district, "street": street, **_figures(part, stage_ids, last_day)})
    districts = [
        {"district": district, **_figures(part, stage_ids, last_day)}
        for district, part in st.groupby("district", sort=True, dropna=False)
    ]
    totals = _figures(st, stage_ids, last_day)
    overdue = st[st["overdue"]].sort_values(["days_behind", "district", "street"], ascending=[False, True, True])
    overdue = overdue[[c for c, _ in OVERDUE_COLUMNS]].reset_index(drop=True)
    corrections = _corrections(programme, month, upto_event)
    names = sorted({str(d) for d in st["district"].dropna()})
    area = area or "、".join(names) or "本地区"
    title = defs.report.title.format(area=area, year=y, month=int(month[5:]))
    coverage = programme._coverage(st, ("district", "street"))
    return MonthReport(
        month=month,
        year=year,
        as_of=as_of,
        title=title,
        area=area,
        unit=defs.report.unit,
        filer=defs.report.filer.format(area=area),
        stages=[(s.id, s.zh) for s in defs.stages],
        by_street=pd.DataFrame(streets, columns=["district", "street", *[m.id for m in metrics([])]]
                               if not streets else None),
        by_district=pd.DataFrame(districts),
        totals=totals,
        overdue=overdue,
        corrections=corrections,
        coverage=coverage,
        generated_at=datetime.now(programme.tz),
        deadline=defs.report_deadline(month),
        notes=[
            f"阶段按统计截至日（{as_of.year}年{as_of.month}月{as_of.day}日）所处阶段统计；滞后天数＝统计截至日－计划进入未达阶段的日期。",
            "完成率＝实际完工项目数÷截至本月计划完工项目数；建筑面积单位万平方米，投资单位万元。",
        ],
    )  # fmt: skip


def _corrections(programme: Programme, month: str, upto_event: int | None) -> pd.DataFrame:
    """Corrections of submitted months recorded since the last submission before ``month``."""
    defs = programme.defs
    with programme.ws.engine.connect() as conn:
        prev: int = conn.execute(
            text("SELECT coalesce(max(last_event_id), 0) FROM programme_submissions WHERE month < :m"), {"m": month}
        ).scalar_one()
        rows = conn.execute(
            text(
                "SELECT e.id, e.at, e.actor, e.changes, e.reason, e.corrects_month, e.compound_id, c.name, c.street "
                "FROM programme_events e JOIN compounds c ON c.fid = e.compound_id "
                "WHERE e.correction AND e.corrects_month IS NOT NULL AND e.id > :prev "
                "AND (CAST(:upto AS bigint) IS NULL OR e.id <= :upto) ORDER BY e.id"
            ),
            {"prev": prev, "upto": upto_event},
        ).all()
    labels = {f"actual.{s.id}": f"实际{s.milestone_zh}" for s in defs.stages}
    labels["investment_spent"] = "累计完成投资（万元）"
    out = []
    for r in rows:
        parts = [f"{labels.get(k, k)}：{v[0] or '（空）'} → {v[1] or '（空）'}" for k, v in r.changes.items()]
        out.append({"event_id": int(r.id), "compound_id": int(r.compound_id), "name": r.name, "street": r.street,
                    "change": "；".join(parts), "corrects_month": r.corrects_month, "reason": r.reason,
                    "actor": r.actor, "at": r.at.astimezone(programme.tz).strftime("%Y-%m-%d %H:%M")})  # fmt: skip
    return pd.DataFrame(out, columns=["event_id", "compound_id", *[c for c, _ in CORRECTION_COLUMNS]])


def report_month(
    programme: Programme, month: str, *, year: int | None = None, today: date | None = None, live: bool = False,
    area: str | None = None,
) -> MonthReport:  # fmt: skip
    """The report of a month: as submitted when the month is locked (unless ``live``), else computed."""
    parse_month(month)
    programme.ws._require_schema()
    if not live:
        with programme.ws.engine.connect() as conn:
            stored = conn.execute(
                text("SELECT report FROM programme_submissions WHERE month = :m"), {"m": month}
            ).scalar()
        if stored is not None:
            return MonthReport.from_dict(stored)
    return compute_month(programme, month, year=year, today=programme._today(today), area=area)
