"""The standards' statuses: every value's status is one of the known grades, and the marker a finding
resting on a doubtful value carries, worked out by hand."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

from gis.standards import DOUBTFUL, STATUSES, load_standard, status_label, status_marker
from gis.yamlfiles import load_yaml


def _statuses(node: Any, where: str = "") -> list[tuple[str, str]]:
    """Every ``status`` (and ``*_status``) value in a YAML tree, with where it sits."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if (key == "status" or str(key).endswith("_status")) and not isinstance(value, dict | list):
                found.append((f"{where}.{key}", str(value)))
            else:
                found += _statuses(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _statuses(value, f"{where}[{i}]")
    return found


@pytest.mark.parametrize("path", ["standards/gb50180.yaml", "standards/pipelines/gb50289.yaml"])
def test_every_status_is_a_known_grade(path: str) -> None:
    data = load_yaml((resources.files("layers") / path).read_text(encoding="utf-8"))
    found = _statuses(data)
    assert found  # the walk reached the values
    assert {status for _, status in found} <= set(STATUSES), [f for f in found if f[1] not in STATUSES]


def test_the_markers_by_hand() -> None:
    assert status_marker("unverified") == "（依据未核实 / value unverified）"
    assert status_marker("weak") == "（依据较弱 / weak source）"
    assert status_marker("superseded") == "（依据为旧版标准 / superseded edition）"
    # nothing vouches for a missing status, nor for one gisplan does not know
    assert status_marker(None) == "（依据未核实 / value unverified）"
    assert status_marker("normative") == "（normative / normative）"
    for status in ("confirmed", "strong", "local_rule"):
        assert status_marker(status) == "" and status not in DOUBTFUL
    assert status_label("local_rule") == "地方规则或本工具取值 / local rule"


def test_a_radius_borrowed_from_another_row_carries_that_rows_status() -> None:
    # the 老年服务站 and 综合超市 have no radius of their own: they use the 社区服务站's and the
    # 生鲜超市's (the market row), whose radii were not found; a finding on them rests on those
    std = load_standard()
    assert std.rule("elderly_station").radius_m == std.rule("community_service").radius_m
    assert std.rule("elderly_station").status == std.rule("community_service").status
    assert std.rule("supermarket").radius_m == std.rule("market").radius_m
    assert std.rule("supermarket").status == std.rule("market").status
