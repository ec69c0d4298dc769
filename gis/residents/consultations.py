"""Consultations (征求居民意见): opened per compound on a topic of ``layers/programme/residents.yaml``,
results recorded per building or household, the outcome worked out by the owners' rule
(:func:`gis.residents.rules.decide`) and stored.

A passed outcome of a topic that decides the property management mode sets the project's planned
mode (``property_mgmt_after``) in the same transaction, as :meth:`gis.programme.Programme.plan` does
it: the programme's audited, locked transaction, its rules' plan change and its store's save, with
the outcome named as the events' reason and the actor as their author. No SQL on the programme's
tables here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from gis import clock
from gis.errors import ConflictError, NotFoundError, ProgrammeError, ProjectNotFoundError
from gis.programme import rules as programme_rules
from gis.programme import store as programme
from gis.programme.definitions import mgmt_code, programme_defs
from gis.programme.rules import require_planner
from gis.residents import store
from gis.residents.rules import Count, Totals, decide, residents_rules
from gis.roles import Role
from gis.store.audit import audited
from gis.store.database import Database

Amount = Decimal | float | int | str


@dataclass
class Opening:
    """A consultation as it is opened: the topic (an id or label of residents.yaml), the channel,
    the period, the compound's totals (all the exclusive area in m², all the owners) and, for the
    property management topic, the mode put to the vote (``proposal``: 专业物业, 准物业 …)."""

    topic: str
    channel: str
    title: str
    opens_on: date
    closes_on: date
    total_area: Amount
    total_owners: int
    proposal: str | None = None
    note: str | None = None
    synthetic: str | None = None


@dataclass
class Result:
    """One building's (or household's) counts: the exclusive area (m²) and owners taking part, in
    favour and against. ``supersedes``: the result this one corrects."""

    unit: str
    area: Amount
    owners: int
    favour_area: Amount
    favour_owners: int
    against_area: Amount
    against_owners: int
    unit_kind: str = "building"
    supersedes: int | None = None
    synthetic: str | None = None


def area(value: Amount, what: str) -> Decimal:
    """An area in m² with at most two decimals."""
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise ProgrammeError(f"{what}: {value!r} is not an area / 面积须为数字") from None
    if not d.is_finite() or d < 0 or d != d.quantize(Decimal("0.01")) or d >= Decimal("1e12"):
        raise ProgrammeError(f"{what}: {value!r} must be ≥ 0 m² with at most two decimals / 面积格式不正确")
    return d


def _nulls(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)


class ConsultationDesk:
    """Consultations of ``ws.residents``: :meth:`open_consultation`, :meth:`record_results`,
    :meth:`decide`, :meth:`consultations`, :meth:`consultation`."""

    db: Database

    def open_consultation(
        self, compound_id: int, opening: Opening, *, actor: str = "notebook", role: Role = "planner"
    ) -> dict[str, Any]:
        """Open a consultation of the compound's owners.

        Examples
        --------
        >>> ws.residents.open_consultation(12, Opening("property_mgmt", "ballot", "引入物业征询",
        ...     date(2026, 3, 1), date(2026, 3, 15), "12000.50", 180, proposal="准物业"), actor="王工")
        """
        require_planner(role, "opening a consultation")
        rules = residents_rules()
        topic = rules.topic(opening.topic)
        if opening.closes_on < opening.opens_on:
            raise ProgrammeError("a consultation closes on or after it opens / 征询结束日期不能早于开始日期")
        title = (opening.title or "").strip()
        if not title:
            raise ProgrammeError("a consultation needs a title / 请填写征询事项标题")
        total_area = area(opening.total_area, "total_area")
        if total_area <= 0 or opening.total_owners <= 0:
            raise ProgrammeError("the compound's total area and owners must be positive / 总面积与总户数须大于零")
        proposal = None
        if topic.decides == "property_mgmt":
            if not opening.proposal:
                raise ProgrammeError("name the property management mode put to the vote / 请填写拟引入的物业管理方式")
            proposal = mgmt_code(opening.proposal)
        new = store.NewConsultation(
            compound_id,
            topic.id,
            topic.matter,
            proposal,
            rules.channel(opening.channel),
            title,
            opening.opens_on,
            opening.closes_on,
            total_area,
            int(opening.total_owners),
            opening.note,
            opening.synthetic,
        )
        self.db.require_schema()
        with audited(self.db.engine, actor) as conn:
            if not programme.compound_exists(conn, compound_id):
                raise NotFoundError(f"no compound {compound_id} / 无此小区")
            cid = store.insert_consultation(conn, new, actor)
        return self.consultation(cid)

    def record_results(
        self, consultation_id: int, results: Sequence[Result], *, actor: str = "notebook", role: Role = "planner"
    ) -> pd.DataFrame:
        """Record results (each building's or household's counts), all or none; a unit already counted
        is corrected by a result that names the one it supersedes. Returns the standing results."""
        require_planner(role, "recording a consultation's results")
        if not results:
            raise ProgrammeError("no results given / 未填写表决结果")
        with audited(self.db.engine, actor) as conn:
            self._consultation_row(conn, consultation_id)
            before = store.results(conn, consultation_id)
            standing = {str(r["unit"]): int(r["id"]) for r in before.to_dict("records") if not r["superseded"]}
            known = set(before["id"].astype(int))
            superseded = set(before.loc[before["superseded"].astype(bool), "id"].astype(int))
            for r in results:
                new = _new_result(r)
                if new.supersedes is not None and (new.supersedes not in known or new.supersedes in superseded):
                    raise ConflictError(f"result {new.supersedes}: no standing result of this consultation to correct")
                if new.unit in standing and standing[new.unit] != new.supersedes:
                    raise ConflictError(
                        f"{new.unit} is counted already (result {standing[new.unit]}): a correction names it "
                        f"(supersedes) / 该单元已计票，更正须注明被更正的记录"
                    )
                rid = store.insert_result(conn, consultation_id, new, actor)
                if new.supersedes is not None:
                    superseded.add(new.supersedes)
                    standing = {u: i for u, i in standing.items() if i != new.supersedes}
                standing[new.unit] = rid
                known.add(rid)
            after = store.results(conn, consultation_id)
        return after.loc[~after["superseded"].astype(bool)].reset_index(drop=True)

    def decide(
        self,
        consultation_id: int,
        *,
        on: date | None = None,
        actor: str = "notebook",
        role: Role = "planner",
        synthetic: str | None = None,
    ) -> dict[str, Any]:
        """Work out and store the outcome from the standing results, after the consultation closed.

        Where the topic decides the property management mode and it passed, the compound's latest
        project gets that mode as its planned ``property_mgmt_after`` (audited, ``actor``'s), in
        the same transaction; a compound without a project keeps the outcome, not applied.
        """
        require_planner(role, "deciding a consultation")
        decided_on = clock.today(on)
        rules = residents_rules()
        defs = programme_defs()
        with programme.transaction(self.db, actor) as conn:
            row = self._consultation_row(conn, consultation_id)
            if decided_on < row["closes_on"]:
                raise ProgrammeError(f"the consultation runs until {row['closes_on']} / 征询期结束后方可计票")
            found = store.results(conn, consultation_id)
            standing = found.loc[~found["superseded"].astype(bool)]
            if standing.empty:
                raise ProgrammeError("no results recorded / 尚未录入表决结果")
            counts = [
                Count(
                    Decimal(str(r["area"])),
                    int(r["owners"]),
                    Decimal(str(r["favour_area"])),
                    int(r["favour_owners"]),
                    Decimal(str(r["against_area"])),
                    int(r["against_owners"]),
                )
                for r in standing.to_dict("records")
            ]
            totals = Totals(Decimal(str(row["total_area"])), int(row["total_owners"]))
            figures = decide(defs.owner_decisions, row["matter"], totals, counts)
            topic = rules.topic(str(row["topic"]))
            figures |= {
                "topic": topic.id,
                "topic_status": topic.status,
                "topic_source": topic.source,
                "rule_status": defs.owner_decisions.status,
                "rule_source": defs.owner_decisions.source,
                "results": [int(i) for i in standing["id"]],
            }
            project_id, mode = None, None
            if figures["passed"] and topic.decides == "property_mgmt" and row["proposal"]:
                project_id, mode = self._apply_mode(conn, row, consultation_id, actor, role)
                figures["applied"] = mode is not None
            outcome = store.NewOutcome(decided_on, bool(figures["passed"]), figures, project_id, mode, synthetic)
            oid = store.insert_outcome(conn, consultation_id, outcome, actor)
            got = store.outcomes(conn, outcome_id=oid)
        return {str(k): v for k, v in _nulls(got).iloc[0].items()}

    @staticmethod
    def _apply_mode(conn: Any, row: dict[str, Any], consultation_id: int, actor: str, role: Role) -> tuple[Any, Any]:
        """Set the latest project's planned mode as ``Programme.plan`` does; (project id, mode) or (None, None)."""
        try:
            before = programme.load_project(conn, int(row["compound_id"]), None)
        except ProjectNotFoundError:
            return None, None
        fields: programme_rules.PlanFields = {"property_mgmt_after": str(row["proposal"])}
        after, events = programme_rules.plan_change(before, fields, programme_defs())
        reason = f"征求居民意见 #{consultation_id} 通过 / consultation {consultation_id} passed"
        events = [dataclasses.replace(e, reason=reason) for e in events]
        if events:
            programme.save_project(
                conn, before, after, events, programme.Author(actor, role, f"consultation:{consultation_id}")
            )
        return before.id, after.property_mgmt_after

    @staticmethod
    def _consultation_row(conn: Any, consultation_id: int) -> dict[str, Any]:
        found = store.consultations(conn, consultation_id=consultation_id)
        if found.empty:
            raise NotFoundError(f"no consultation {consultation_id} / 无此征询")
        return {str(k): v for k, v in _nulls(found).iloc[0].items()}

    def consultations(self, compound_id: int | None = None) -> pd.DataFrame:
        """The consultations (of one compound), by opening day."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return store.consultations(conn, compound_id=compound_id)

    def consultation(self, consultation_id: int) -> dict[str, Any]:
        """One consultation with its results (``superseded`` marks a corrected one) and outcomes."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            row = self._consultation_row(conn, consultation_id)
            row["results"] = _nulls(store.results(conn, consultation_id)).to_dict("records")
            row["outcomes"] = _nulls(store.outcomes(conn, consultation_id=consultation_id)).to_dict("records")
        return row

    def outcomes(self) -> pd.DataFrame:
        """Every outcome, oldest first (a later outcome of a consultation replaces an earlier one)."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return store.outcomes(conn)


def _new_result(r: Result) -> store.NewResult:
    if r.unit_kind not in ("building", "household"):
        raise ProgrammeError(f"unit_kind {r.unit_kind!r}: building or household / 计票单元须为楼栋或户")
    unit = (r.unit or "").strip()
    if not unit:
        raise ProgrammeError("name the building or household / 请填写楼栋或户")
    new = store.NewResult(
        r.unit_kind,
        unit,
        area(r.area, f"{unit} area"),
        int(r.owners),
        area(r.favour_area, f"{unit} favour_area"),
        int(r.favour_owners),
        area(r.against_area, f"{unit} against_area"),
        int(r.against_owners),
        r.supersedes,
        r.synthetic,
    )
    Count(new.area, new.owners, new.favour_area, new.favour_owners, new.against_area, new.against_owners).check()
    return new
