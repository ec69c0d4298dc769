"""The progress map's figures (挂图作战): per compound its stage and whether it is overdue, per
street this month's numbers. Pure: it takes the programme's status and the month's report as frames."""

from __future__ import annotations

from typing import Any

import pandas as pd


def progress_overview(
    status: pd.DataFrame, by_street: pd.DataFrame, month: str, feedback: pd.DataFrame | None = None
) -> dict[str, Any] | None:
    """The progress overview, or None when the programme holds no project.

    Parameters
    ----------
    status
        ``Programme.status()``: one row per project of the latest programme year (``year``,
        ``compound_id``, ``stage``, ``overdue``, ``days_behind``, ``due_stage_zh``).
    by_street
        ``MonthReport.by_street`` of ``month``.
    month
        ``"2026-11"``.
    feedback
        The public's feedback per street (``district, street, received, answered, closed``, handed
        down by the facade: ``ws.residents.feedback_figures``); each street's figures then carry
        ``feedback_received``, ``feedback_answered``, ``feedback_closed`` (0 where none came).
    """
    if not len(status):
        return None
    counts: dict[tuple[Any, Any], dict[str, Any]] = {}
    if feedback is not None:
        counts = {(r["district"], r["street"]): {str(k): v for k, v in r.items()} for r in feedback.to_dict("records")}
    return {
        "year": int(status["year"].iloc[0]),
        "month": month,
        "compounds": {
            str(int(r["compound_id"])): {
                "stage": r["stage"],
                "overdue": bool(r["overdue"]),
                "days_behind": int(r["days_behind"]) if pd.notna(r["days_behind"]) else 0,
                "due_stage": r["due_stage_zh"] if r["overdue"] else None,
            }
            for r in status.to_dict("records")
        },
        "streets": [
            {
                "district": r["district"],
                "street": r["street"],
                "projects": int(r["projects"]),
                "started": int(r["started"]),
                "finished": int(r["finished"]),
                "overdue": int(r["overdue"]),
                "investment_planned": float(r["investment_planned"]),
                "investment_spent": float(r["investment_spent"]),
            }
            | (
                {}
                if feedback is None
                else {
                    f"feedback_{k}": int(counts.get((r["district"], r["street"]), {}).get(k, 0))
                    for k in ("received", "answered", "closed")
                }
            )
            for r in by_street.to_dict("records")
        ],
    }


def overdue_compounds(overview: dict[str, Any]) -> set[int]:
    """The compounds whose project is behind the plan."""
    return {int(k) for k, v in overview["compounds"].items() if v["overdue"]}
