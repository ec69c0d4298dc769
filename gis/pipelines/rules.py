"""The pipeline rules as data (``layers/standards/pipelines/gb50289.yaml``) and the pure parts of the
checks: each line's categories in 表4.1.9, the crossing order (4.1.12), ageing."""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd

from gis.yamlfiles import load_yaml

FINDING_COLUMNS = [
    "check",
    "fid_a",
    "kind_a",
    "fid_b",
    "kind_b",
    "required_m",
    "actual_m",
    "stretch_m",
    "compound_id",
    "compound_name",
    "value_status",
    "value_source",
    "note",
]


@cache
def rules() -> dict[str, Any]:
    """The pipeline rules of ``layers/standards/pipelines/gb50289.yaml``."""
    path = resources.files("layers") / "standards" / "pipelines" / "gb50289.yaml"
    data: dict[str, Any] = load_yaml(path.read_text(encoding="utf-8"))
    return data


def categories(kind: str | None, diameter: float | None, pressure: str | None) -> tuple[list[str], str | None]:
    """A line's categories in 表4.1.9, most specific first, and the assumption made, if any."""
    spec = rules()["categories"].get(kind or "")
    if spec is None:
        return [], None
    assumption = None
    if "plain" in spec:
        cats = list(spec["plain"])
        assumption = rules()["assumptions"].get(kind)
    elif "by_diameter" in spec:
        if diameter is None or pd.isna(diameter):
            band, assumption = spec["unknown_diameter"], rules()["assumptions"].get(kind)
        else:
            band = "le_200" if diameter <= 200 else "gt_200"
        cats = list(spec["by_diameter"][band])
    else:
        if pressure is None or pressure not in spec["by_pressure"]:
            chosen, assumption = spec["unknown_pressure"], rules()["assumptions"].get(kind)
            if pressure is not None:
                assumption = f"pressure {pressure} is not in 表4.1.9; not checked"
                return [], assumption
        else:
            chosen = pressure
        cats = list(spec["by_pressure"][chosen])
    return cats, assumption


def crossing_rank() -> dict[str, int]:
    """Each kind's place in the crossing order, top first (kinds of the same rank share it)."""
    order = rules()["crossing_order"]
    rank = {k: i for i, k in enumerate(order["value"])}
    rank.update({k: rank[v] for k, v in order.get("same_rank", {}).items()})
    return rank


def wrong_crossings(crossings: pd.DataFrame) -> list[dict[str, Any]]:
    """Crossings where the line that should lie above lies deeper (depths known for both)."""
    order = rules()["crossing_order"]
    rank = crossing_rank()
    wrong = []
    for row in crossings.to_dict("records"):
        ra, rb = rank.get(row["kind_a"]), rank.get(row["kind_b"])
        if ra is None or rb is None or ra == rb:
            continue
        # the line that should lie above, and the other
        top, other = ("a", "b") if ra < rb else ("b", "a")
        gap = float(row[f"depth_{top}"]) - float(row[f"depth_{other}"])
        if gap <= 0:
            continue
        note = (
            f"{row[f'kind_{top}']} should lie above {row[f'kind_{other}']}; it is {gap:.2f} m deeper "
            f"(depths {row['depth_a']} / {row['depth_b']} m)"
        )
        wrong.append(
            {
                "check": "crossing_order",
                "fid_a": row["fid_a"],
                "kind_a": row["kind_a"],
                "fid_b": row["fid_b"],
                "kind_b": row["kind_b"],
                "required_m": None,
                "actual_m": gap,
                "stretch_m": None,
                "value_status": order["status"],
                "value_source": order["source"],
                "note": note,
                "geom": row["geom"],
            }
        )
    return wrong


# What an age-only finding says: the line is a candidate to assess, not a line past its life.
TO_ASSESS = (
    "待评估 to assess: age alone does not make a line due for renewal; it is due where an assessment "
    "finds a hazard (age AND assessed hazard)"
)


def ageing(ages: pd.DataFrame, today: date) -> pd.DataFrame:
    """Ageing findings (without geometry) by the service-life rules of the line's kind and material.

    A material rule (``assess: false``: a material replaced whatever its age) gives an ``ageing``
    finding; an age rule (``assess: true``) gives ``ageing_to_assess``: the line has reached the age
    at which it must be assessed, and is due only if the assessment finds a hazard.
    """
    life = rules()["service_life"]
    rows = []
    for r in ages.to_dict("records"):
        material = r["material"] if isinstance(r["material"], str) else ""
        for rule in life["rules"]:
            kinds = rule["kind"] if isinstance(rule["kind"], list) else [rule["kind"]]
            if r["kind"] not in kinds or ("material" in rule and not re.search(rule["material"], material)):
                continue
            age = today.year - int(r["laid_year"])
            if age >= rule["years"]:
                note = f"{rule['note']}: laid {r['laid_year']}, {age} years" + (f", {material}" if material else "")
                assess = bool(rule.get("assess", True))  # a rule that does not say is read as the weaker claim
                rows.append(
                    {
                        "check": "ageing_to_assess" if assess else "ageing",
                        "fid_a": r["fid"],
                        "kind_a": r["kind"],
                        "required_m": None,
                        "actual_m": None,
                        "stretch_m": None,
                        "value_status": life["status"],
                        "value_source": life["source"],
                        "note": f"{note}; {TO_ASSESS}" if assess else note,
                    }
                )
            break
    return pd.DataFrame(rows, columns=[c for c in FINDING_COLUMNS if c not in ("compound_id", "compound_name")])
