"""The monthly statistical report (统计月报): its figures, computed from in-memory frames.

Per street (grouped by district) the projects, buildings, households, floor area (万m²),
investment (万元), the count per stage at the end of the month, completion against plan and the
overdue projects; then the overdue projects one by one and the corrections made to submitted
months since the previous submission (更正事项). Nothing here reads the database: the service
hands down the projects' frame (:func:`gis.programme.status.project_frame`) and the corrections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Self

import numpy as np
import pandas as pd

from gis.clock import zone
from gis.errors import ProjectNotFoundError
from gis.programme.dates import month_end, parse_month
from gis.programme.definitions import ProgrammeDefs
from gis.programme.selfcheck import self_check
from gis.programme.status import coverage


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
        Metric("funds_received", "资金到位", "累计资金到位（万元）", "资金（万元）", "money"),
        Metric("funds_paid", "拨付", "累计拨付（万元）", "资金（万元）", "money"),
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
# the inspection findings overdue on the report's day (督查问题逾期未整改), as the evidence floor hands them down
FINDING_COLUMNS = [
    ("finding_id", "问题编号"),
    ("name", "项目（小区）"),
    ("district", "区县"),
    ("street", "街道"),
    ("category_zh", "问题类别"),
    ("what", "问题描述"),
    ("responsible_unit", "责任单位"),
    ("deadline", "整改期限"),
    ("days_overdue", "逾期天数"),
]
# the funds ledger's breaches standing on the report's day (资金台账违规), as the funds floor hands them down
FUND_BREACH_COLUMNS = [
    ("rule", "规则编号"),
    ("rule_zh", "规则"),
    ("compound_id", "小区编号"),
    ("name", "项目（小区）"),
    ("district", "区县"),
    ("street", "街道"),
    ("amount", "金额（万元）"),
    ("limit", "限额（万元）"),
    ("detail", "说明"),
    ("status", "规则依据"),
]
SUMMED = ("buildings", "households", "floor_area_m2", "investment_planned", "investment_spent")
FUND_METRICS = ("funds_received", "funds_paid")  # None (blank) when the funds were not gathered
NOTES = [
    "阶段按统计截至日（{d.year}年{d.month}月{d.day}日）所处阶段统计；滞后天数＝统计截至日－计划进入未达阶段的日期。",
    "完成率＝实际完工项目数÷截至本月计划完工项目数；建筑面积单位万平方米，投资单位万元。",
    "资金到位、拨付为资金台账截至统计日的累计数（万元）；资金台账违规按 layers/programme/funds.yaml 的规则列出。",
    "自查：阶段无佐证资料、完工数超过计划、累计数低于上月已报、开工无施工许可日期，列出待核实，不代表数据有误。",
]
UNCHECKED = "本表未核对佐证资料与督查问题（未经工作区生成：ws.report_month）。"


@dataclass(frozen=True)
class MonthFunds:
    """What the 月报 reads from the funds ledger (above the programme), handed down by the facade: per
    project (``project_id``) the funds received and paid up to the report's day (``funds_received``,
    ``funds_paid``, 万元 floats) and the breaches standing then (:data:`FUND_BREACH_COLUMNS` and more)."""

    by_project: pd.DataFrame
    breaches: pd.DataFrame

    @classmethod
    def empty(cls) -> MonthFunds:
        return cls(
            pd.DataFrame(columns=["project_id", "funds_received", "funds_paid"]),
            pd.DataFrame(columns=[c for c, _ in FUND_BREACH_COLUMNS]),
        )


@dataclass(frozen=True)
class MonthEvidence:
    """What the 月报 reads from the floor above the programme (evidence and inspections), gathered by
    the facade and handed down: the findings overdue on the report's day (:data:`FINDING_COLUMNS`)
    and the (project id, stage) pairs some standing evidence item documents."""

    findings: pd.DataFrame
    stages_evidenced: frozenset[tuple[int, str]]
    funds: MonthFunds | None = None  # None: the funds ledger not gathered (its columns blank)


@dataclass(frozen=True)
class MonthInputs:
    """What a month's figures are computed from.

    ``projects`` is :func:`gis.programme.status.project_frame` on ``as_of`` (the month's last day,
    or today for the running month); ``corrections`` the events of
    :func:`gis.programme.store.corrections_since`.
    """

    month: str
    year: int
    as_of: date
    projects: pd.DataFrame
    corrections: pd.DataFrame
    defs: ProgrammeDefs
    generated_at: datetime
    area: str | None = None
    evidence: MonthEvidence | None = None  # None: evidence and findings not gathered (no facade)
    permits: dict[int, date] = field(default_factory=dict)  # project id -> construction permit date
    previous: dict[str, Any] | None = None  # the last submitted report before the month, as stored


@dataclass
class MonthFigures:
    """A month's statistics: the tables and the header lines of the 月报 (no files; see MonthReport)."""

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
    findings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=[c for c, _ in FINDING_COLUMNS]))
    self_check: pd.DataFrame = field(default_factory=lambda: EMPTY_CHECK.copy())
    fund_breaches: pd.DataFrame = field(default_factory=lambda: MonthFigures.fund_breach_frame())

    @property
    def metrics(self) -> list[Metric]:
        return metrics(self.stages)

    @classmethod
    def compute(cls, inputs: MonthInputs) -> Self:
        """The figures of a month from its projects' frame (ProjectNotFoundError when it is empty)."""
        st, defs = inputs.projects, inputs.defs
        if st.empty:
            raise ProjectNotFoundError(f"the programme has no projects in {inputs.year} / {inputs.year}年无改造项目")
        y, m = parse_month(inputs.month)
        last_day = month_end(inputs.month)
        stage_ids = defs.stage_ids
        st = st.assign(finish_index=defs.index(defs.finish_stage))
        gathered = inputs.evidence
        funds = gathered.funds if gathered else None
        if funds is not None:
            got = funds.by_project.set_index("project_id")
            for c in FUND_METRICS:
                st[c] = st["project_id"].map(got[c]).fillna(0.0).astype(float) if len(got) else 0.0
        arrays = FrameArrays.of(st, stage_ids, last_day)
        names = sorted({str(d) for d in st["district"].dropna()})
        area = inputs.area or "、".join(names) or "本地区"
        by_street = street_table(st, stage_ids, last_day, arrays)
        by_district = district_table(st, stage_ids, last_day, arrays)
        totals = group_figures(arrays, np.arange(len(st)), stage_ids)
        checked = self_check(
            st,
            (by_street, by_district, totals),
            evidenced=gathered.stages_evidenced if gathered else None,
            permits=inputs.permits,
            previous=inputs.previous,
            construction=defs.index("construction"),
        )
        return cls(
            month=inputs.month,
            year=inputs.year,
            as_of=inputs.as_of,
            title=defs.report.title.format(area=area, year=y, month=m),
            area=area,
            unit=defs.report.unit,
            filer=defs.report.filer.format(area=area),
            stages=[(s.id, s.zh) for s in defs.stages],
            by_street=by_street,
            by_district=by_district,
            totals=totals,
            overdue=overdue_table(st),
            corrections=correction_table(inputs.corrections, defs),
            coverage=coverage(st, ("district", "street"), defs.uncovered_modes),
            generated_at=inputs.generated_at,
            deadline=defs.report_deadline(inputs.month),
            notes=[NOTES[0].format(d=inputs.as_of), *NOTES[1:], *([] if gathered else [UNCHECKED])],
            findings=gathered.findings if gathered else cls.findings_frame(),
            self_check=checked,
            fund_breaches=cls.fund_breach_frame(_of_projects(funds, st) if funds else None),
        )

    @staticmethod
    def fund_breach_frame(records: list[dict[str, Any]] | None = None) -> pd.DataFrame:
        """The funds ledger's breaches as the report holds them (:data:`FUND_BREACH_COLUMNS`; none: no rows)."""
        frame = pd.DataFrame(records or [], columns=[c for c, _ in FUND_BREACH_COLUMNS])
        for c in ("amount", "limit"):
            frame[c] = [None if v is None else float(v) for v in frame[c]]
        return frame

    @staticmethod
    def findings_frame(records: list[dict[str, Any]] | None = None) -> pd.DataFrame:
        """Overdue findings as the report holds them (:data:`FINDING_COLUMNS`; none: no rows)."""
        return pd.DataFrame(records or [], columns=[c for c, _ in FINDING_COLUMNS])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what the API returns and what a submission stores."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{str(k): plain(v) for k, v in r.items()} for r in frame.to_dict("records")]

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
            "totals": {k: plain(v) for k, v in self.totals.items()},
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
            "findings": records(self.findings),
            "self_check": records(self.self_check),
            "fund_breaches": records(self.fund_breaches),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """The report as :meth:`to_dict` gave it (a submitted month's, exactly as it was sent)."""

        def optional(key: str, parse: Any) -> Any:
            return parse(d[key]) if d[key] else None

        return cls(
            month=d["month"],
            year=int(d["year"]),
            as_of=date.fromisoformat(d["as_of"]),
            title=d["title"],
            area=d["area"],
            unit=d["unit"],
            filer=d.get("filer") or "",
            stages=[(s[0], s[1]) for s in d["stages"]],
            by_street=pd.DataFrame(d["by_street"]),
            by_district=pd.DataFrame(d["by_district"]),
            totals=d["totals"],
            overdue=pd.DataFrame(d["overdue"]),
            corrections=pd.DataFrame(d["corrections"]),
            coverage=pd.DataFrame(d["coverage"]),
            generated_at=datetime.fromisoformat(d["generated_at"]),
            locked=bool(d["locked"]),
            submitted_at=optional("submitted_at", datetime.fromisoformat),
            submitted_by=d["submitted_by"],
            deadline=optional("deadline", date.fromisoformat),
            late=d["late"],
            notes=list(d.get("notes") or []),
            # a report stored before the 督查 and 自查 sections were made has neither: empty, as it was sent
            findings=cls.findings_frame(d.get("findings")),
            self_check=pd.DataFrame(d.get("self_check") or [], columns=EMPTY_CHECK.columns),
            # nor the funds ledger's: no breach list, and the 资金到位 / 拨付 cells blank (not in by_street)
            fund_breaches=cls.fund_breach_frame(d.get("fund_breaches")),
        )

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


