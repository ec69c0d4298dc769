"""The funds ledger's kinds, its rules (``layers/programme/funds.yaml``) and the arithmetic: which entries
stand on a day, a project's chain with its totals, and the breaches. Pure: no table is read here.

An entry stands on a day when its business date is on or before it and no entry dated on or before it
supersedes it. A kind with one value (estimate, budget, tender control price, contract, settlement,
final account) has its latest standing entry as its value; changes, funds received and payments add up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from gis.registry import read_rules
from gis.standards import Status

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# kind -> (zh, en), in the order of the chain
KINDS: dict[str, tuple[str, str]] = {
    "estimate": ("估算/概算", "Estimate"),
    "budget": ("预算", "Budget"),
    "tender_control": ("招标控制价", "Tender control price"),
    "contract": ("合同价", "Contract price"),
    "change": ("变更", "Change"),
    "received": ("资金到位", "Funds received"),
    "payment": ("拨付", "Payment"),
    "settlement": ("结算", "Settlement"),
    "final": ("决算", "Final account"),
}
SINGLE = ("estimate", "budget", "tender_control", "contract", "settlement", "final")  # one standing value
SOURCED = ("received", "payment")  # need a fund source
ENTRY_COLUMNS = [
    "id",
    "project_id",
    "compound_id",
    "year",
    "kind",
    "on_date",
    "amount",
    "source",
    "reason",
    "approved_by",
    "approved_on",
    "document",
    "note",
    "supersedes",
    "evidence",
    "actor",
    "recorded_at",
    "synthetic",
]
BREACH_COLUMNS = [
    "rule",
    "rule_zh",
    "status",
    "project_id",
    "compound_id",
    "entry_id",
    "kind",
    "source",
    "on_date",
    "amount",
    "limit",
    "excess",
    "detail",
]


class FundRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    zh: str
    en: str
    share: float
    status: Status
    source: str


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    note: str
    status: Status


RULE_IDS = (
    "budget_within_estimate",
    "contract_within_tender",
    "change_needs_approval",
    "payments_within_contract",
    "final_within_estimate",
    "payment_within_planned_source",
    "payment_within_received",
)


class FundRules(BaseModel):
    """``layers/programme/funds.yaml``: every rule the ledger is checked against, each with its share."""

    model_config = ConfigDict(extra="forbid")
    source: Source
    rules: list[FundRule]

    @model_validator(mode="after")
    def _complete(self) -> FundRules:
        ids = [r.id for r in self.rules]
        if sorted(ids) != sorted(RULE_IDS):
            raise ValueError(f"funds rules must be exactly {', '.join(RULE_IDS)}; got {', '.join(ids)}")
        return self

    def rule(self, rule_id: str) -> FundRule:
        return next(r for r in self.rules if r.id == rule_id)

    def share(self, rule_id: str) -> Decimal:
        return Decimal(str(self.rule(rule_id).share))


@cache
def fund_rules() -> FundRules:
    """The rules shipped in ``layers/programme/funds.yaml`` (read once)."""
    return read_rules("funds.yaml", FundRules)


@dataclass(frozen=True)
class Plan:
    """What a project's plan says of its money: the investment and the funding per source (万元)."""

    investment_planned: Decimal | None = None
    funding: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def planned_total(self) -> Decimal:
        """The planned funding of all sources; the planned investment where no split is planned."""
        if self.funding:
            return sum((Decimal(v) for v in self.funding.values()), ZERO).quantize(CENT)
        return Decimal(self.investment_planned or 0).quantize(CENT)


def money(value: Any) -> Decimal:
    """A stored amount as an exact two-decimal Decimal (None: 0)."""
    if value is None or (isinstance(value, float) and value != value):
        return ZERO
    return Decimal(str(value)).quantize(CENT)


def standing(entries: pd.DataFrame, on: date) -> pd.DataFrame:
    """The entries standing on ``on``: dated on or before it and not superseded by one that is."""
    if entries.empty:
        return entries
    dated = entries[pd.Series([d <= on for d in entries["on_date"]], index=entries.index, dtype=bool)]
    gone = {int(s) for s in dated["supersedes"].dropna()}
    return dated[~dated["id"].astype(int).isin(gone)]


