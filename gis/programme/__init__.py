"""The renovation programme (改造计划与进度): projects, stages, progress, the schedule table and the
monthly statistics (统计月报).

``ws.programme`` is a :class:`Programme`; ``ws.report_month(month)`` a :class:`MonthReport`. The
modules, from the bottom: ``dates`` (months, dates, amounts as planners write them),
``definitions`` (``layers/programme/programme.yaml``), ``model`` (a project, its events, where it
stands on a date), ``rules`` (the checks and the events a change produces; pure), ``status`` (the
projects on a date as a frame; pure), ``store`` (the programme's tables), ``monthly`` (the 月报's
arithmetic; pure), ``monthly_xlsx`` and ``monthly_report`` (the 月报 as files), ``schedule`` and
``schedule_import`` (the 时间配档表 written and read back), ``service`` (:class:`Programme`, the operations).
"""

from gis.errors import (
    AdminRequiredError,
    LockedMonthError,
    ProgrammeError,
    ProjectNotFoundError,
    StageOrderError,
)
from gis.programme.dates import month_end, month_of, parse_date, parse_money, parse_month
from gis.programme.definitions import ProgrammeDefs, StageDef, programme_defs
from gis.programme.model import Behind, Event, Project, at_risk, behind, stage_on
from gis.programme.monthly import Metric, MonthFigures
from gis.programme.monthly_report import MonthReport
from gis.programme.schedule_import import RowProblem, ScheduleImportReport
from gis.programme.service import Programme, report_month

__all__ = [
    "AdminRequiredError",
    "Behind",
    "Event",
    "LockedMonthError",
    "Metric",
    "MonthFigures",
    "MonthReport",
    "Programme",
    "ProgrammeDefs",
    "ProgrammeError",
    "Project",
    "ProjectNotFoundError",
    "RowProblem",
    "ScheduleImportReport",
    "StageDef",
    "StageOrderError",
    "at_risk",
    "behind",
    "month_end",
    "month_of",
    "parse_date",
    "parse_money",
    "parse_month",
    "programme_defs",
    "report_month",
    "stage_on",
]
