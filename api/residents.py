"""居民参与 over HTTP: consultations and notices for planners, the open notices (公示) and the public's
feedback for everyone.

The public may: read the notices open today (``GET /api/notices/public``), leave feedback on a compound
(``POST /api/feedback``: no account; rate-limited per client address and for everyone together with
`limits`' moving window, 429 with ``Retry-After`` past it; the body capped at 16 KB as it streams,
:mod:`api.bodies`), and read published feedback (``GET /api/feedback/published``: the scrubbed text,
rating, reply and dates only). Everything else is for planners: what the public sent is shown to
nobody else before a planner publishes it, and its contact never.

The limiter counts in each server process's memory, as the sign-in limiter does (:mod:`api.auth`):
N worker processes allow up to N times the limits; behind a proxy every client has the proxy's address.
"""

from __future__ import annotations

import math
import time
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict, Field

from api import jsonable
from api.deps import CallerDep, IdPath, WorkspaceDep, require_planner
from gis.residents.consultations import Opening, Result
from gis.residents.public import Message, NoticeDraft
from gis.residents.rules import FeedbackLimits

router = APIRouter(prefix="/api", tags=["居民参与 Residents"])
Compound = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="only this compound's")]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Area = Annotated[float, Field(ge=0, le=1e9)]
Owners = Annotated[int, Field(ge=0, le=1_000_000)]


class FeedbackLimiter:
    """At most ``per_client`` messages per client address and ``everyone`` messages in all, each in
    its moving window (``layers/programme/residents.yaml`` ``feedback``)."""

    EVERYONE = "*"

    def __init__(self, limits: FeedbackLimits) -> None:
        self.client = RateLimitItemPerSecond(limits.per_client.count, limits.per_client.seconds)
        self.everyone = RateLimitItemPerSecond(limits.everyone.count, limits.everyone.seconds)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def take(self, client: str) -> int | None:
        """Count one message of ``client``; None when it may send it, else the seconds to wait (≥ 1)."""
        for item, key in ((self.client, client), (self.everyone, self.EVERYONE)):
            if not self.limiter.test(item, key):
                reset = self.limiter.get_window_stats(item, key).reset_time
                return max(1, math.ceil(reset - time.time()))
        self.limiter.hit(self.client, client)
        self.limiter.hit(self.everyone, self.EVERYONE)
        return None


# -- bodies ------------------------------------------------------------------------------------------
class ConsultationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compound_id: Id
    topic: str = Field(min_length=1, max_length=100)
    channel: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=200)
    opens_on: date
    closes_on: date
    total_area: Area
    total_owners: Owners
    proposal: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class ResultBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str = Field(min_length=1, max_length=200)
    unit_kind: str = Field(default="building", pattern="^(building|household)$")
    area: Area
    owners: Owners
    favour_area: Area
    favour_owners: Owners
    against_area: Area
    against_owners: Owners
    supersedes: Id | None = None


class ResultsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    results: list[ResultBody] = Field(min_length=1, max_length=2000)


class OutcomeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: date | None = None


class NoticeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compound_id: Id
    kind: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20000)
    from_on: date
    to_on: date


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compound_id: Id
    text: str = Field(min_length=1, max_length=1000)
    rating: int | None = Field(default=None, ge=1, le=5)
    contact: str | None = Field(default=None, max_length=100)


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reply: str = Field(min_length=1, max_length=2000)


class PublishBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, max_length=1000)


# -- consultations (planners) ------------------------------------------------------------------------
@router.post("/consultations", status_code=201, summary="Open a consultation (征求居民意见) of a compound (planners)")
def open_consultation(ws: WorkspaceDep, caller: CallerDep, body: ConsultationBody) -> dict[str, Any]:
    require_planner(caller, "opening a consultation")
    fields = body.model_dump(exclude={"compound_id"})
    opening = Opening(**fields)
    return jsonable.value(
        ws.residents.open_consultation(body.compound_id, opening, actor=caller.actor, role=caller.role)
    )


@router.get("/consultations", summary="Consultations (planners)")
def consultations(ws: WorkspaceDep, caller: CallerDep, compound_id: Compound = None) -> list[dict[str, Any]]:
    require_planner(caller, "consultations")
    return jsonable.records(ws.residents.consultations(compound_id))


@router.get("/consultations/{consultation_id}", summary="One consultation with its results and outcomes (planners)")
def consultation(ws: WorkspaceDep, caller: CallerDep, consultation_id: IdPath) -> dict[str, Any]:
    require_planner(caller, "consultations")
    return jsonable.value(ws.residents.consultation(consultation_id))


@router.post(
    "/consultations/{consultation_id}/results",
    status_code=201,
    summary="Record results per building or household (planners)",
)
def record_results(
    ws: WorkspaceDep, caller: CallerDep, consultation_id: IdPath, body: ResultsBody
) -> list[dict[str, Any]]:
    require_planner(caller, "recording results")
    given = [Result(**r.model_dump()) for r in body.results]
    return jsonable.records(ws.residents.record_results(consultation_id, given, actor=caller.actor, role=caller.role))