def _of_projects(funds: MonthFunds, st: pd.DataFrame) -> list[dict[str, Any]]:
    """The breaches of the report's own projects (the funds floor hands down every year's)."""
    mine = funds.breaches[funds.breaches["project_id"].isin(st["project_id"])]
    return [{str(k): v for k, v in r.items()} for r in mine.to_dict("records")]


def plain(v: Any) -> Any:
    """A value as JSON holds it: None for NaN, ISO text for dates, Python numbers for numpy's."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, date):  # datetimes too (and pandas' NaT, a datetime: "NaT", as always stored)
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return plain(v.item())
    return v


# -- the arithmetic ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrameArrays:
    """The columns of the projects' frame the metrics read, once for the whole frame; a group of
    projects is a set of row positions. Sums are numpy's over each group's rows in the frame's order,
    as pandas sums a group's own column."""

    sums: dict[str, Any]  # buildings, households, floor_area_m2, investment_planned, investment_spent: nulls as 0
    stage: np.ndarray  # the stage's position in ``stages``; -1 not started
    stage_index: np.ndarray
    planned_done: np.ndarray  # planned to finish on or before the month's last day
    overdue: np.ndarray
    days_behind: np.ndarray
    finish_index: int

    @classmethod
    def of(cls, st: pd.DataFrame, stages: list[str], month_last: date) -> FrameArrays:
        finish = st["planned_finish"]  # dates (None: no planned finish), as the projects' frame holds them
        known = finish.notna().to_numpy()
        done = np.zeros(len(st), dtype=bool)
        if known.any():
            days = np.array(finish[known].tolist(), dtype="datetime64[D]")
            done[known] = days <= np.datetime64(month_last, "D")
        columns = (*SUMMED, *[c for c in FUND_METRICS if c in st.columns])
        return cls(
            sums={c: st[c].fillna(0).to_numpy() for c in columns},
            stage=pd.Index(stages).get_indexer(pd.Index(st["stage"].tolist())),
            stage_index=st["stage_index"].to_numpy(),
            planned_done=done,
            overdue=st["overdue"].to_numpy(dtype=bool),
            days_behind=st["days_behind"].to_numpy(),
            finish_index=int(st["finish_index"].iloc[0]) if len(st) else 0,
        )


