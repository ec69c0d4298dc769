"""``ws.assessment``: the quarterly assessment of the streets (季度考核).

The scheme is data (:mod:`gis.assessment.scheme`); the figures come from the programme, the 月报
submissions and the inspection findings, read here, and from the funds ledger and the residents'
feedback, handed in by the facade as two optional callables (:data:`Frames`): until those are
wired, their items are 未计分 (not scored), never 0. A manual item is scored by a planner citing
standing evidence items of the street's compounds. Publishing a quarter (admins) stores its scores
as computed and locks it, as submitting a month does: later reads return the snapshot, and a manual
score or a second publication for it is refused (409). There is no correction path for a published
quarter (yet): a wrong publication stays as published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import pandas as pd
from sqlalchemy import Connection

from gis import clock
from gis.assessment import store
from gis.assessment.figures import ProgrammeIndex, Quarter, QuarterFigures
from gis.assessment.scheme import Scheme, scheme
from gis.assessment.scoring import QuarterScores, ScoreInputs, score
from gis.errors import LockedQuarterError, NotFoundError, ProgrammeError, ProjectNotFoundError
from gis.evidence import store as evidence_store
from gis.evidence.findings import Findings
from gis.programme import Programme
from gis.programme import store as programme_store
from gis.programme.rules import require_admin, require_planner
from gis.registry import registry
from gis.roles import Role
from gis.store import layers
from gis.store.database import Database

# (the quarter's first day, its last day) -> a frame: the funds ledger's figures per street as of the
# last day (gis.assessment.figures.FUNDS_COLUMNS), or the residents' feedback of the quarter
# (FEEDBACK_COLUMNS). Handed in by the facade (gis/workspace/renovation.py).
Frames = Callable[[date, date], pd.DataFrame]


@dataclass(frozen=True)
class ManualEntry:
    """A planner's score of a manual item: the street, the points, why, and the evidence items it rests on."""

    street: str
    item: str
    points: Decimal | float | int | str
    note: str
    evidence: Sequence[int]
    district: str | None = None  # default: the district of the cited evidence's compounds
    synthetic: str | None = None


