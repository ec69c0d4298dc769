"""The figures a quarter's assessment reads, per street, from in-memory frames. Pure: no table is read here.

A quarter is written ``"2026Q3"``; its figures are as of its last day. Per street (grouped by
district and street, the programme's streets):

- from the programme (``Programme.projects_on(year, on=last day)``): ``planned_start`` (projects
  planned to start construction by the last day), ``started`` (projects whose construction was
  reached by then), ``planned_finish`` and ``finished`` (as the 月报's 完成率);
- from the 月报 submissions: ``months_due`` (the quarter's months whose report deadline has passed
  by the day it is computed, or that were submitted) and ``months_on_time`` (submitted, not late).
  The 月报 is the district's — one submission a month for the whole programme — so every street gets
  the same two figures;
- from the inspection findings: ``findings_due`` (findings of the street's compounds whose deadline
  falls on or before the last day) and ``findings_closed_on_time`` (of those, closed on or before
  their own deadline);
- from the funds ledger (a frame handed in: :data:`FUNDS_COLUMNS`): ``planned_wan``,
  ``received_wan``, ``paid_wan`` (万元);
- from the residents' feedback (a frame handed in: :data:`FEEDBACK_COLUMNS`): ``rated``, ``satisfied``.

A frame not handed in (None) leaves its figures null: the items reading them are not scored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from gis.errors import InvalidRequestError

QUARTER = re.compile(r"^(20\d\d|2100)Q([1-4])$")
KEYS = ["district", "street"]
FUNDS_COLUMNS = ["district", "street", "projects", "planned_wan", "received_wan", "paid_wan", "breaches"]
FEEDBACK_COLUMNS = ["district", "street", "received", "answered", "closed", "rated", "satisfied"]


@dataclass(frozen=True)
class FigureDef:
    zh: str
    source: str  # programme | reports | findings | funds | feedback


FIGURES: dict[str, FigureDef] = {
    "planned_start": FigureDef("截至季末计划开工项目数", "programme"),
    "started": FigureDef("截至季末已开工项目数", "programme"),
    "planned_finish": FigureDef("截至季末计划完工项目数", "programme"),
    "finished": FigureDef("截至季末实际完工项目数", "programme"),
    "months_due": FigureDef("本季度应报月报月数", "reports"),
    "months_on_time": FigureDef("本季度按时上报月报月数", "reports"),
    "findings_due": FigureDef("截至季末到期督查问题数", "findings"),
    "findings_closed_on_time": FigureDef("按期整改销号问题数", "findings"),
    "planned_wan": FigureDef("计划资金（万元）", "funds"),
    "received_wan": FigureDef("到位资金（万元）", "funds"),
    "paid_wan": FigureDef("已拨付资金（万元）", "funds"),
    "rated": FigureDef("参与评价数", "feedback"),
    "satisfied": FigureDef("满意数", "feedback"),
}
SOURCE_ZH = {
    "programme": "改造计划与进度",
    "reports": "统计月报上报记录",
    "findings": "督查问题",
    "funds": "资金台账",
    "feedback": "居民反馈",
}


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter: ``Quarter.parse("2026Q3")``."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        found = QUARTER.match(str(text or "").strip())
        if not found:
            raise InvalidRequestError(f"{text!r} is not a quarter: write it as 2026Q3 / 季度格式如 2026Q3")
        return cls(int(found.group(1)), int(found.group(2)))

    @property
    def id(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        nxt = date(self.year + 1, 1, 1) if self.number == 4 else date(self.year, 3 * self.number + 1, 1)
        return nxt - timedelta(days=1)

    @property
    def months(self) -> list[str]:
        return [f"{self.year}-{m:02d}" for m in range(3 * self.number - 2, 3 * self.number + 1)]

    @property
    def zh(self) -> str:
        return f"{self.year}年第{'一二三四'[self.number - 1]}季度"

    @classmethod
    def last_full_before(cls, day: date) -> Quarter:
        """The last quarter that ended before ``day``."""
        number = (day.month - 1) // 3  # the running quarter's number - 1
        return cls(day.year - 1, 4) if number == 0 else cls(day.year, number)


@dataclass(frozen=True)
class ProgrammeIndex:
    """Where construction and the finish stage sit in the programme's stage order."""

    construction: int
    finish: int


