"""Notices (公示) and the public's feedback on a compound, held for moderation.

- A notice has a kind (residents.yaml ``notice_kinds``), a title, plain text and a period; it is open
  on the days of its period until a planner closes it. :meth:`PublicDesk.public_notices` is what the
  public map shows: each notice open today, with the compound's passed acceptance and its published
  evidence (the evidence floor's own public readings).
- Feedback is left by anyone, without an account: a short text, a rating 1–5 (满意度) and a contact,
  all optional but the text. Nothing of it is public until a planner publishes it; what is
  published is the text scrubbed of e-mail addresses, ID-card and phone numbers
  (:func:`gis.residents.rules.scrub`), never the contact. Every planner's step (answer, publish,
  reject, close) is a row of its own naming the actor.
- :meth:`PublicDesk.feedback_figures`: per street, the feedback received in a period, answered,
  closed, rated and satisfied (rating ≥ ``satisfied_from``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from gis import clock
from gis.errors import ConflictError, NotFoundError, ProgrammeError
from gis.evidence.acceptance import Acceptances
from gis.evidence.service import Evidence
from gis.programme import store as programme
from gis.programme.rules import require_planner
from gis.registry import registry
from gis.residents import store
from gis.residents.rules import residents_rules, scrub
from gis.roles import Role
from gis.store import layers
from gis.store.audit import audited
from gis.store.database import Database

FIGURES = ["district", "street", "received", "answered", "closed", "rated", "satisfied"]
PUBLIC_FEEDBACK = ["id", "compound_id", "text", "rating", "reply", "received_at", "published_at"]


@dataclass
class NoticeDraft:
    """A notice as a planner writes it: kind (改造方案公示 …), title, plain text, period."""

    kind: str
    title: str
    body: str
    from_on: date
    to_on: date
    synthetic: str | None = None


@dataclass
class Message:
    """Feedback as the public leaves it: the text, an optional rating 1–5 and contact."""

    text: str
    rating: int | None = None
    contact: str | None = None
    synthetic: str | None = None
    received_at: datetime | None = None  # the demo's and tests' back-dating; the API never sets it


def _nulls(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)


def _clean(text: str | None, limit: int, what: str) -> str | None:
    """Text as stored: stripped, control characters but line breaks refused, at most ``limit`` characters."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    if len(text) > limit:
        raise ProgrammeError(f"{what} is at most {limit} characters / {what}不得超过 {limit} 字")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text) or "\x7f" in text:
        raise ProgrammeError(f"{what} holds control characters / 含有控制字符")
    return text


