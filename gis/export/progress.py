"""The progress map's figures (挂图作战): per compound its stage and whether it is overdue, per
street this month's numbers. Pure: it takes the programme's status and the month's report as frames."""

from __future__ import annotations

from typing import Any

import pandas as pd


def progress_overview(status: pd.DataFrame, by_street: pd.DataFrame, month: str) -> dict[str, Any] | None:
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
    """
    if not len(status):
        return None
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
            for r in by_street.to_dict("records")
        ],
    }


def overdue_compounds(overview: dict[str, Any]) -> set[int]:
    """The compounds whose project is behind the plan."""
    return {int(k) for k, v in overview["compounds"].items() if v["overdue"]}
