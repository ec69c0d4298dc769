"""``ws.funds``: the 跟踪审计 ledger of each project — entries added (append-only), a project's chain with its
totals, the breaches of ``layers/programme/funds.yaml``, the streets' figures and what the 月报 reads.

Above the evidence floor: an entry may cite evidence items (they must exist, stand, and belong to the
project's compound). The projects, their plans and compounds are the programme's, read through
:mod:`gis.programme.store`; every write runs in the programme's transaction, so it serialises with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from gis import clock
from gis.errors import FundsError, NotFoundError, ProjectNotFoundError
from gis.evidence import store as evidence_store
from gis.funds import store
from gis.funds.rules import (
    BREACH_COLUMNS,
    CENT,
    KINDS,
    SINGLE,
    SOURCED,
    ZERO,
    FundRules,
    Plan,
    Subject,
    chain,
    check,
    fund_rules,
    money,
    standing,
)
from gis.programme import store as programme
from gis.programme.dates import parse_money
from gis.programme.definitions import programme_defs
from gis.programme.model import Project
from gis.programme.monthly import MonthFunds
from gis.programme.rules import require_planner
from gis.roles import Role
from gis.store.database import Database

Amount = Decimal | float | int | str
STREET_COLUMNS = ["district", "street", "projects", "planned_wan", "received_wan", "paid_wan", "breaches"]
PLACE_COLUMNS = ["name", "district", "street"]
MAX_AMOUNT = Decimal("10000000000")


@dataclass(frozen=True)
class Entry:
    """One ledger entry as it is given.

    ``kind``: estimate | budget | tender_control | contract | change | received | payment | settlement |
    final (:data:`gis.funds.rules.KINDS`); ``amount`` in 万元 (two decimals; only a change may be negative);
    ``on``: its business date; ``source``: the fund source (code or label: central, 中央补助 ...) of funds
    received and payments; ``reason``: why (a change, and any correction, needs one); ``approved_by`` /
    ``approved_on``: a change's approval (both or neither; a change without it is written and flagged
    beyond the rule's share); ``document``: the document's number (文号, 合同编号); ``supersedes``: the entry
    (of the same project and kind) this one corrects, which then no longer counts; ``evidence``: the
    evidence item ids it rests on.
    """

    kind: str
    amount: Amount
    on: date
    source: str | None = None
    reason: str | None = None
    approved_by: str | None = None
    approved_on: date | None = None
    document: str | None = None
    note: str | None = None
    supersedes: int | None = None
    evidence: Sequence[int] = ()
    synthetic: str | None = None


@dataclass
class Ledger:
    """A project's ledger on a day: the project and its place, every entry (``standing`` or superseded),
    the chain's totals, received and paid against the plan per source, and the breaches."""

    project: dict[str, Any]
    on: date
    entries: pd.DataFrame
    totals: dict[str, Decimal | None]
    by_source: pd.DataFrame
    breaches: pd.DataFrame
    evidence: pd.DataFrame = field(default_factory=pd.DataFrame)  # the cited items: id, filename, category


@dataclass
class Pack:
    """What the auditor's pack (:mod:`gis.export.audit_pack`) shows: the ledgers of a project or a street
    on a day, the rules with their status, the fund sources' labels."""

    title: str
    on: date
    ledgers: list[Ledger]
    rules: pd.DataFrame
    sources: dict[str, str]


@dataclass(frozen=True)
class Context:
    """A year's projects (by id), their compounds' places and their ledger entries, read once."""

    year: int
    projects: dict[int, Project]
    places: pd.DataFrame  # indexed by compound_id: name, district, street
    entries: pd.DataFrame

    def subject(self, project_id: int) -> Subject:
        p = self.projects[project_id]
        return Subject(project_id, p.compound_id, plan_of(p))

    def place(self, compound_id: int) -> dict[str, Any]:
        if compound_id in self.places.index:
            return {str(k): _text(v) for k, v in self.places.loc[compound_id].items()}
        return dict.fromkeys(PLACE_COLUMNS)


def plan_of(p: Project) -> Plan:
    return Plan(p.investment_planned, dict(p.funding))


def _text(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and v != v) else v


def _py(v: Any) -> Any:
    """A frame's value as Python holds it: None for a null, int for numpy's integers."""
    v = _text(v)
    return v.item() if hasattr(v, "item") and not isinstance(v, Decimal) else v