def figures(st: pd.DataFrame, stages: list[str], month_last: date) -> dict[str, Any]:
    """The metrics of a group of projects (rows of the projects' frame with ``finish_index``)."""
    return group_figures(FrameArrays.of(st, stages, month_last), np.arange(len(st)), stages)


def group_figures(a: FrameArrays, rows: np.ndarray, stages: list[str]) -> dict[str, Any]:
    """The metrics of the projects at positions ``rows`` of the frame ``a`` was read from."""
    stage = a.stage[rows]
    counts = np.bincount(stage + 1, minlength=len(stages) + 1)  # [not started, each stage]
    out: dict[str, Any] = {
        "projects": len(rows),
        "buildings": int(a.sums["buildings"][rows].sum()),
        "households": int(a.sums["households"][rows].sum()),
        "floor_area": float(a.sums["floor_area_m2"][rows].sum()) / 10_000,
        "investment_planned": float(a.sums["investment_planned"][rows].sum()),
        "investment_spent": float(a.sums["investment_spent"][rows].sum()),
        **{c: round(float(a.sums[c][rows].sum()), 2) if c in a.sums else None for c in FUND_METRICS},
        "not_started": int(counts[0]),
    }
    for i, s in enumerate(stages):
        out[s] = int(counts[i + 1])
    construction = stages.index("construction") if "construction" in stages else len(stages)
    index = a.stage_index[rows]
    out["started"] = int((index >= construction).sum())
    out["planned_finished"] = int(a.planned_done[rows].sum())
    out["finished"] = int((index >= a.finish_index).sum())
    out["finish_rate"] = 100.0 * out["finished"] / out["planned_finished"] if out["planned_finished"] else None
    late = a.overdue[rows]
    out["overdue"] = int(late.sum())
    out["max_days_behind"] = int(a.days_behind[rows][late].max()) if out["overdue"] else 0
    return out