@dataclass
class Chain:
    """A project's chain on a day: each single value (its entry), the changes, received and paid per
    source, and the totals."""

    values: dict[str, tuple[int, Decimal] | None]  # kind -> (entry id, amount) of each single kind
    changes: pd.DataFrame
    received: dict[str, Decimal]
    paid: dict[str, Decimal]
    approved_changes: Decimal
    unapproved_changes: Decimal

    def value(self, kind: str) -> Decimal | None:
        got = self.values.get(kind)
        return got[1] if got else None

    @property
    def received_total(self) -> Decimal:
        return sum(self.received.values(), ZERO)

    @property
    def paid_total(self) -> Decimal:
        return sum(self.paid.values(), ZERO)

    def totals(self) -> dict[str, Decimal | None]:
        """The figures of the chain (万元): each single value, changes approved and not, the contract with
        its approved changes, received and paid, and what is left to pay."""
        contract = self.value("contract")
        payable = (contract or ZERO) + self.approved_changes
        return {
            **{k: self.value(k) for k in SINGLE},
            "changes_approved": self.approved_changes,
            "changes_unapproved": self.unapproved_changes,
            "contract_with_changes": payable if contract is not None else None,
            "received": self.received_total,
            "paid": self.paid_total,
            "unpaid_received": self.received_total - self.paid_total,
        }


def approved(row: Mapping[Any, Any], on: date) -> bool:
    """A change counts as approved on ``on`` when it names who approved it and the approval is dated by then."""
    day = row.get("approved_on")
    by = row.get("approved_by")
    return isinstance(by, str) and bool(by.strip()) and day is not None and not pd.isna(day) and day <= on


def chain(entries: pd.DataFrame, on: date) -> Chain:
    """The chain of ONE project's entries on ``on``."""
    now = standing(entries, on).sort_values(["on_date", "id"]) if len(entries) else entries
    values: dict[str, tuple[int, Decimal] | None] = dict.fromkeys(SINGLE)
    received: dict[str, Decimal] = {}
    paid: dict[str, Decimal] = {}
    yes = no = ZERO
    rows = now.to_dict("records") if len(now) else []
    for r in rows:
        kind, amount = r["kind"], money(r["amount"])
        if kind in SINGLE:
            values[kind] = (int(r["id"]), amount)
        elif kind == "change":
            if approved(r, on):
                yes += amount
            else:
                no += amount
        elif kind == "received":
            received[r["source"]] = received.get(r["source"], ZERO) + amount
        elif kind == "payment":
            paid[r["source"]] = paid.get(r["source"], ZERO) + amount
    changes = now[now["kind"] == "change"] if len(now) else now
    return Chain(values, changes, received, paid, yes, no)


@dataclass(frozen=True)
class Subject:
    """The project the breaches are of."""

    project_id: int
    compound_id: int
    plan: Plan


def check(entries: pd.DataFrame, subject: Subject, on: date, rules: FundRules | None = None) -> pd.DataFrame:
    """Every breach of ONE project's ledger standing on ``on`` (:data:`BREACH_COLUMNS`)."""
    rules = rules or fund_rules()
    c = chain(entries, on)
    out: list[dict[str, Any]] = []

    def breach(rule_id: str, amount: Decimal, limit: Decimal, what: dict[str, Any]) -> None:
        r = rules.rule(rule_id)
        out.append(
            {"rule": r.id, "rule_zh": r.zh, "status": r.status, "project_id": subject.project_id}
            | {"compound_id": subject.compound_id, "entry_id": None, "kind": None, "source": None, "on_date": None}
            | {"amount": amount, "limit": limit, "excess": (amount - limit).quantize(CENT)}
            | what
        )

    def entry(kind: str) -> dict[str, Any]:
        got = c.values[kind]
        if got is None:
            return {}
        row = entries[entries["id"] == got[0]].iloc[0]
        return {"entry_id": got[0], "kind": kind, "on_date": row["on_date"]}

    def over(rule_id: str, kind: str, base_kind: str) -> None:
        value, base = c.value(kind), c.value(base_kind)
        if value is None or base is None:
            return
        limit = (base * (1 + rules.share(rule_id))).quantize(CENT)
        if value > limit:
            label = f"{KINDS[kind][0]} {value} 万元 > {KINDS[base_kind][0]} {base} 万元"
            breach(rule_id, value, limit, entry(kind) | {"detail": label})

    over("budget_within_estimate", "budget", "estimate")
    over("contract_within_tender", "contract", "tender_control")
    final = "final" if c.value("final") is not None else "settlement"
    over("final_within_estimate", final, "estimate")
    _changes(c, rules, on, breach)
    _payments(entries, c, subject, on, (rules, breach))
    return pd.DataFrame(out, columns=BREACH_COLUMNS)