class Assessment:
    """The quarterly assessment of a database. Build it through ``ws.assessment``.

    ``funds`` and ``feedback``: the callables giving the funds ledger's and the residents' feedback's
    figures per street (:data:`Frames`); None: not available, their items are not scored.
    """

    def __init__(self, db: Database, *, funds: Frames | None = None, feedback: Frames | None = None) -> None:
        self.db = db
        self.rules: Scheme = scheme()
        self.programme = Programme(db)
        self.findings = Findings(db)
        self.funds = funds
        self.feedback = feedback

    def scheme(self) -> pd.DataFrame:
        """The scheme, one row per item: id, labels, weight (points), kind, the rule in words, status, source.

        Examples
        --------
        >>> ws.assessment.scheme()[["id", "zh", "weight", "rule", "status"]]
        """
        return pd.DataFrame(
            [
                {"id": i.id, "zh": i.zh, "en": i.en, "weight": i.weight, "kind": i.kind, "rule": i.rule_text()}
                | {"status": i.status, "source": i.source}
                for i in self.rules.items
            ]
        )

    # -- reading ------------------------------------------------------------------------------------
    def figures(self, quarter: str, *, year: int | None = None, today: date | None = None) -> QuarterFigures:
        """The figures the quarter's scores are computed from, as of its last day (or today, for the
        running quarter): ``.table()`` gives one row per street of the programme year (default: the
        quarter's year).

        Examples
        --------
        >>> ws.assessment.figures("2026Q3").table()
        """
        q = Quarter.parse(quarter)
        day = clock.today(today)
        if q.first_day > day:
            raise ProgrammeError(f"{q.id} has not begun yet / 该季度尚未开始")
        on = min(q.last_day, day)
        defs = self.programme.defs
        projects = self.programme.projects_on(year or q.year, on)
        if projects.empty:
            raise ProjectNotFoundError(f"the programme has no projects in {year or q.year} / 该年度无改造项目")
        index = ProgrammeIndex(defs.index("construction"), defs.index(defs.finish_stage))
        return QuarterFigures(
            quarter=q,
            projects=projects,
            index=index,
            submissions=self.programme.submissions(),
            deadlines={m: defs.report_deadline(m) for m in q.months},
            today=day,
            findings=self.findings.items(on=day),
            funds=self.funds(q.first_day, on) if self.funds else None,
            feedback=self.feedback(q.first_day, on) if self.feedback else None,
        )

    def manual_scores(self, quarter: str, *, history: bool = False) -> pd.DataFrame:
        """The manual scores of a quarter: the latest per street and item (``history``: every row recorded)."""
        q = Quarter.parse(quarter)
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return store.manual(conn, q.id, latest=not history)

    def _compute(self, quarter: str, *, year: int | None, today: date | None) -> QuarterScores:
        figures = self.figures(quarter, year=year, today=today)
        table = figures.table()
        inputs = ScoreInputs(
            quarter=figures.quarter.id,
            last_day=min(figures.quarter.last_day, figures.today),
            figures=table,
            manual=self.manual_scores(quarter),
            missing=figures.missing,
            computed_at=clock.now(),
        )
        return score(inputs, self.rules)

    def scores(
        self, quarter: str, *, live: bool = False, year: int | None = None, today: date | None = None
    ) -> QuarterScores:
        """The quarter's scores: as published when it is (unless ``live``), else computed from the data now.

        Examples
        --------
        >>> s = ws.assessment.scores("2026Q3")
        >>> s.ranking()[["rank", "street", "total"]]
        >>> s.items[s.items.item == "start_rate"][["street", "value", "points"]]
        """
        q = Quarter.parse(quarter)
        self.db.require_schema()
        if not live:
            with self.db.engine.connect() as conn:
                stored = store.published(conn, q.id)
            if stored is not None:
                return QuarterScores.from_dict(stored)
        return self._compute(q.id, year=year, today=today)

    def ranking(self, quarter: str, *, published_only: bool = False) -> pd.DataFrame:
        """The streets by rank: district, street, points, weight_scored, total, rank (ties share a rank).

        ``published_only``: NotFoundError unless the quarter was published (what the public may read).
        """
        scores = self.scores(quarter)
        if published_only and not scores.published:
            raise NotFoundError(f"{Quarter.parse(quarter).id} has not been published / 该季度考核结果尚未发布")
        return scores.ranking()

    def publications(self) -> pd.DataFrame:
        """The published quarters: when and by whom."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return store.publications(conn)

    # -- writing ------------------------------------------------------------------------------------
    def score_manual(
        self, quarter: str, entry: ManualEntry, *, actor: str = "notebook", role: Role = "planner"
    ) -> dict[str, object]:
        """Record a planner's score of a manual item for a street (one transaction; a later score
        supersedes it). The evidence items must exist, stand (not withdrawn) and show compounds of
        that street.

        Raises
        ------
        LockedQuarterError
            The quarter was published (409).
        ProgrammeError
            An unknown or computed item, points outside 0 to its weight, no note, no evidence, or
            evidence that is not a standing item of the street's compounds; nothing is written.

        Examples
        --------
        >>> ws.assessment.score_manual("2026Q3", ManualEntry("燕园街道", "long_term_management", 4,
        ...     "物业全覆盖，议事会每月召开", [12, 13]), actor="王工")
        """
        require_planner(role, "scoring an assessment item")
        q = Quarter.parse(quarter)
        item = self.rules.item(entry.item)
        if item is None or item.kind != "manual":
            manual = ", ".join(i.id for i in self.rules.items if i.kind == "manual")
            raise ProgrammeError(f"{entry.item!r} is not a manual item of the scheme; the manual items: {manual}")
        points = _points(entry.points, item.points)
        note = (entry.note or "").strip()
        if not note:
            raise ProgrammeError("a manual score says what it rests on / 人工评分须说明理由")
        cited = sorted({int(e) for e in entry.evidence})
        if not cited:
            raise ProgrammeError("a manual score cites at least one evidence item / 人工评分须引用佐证资料")
        street = (entry.street or "").strip()
        with programme_store.transaction(self.db, actor) as conn:
            self._refuse_published(conn, q)
            district = self._check_evidence(conn, cited, street, entry.district)
            row = store.ManualScore(q.id, district, street, item.id, points, note, tuple(cited), entry.synthetic)
            new_id = store.insert_manual(conn, row, actor)
        return {"id": new_id, "quarter": q.id, "district": district, "street": street, "item": item.id} | {
            "points": str(points),
            "note": note,
            "evidence": cited,
            "actor": actor,
        }

    @staticmethod
    def _refuse_published(conn: Connection, q: Quarter) -> None:
        done = store.published_at(conn, q.id)
        if done is not None:
            raise LockedQuarterError(
                f"{q.id} was published on {done[0]:%Y-%m-%d %H:%M} by {done[1]}; it is locked / 该季度考核已发布锁定"
            )

    def _check_evidence(self, conn: Connection, cited: list[int], street: str, district: str | None) -> str | None:
        """The district of the street the cited items show; ProgrammeError unless every one stands and
        shows a compound of that street (and district, when given)."""
        found = evidence_store.items(conn, ids=cited, withdrawn=False)
        missing = sorted(set(cited) - set(found["id"].astype(int)))
        if missing:
            raise ProgrammeError(f"evidence {missing}: no such standing item / 引用的资料不存在或已撤回")
        ids = sorted({int(c) for c in found["compound_id"].dropna()})
        compounds = registry().layer("compounds")
        crs = self.db.require_schema()
        where = layers.read(conn, compounds, crs, where={"fid": ids}, columns=["district", "street"]) if ids else None
        places = {} if where is None else {int(r["fid"]): (r["district"], r["street"]) for _, r in where.iterrows()}
        wrong = []
        for r in found.to_dict("records"):
            cid = r["compound_id"]
            place = places.get(int(cid)) if cid is not None and not pd.isna(cid) else None
            if place is None or place[1] != street or (district is not None and place[0] != district):
                wrong.append(int(r["id"]))
        if wrong:
            raise ProgrammeError(
                f"evidence {sorted(wrong)}: not of a compound of {district or ''}{street} / 引用资料不属于该街道小区"
            )
        districts = {places[int(c)][0] for c in found["compound_id"]}
        if len(districts) > 1:
            raise ProgrammeError(f"{street}: the evidence shows compounds of several districts; name the district")
        (only,) = districts
        return district if district is not None else (None if only is None or pd.isna(only) else str(only))

    def publish(
        self,
        quarter: str,
        *,
        actor: str = "notebook",
        role: Role = "admin",
        now: datetime | None = None,
        year: int | None = None,
    ) -> QuarterScores:
        """Publish (发布) a quarter's scores: store them as they are now and lock the quarter (admins).

        Refused before the deadline of the quarter's last 月报 has passed (月报按时率 is not settled
        until then).

        Raises
        ------
        LockedQuarterError
            The quarter was published already (409).
        ProgrammeError
            Too early.

        Examples
        --------
        >>> ws.assessment.publish("2026Q3", actor="李四")
        """
        require_admin(role, "publish and lock a quarter's assessment / 发布考核结果须由管理员进行")
        q = Quarter.parse(quarter)
        now = now or clock.now()
        if now.tzinfo is None:
            raise ProgrammeError("give `now` with its time zone")
        today = now.astimezone(clock.zone()).date()
        settled = self.programme.defs.report_deadline(q.months[-1])
        if today <= settled:
            raise ProgrammeError(
                f"{q.id} can be published after {settled} (its last 月报's deadline) / 季度末月报截止后方可发布"
            )
        with programme_store.transaction(self.db, actor) as conn:
            self._refuse_published(conn, q)
            scores = self._compute(q.id, year=year, today=today)
            scores.published, scores.published_at, scores.published_by = True, now, actor
            store.publish(conn, q.id, now, actor, scores.to_dict())
        return scores


def _points(given: Decimal | float | int | str, most: Decimal) -> Decimal:
    try:
        points = Decimal(str(given))
    except InvalidOperation:
        raise ProgrammeError(f"{given!r} is not a number of points") from None
    if not points.is_finite() or not Decimal(0) <= points <= most:
        raise ProgrammeError(f"{given!r}: points are between 0 and {most} / 分值须在0至{most}之间")
    return points.quantize(Decimal("0.01"))
