"""The quarter's scores: figures and the scheme to points per street and item, the totals and the
ranking. Pure: no table is read here.

An item is scored from the ratio of its two figures (:class:`gis.assessment.scheme.Figure`) or, for a
manual item, from the latest score a planner recorded. An item that cannot be scored — its figures
null (the source was not handed in), its denominator 0 with ``when_empty: not_scored``, a manual item
nobody scored — is 未计分 with the reason, never 0; the scheme's ``missing`` says whether the total is
rescaled to the full weight (缺项按比例折算) or left as the points scored. Streets are ranked by total,
highest first; equal totals (at two decimals) share a rank (1, 1, 3); a street with nothing scored has
no total and no rank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Self

import pandas as pd

from gis.assessment.figures import FIGURES, KEYS, SOURCE_ZH
from gis.assessment.scheme import Item, Scheme

CENT = Decimal("0.01")
RATIO = Decimal("0.0001")
ITEM_COLUMNS = [*KEYS, "item", "zh", "weight", "numerator", "denominator", "value", "points", "scored", "reason"]
ITEM_COLUMNS += ["note", "evidence", "actor"]
TOTAL_COLUMNS = [*KEYS, "points", "weight_scored", "total", "rank"]
NO_DATA = "未计分：无数据（{source}未接入） / not scored: no data"
NO_BASE = "未计分：无应考核对象 / not scored: nothing was due"
NOT_MANUAL = "未计分：尚未人工评分 / not scored yet"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def number(value: Any) -> Decimal | None:
    """A figure as a Decimal (None for a null)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return Decimal(str(value))


@dataclass(frozen=True)
class ItemScore:
    value: Decimal | None
    points: Decimal | None
    reason: str = ""


def score_ratio(item: Item, numerator: Decimal | None, denominator: Decimal | None, source: str) -> ItemScore:
    """One street's points on one figure item."""
    if numerator is None or denominator is None:
        return ItemScore(None, None, NO_DATA.format(source=source))
    if denominator == 0:
        return ItemScore(None, item.points, "") if item.when_empty == "full" else ItemScore(None, None, NO_BASE)
    ratio = numerator / denominator
    weight = Decimal(str(item.weight))
    if item.score == "linear":
        assert item.target is not None
        points = weight * min(Decimal(1), ratio / Decimal(str(item.target)))
    else:
        share = next((s.share for s in item.steps if ratio >= Decimal(str(s.at_least))), 0.0)
        points = weight * Decimal(str(share))
    return ItemScore(ratio.quantize(RATIO, rounding=ROUND_HALF_UP), cents(max(points, Decimal(0))))


def rank(totals: list[Decimal | None]) -> list[int | None]:
    """Competition ranks, highest first: equal totals share the better rank (1, 1, 3); None: no rank."""
    ordered = sorted((t for t in totals if t is not None), reverse=True)
    first: dict[Decimal, int] = {}
    for i, t in enumerate(ordered):
        first.setdefault(t, i + 1)
    return [None if t is None else first[t] for t in totals]


def total_of(points: Decimal, weight_scored: Decimal, scheme: Scheme) -> Decimal | None:
    if weight_scored == 0:
        return None
    if scheme.missing.value == "rescale":
        return cents(points * scheme.total_points / weight_scored)
    return cents(points)


