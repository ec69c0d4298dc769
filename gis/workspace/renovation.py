"""The renovation programme's desks on the workspace: ``ws.programme`` and the 月报, and the desks
above the programme that feed it (evidence, acceptance, inspections).

A mixin of :class:`gis.workspace.Workspace`, kept apart so the facade stays readable; it needs only
the workspace's :class:`gis.store.database.Database`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from gis import clock
from gis.assessment.service import Assessment
from gis.evidence.acceptance import Acceptances
from gis.evidence.findings import Findings
from gis.evidence.service import Evidence
from gis.export.progress import progress_overview
from gis.programme import MonthReport, Programme
from gis.store.database import Database


class RenovationDesks:
    """``ws.programme``, ``ws.report_month``, ``ws.evidence``, ``ws.acceptance``, ``ws.findings``, ``ws.assessment``."""

    db: Database

    def progress_overview(self, *, on: date | None = None, as_of: datetime | None = None) -> dict[str, Any] | None:
        """The progress map's figures (挂图作战) on ``on`` (default today): per compound its stage and
        whether it is overdue, per street this month's figures; None when there is no programme (as
        it stood at the instant ``as_of``, when given)."""
        if as_of is not None and not self.programme.years_as_of(as_of):
            return None
        status = self.programme.status(on=on, as_of=as_of)
        if not len(status):
            return None
        month = clock.today(on).strftime("%Y-%m")
        report = self.report_month(month, today=on, live=True, as_of=as_of)
        return progress_overview(status, report.by_street, month)

    @property
    def acceptance(self) -> Acceptances:
        """综合验收 records: ``.checklist()``, ``.record(...)``, ``.records()`` (:mod:`gis.evidence.acceptance`)."""
        return Acceptances(self.db)

    @property
    def assessment(self) -> Assessment:
        """The quarterly assessment of the streets (季度考核): ``.scheme()``, ``.figures(q)``, ``.scores(q)``,
        ``.score_manual(q, entry)``, ``.publish(q)``, ``.ranking(q)`` (:mod:`gis.assessment.service`)."""
        # The one place the funds ledger's and the residents' feedback figures are wired in: until
        # gis.funds and gis.residents are merged, None (their items are 未计分, not scored). Each is a
        # callable (first day, last day) -> the frame of gis.assessment.figures.FUNDS_COLUMNS / FEEDBACK_COLUMNS.
        return Assessment(self.db, funds=None, feedback=None)

    @property
    def evidence(self) -> Evidence:
        """Evidence (资料留存): ``.add(Attachment(...), files)``, ``.items()``, ``.verify()``, ``.withdraw()`` ..."""
        return Evidence(self.db)

    @property
    def findings(self) -> Findings:
        """Inspection findings (督查): ``.open(Opening(...), photos)``, ``.close(id, files)``, ``.bulletin()`` ..."""
        return Findings(self.db)

    @property
    def programme(self) -> Programme:
        """The renovation programme (改造计划与进度): ``ws.programme.status()``, ``.advance()``,
        ``.import_schedule()``, ``.submit()`` ... (:class:`gis.programme.Programme`; its 月报 with :attr:`findings`)."""
        return Programme(self.db, self.findings.for_month)

    def report_month(
        self,
        month: str,
        *,
        year: int | None = None,
        today: date | None = None,
        live: bool = False,
        area: str | None = None,
        as_of: date | datetime | str | None = None,
    ) -> MonthReport:
        """The monthly statistics (统计月报) of ``month`` (:meth:`gis.programme.Programme.report_month`): as
        submitted when locked (``live`` recomputes); ``.by_street``, ``.overdue``, ``.findings`` (督查问题逾期),
        ``.self_check`` (自查) ...; ``.write("月报.xlsx")`` or ``.csv``.

        Examples
        --------
        >>> r = ws.report_month("2026-11")
        >>> r.by_street[["street", "projects", "construction", "overdue"]]
        >>> r.write("out/月报_2026-11.xlsx")
        """
        return self.programme.report_month(month, year=year, today=today, live=live, area=area, as_of=as_of)
