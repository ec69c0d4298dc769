"""The programme fixture's data: eight compounds in two districts and three streets (synthetic), a
year's plan and a month-by-month script, plus the schedule-table filler.

The plan and the script are plain data here; the tests compute what the reports must say from these
rows themselves (pandas / plain Python), never through gis.programme.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl

from gis.evidence.acceptance import Sheet
from gis.workspace import Workspace

YEAR = 2026
STAGES = ["survey", "design", "tender", "construction", "completed", "accepted"]

# key, name, district, street, buildings, households, floor area m², property management, lon, lat
COMPOUNDS = [
    ("c1", "石油大院", "海淀区", "学院路街道", 12, 960, 72_000.5, "none", 116.350, 39.995),
    ("c2", "林业小区", "海淀区", "学院路街道", 8, 540, 40_500.0, "committee", 116.352, 39.997),
    ("c3", "展春园", "海淀区", "学院路街道", 5, 310, 23_250.0, "self", 116.354, 39.999),
    ("c4", "东王庄小区", "海淀区", "清华园街道", 20, 1500, 112_000.0, "basic", 116.346, 40.002),
    ("c5", "荷清苑", "海淀区", "清华园街道", 9, 720, 54_000.0, "none", 116.344, 40.004),
    ("c6", "劲松一区", "朝阳区", "劲松街道", 14, 1100, 82_500.0, "none", 116.460, 39.880),
    ("c7", "劲松二区", "朝阳区", "劲松街道", 11, 880, 66_000.0, "committee", 116.462, 39.882),
    ("c8", "未列入计划小区", "朝阳区", "劲松街道", 3, 120, 9_000.0, "self", 116.464, 39.884),
]

# The year's plan: categories, items, planned date of each stage, planned investment (万元), funding.
PLAN = {
    "c1": (
        ["basic", "complete"],
        ["water_supply", "drainage", "elevators"],
        ["2026-01-10", "2026-02-01", "2026-03-01", "2026-04-01", "2026-08-31", "2026-09-30"],
        "1200.50",
        {"central": "600.00", "local": "500.50", "residents": "100.00"},
        "professional",
    ),
    "c2": (
        ["basic"],
        ["roads", "fire_safety"],
        ["2026-01-15", "2026-02-15", "2026-03-15", "2026-04-15", "2026-09-15", "2026-10-15"],
        "560.00",
        {"local": "560.00"},
        None,
    ),
    "c3": (
        ["basic", "complete", "improve"],
        ["gas_supply", "parking", "elderly_care"],
        ["2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01", "2026-10-31", "2026-11-30"],
        "880.25",
        {"central": "400.00", "bonds": "480.25"},
        "basic",
    ),
    "c4": (
        ["basic"],
        ["heating", "building_repair"],
        ["2026-01-05", "2026-02-01", "2026-03-10", "2026-04-20", "2026-09-30", "2026-10-31"],
        "2300.00",
        {"central": "1000.00", "local": "1300.00"},
        "professional",
    ),
    "c5": (
        ["basic", "complete"],
        ["power_supply", "ev_charging"],
        ["2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01", "2026-11-15", "2026-12-15"],
        "990.00",
        {"local": "990.00"},
        "basic",
    ),
    "c6": (
        ["basic"],
        ["water_supply", "overhead_lines"],
        ["2026-01-20", "2026-02-20", "2026-03-20", "2026-05-10", "2026-10-10", "2026-11-10"],
        "1500.00",
        {"central": "700.00", "utilities": "800.00"},
        "professional",
    ),
    "c7": (
        ["basic", "complete"],
        ["drainage", "barrier_free"],
        ["2026-02-10", "2026-03-10", "2026-04-10", "2026-05-20", "2026-10-20", "2026-11-20"],
        "1100.00",
        {"local": "1000.00", "social": "100.00"},
        None,
    ),
}

# What happens, in date order: (date, compound, stage reached) or (date, compound, "spent", 万元).
# c3 slips: it is planned to start construction on 05-01 and only does on 08-20.
SCRIPT = [
    ("2026-01-08", "c4", "survey"),
    ("2026-01-12", "c1", "survey"),
    ("2026-01-16", "c2", "survey"),
    ("2026-01-22", "c6", "survey"),
    ("2026-02-02", "c1", "design"),
    ("2026-02-03", "c3", "survey"),
    ("2026-02-05", "c4", "design"),
    ("2026-02-12", "c7", "survey"),
    ("2026-02-18", "c2", "design"),
    ("2026-02-25", "c6", "design"),
    ("2026-03-02", "c1", "tender"),
    ("2026-03-03", "c5", "survey"),
    ("2026-03-05", "c3", "design"),
    ("2026-03-12", "c4", "tender"),
    ("2026-03-14", "c7", "design"),
    ("2026-03-16", "c2", "tender"),
    ("2026-03-25", "c6", "tender"),
    ("2026-04-01", "c1", "construction"),
    ("2026-04-01", "c1", "spent", "100.00"),
    ("2026-04-02", "c5", "design"),
    ("2026-04-10", "c3", "tender"),
    ("2026-04-12", "c7", "tender"),
    ("2026-04-16", "c2", "construction"),
    ("2026-04-28", "c4", "construction"),  # wrong: construction really started 05-06 (corrected in May)
    ("2026-05-03", "c5", "tender"),
    ("2026-05-12", "c6", "construction"),
    ("2026-05-20", "c7", "construction"),
    ("2026-05-31", "c1", "spent", "450.00"),
    ("2026-05-31", "c4", "spent", "300.00"),
    ("2026-06-01", "c5", "construction"),
    ("2026-06-30", "c2", "spent", "200.00"),
    ("2026-07-31", "c1", "spent", "800.00"),
    ("2026-07-31", "c6", "spent", "600.00"),
    ("2026-08-20", "c3", "construction"),
    ("2026-08-28", "c1", "completed"),
    ("2026-08-31", "c4", "spent", "1500.00"),
    ("2026-09-10", "c2", "completed"),
    ("2026-09-25", "c4", "completed"),
    ("2026-09-28", "c1", "accepted"),
    ("2026-10-08", "c6", "completed"),
    ("2026-10-15", "c2", "accepted"),
    ("2026-10-18", "c7", "completed"),
    ("2026-10-30", "c4", "accepted"),
    ("2026-10-31", "c3", "spent", "500.00"),
    ("2026-11-09", "c6", "accepted"),
    ("2026-11-12", "c5", "completed"),
    ("2026-11-19", "c7", "accepted"),
]


@dataclass
class Fixture:
    ws: Workspace
    fid: dict[str, int]  # compound key -> fid
    compounds_path: Path


def write_compounds(path: Path) -> Path:
    features = []
    for key, name, district, street, buildings, households, area, mgmt, lon, lat in COMPOUNDS:
        d = 0.0008
        ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "编号": key,
                    "小区名称": name,
                    "区县": district,
                    "街道": street,
                    "楼栋数": buildings,
                    "户数": households,
                    "建筑面积": area,
                    "物业管理": mgmt,
                    "计划年度": YEAR if key in PLAN else None,
                },
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def d(s: str) -> date:
    return date.fromisoformat(s)


def fill(template: Path, out: Path, values: dict[str, dict[str, Any]], extra_rows: list[dict[str, Any]] = ()) -> Path:  # type: ignore[assignment]
    wb = openpyxl.load_workbook(template)
    ws = wb["时间配档表"]
    header_row = next(r for r in range(1, 10) if ws.cell(r, 1).value == "小区编号")
    col = {ws.cell(header_row, c).value: c for c in range(1, ws.max_column + 1)}
    for r in range(header_row + 1, ws.max_row + 1):
        for k, v in values.get(ws.cell(r, col["小区名称"]).value, {}).items():
            ws.cell(r, col[k]).value = v
    r = ws.max_row
    for extra in extra_rows:
        r += 1
        for k, v in extra.items():
            ws.cell(r, col[k]).value = v
    wb.save(out)
    return out


def reach(ws: Workspace, compound_id: int, stage: str, when: date, *, actor: str = "街道填报员") -> None:
    """Report a stage as a street's reporter does; ``accepted`` after the acceptance team's passed
    record of the same day (the programme lets no project be accepted without one)."""
    if stage == "accepted":
        full = {i.id: i.points for i in ws.acceptance.rules.items}
        ws.acceptance.record(compound_id, Sheet(when, ["区住建委验收组"], full), actor="验收组")
    ws.programme.advance(compound_id, stage, when, today=when, actor=actor)