@dataclass
class QuarterScores:
    """A quarter's scores: per street and item (``items``), per street (``totals``, ranked).

    ``published``: stored and locked (a snapshot, as published); ``missing``: the sources whose frame
    was not handed in (their items 未计分).
    """

    quarter: str
    last_day: date
    computed_at: datetime
    items: pd.DataFrame
    totals: pd.DataFrame
    missing: list[str] = field(default_factory=list)
    published: bool = False
    published_at: datetime | None = None
    published_by: str | None = None

    def ranking(self) -> pd.DataFrame:
        """The totals by rank (streets without a total last)."""
        t = self.totals.assign(_norank=self.totals["rank"].isna())
        return t.sort_values(["_norank", "rank", *KEYS]).drop(columns="_norank").reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (amounts and points as exact decimal text): what a publication stores."""

        def plain(v: Any) -> Any:
            if isinstance(v, Decimal):
                return str(v)
            if isinstance(v, list | tuple):
                return [plain(x) for x in v]
            if v is None or (isinstance(v, float) and pd.isna(v)):
                return None
            return v.item() if hasattr(v, "item") else v

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{str(k): plain(v) for k, v in r.items()} for r in frame.to_dict("records")]

        return {
            "quarter": self.quarter,
            "last_day": self.last_day.isoformat(),
            "computed_at": self.computed_at.isoformat(),
            "items": records(self.items),
            "totals": records(self.ranking()),
            "missing": list(self.missing),
            "published": self.published,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "published_by": self.published_by,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """The scores as :meth:`to_dict` gave them (a published quarter's, exactly as published)."""
        items = pd.DataFrame(d["items"], columns=ITEM_COLUMNS)
        for c in ("weight", "numerator", "denominator", "value", "points"):
            items[c] = items[c].map(number).astype(object)
        totals = pd.DataFrame(d["totals"], columns=TOTAL_COLUMNS)
        for c in ("points", "weight_scored", "total"):
            totals[c] = totals[c].map(number).astype(object)
        totals["rank"] = totals["rank"].astype(object).where(totals["rank"].notna(), None)
        return cls(
            quarter=d["quarter"],
            last_day=date.fromisoformat(d["last_day"]),
            computed_at=datetime.fromisoformat(d["computed_at"]),
            items=items,
            totals=totals,
            missing=list(d.get("missing") or []),
            published=bool(d.get("published")),
            published_at=datetime.fromisoformat(d["published_at"]) if d.get("published_at") else None,
            published_by=d.get("published_by"),
        )


@dataclass(frozen=True)
class ScoreInputs:
    """What :func:`score` takes: the figures per street (``QuarterFigures.table()``), the latest manual
    scores (``district, street, item, points, note, evidence, actor``) and the sources not handed in."""

    quarter: str
    last_day: date
    figures: pd.DataFrame
    manual: pd.DataFrame
    missing: list[str]
    computed_at: datetime


def _manual_row(item: Item, given: Mapping[Any, Any] | None) -> dict[str, Any]:
    if given is None:
        return {"points": None, "scored": False, "reason": NOT_MANUAL, "note": None, "evidence": [], "actor": None}
    evidence = [int(e) for e in given["evidence"]]
    points = cents(Decimal(str(given["points"])))
    return {"points": points, "scored": True, "reason": "", "note": given["note"], "evidence": evidence} | {
        "actor": given["actor"]
    }


def _figure_row(item: Item, street: Mapping[Any, Any]) -> dict[str, Any]:
    from_figures = item.figure
    assert from_figures is not None
    num_name, den_name = from_figures.ratio
    num, den = number(street[num_name]), number(street[den_name])
    source = "、".join(sorted({_source_zh(num_name), _source_zh(den_name)}))
    got = score_ratio(item, num, den, source)
    return {"numerator": num, "denominator": den, "value": got.value, "points": got.points} | {
        "scored": got.points is not None,
        "reason": got.reason,
        "note": None,
        "evidence": [],
        "actor": None,
    }


def _source_zh(figure: str) -> str:
    return SOURCE_ZH[FIGURES[figure].source]


def score(inputs: ScoreInputs, scheme: Scheme) -> QuarterScores:
    """The scores of every street of ``inputs.figures`` on every item of ``scheme``."""
    manual = {
        (r["district"], r["street"], r["item"]): r for r in inputs.manual.to_dict("records") if scheme.item(r["item"])
    }
    rows: list[dict[str, Any]] = []
    totals: list[dict[str, Any]] = []
    for street in inputs.figures.to_dict("records"):
        got = Decimal(0)
        weight = Decimal(0)
        for item in scheme.items:
            base = {"district": street["district"], "street": street["street"], "item": item.id, "zh": item.zh}
            base |= {"weight": item.points, "numerator": None, "denominator": None, "value": None}
            if item.kind == "manual":
                row = base | _manual_row(item, manual.get((street["district"], street["street"], item.id)))
            else:
                row = base | _figure_row(item, street)
            if row["scored"]:
                got += row["points"]
                weight += item.points
            rows.append(row)
        totals.append({"district": street["district"], "street": street["street"], "points": cents(got)})
        totals[-1] |= {"weight_scored": weight, "total": total_of(got, weight, scheme)}
    ranks = rank([t["total"] for t in totals])
    for t, r in zip(totals, ranks, strict=True):
        t["rank"] = r
    return QuarterScores(
        quarter=inputs.quarter,
        last_day=inputs.last_day,
        computed_at=inputs.computed_at,
        items=pd.DataFrame(rows, columns=ITEM_COLUMNS),
        totals=pd.DataFrame(totals, columns=TOTAL_COLUMNS).astype({"rank": object}),
        missing=list(inputs.missing),
    )