@router.post(
    "/consultations/{consultation_id}/outcome",
    status_code=201,
    summary="Work out and store the outcome by the owners' rule; a passed property-management vote sets the plan",
)
def outcome(ws: WorkspaceDep, caller: CallerDep, consultation_id: IdPath, body: OutcomeBody) -> dict[str, Any]:
    require_planner(caller, "deciding a consultation")
    return jsonable.value(ws.residents.decide(consultation_id, on=body.on, actor=caller.actor, role=caller.role))


# -- notices -----------------------------------------------------------------------------------------
@router.get("/notices/public", summary="公示: the notices open today, with the compound's accepted evidence (everyone)")
def public_notices(ws: WorkspaceDep) -> list[dict[str, Any]]:
    return list(jsonable.value(ws.residents.public_notices()))


@router.get("/notices", summary="Every notice, closed ones included (planners)")
def notices(ws: WorkspaceDep, caller: CallerDep, compound_id: Compound = None) -> list[dict[str, Any]]:
    require_planner(caller, "notices")
    return jsonable.records(ws.residents.notices(compound_id))


@router.post("/notices", status_code=201, summary="Publish a notice (公示) for its period (planners)")
def add_notice(ws: WorkspaceDep, caller: CallerDep, body: NoticeBody) -> dict[str, Any]:
    require_planner(caller, "publishing a notice")
    draft = NoticeDraft(body.kind, body.title, body.text, body.from_on, body.to_on)
    return jsonable.value(ws.residents.add_notice(body.compound_id, draft, actor=caller.actor, role=caller.role))


@router.post("/notices/{notice_id}/close", summary="Close a notice (planners)")
def close_notice(ws: WorkspaceDep, caller: CallerDep, notice_id: IdPath) -> dict[str, Any]:
    require_planner(caller, "closing a notice")
    return jsonable.value(ws.residents.close_notice(notice_id, actor=caller.actor, role=caller.role))


# -- feedback ----------------------------------------------------------------------------------------
@router.post(
    "/feedback",
    status_code=202,
    summary="Leave feedback on a compound (everyone, no account): rate-limited, held for moderation",
)
def submit_feedback(request: Request, ws: WorkspaceDep, caller: CallerDep, body: FeedbackBody) -> dict[str, Any]:
    limiter: FeedbackLimiter = request.app.state.feedback_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.take(client)
    if wait is not None:
        raise HTTPException(
            429,
            f"too much feedback; try again in {wait} s / 留言过于频繁，请稍后再试",
            headers={"Retry-After": str(wait)},
        )
    message = Message(body.text, body.rating, body.contact)
    return ws.residents.submit_feedback(body.compound_id, message, actor=caller.actor)


@router.get("/feedback/published", summary="Published feedback: text, rating, reply and dates only (everyone)")
def published_feedback(ws: WorkspaceDep, compound_id: Compound = None) -> list[dict[str, Any]]:
    return jsonable.records(ws.residents.published_feedback(compound_id))


@router.get("/feedback", summary="Feedback with its state and contact (planners)")
def feedback(ws: WorkspaceDep, caller: CallerDep, compound_id: Compound = None) -> list[dict[str, Any]]:
    require_planner(caller, "feedback")
    return jsonable.records(ws.residents.feedback(compound_id, role=caller.role))


@router.get("/feedback/{feedback_id}", summary="One feedback item with its steps (planners)")
def feedback_item(ws: WorkspaceDep, caller: CallerDep, feedback_id: IdPath) -> dict[str, Any]:
    require_planner(caller, "feedback")
    return jsonable.value(ws.residents.feedback_item(feedback_id, role=caller.role))


@router.post("/feedback/{feedback_id}/answer", summary="Answer a feedback item (planners)")
def answer(ws: WorkspaceDep, caller: CallerDep, feedback_id: IdPath, body: ReplyBody) -> dict[str, Any]:
    require_planner(caller, "answering feedback")
    return jsonable.value(ws.residents.answer(feedback_id, body.reply, actor=caller.actor, role=caller.role))


@router.post("/feedback/{feedback_id}/publish", summary="Publish a feedback item, scrubbed of personal data (planners)")
def publish(ws: WorkspaceDep, caller: CallerDep, feedback_id: IdPath, body: PublishBody) -> dict[str, Any]:
    require_planner(caller, "publishing feedback")
    return jsonable.value(ws.residents.publish(feedback_id, text=body.text, actor=caller.actor, role=caller.role))


@router.post("/feedback/{feedback_id}/reject", summary="Refuse (or withdraw) a feedback item's publication (planners)")
def reject(ws: WorkspaceDep, caller: CallerDep, feedback_id: IdPath) -> dict[str, Any]:
    require_planner(caller, "moderating feedback")
    return jsonable.value(ws.residents.reject(feedback_id, actor=caller.actor, role=caller.role))


@router.post("/feedback/{feedback_id}/close", summary="Close a feedback item (办结) (planners)")
def close(ws: WorkspaceDep, caller: CallerDep, feedback_id: IdPath) -> dict[str, Any]:
    require_planner(caller, "closing feedback")
    return jsonable.value(ws.residents.close(feedback_id, actor=caller.actor, role=caller.role))
