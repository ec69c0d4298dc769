"""资金与跟踪审计 over HTTP, for planners only: a project's ledger, adding an entry, the breaches, the streets'
figures and the auditor's pack. The ledger is not public: to the public (signed in or not) these routes do
not exist (404), as a restricted layer does not."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api import jsonable
from api.auth import Caller
from api.deps import CallerDep, IdPath, WorkspaceDep
from gis import clock
from gis.export.audit_pack import write_pack
from gis.funds.service import Entry, Ledger

router = APIRouter(prefix="/api/funds", tags=["资金与跟踪审计 Funds"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Year = Annotated[int | None, Query(ge=2000, le=2100, description="the programme year (default the latest)")]
On = Annotated[date | None, Query(description="the day (default today)")]
Compound = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="only this compound's project")]
Street = Annotated[str | None, Query(min_length=1, max_length=200, description="only this street's projects")]
Text = Annotated[str | None, Field(default=None, max_length=2000)]
Kind = Literal[
    "estimate", "budget", "tender_control", "contract", "change", "received", "payment", "settlement", "final"
]


@dataclass
class Scope:
    """Which projects a reading covers (one compound's or a street's; default all of the year's) and on what day."""

    compound_id: Compound = None
    street: Street = None
    year: Year = None
    on: On = None

    def kwargs(self) -> dict[str, Any]:
        return {"compound_id": self.compound_id, "street": self.street, "year": self.year, "on": self.on}


ScopeDep = Annotated[Scope, Depends()]


class NewEntry(BaseModel):
    """One ledger entry; amounts in 万元 as text or a number (two decimals; only a change may be negative)."""

    model_config = ConfigDict(extra="forbid")
    kind: Kind
    amount: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$")]
    on: date
    # not "source": that key names a feature's provenance, which public bodies (this schema) never carry
    fund_source: str | None = Field(default=None, max_length=50, description="central 中央补助, local 地方财政 …")
    reason: Text = None
    approved_by: str | None = Field(default=None, max_length=200)
    approved_on: date | None = None
    document: str | None = Field(default=None, max_length=200)
    note: Text = None
    supersedes: int | None = Field(default=None, ge=1, le=2**63 - 1)
    evidence: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(default=[], max_length=100)
    year: int | None = Field(default=None, ge=2000, le=2100)


def _planners(caller: Caller) -> None:
    """The ledger does not exist for the public: 404, as for a restricted layer."""
    if caller.role == "public":
        raise HTTPException(404, "not found")


def _ledger(led: Ledger) -> dict[str, Any]:
    return {
        "project": jsonable.value(led.project),
        "on": led.on.isoformat(),
        "entries": jsonable.value(led.entries.to_dict("records")),
        "totals": jsonable.value(led.totals),
        "by_source": jsonable.value(led.by_source.to_dict("records")),
        "breaches": jsonable.value(led.breaches.to_dict("records")),
        "evidence": jsonable.value(led.evidence.to_dict("records")),
    }


@router.get("/breaches", summary="Every breach of the funding rules standing on a day (planners)")
def breaches(ws: WorkspaceDep, caller: CallerDep, scope: ScopeDep) -> list[dict[str, Any]]:
    _planners(caller)
    return jsonable.records(ws.funds.check(**scope.kwargs()))


@router.get("/rules", summary="The funding rules (layers/programme/funds.yaml) with the status of each (planners)")
def rules(ws: WorkspaceDep, caller: CallerDep) -> list[dict[str, Any]]:
    _planners(caller)
    return jsonable.value(ws.funds.rule_table().to_dict("records"))


@router.get("/streets", summary="Per street: projects, planned, received, paid (万元) and breaches (planners)")
def streets(ws: WorkspaceDep, caller: CallerDep, year: Year = None, on: On = None) -> list[dict[str, Any]]:
    _planners(caller)
    figures = ws.funds.street_figures(clock.today(on), year=year)
    return jsonable.value(figures.to_dict("records"))


@router.get("/pack.xlsx", summary="The auditor's pack of a compound's project or a street (XLSX, planners)")
def pack(ws: WorkspaceDep, caller: CallerDep, scope: ScopeDep) -> Response:
    _planners(caller)
    built = ws.funds.pack(**scope.kwargs())
    with tempfile.TemporaryDirectory() as tmp:
        data = write_pack(built, Path(tmp) / "pack.xlsx").read_bytes()
    name = f"audit-pack-{scope.compound_id}.xlsx" if scope.compound_id is not None else "audit-pack-street.xlsx"
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{compound_id}", summary="The ledger of a compound's project: the chain, totals, sources, breaches")
def ledger(
    ws: WorkspaceDep, caller: CallerDep, compound_id: IdPath, year: Year = None, on: On = None
) -> dict[str, Any]:
    _planners(caller)
    return _ledger(ws.funds.ledger(compound_id, year=year, on=on))


@router.post("/{compound_id}/entries", status_code=201, summary="Add a ledger entry (append-only; planners)")
def add(ws: WorkspaceDep, caller: CallerDep, compound_id: IdPath, body: NewEntry) -> dict[str, Any]:
    _planners(caller)
    fields = body.model_dump(exclude={"year", "fund_source"})
    entry = Entry(**fields, source=body.fund_source)
    row = ws.funds.add(compound_id, entry, year=body.year, actor=caller.actor, role=caller.role)
    return jsonable.value(row)
