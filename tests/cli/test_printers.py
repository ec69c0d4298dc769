"""The terminal tables, printed from small hand-made results (no database)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from rich.console import Console

from gis.printers import print_gap_summary, print_history, print_projects, print_risks
from gis.report_printers import month_cell


def printed(draw: Callable[[Console], None]) -> str:
    console = Console(record=True, width=240)
    draw(console)
    return console.export_text()


def test_gap_summary_reads_covered_of_all_and_uncovered_demand() -> None:
    summary = pd.DataFrame(
        [
            {
                "district": "海淀区",
                "facility_type": "kindergarten",
                "radius_m": 300.0,
                "covered": 3,
                "compounds": 5,
                "residents_uncovered": 1234.4,
                "demand_uncovered": 56.0,
                "demand_group": "children",
            },
            {
                "district": "海淀区",
                "facility_type": "park",
                "radius_m": 500.0,
                "covered": 5,
                "compounds": 5,
                "residents_uncovered": 0.0,
                "demand_uncovered": 0.0,
                "demand_group": "nobody",
            },
        ]
    )
    text = printed(lambda c: print_gap_summary(c, summary, "network", by=("district",)))
    assert "service gaps / 服务缺口 (basis: network)" in text
    kindergarten = next(line for line in text.splitlines() if "kindergarten" in line)
    for cell in ("海淀区", "kindergarten 幼儿园", "300", "3 / 5", "1,234", "56 children 幼儿"):
        assert cell in kindergarten
    park = next(line for line in text.splitlines() if " park" in line)
    assert "5 / 5" in park and "nobody" not in park  # an unknown demand group shows no figure


def test_projects_show_delay_risk_and_spending() -> None:
    status = pd.DataFrame(
        [
            {
                "compound_id": 7,
                "name": "石油大院",
                "street": "学院路街道",
                "stage": "construction",
                "stage_zh": "施工",
                "planned_finish": "2026-08-31",
                "overdue": True,
                "days_behind": 40,
                "due_stage_zh": "完工",
                "at_risk": False,
                "risk_days": 0,
                "investment_spent": 300.0,
                "year": 2026,
            },
            {
                "compound_id": 8,
                "name": "林业小区",
                "street": "学院路街道",
                "stage": "survey",
                "stage_zh": "调查摸底",
                "planned_finish": "2026-09-15",
                "overdue": False,
                "days_behind": 0,
                "due_stage_zh": None,
                "at_risk": True,
                "risk_days": 12,
                "investment_spent": float("nan"),
                "year": 2026,
            },
        ]
    )
    text = printed(lambda c: print_projects(c, status, None))
    assert "programme 2026 / 改造项目" in text
    first = next(line for line in text.splitlines() if "石油大院" in line)
    assert "施工 construction" in first and "40 d (应完工)" in first and "300.00" in first
    second = next(line for line in text.splitlines() if "林业小区" in line)
    assert "12 d" in second and "nan" not in second  # nothing spent yet: an empty cell
    assert "programme 2027 / 改造项目" in printed(lambda c: print_projects(c, status.iloc[:0], 2027))


def test_month_cells() -> None:
    assert month_cell(1.0) == "1.00" and month_cell(2.345) == "2.35" and month_cell(3) == "3"
    assert month_cell(None) == ""


HOSTILE = "[/]院[bold red]X[/bold red]"  # markup in a name: an unopened close tag crashed rich before


def test_names_with_markup_print_as_written() -> None:
    status = pd.DataFrame(
        [
            {
                "compound_id": 9,
                "name": HOSTILE,
                "street": "[link=http://x]街[/link]",
                "stage": "survey",
                "stage_zh": "调查摸底",
                "planned_finish": None,
                "overdue": False,
                "days_behind": 0,
                "due_stage_zh": None,
                "at_risk": False,
                "risk_days": 0,
                "investment_spent": None,
                "year": 2026,
            }
        ]
    )
    text = printed(lambda c: print_projects(c, status, None))
    assert HOSTILE in text and "[link=http://x]街[/link]" in text
    risks = status.assign(plan_past_deadline=False)
    by_street = pd.DataFrame(
        [{"district": "[/]", "street": HOSTILE, "projects": 1, "overdue": 0, "at_risk": 0, "max_days_behind": 0}]
    )
    text = printed(lambda c: print_risks(c, risks, by_street))
    assert text.count(HOSTILE) == 2 and "[/]" in text
    history = pd.DataFrame(
        [
            {
                "id": 1,
                "at": pd.Timestamp("2026-10-05 09:00"),
                "actor": "cli:[/]",
                "compound_id": 9,
                "action": "advance",
                "correction": True,
                "stage_before": "survey",
                "stage_after": "design",
                "effective": "2026-10-05",
                "changes": {"note": ["[/]", HOSTILE]},
                "reason": HOSTILE,
            }
        ]
    )
    text = printed(lambda c: print_history(c, history))
    assert "cli:[/]" in text and HOSTILE in text and "更正" in text  # the code's own style still applies
