"""``ws.acceptance``: 综合验收 records — a team scores the checklist of ``layers/programme/acceptance.yaml``
for a project, citing the evidence each score rests on; a failed record is followed by a re-inspection.

Here, above the programme, because a record cites evidence items (they must exist, stand, and show
the project's compound); the records themselves are the programme's (:mod:`gis.programme.acceptance_store`),
whose rules let a project reach ``accepted`` only on or after a passed record's day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from gis import clock
from gis.errors import NotFoundError, ProgrammeError
from gis.evidence import store as evidence_store
from gis.programme import acceptance_store
from gis.programme import store as programme
from gis.programme.acceptance import Checklist, Score, checklist, score
from gis.programme.rules import require_planner
from gis.registry import registry
from gis.roles import Role
from gis.store import layers
from gis.store.database import Database

# an item's score: the points, or (points, note, evidence item ids)
Given = float | int | str | Decimal | tuple[Any, str | None, Sequence[int]]


@dataclass
class Sheet:
    """A filled-in acceptance sheet (验收表).

    ``scores``: every checklist item's points, or (points, note, [evidence item ids]); ``findings``:
    what is to be rectified (整改事项, at least one when it fails); ``reinspects``: the failed record
    this one re-inspects (复验).
    """

    held_on: date
    team: Sequence[str]
    scores: Mapping[str, Given]
    findings: Sequence[str] = ()
    reinspects: int | None = None
    synthetic: str | None = None


@dataclass
class SheetInputs:
    """What the printable 验收表 shows (:mod:`gis.export.acceptance_sheet`): the record with its
    scores, the checklist, the compound, and the thumbnails of the evidence the scores cite."""

    record: dict[str, Any]
    rules: Checklist
    compound_name: str
    street: str | None
    thumbnails: dict[int, bytes]

    def label(self, item_id: str) -> str:
        return next(i.zh for i in self.rules.items if i.id == item_id)


class Acceptances:
    """The acceptance records of a gisplan database. Build it through ``ws.acceptance``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.rules: Checklist = checklist()

    def checklist(self) -> pd.DataFrame:
        """The checklist, one row per item: section, item, labels, points, mandatory, status, source."""
        return pd.DataFrame(
            [
                {"section": s.id, "section_zh": s.zh, "item": i.id, "zh": i.zh, "en": i.en, "points": i.points}
                | {"mandatory": i.mandatory, "status": i.status, "source": i.source}
                for s in self.rules.sections
                for i in s.items
            ]
        )

    def record(
        self,
        compound_id: int,
        sheet: Sheet,
        *,
        year: int | None = None,
        actor: str = "notebook",
        role: Role = "planner",
    ) -> dict[str, Any]:
        """Record an acceptance (the team's filled-in :class:`Sheet`) of the compound's project (its
        latest, or ``year``'s), in one transaction.

        Returns
        -------
        dict
            The record: id, total, passed, failed_mandatory ... (:meth:`records`).

        Examples
        --------
        >>> full = {i: p for i, p in ws.acceptance.checklist()[["item", "points"]].values}
        >>> ws.acceptance.record(12, Sheet(date(2026, 11, 20), ["区住建委 王工"], full), actor="王工")
        """
        require_planner(role, "recording an acceptance")
        held_on, team, scores, findings, reinspects = (
            sheet.held_on,
            sheet.team,
            sheet.scores,
            sheet.findings,
            sheet.reinspects,
        )
        held = clock.today(held_on)
        if held > clock.today():
            raise ProgrammeError(f"an acceptance on {held}: a date in the future / 验收日期不能晚于今天")
        members = [m.strip() for m in team if m and m.strip()]
        if not members:
            raise ProgrammeError("name the acceptance team / 请填写验收组成员")
        parsed = [_score(item, given) for item, given in scores.items()]
        result = score(parsed, self.rules)
        notes = [f.strip() for f in findings if f and f.strip()]
        if not result.passed and not notes:
            raise ProgrammeError("a failed acceptance names what is to be rectified / 未通过须列明整改事项")
        with programme.transaction(self.db, actor) as conn:
            project = programme.load_project(conn, compound_id, year)
            self._check_evidence(conn, compound_id, parsed)
            if reinspects is not None:
                earlier = acceptance_store.records(conn, record_id=reinspects)
                if earlier.empty or int(earlier.iloc[0]["project_id"]) != project.id:
                    raise NotFoundError(f"no acceptance {reinspects} of this project to re-inspect")
                if bool(earlier.iloc[0]["passed"]):
                    raise ProgrammeError(f"acceptance {reinspects} passed: there is nothing to re-inspect")
            points = {i.id: i.points for i in self.rules.items}
            record = acceptance_store.NewRecord(held, members, parsed, result, notes, reinspects, sheet.synthetic)
            record_id = acceptance_store.insert(conn, project, record, points, actor)
            return self._one(conn, record_id)

    @staticmethod
    def _check_evidence(conn: Any, compound_id: int, scores: list[Score]) -> None:
        cited = sorted({e for s in scores for e in s.evidence})
        if not cited:
            return
        found = evidence_store.items(conn, ids=cited, withdrawn=False)
        wrong = sorted(set(cited) - set(found.loc[found["compound_id"] == compound_id, "id"].astype(int)))
        if wrong:
            raise ProgrammeError(f"evidence {wrong}: no standing item of this compound / 引用的资料不存在或已撤回")

    def _one(self, conn: Any, record_id: int) -> dict[str, Any]:
        found = acceptance_store.records(conn, record_id=record_id)
        if found.empty:
            raise NotFoundError(f"no acceptance {record_id}")
        row = {str(k): v for k, v in _nulls(found).iloc[0].items()}
        row["scores"] = _nulls(acceptance_store.scores(conn, record_id)).to_dict("records")
        return row

    def get(self, record_id: int) -> dict[str, Any]:
        """One record with its scores."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return self._one(conn, record_id)

    def sheet(self, record_id: int) -> SheetInputs:
        """The 验收表's inputs for one record (write it with :func:`gis.export.acceptance_sheet.write_sheet`)."""
        record = self.get(record_id)
        compounds = registry().layer("compounds")
        found = layers.read(self.db.engine, compounds, self.db.require_schema(), where={"fid": record["compound_id"]})
        name = str(found.iloc[0]["name"]) if len(found) else f"compound {record['compound_id']}"
        street = found.iloc[0]["street"] if len(found) else None
        cited = sorted({int(e) for s in record["scores"] for e in s["evidence"]})
        thumbs: dict[int, bytes] = {}
        with self.db.engine.connect() as conn:
            for row in evidence_store.items(conn, ids=cited).to_dict("records"):
                small = evidence_store.thumbnail(conn, str(row["sha256"]))
                if small is not None:
                    thumbs[int(row["id"])] = small
        return SheetInputs(record, self.rules, name, street if isinstance(street, str) else None, thumbs)

    def records(self, compound_id: int | None = None) -> pd.DataFrame:
        """The records (of one compound), by day: held_on, team, total, passed, failed_mandatory, findings."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return acceptance_store.records(conn, compound_id=compound_id)

    def public(self) -> pd.DataFrame:
        """What 公示 shows: each project's latest record when it passed (compound, day, total)."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            latest = acceptance_store.latest(conn)
        # .loc with a boolean mask: an empty frame's object column would otherwise be read as labels
        return latest.loc[latest["passed"].astype(bool)].drop(columns=["passed"]).reset_index(drop=True)


def _score(item: str, given: Given) -> Score:
    value, note, evidence = given if isinstance(given, tuple) else (given, None, ())
    try:
        points = Decimal(str(value))
    except InvalidOperation:
        raise ProgrammeError(f"{item}: {value!r} is not a number of points") from None
    if not points.is_finite():
        raise ProgrammeError(f"{item}: {value!r} is not a number of points")
    return Score(item, points, note, tuple(int(e) for e in evidence))


def _nulls(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values as None (a note never written is no note, not NaN)."""
    return frame.astype(object).where(frame.notna(), None)
