"""The renovation programme's desks on the workspace: ``ws.programme`` and the 月报, and the desks
above the programme that feed it (evidence, acceptance, inspections).

A mixin of :class:`gis.workspace.Workspace`, kept apart so the facade stays readable; it needs only
the workspace's :class:`gis.store.database.Database`.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from gis import clock
from gis.assessment.service import Assessment
from gis.evidence.acceptance import Acceptances
from gis.evidence.findings import Findings
from gis.evidence.service import Evidence
from gis.export.progress import progress_overview
from gis.funds.service import Funds
from gis.programme import MonthReport, Programme
from gis.programme.monthly import MonthEvidence
from gis.residents.desk import Residents
from gis.store.database import Database


class RenovationDesks:
    """``ws.programme``, ``ws.report_month``, ``ws.evidence``, ``ws.acceptance``, ``ws.findings``, ``ws.funds``,
    ``ws.residents``, ``ws.assessment``."""

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
        day = clock.today(on)
        month = day.strftime("%Y-%m")
        report = self.report_month(month, today=on, live=True, as_of=as_of)
        # the public's feedback of the year so far, per street (not rebuilt as of an instant: left out then)
        feedback = None if as_of is not None else self.residents.feedback_figures(date(day.year, 1, 1), day)
        return progress_overview(status, report.by_street, month, feedback)

    @property
    def residents(self) -> Residents:
        """The residents' voice (居民参与): consultations, notices (公示), the public's feedback
        (:class:`gis.residents.desk.Residents`); ``.feedback_figures(start, end)`` per street."""
        return Residents(self.db)

    @property
    def acceptance(self) -> Acceptances:
        """综合验收 records: ``.checklist()``, ``.record(...)``, ``.records()`` (:mod:`gis.evidence.acceptance`)."""
        return Acceptances(self.db)

    @property
    def assessment(self) -> Assessment:
        """The quarterly assessment of the streets (季度考核): ``.scheme()``, ``.figures(q)``, ``.scores(q)``,
        ``.score_manual(q, entry)``, ``.publish(q)``, ``.ranking(q)`` (:mod:`gis.assessment.service`)."""
        # The funds ledger's and the residents' figures, handed in: (first day, last day) -> the frames of
        # gis.assessment.figures.FUNDS_COLUMNS (cumulative to the last day, the quarter's year's
        # projects) and FEEDBACK_COLUMNS (the feedback received in the quarter).
        funds, residents = self.funds, self.residents
        return Assessment(
            self.db,
            funds=lambda first, last: funds.street_figures(last, year=first.year),
            feedback=residents.feedback_figures,
        )

    @property
    def evidence(self) -> Evidence:
        """Evidence (资料留存): ``.add(Attachment(...), files)``, ``.items()``, ``.verify()``, ``.withdraw()`` ..."""
        return Evidence(self.db)

    @property
    def findings(self) -> Findings:
        """Inspection findings (督查): ``.open(Opening(...), photos)``, ``.close(id, files)``, ``.bulletin()`` ..."""
        return Findings(self.db)

    @property
    def funds(self) -> Funds:
        """The 跟踪审计 funds ledger: ``.add(compound, Entry(...))``, ``.ledger(compound)``, ``.check()``,
        ``.street_figures(on)`` (:class:`gis.funds.service.Funds`)."""
        return Funds(self.db)

    @property
    def programme(self) -> Programme:
        """The renovation programme (改造计划与进度): ``ws.programme.status()``, ``.advance()``,
        ``.import_schedule()``, ``.submit()`` ... (:class:`gis.programme.Programme`; its 月报 with
        :attr:`findings` and :attr:`funds`)."""
        return Programme(self.db, self._for_month)

    def _for_month(self, conn: Connection, on: date, until: datetime) -> MonthEvidence:
        """What the 月报 reads from above the programme: the evidence and findings, and the funds ledger."""
        gathered = self.findings.for_month(conn, on, until)
        return dataclasses.replace(gathered, funds=self.funds.for_month(conn, on, until))

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