def _changes(c: Chain, rules: FundRules, on: date, breach: Any) -> None:
    contract = c.value("contract")
    share = rules.share("change_needs_approval")
    threshold = (share * contract).quantize(CENT) if contract is not None else ZERO
    for r in c.changes.to_dict("records") if len(c.changes) else []:
        amount = money(r["amount"])
        if abs(amount) > threshold and not approved(r, on):
            base = f"合同价 {contract} 万元的 {share:.0%}" if contract is not None else "无合同价"
            what = {"entry_id": int(r["id"]), "kind": "change", "on_date": r["on_date"]}
            detail = f"变更 {amount} 万元（{r['reason']}）超过 {threshold} 万元（{base}），未经批准"
            breach("change_needs_approval", abs(amount), threshold, what | {"detail": detail})


def _payments(entries: pd.DataFrame, c: Chain, subject: Subject, on: date, how: tuple[FundRules, Any]) -> None:
    rules, breach = how
    payments = standing(entries, on)
    payments = payments[payments["kind"] == "payment"].sort_values(["on_date", "id"]) if len(payments) else payments
    if not len(payments):
        return
    rows = payments.to_dict("records")

    def first_over(limit: Decimal, source: str | None) -> dict[str, Any]:
        """The payment at which the cumulative sum first passed ``limit`` (of one source, or all)."""
        total = ZERO
        for r in rows:
            if source is None or r["source"] == source:
                total += money(r["amount"])
                if total > limit:
                    return {"entry_id": int(r["id"]), "kind": "payment", "on_date": r["on_date"]}
        return {}

    contract = c.value("contract")
    limit = ((contract or ZERO) + c.approved_changes) * (1 + rules.share("payments_within_contract"))
    limit = limit.quantize(CENT)
    if c.paid_total > limit:
        base = f"合同价 {contract} 万元 + 已批准变更 {c.approved_changes} 万元" if contract is not None else "无合同价"
        detail = f"累计拨付 {c.paid_total} 万元 > {base}"
        breach("payments_within_contract", c.paid_total, limit, first_over(limit, None) | {"detail": detail})
    plan = subject.plan
    share = 1 + rules.share("payment_within_planned_source")
    if plan.funding:
        for source, paid in sorted(c.paid.items()):
            planned = (Decimal(plan.funding.get(source, ZERO)) * share).quantize(CENT)
            if paid > planned:
                detail = f"{source} 累计拨付 {paid} 万元 > 该来源计划资金 {planned} 万元"
                what = first_over(planned, source) | {"source": source, "detail": detail}
                breach("payment_within_planned_source", paid, planned, what)
    else:  # no split planned: the sources are checked together against the planned investment
        planned = (plan.planned_total * share).quantize(CENT)
        if c.paid_total > planned:
            detail = f"计划未分资金来源：累计拨付 {c.paid_total} 万元 > 计划总投资 {planned} 万元"
            breach(
                "payment_within_planned_source", c.paid_total, planned, first_over(planned, None) | {"detail": detail}
            )
    for source, paid in sorted(c.paid.items()):
        got = c.received.get(source, ZERO) * (1 + rules.share("payment_within_received"))
        got = got.quantize(CENT)
        if paid > got:
            detail = f"{source} 累计拨付 {paid} 万元 > 该来源到位资金 {got} 万元"
            breach("payment_within_received", paid, got, first_over(got, source) | {"source": source, "detail": detail})
