"""What a map shows, in colours and words: the symbology, code labels and gap classes.

Shared by the web map, the offline map, the per-compound report and the GeoPackage styles.
Symbology is data (``layers/styles/symbology.yaml``); nothing here reads the database.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from gis.registry import Registry
from gis.yamlfiles import load_yaml

TITLE = {"zh": "老旧小区改造空间规划", "en": "Old residential compound renovation planning"}
# Code lists whose labels a map needs (legends, popups).
MAP_CODE_LISTS = ("stage", "facility_type", "property_mgmt", "renovation_category", "pipeline_kind", "laying")

CodeLabels = dict[str, dict[str, dict[str, str]]]


@cache
def symbology() -> dict[str, Any]:
    """The colours of ``layers/styles/symbology.yaml``."""
    data: dict[str, Any] = load_yaml(resources.files("layers").joinpath("styles", "symbology.yaml").read_text("utf-8"))
    return data


def color_of(kind: str, code: str | None) -> str:
    """The colour of a code in one of the symbology's tables (``stage``, ``facility_type`` ...)."""
    table: dict[str, str] = symbology()[kind]
    return table.get(code or "", table.get("other") or table.get("none") or "#525252")


def code_labels(registry: Registry) -> CodeLabels:
    """``{list: {code: {"zh": ..., "en": ...}}}`` for the code lists a map shows."""
    return {
        name: {c.id: {"zh": c.zh, "en": c.en} for c in registry.code_list(name).codes}
        for name in MAP_CODE_LISTS
        if name in registry.codes
    }


def code_text(labels: CodeLabels, kind: str, code: Any) -> str:
    """A code as "中文 English" for legends and popups; a dash when missing, the code itself when unknown."""
    entry = labels.get(kind, {}).get(str(code)) if code is not None else None
    if entry:
        return f"{entry['zh']} {entry['en']}"
    return "—" if code is None else str(code)


def gap_class(distance_m: float | None, covered: bool | None) -> str:
    """``covered`` / ``uncovered`` / ``unreachable`` / ``unknown`` (the symbology's gap classes)."""
    if covered is None:
        return "unknown"
    if covered:
        return "covered"
    return "unreachable" if distance_m is None else "uncovered"