@dataclass
class QuarterFigures:
    """What a quarter's scores are computed from, assembled by the desk (``ws.assessment.figures``).

    ``projects``: ``Programme.projects_on(year, on=quarter.last_day)``; ``submissions``:
    ``Programme.submissions()`` with ``deadlines`` (month -> report deadline) and ``today`` (the day
    it is computed: a month whose deadline is still ahead and that was not submitted is not yet due);
    ``findings``: ``Findings.items()`` (``district, street, deadline, closed_on``); ``funds`` and
    ``feedback``: the frames of :data:`FUNDS_COLUMNS` and :data:`FEEDBACK_COLUMNS`, or None when not
    handed in (their items are then not scored).
    """

    quarter: Quarter
    projects: pd.DataFrame
    index: ProgrammeIndex
    submissions: pd.DataFrame
    deadlines: dict[str, date]
    today: date
    findings: pd.DataFrame
    funds: pd.DataFrame | None = None
    feedback: pd.DataFrame | None = None
    missing: list[str] = field(default_factory=list)  # the sources not handed in (set by table())

    def table(self) -> pd.DataFrame:
        """One row per street (district, street) with every figure of :data:`FIGURES` (null where its
        source was not handed in), sorted by district and street."""
        end = self.quarter.last_day
        out = programme_figures(self.projects, end, self.index)
        due, on_time = report_figures(self.submissions, self.quarter, self.deadlines, self.today)
        out["months_due"], out["months_on_time"] = due, on_time
        out = _join(out, finding_figures(self.findings, end), fill=0)
        self.missing = []
        for name, frame, columns, wanted in (
            ("funds", self.funds, FUNDS_COLUMNS, ["planned_wan", "received_wan", "paid_wan"]),
            ("feedback", self.feedback, FEEDBACK_COLUMNS, ["rated", "satisfied"]),
        ):
            if frame is None:
                self.missing.append(name)
                for c in wanted:
                    out[c] = None
                continue
            out = _join(out, summed(frame, columns, wanted), fill=Decimal(0) if name == "funds" else 0)
        return out.sort_values(KEYS).reset_index(drop=True)


def _join(left: pd.DataFrame, right: pd.DataFrame, *, fill: object) -> pd.DataFrame:
    """``right``'s figures on ``left``'s streets (a street missing from ``right`` has ``fill``: the
    source holds nothing for it, which is a zero, not a gap)."""
    joined = left.merge(right, on=KEYS, how="left")
    for c in right.columns:
        if c not in KEYS:
            joined[c] = joined[c].astype(object).where(joined[c].notna(), fill)
    return joined


def summed(frame: pd.DataFrame, columns: list[str], wanted: list[str]) -> pd.DataFrame:
    """A handed-in frame checked for its exact columns, summed per street (amounts as Decimal)."""
    if list(frame.columns) != columns:
        raise InvalidRequestError(f"expected the columns {columns}, got {list(frame.columns)}")
    rows = []
    for (district, street), part in frame.groupby(KEYS, sort=True, dropna=False):
        row: dict[str, object] = {"district": district, "street": street}
        for c in wanted:
            values = [v for v in part[c] if v is not None and not (isinstance(v, float) and pd.isna(v))]
            row[c] = sum((Decimal(str(v)) for v in values), Decimal(0)) if c.endswith("_wan") else int(sum(values))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*KEYS, *wanted])


def _on_or_before(values: pd.Series, day: date) -> pd.Series:
    """Whether each date (None / NaT: no date) is on or before ``day``."""
    parsed = pd.to_datetime(values, errors="coerce")
    return parsed.notna() & (parsed <= pd.Timestamp(day))


def programme_figures(projects: pd.DataFrame, end: date, index: ProgrammeIndex) -> pd.DataFrame:
    """Per street: planned_start, started, planned_finish, finished (the stage reached as ``projects`` says)."""
    if projects.empty:
        return pd.DataFrame(columns=[*KEYS, "planned_start", "started", "planned_finish", "finished"])
    st = projects.assign(
        planned_start=_on_or_before(projects["planned_construction"], end).astype(int),
        started=(projects["stage_index"] >= index.construction).astype(int),
        planned_finish=_on_or_before(projects["planned_finish"], end).astype(int),
        finished=(projects["stage_index"] >= index.finish).astype(int),
    )
    cols = ["planned_start", "started", "planned_finish", "finished"]
    grouped = st.groupby(KEYS, sort=True, dropna=False)[cols].sum().reset_index()
    return grouped.astype({c: int for c in cols})


def report_figures(
    submissions: pd.DataFrame, quarter: Quarter, deadlines: dict[str, date], today: date
) -> tuple[int, int]:
    """(months due, months submitted on time) of the quarter: a month is due once its deadline has
    passed or it was submitted; on time when it was submitted and not late."""
    sent = {str(r["month"]): bool(r["late"]) for r in submissions.to_dict("records")}
    due = [m for m in quarter.months if m in sent or deadlines[m] < today]
    return len(due), sum(1 for m in due if m in sent and not sent[m])


def finding_figures(findings: pd.DataFrame, end: date) -> pd.DataFrame:
    """Per street: findings_due (deadline on or before ``end``) and findings_closed_on_time (of those,
    closed on or before their deadline)."""
    cols = ["findings_due", "findings_closed_on_time"]
    if findings.empty:
        return pd.DataFrame(columns=[*KEYS, *cols])
    due = findings[_on_or_before(findings["deadline"], end)]
    if due.empty:
        return pd.DataFrame(columns=[*KEYS, *cols])
    closed = pd.to_datetime(due["closed_on"], errors="coerce")
    on_time = closed.notna() & (closed <= pd.to_datetime(due["deadline"]))
    counted = due[KEYS].assign(findings_due=1, findings_closed_on_time=on_time.astype(int))
    return counted.groupby(KEYS, sort=True, dropna=False)[cols].sum().reset_index()