def grouped(st: pd.DataFrame, keys: list[str]) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    """The groups of the frame by ``keys`` (sorted, nulls a group of their own) as pandas iterates
    them, and the row positions of each (in the frame's order)."""
    g = st.groupby(keys, sort=True, dropna=False)
    codes = g.ngroup().to_numpy()
    sizes = g.size()
    order = np.argsort(codes, kind="stable")
    parts = np.split(order, np.cumsum(sizes.to_numpy())[:-1])
    names = [k if isinstance(k, tuple) else (k,) for k in sizes.index.tolist()]
    return list(zip(names, parts, strict=True))


def street_table(
    st: pd.DataFrame, stages: list[str], month_last: date, arrays: FrameArrays | None = None
) -> pd.DataFrame:
    """:func:`figures` per district and street."""
    a = arrays or FrameArrays.of(st, stages, month_last)
    rows = [
        {"district": district, "street": street, **group_figures(a, at, stages)}
        for (district, street), at in grouped(st, ["district", "street"])
    ]
    columns = None if rows else ["district", "street", *[m.id for m in metrics([])]]
    return pd.DataFrame(rows, columns=columns)


def district_table(
    st: pd.DataFrame, stages: list[str], month_last: date, arrays: FrameArrays | None = None
) -> pd.DataFrame:
    """:func:`figures` per district."""
    a = arrays or FrameArrays.of(st, stages, month_last)
    rows = [{"district": district, **group_figures(a, at, stages)} for (district,), at in grouped(st, ["district"])]
    return pd.DataFrame(rows)


def overdue_table(st: pd.DataFrame) -> pd.DataFrame:
    """The overdue projects, most days behind first: :data:`OVERDUE_COLUMNS`."""
    overdue = st[st["overdue"]].sort_values(["days_behind", "district", "street"], ascending=[False, True, True])
    return overdue[[c for c, _ in OVERDUE_COLUMNS]].reset_index(drop=True)


def correction_table(events: pd.DataFrame, defs: ProgrammeDefs) -> pd.DataFrame:
    """Correction events as the report lists them: what changed from what to what, why, by whom, when
    (in the programme's time zone)."""
    labels = {f"actual.{s.id}": f"实际{s.milestone_zh}" for s in defs.stages}
    labels["investment_spent"] = "累计完成投资（万元）"
    out = []
    for r in events.to_dict("records"):
        parts = [f"{labels.get(k, k)}：{v[0] or '（空）'} → {v[1] or '（空）'}" for k, v in r["changes"].items()]
        out.append(
            {
                "event_id": int(r["id"]),
                "compound_id": int(r["compound_id"]),
                "name": r["name"],
                "street": r["street"],
                "change": "；".join(parts),
                "corrects_month": r["corrects_month"],
                "reason": r["reason"],
                "actor": r["actor"],
                "at": r["at"].astimezone(zone()).strftime("%Y-%m-%d %H:%M"),
            }
        )
    return pd.DataFrame(out, columns=["event_id", "compound_id", *[c for c, _ in CORRECTION_COLUMNS]])


# the self-check of nothing: its columns and no rows
EMPTY_CHECK: pd.DataFrame = self_check(
    pd.DataFrame(), (pd.DataFrame(), pd.DataFrame(), {}), evidenced=None, permits={}, previous=None, construction=0
)