class PublicDesk:
    """Notices and feedback of ``ws.residents``."""

    db: Database

    # -- notices ------------------------------------------------------------------------------
    def add_notice(
        self, compound_id: int, draft: NoticeDraft, *, actor: str = "notebook", role: Role = "planner"
    ) -> dict[str, Any]:
        """Publish a notice (公示) of the compound for its period.

        Examples
        --------
        >>> ws.residents.add_notice(12, NoticeDraft("改造方案公示", "石油大院改造方案", "……",
        ...     date(2026, 12, 1), date(2026, 12, 10)), actor="王工")
        """
        require_planner(role, "publishing a notice")
        title = _clean(draft.title, 200, "title / 标题")
        body = _clean(draft.body, 20000, "text / 正文")
        if not title or not body:
            raise ProgrammeError("a notice needs a title and a text / 公示须有标题和正文")
        if draft.to_on < draft.from_on:
            raise ProgrammeError("a notice ends on or after it starts / 公示结束日期不能早于开始日期")
        kind = residents_rules().notice_kind(draft.kind)
        self.db.require_schema()
        new = store.NewNotice(compound_id, kind, title, body, draft.from_on, draft.to_on, draft.synthetic)
        with audited(self.db.engine, actor) as conn:
            if not programme.compound_exists(conn, compound_id):
                raise NotFoundError(f"no compound {compound_id} / 无此小区")
            nid = store.insert_notice(conn, new, actor)
            return self._notice(conn, nid)

    def close_notice(self, notice_id: int, *, actor: str = "notebook", role: Role = "planner") -> dict[str, Any]:
        """Close a notice before its period ends (it stays on record, no longer shown)."""
        require_planner(role, "closing a notice")
        with audited(self.db.engine, actor) as conn:
            found = self._notice(conn, notice_id)
            if not store.close_notice(conn, notice_id, actor):
                raise ConflictError(f"notice {notice_id} was closed on {found['closed_at']} / 该公示已关闭")
            return self._notice(conn, notice_id)

    @staticmethod
    def _notice(conn: Any, notice_id: int) -> dict[str, Any]:
        found = store.notices(conn, notice_id=notice_id)
        if found.empty:
            raise NotFoundError(f"no notice {notice_id} / 无此公示")
        return {str(k): v for k, v in _nulls(found).iloc[0].items()}

    def notices(self, compound_id: int | None = None) -> pd.DataFrame:
        """Every notice (of one compound), closed ones included: for planners."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return store.notices(conn, compound_id=compound_id)

    def public_notices(self, on: date | None = None) -> list[dict[str, Any]]:
        """What the public map shows on ``on`` (default today): each open notice with its compound's
        name and street, its passed acceptance (day, total) and its published evidence."""
        crs = self.db.require_schema()
        day = clock.today(on)
        with self.db.engine.connect() as conn:
            found = [
                {str(k): v for k, v in r.items()} for r in _nulls(store.open_notices(conn, day)).to_dict("records")
            ]
        if not found:
            return []
        ids = sorted({int(n["compound_id"]) for n in found})
        compounds = layers.read(self.db.engine, registry().layer("compounds"), crs, columns=["name", "street"])
        names = {int(r["fid"]): r for r in compounds.loc[compounds["fid"].isin(ids)].to_dict("records")}
        accepted = Acceptances(self.db).public()
        evidence = Evidence(self.db).published()
        out: list[dict[str, Any]] = []
        for n in found:
            c = int(n["compound_id"])
            place = names.get(c, {})
            passed = accepted.loc[accepted["compound_id"] == c]
            items = evidence.loc[evidence["compound_id"] == c]
            out.append(
                n
                | {
                    "compound_name": place.get("name"),
                    "street": place.get("street") if isinstance(place.get("street"), str) else None,
                    "acceptance": _nulls(passed.tail(1)).to_dict("records")[0] if len(passed) else None,
                    "evidence": _nulls(items).to_dict("records"),
                }
            )
        return out

    # -- feedback -----------------------------------------------------------------------------
    def submit_feedback(self, compound_id: int, message: Message, *, actor: str = "public") -> dict[str, Any]:
        """Leave feedback on a compound (anyone, no account): held for moderation. Returns its id and
        ``moderation: pending`` only — nothing of what was sent is echoed back."""
        self.db.require_schema()
        limits = residents_rules().feedback
        text = _clean(message.text, limits.max_chars, "text / 留言")
        if not text:
            raise ProgrammeError("write something / 请填写留言内容")
        contact = _clean(message.contact, limits.max_contact_chars, "contact / 联系方式")
        if message.rating is not None and not 1 <= int(message.rating) <= 5:
            raise ProgrammeError("a rating is 1 to 5 / 满意度评分为 1–5")
        new = store.NewFeedback(compound_id, text, message.rating, contact, message.received_at, message.synthetic)
        with audited(self.db.engine, actor) as conn:
            if not programme.compound_exists(conn, compound_id):
                raise NotFoundError(f"no compound {compound_id} / 无此小区")
            fid = store.insert_feedback(conn, new)
        return {"id": fid, "compound_id": compound_id, "moderation": "pending"}

    def feedback(self, compound_id: int | None = None, *, role: Role = "planner") -> pd.DataFrame:
        """Every item (of one compound) with where it stands — the text as sent and the contact
        included: planners only."""
        require_planner(role, "reading the feedback")
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return store.feedback(conn, compound_id=compound_id)

    def feedback_item(self, feedback_id: int, *, role: Role = "planner") -> dict[str, Any]:
        """One item with its steps (planners)."""
        require_planner(role, "reading the feedback")
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return self._item(conn, feedback_id)

    @staticmethod
    def _item(conn: Any, feedback_id: int) -> dict[str, Any]:
        found = store.feedback(conn, feedback_id=feedback_id)
        if found.empty:
            raise NotFoundError(f"no feedback {feedback_id} / 无此留言")
        row = {str(k): v for k, v in _nulls(found).iloc[0].items()}
        row["steps"] = _nulls(store.steps(conn, feedback_id)).to_dict("records")
        return row

    def _step(self, feedback_id: int, action: str, actor: str, role: Role, **texts: str | None) -> dict[str, Any]:
        require_planner(role, "moderating feedback")
        with audited(self.db.engine, actor) as conn:
            item = self._item(conn, feedback_id)
            if item["closed_at"] is not None:
                raise ConflictError(f"feedback {feedback_id} is closed / 该留言已办结")
            if action == "publish" and texts.get("published_text") is None:
                texts["published_text"] = scrub(str(item["body"]))
            store.insert_step(conn, feedback_id, action, actor, **texts)
            return self._item(conn, feedback_id)

    def answer(
        self, feedback_id: int, reply: str, *, actor: str = "notebook", role: Role = "planner"
    ) -> dict[str, Any]:
        """Answer an item (答复); the latest answer is the one shown once it is published."""
        text = _clean(reply, 2000, "reply / 答复")
        if not text:
            raise ProgrammeError("write the reply / 请填写答复内容")
        return self._step(feedback_id, "answer", actor, role, reply=text)

    def publish(
        self, feedback_id: int, *, text: str | None = None, actor: str = "notebook", role: Role = "planner"
    ) -> dict[str, Any]:
        """Publish an item: its text (or ``text``, the planner's edit) scrubbed of personal data."""
        edited = _clean(text, residents_rules().feedback.max_chars, "text / 留言")
        return self._step(feedback_id, "publish", actor, role, published_text=scrub(edited) if edited else None)

    def reject(self, feedback_id: int, *, actor: str = "notebook", role: Role = "planner") -> dict[str, Any]:
        """Refuse to publish an item (or withdraw a published one): it is no longer shown."""
        return self._step(feedback_id, "reject", actor, role)

    def close(self, feedback_id: int, *, actor: str = "notebook", role: Role = "planner") -> dict[str, Any]:
        """Close an item (办结): no further step; a published one stays shown."""
        return self._step(feedback_id, "close", actor, role)

    def published_feedback(self, compound_id: int | None = None) -> pd.DataFrame:
        """What the public may read: published items' scrubbed text, rating, reply and dates only."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            found = store.published(conn, compound_id)
        found["reply"] = [scrub(r) if isinstance(r, str) else None for r in found["reply"]]
        return found[PUBLIC_FEEDBACK]

    def feedback_figures(self, start: date, end: date) -> pd.DataFrame:
        """Per street (``district, street, received, answered, closed, rated, satisfied``): the feedback
        received from ``start`` to ``end`` (the programme's days, both included), of it how much is
        answered and closed by now, rated, and rated ``satisfied_from`` (4) or more. Every street
        of the compounds layer, zeros where none came; compounds without a street are left out."""
        crs = self.db.require_schema()
        satisfied = residents_rules().feedback.satisfied_from
        with self.db.engine.connect() as conn:
            got = store.received(conn, start, end, str(clock.zone()))
        compounds = pd.DataFrame(
            layers.read(self.db.engine, registry().layer("compounds"), crs, columns=["district", "street"])
        )[["fid", "district", "street"]]
        compounds = compounds.loc[compounds["street"].notna()]
        rows = got.merge(compounds, left_on="compound_id", right_on="fid", how="inner")
        rows["received"] = 1
        rows["rated"] = rows["rating"].notna().astype(int)
        rows["satisfied"] = (rows["rating"].fillna(0) >= satisfied).astype(int)
        rows["answered"] = rows["answered"].astype(bool).astype(int)
        rows["closed"] = rows["closed"].astype(bool).astype(int)
        counts = rows.groupby(["district", "street"], dropna=False)[FIGURES[2:]].sum()
        streets = compounds[["district", "street"]].drop_duplicates().set_index(["district", "street"])
        out = streets.join(counts, how="left").fillna(0).astype(int).reset_index()
        return out.sort_values(["district", "street"], na_position="last").reset_index(drop=True)[FIGURES]