def _nulls(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values as None, integers as Python's (a breach with no entry names none, not NaN)."""
    out = frame.astype(object).where(frame.notna(), None)
    for c in ("project_id", "compound_id", "entry_id"):
        if c in out.columns:
            out[c] = [None if v is None else int(v) for v in out[c]]
    return out


class Funds:
    """The funds ledger of a gisplan database. Build it through ``ws.funds``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.rules: FundRules = fund_rules()
        self.defs = programme_defs()

    # -- the rules ------------------------------------------------------------------------------
    def rule_table(self) -> pd.DataFrame:
        """The rules (``layers/programme/funds.yaml``): id, zh, en, share, status, source."""
        return pd.DataFrame([r.model_dump() for r in self.rules.rules])

    def sources(self) -> dict[str, str]:
        """The fund sources: code -> label (programme.yaml ``funding_sources``)."""
        return {c.id: c.zh for c in self.defs.funding.codes}

    # -- writing --------------------------------------------------------------------------------
    def add(
        self,
        compound_id: int,
        entry: Entry,
        *,
        year: int | None = None,
        actor: str = "notebook",
        role: Role = "planner",
    ) -> dict[str, Any]:
        """Add an entry to the ledger of the compound's project (its latest, or ``year``'s), in one transaction.

        A breach of a rule is written and flagged (the returned ``breaches``: those the entry is named in,
        on its date); refused (FundsError, nothing written) is only what cannot be: an unknown kind or fund
        source, a negative amount other than a change's, a date in the future, a change or a correction
        without a reason, a second value of a one-value kind that does not name the entry it supersedes.

        Examples
        --------
        >>> ws.funds.add(12, Entry("contract", "480.00", date(2026, 4, 20), document="HT-2026-031"), actor="王工")
        >>> ws.funds.add(12, Entry("payment", 120, date(2026, 5, 10), source="中央补助"), actor="王工")
        """
        require_planner(role, "recording funds")
        values = self._values(entry)
        with programme.transaction(self.db, actor) as conn:
            project = programme.load_project(conn, compound_id, year)
            assert project.id is not None
            self._check_supersedes(conn, project, values)
            self._check_evidence(conn, compound_id, list(entry.evidence))
            values |= {"project_id": project.id, "compound_id": compound_id, "year": project.year, "actor": actor}
            entry_id = store.insert(conn, values)
            entries = store.entries(conn, project_ids=[project.id])
        breaches = check(entries, Subject(project.id, compound_id, plan_of(project)), values["on_date"], self.rules)
        row = {str(k): _py(v) for k, v in entries[entries["id"] == entry_id].iloc[0].items()}
        row["breaches"] = breaches[breaches["entry_id"] == entry_id].to_dict("records")
        return row

    def _values(self, e: Entry) -> dict[str, Any]:
        """The entry's columns, checked for what cannot be."""
        if e.kind not in KINDS:
            raise FundsError(f"no ledger entry kind {e.kind!r}; the kinds: {', '.join(KINDS)} / 未知台账类别")
        amount = _amount(e.amount, negative=e.kind == "change")
        today = clock.today()
        if e.on > today or (e.approved_on is not None and e.approved_on > today):
            raise FundsError(f"{e.on}: a date in the future / 日期不能晚于今天")
        source = None
        if e.kind in SOURCED:
            code = self.defs.funding.resolve(e.source.strip()) if e.source and e.source.strip() else None
            if code is None:
                valid = ", ".join(f"{k} {v}" for k, v in self.sources().items())
                raise FundsError(f"{KINDS[e.kind][0]} needs a known fund source, not {e.source!r}; valid: {valid}")
            source = code
        elif e.source:
            raise FundsError(f"a {e.kind} has no fund source / {KINDS[e.kind][0]}不分资金来源")
        reason = (e.reason or "").strip() or None
        if reason is None and (e.kind == "change" or e.supersedes is not None):
            raise FundsError("a change and a correction each need a reason / 变更、更正须写明原因")
        by = (e.approved_by or "").strip() or None
        if (by is None) != (e.approved_on is None):
            raise FundsError("an approval names who approved and when, both / 批准须同时写明批准人和批准日期")
        if by is not None and e.kind != "change":
            raise FundsError("only a change is approved in the ledger / 仅变更记录批准")
        return {
            "kind": e.kind,
            "on_date": e.on,
            "amount": amount,
            "source": source,
            "reason": reason,
            "approved_by": by,
            "approved_on": e.approved_on,
            "document": (e.document or "").strip() or None,
            "note": (e.note or "").strip() or None,
            "supersedes": e.supersedes,
            "evidence": sorted({int(i) for i in e.evidence}),
            "synthetic": e.synthetic,
        }

    @staticmethod
    def _check_supersedes(conn: Connection, project: Project, values: dict[str, Any]) -> None:
        kind, target = values["kind"], values["supersedes"]
        if target is not None:
            old = store.one(conn, int(target))
            if old is None or int(old["project_id"]) != project.id or old["kind"] != kind:
                raise FundsError(f"entry {target}: no {kind} of this project to supersede / 被更正记录不存在")
            if store.superseded(conn, int(target)):
                raise FundsError(f"entry {target} is already superseded / 该记录已被更正")
            return
        if kind in SINGLE:
            entries = store.entries(conn, project_ids=[int(project.id or 0)])
            now = standing(entries, date.max)
            same = now[now["kind"] == kind]
            if len(same):
                raise FundsError(
                    f"{KINDS[kind][0]} is already recorded (entry {int(same.iloc[-1]['id'])}): a new value names the "
                    "entry it supersedes, with a reason / 已有记录，调整须注明更正的记录及原因"
                )

    @staticmethod
    def _check_evidence(conn: Connection, compound_id: int, cited: list[int]) -> None:
        if not cited:
            return
        found = evidence_store.items(conn, ids=sorted(set(cited)), withdrawn=False)
        wrong = sorted(set(cited) - set(found.loc[found["compound_id"] == compound_id, "id"].astype(int)))
        if wrong:
            raise FundsError(f"evidence {wrong}: no standing item of this compound / 引用的资料不存在或已撤回")

    # -- reading --------------------------------------------------------------------------------
    def _context(self, conn: Connection, year: int | None, recorded_by: datetime | None = None) -> Context:
        years = programme.years(conn)
        if year is None:
            if not years:
                raise ProjectNotFoundError("the programme has no projects yet / 尚无改造项目")
            year = years[-1]
        projects = {int(p.id): p for p in programme.projects(conn, year) if p.id is not None}
        places = programme.compounds_of_year(conn, year, geometry=False).set_index("compound_id")[PLACE_COLUMNS]
        entries = store.entries(conn, project_ids=sorted(projects), recorded_by=recorded_by)
        return Context(year, projects, places, entries)

    def _project_id(self, conn: Connection, compound_id: int, year: int | None) -> tuple[Context, int]:
        years = [year] if year is not None else list(reversed(programme.years(conn)))
        for y in years:
            ctx = self._context(conn, y)
            found = [pid for pid, p in ctx.projects.items() if p.compound_id == compound_id]
            if found:
                return ctx, found[0]
        raise ProjectNotFoundError(f"compound {compound_id} has no project / 该小区无改造项目")

    def _breaches(self, ctx: Context, on: date, project_ids: Sequence[int] | None = None) -> pd.DataFrame:
        ids = sorted(ctx.projects) if project_ids is None else list(project_ids)
        grouped = dict(tuple(ctx.entries.groupby("project_id"))) if len(ctx.entries) else {}
        frames = [check(grouped[p], ctx.subject(p), on, self.rules) for p in ids if p in grouped]
        frames = [f for f in frames if len(f)]
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BREACH_COLUMNS)
        places = pd.DataFrame([ctx.place(int(c)) for c in out["compound_id"]], columns=PLACE_COLUMNS)
        return _nulls(pd.concat([out, places], axis=1))

    def entries(self, *, year: int | None = None) -> pd.DataFrame:
        """Every entry of ``year``'s projects (default the latest year), superseded ones included, by date."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return self._context(conn, year).entries

    def ledger(self, compound_id: int, *, year: int | None = None, on: date | None = None) -> Ledger:
        """The ledger of the compound's project (its latest, or ``year``'s) on ``on`` (default today).

        Examples
        --------
        >>> led = ws.funds.ledger(12)
        >>> led.totals["contract"], led.totals["paid"]
        >>> led.by_source  # source, zh, planned, received, paid
        >>> led.breaches[["rule_zh", "detail"]]
        """
        day = clock.today(on)
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            ctx, pid = self._project_id(conn, compound_id, year)
            entries = ctx.entries[ctx.entries["project_id"] == pid].reset_index(drop=True)
            cited = sorted({int(e) for ev in entries["evidence"] for e in (ev or [])})
            items = evidence_store.items(conn, ids=cited) if cited else pd.DataFrame(columns=["id"])
        return self._ledger(ctx, pid, entries, day, items)

    def _ledger(self, ctx: Context, pid: int, entries: pd.DataFrame, day: date, items: pd.DataFrame) -> Ledger:
        p = ctx.projects[pid]
        now = standing(entries, day)
        superseded_by = {
            int(s): int(i) for s, i in zip(entries["supersedes"], entries["id"], strict=True) if pd.notna(s)
        }
        entries = entries.astype(object).where(entries.notna(), None)  # a null is None, never a truthy NaN
        entries = entries.assign(
            kind_zh=entries["kind"].map(lambda k: KINDS[k][0]),
            standing=entries["id"].isin(now["id"]),
            superseded_by=pd.array([superseded_by.get(int(i)) for i in entries["id"]], dtype="Int64"),
        )
        c = chain(entries.drop(columns=["kind_zh", "standing", "superseded_by"]), day)
        plan = plan_of(p)
        labels = self.sources()
        rows = [
            {"source": s, "zh": labels.get(s, s), "planned": money(plan.funding.get(s)) if plan.funding else None}
            | {"received": c.received.get(s, ZERO), "paid": c.paid.get(s, ZERO)}
            for s in labels
            if s in plan.funding or s in c.received or s in c.paid
        ]
        project = {"project_id": pid, "compound_id": p.compound_id, "year": p.year, **ctx.place(p.compound_id)}
        project |= {"investment_planned": p.investment_planned, "planned_total": plan.planned_total}
        project["funding"] = {k: money(v) for k, v in plan.funding.items()}
        breaches = self._breaches(ctx, day, [pid])
        keep = [c for c in ("id", "filename", "category", "media_type", "withdrawn_at") if c in items.columns]
        return Ledger(project, day, entries, c.totals(), pd.DataFrame(rows), breaches, items[keep])

    def ledgers(
        self,
        *,
        compound_id: int | None = None,
        street: str | None = None,
        year: int | None = None,
        on: date | None = None,
    ) -> list[Ledger]:
        """The ledgers of one compound's project, or of a street's projects (those with entries or not)."""
        if compound_id is not None:
            return [self.ledger(compound_id, year=year, on=on)]
        day = clock.today(on)
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            ctx = self._context(conn, year)
            ids = [
                pid
                for pid, p in sorted(ctx.projects.items(), key=lambda kv: kv[1].compound_id)
                if street is None or ctx.place(p.compound_id)["street"] == street
            ]
            if street is not None and not ids:
                raise NotFoundError(f"no project of the street {street!r} in {ctx.year} / 该街道无改造项目")
            cited = sorted({int(e) for ev in ctx.entries["evidence"] for e in (ev or [])})
            items = evidence_store.items(conn, ids=cited) if cited else pd.DataFrame(columns=["id", "compound_id"])
        out = []
        for pid in ids:
            entries = ctx.entries[ctx.entries["project_id"] == pid].reset_index(drop=True)
            mine = items[items["compound_id"] == ctx.projects[pid].compound_id] if len(items) else items
            out.append(self._ledger(ctx, pid, entries, day, mine))
        return out

    def pack(
        self,
        *,
        compound_id: int | None = None,
        street: str | None = None,
        year: int | None = None,
        on: date | None = None,
    ) -> Pack:
        """The auditor's pack's inputs for one compound's project or a street's projects (write it with
        :func:`gis.export.audit_pack.write_pack`)."""
        if (compound_id is None) == (street is None):
            raise FundsError("a pack is of one compound or one street / 请指定小区或街道之一")
        ledgers = self.ledgers(compound_id=compound_id, street=street, year=year, on=on)
        first = ledgers[0].project
        what = f"{first['name']}（{first['compound_id']}）" if compound_id is not None else str(street)
        title = f"{what} {first['year']}年度老旧小区改造项目跟踪审计资料"
        return Pack(title, ledgers[0].on, ledgers, self.rule_table(), self.sources())

    def check(
        self,
        *,
        compound_id: int | None = None,
        street: str | None = None,
        year: int | None = None,
        on: date | None = None,
    ) -> pd.DataFrame:
        """Every breach standing on ``on`` (default today), of one compound's project, a street's or all of
        ``year``'s (default the latest): :data:`gis.funds.rules.BREACH_COLUMNS` with name, district, street.

        Examples
        --------
        >>> ws.funds.check()[["name", "rule_zh", "detail"]]
        >>> ws.funds.check(street="学院路街道")
        """
        day = clock.today(on)
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            ctx = self._context(conn, year)
        found = self._breaches(ctx, day)
        if compound_id is not None:
            found = found[found["compound_id"] == compound_id]
        if street is not None:
            found = found[found["street"] == street]
        return found.reset_index(drop=True)

    def street_figures(self, on: date, *, year: int | None = None) -> pd.DataFrame:
        """Per street with projects in ``year`` (default the programme's latest year): ``district, street,
        projects, planned_wan, received_wan, paid_wan, breaches``.

        ``planned_wan`` is the sum of the projects' planned funding of all sources, a project with no
        funding split planned counting its planned investment (``investment_planned``) instead;
        ``received_wan`` and ``paid_wan`` are the funds received and paid up to and including ``on``;
        ``breaches`` the count of breaches standing on ``on``. Amounts are floats rounded to 2 decimals.

        Examples
        --------
        >>> ws.funds.street_figures(date(2026, 11, 30))
        """
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            ctx = self._context(conn, year)
        return self._streets(ctx, on)

    def _streets(self, ctx: Context, on: date) -> pd.DataFrame:
        per = self._per_project(ctx, on)
        if per.empty:
            return pd.DataFrame(columns=STREET_COLUMNS)
        counted = self._breaches(ctx, on).groupby("project_id").size()
        per["breaches"] = per["project_id"].map(counted).fillna(0).astype(int)
        per["projects"] = 1
        keys = ["district", "street"]
        out = per.groupby(keys, dropna=False, sort=True)[["projects", "planned", "received", "paid", "breaches"]].sum()
        out = out.reset_index().rename(
            columns={"planned": "planned_wan", "received": "received_wan", "paid": "paid_wan"}
        )
        for c in ("planned_wan", "received_wan", "paid_wan"):
            out[c] = [round(float(v), 2) for v in out[c]]
        return out[STREET_COLUMNS]

    def _per_project(self, ctx: Context, on: date) -> pd.DataFrame:
        """Per project: district, street, planned (Decimal), received and paid up to ``on``."""
        now = standing(ctx.entries, on)
        sums: dict[tuple[int, str], Decimal] = {}
        for r in now[now["kind"].isin(SOURCED)].to_dict("records") if len(now) else []:
            key = (int(r["project_id"]), str(r["kind"]))
            sums[key] = sums.get(key, ZERO) + money(r["amount"])
        rows = []
        for pid, p in ctx.projects.items():
            place = ctx.place(p.compound_id)
            rows.append(
                {"project_id": pid, "compound_id": p.compound_id, "district": place["district"]}
                | {"street": place["street"], "planned": plan_of(p).planned_total}
                | {"received": sums.get((pid, "received"), ZERO), "paid": sums.get((pid, "payment"), ZERO)}
            )
        return pd.DataFrame(
            rows, columns=["project_id", "compound_id", "district", "street", "planned", "received", "paid"]
        )

    def for_month(self, conn: Connection, on: date, until: datetime) -> MonthFunds:
        """What the 月报 of ``on`` reads from here (the facade hands it down): per project of every year the
        funds received and paid up to ``on`` as recorded by ``until``, and the breaches standing then (the
        report keeps its own year's projects)."""
        frames, found = [], []
        for year in programme.years(conn):
            ctx = self._context(conn, year, recorded_by=until)
            per = self._per_project(ctx, on)
            frames.append(
                pd.DataFrame(
                    {
                        "project_id": per["project_id"],
                        "funds_received": [float(v) for v in per["received"]],
                        "funds_paid": [float(v) for v in per["paid"]],
                    }
                )
            )
            found.append(self._breaches(ctx, on))
        if not frames:
            return MonthFunds.empty()
        return MonthFunds(pd.concat(frames, ignore_index=True), pd.concat(found, ignore_index=True))


def _amount(value: Amount, *, negative: bool) -> Decimal:
    """An amount in 万元: two decimals at most, below 10^10; negative only when ``negative``."""
    text = str(value).strip()
    sign = Decimal(1)
    if negative and text.startswith("-"):
        sign, text = Decimal(-1), text[1:]
    try:
        parsed = parse_money(text)
    except ValueError as exc:
        raise FundsError(f"{exc} / 金额须为不为负的万元数，至多两位小数") from None
    if parsed is None:
        raise FundsError("an entry needs an amount / 请填写金额")
    return (sign * parsed).quantize(CENT)
