"""Planning standards as data: ``layers/standards/*.yaml`` and a county's own rule files.

A standard gives each facility type its life-circle level and service radius, the demand shares
(children, elderly ...) and provision benchmarks, every number with its source and status. A county
file names the standard it ``extends`` and lists only the values that differ; it is merged over
its parent and validated like any other.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from gis.errors import StandardError
from gis.registry import registry
from gis.yamlfiles import load_yaml

# How far a number can be trusted (the grades of ../shared/reference/standards-evidence.md, plus two of
# gisplan's own): the meanings are in the header of layers/standards/gb50180.yaml and in the README.
Status = Literal["confirmed", "strong", "weak", "superseded", "local_rule", "unverified"]
STATUSES: tuple[Status, ...] = get_args(Status)
# The statuses a finding must not be read past: each result that rests on one says so visibly.
DOUBTFUL: frozenset[str] = frozenset({"weak", "superseded", "unverified"})
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "confirmed": ("已核实", "confirmed"),
    "strong": ("多源一致", "strong"),
    "weak": ("依据较弱", "weak source"),
    "superseded": ("依据为旧版标准", "superseded edition"),
    "local_rule": ("地方规则或本工具取值", "local rule"),
    "unverified": ("依据未核实", "value unverified"),
}


def status_label(status: str | None) -> str:
    """A status as ``中文 / English`` (an unknown status as itself, a missing one as ``unverified``)."""
    zh, en = STATUS_LABELS.get(status or "unverified", (str(status), str(status)))
    return f"{zh} / {en}"


def status_marker(status: str | None) -> str:
    """The marker a finding resting on a doubtful value carries, e.g. ``（依据未核实 / value unverified）``;
    empty for the statuses a reader may rely on (a missing status is doubtful: nothing vouches for it)."""
    if status is not None and status not in DOUBTFUL and status in STATUS_LABELS:
        return ""
    return f"（{status_label(status)}）"


class Rule(BaseModel):
    """A number with the status of its source (the data file's header says where it comes from)."""

    model_config = ConfigDict(extra="forbid")
    value: float
    status: Status


class Sourced(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any
    status: Status
    source: str


class LifeCircle(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str
    walk_m: float | None
    walk_range_m: list[float] | None = None
    status: Status
    source: str


class FacilityRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: str
    radius_m: float | None
    status: Status
    source: str
    capacity_unit: Literal["places", "beds"] | None = None
    demand: str = "residents"


class Standard(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: dict[str, str]
    extends: str | None = None
    distance_basis: Sourced
    non_inclusive: Sourced
    life_circles: dict[str, LifeCircle]
    facilities: dict[str, FacilityRule]
    demand_shares: dict[str, Sourced]
    household_size: Sourced
    provision: dict[str, Sourced] = {}
    complete_community: dict[str, Any] = {}
    overridden: list[str] = []  # dotted keys a county file changed (filled when merging)

    def rule(self, facility_type: str) -> FacilityRule:
        try:
            return self.facilities[facility_type]
        except KeyError:
            raise StandardError(
                f"standard {self.id} has no rule for facility type {facility_type!r}; it has: "
                + ", ".join(self.facilities)
            ) from None

    def share(self, demand: str) -> float | None:
        entry = self.demand_shares.get(demand)
        return None if entry is None or entry.value is None else float(entry.value)


def _check_against_registry(std: Standard) -> None:
    types = set(registry().code_list("facility_type").ids)
    unknown = set(std.facilities) - types
    if unknown:
        raise StandardError(f"standard {std.id}: unknown facility types {sorted(unknown)}; valid: {sorted(types)}")
    for ftype, rule in std.facilities.items():
        if rule.level not in std.life_circles:
            raise StandardError(f"standard {std.id}: {ftype} has level {rule.level}, not a life circle")
        if rule.demand not in std.demand_shares:
            raise StandardError(f"standard {std.id}: {ftype} has demand {rule.demand}, not a demand share")


def _merge(base: dict[str, Any], over: dict[str, Any], prefix: str, changed: list[str]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merge(base[key], value, f"{prefix}{key}.", changed)
        else:
            out[key] = value
            changed.append(f"{prefix}{key}")
    return out


def _files(extra_dirs: list[Path]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every standard file by its id: the package's, then the extra directories' (which win)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    packaged = resources.files("layers") / "standards"
    entries: list[tuple[str, str]] = [
        (f"layers/standards/{p.name}", p.read_text(encoding="utf-8"))
        for p in packaged.iterdir()
        if p.name.endswith(".yaml")
    ]
    for directory in extra_dirs:
        if directory.is_dir():
            entries += [(str(p), p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.yaml"))]
    for origin, text in entries:
        try:
            data = load_yaml(text)
        except yaml.YAMLError as exc:
            raise StandardError(f"{origin}: not valid YAML ({exc})") from None
        if not isinstance(data, dict) or "id" not in data:
            raise StandardError(f"{origin}: a standard file needs an id")
        found[str(data["id"])] = (origin, data)
    return found


def available(extra_dirs: list[Path] | None = None) -> dict[str, str]:
    """Standard id -> where it was found."""
    return {k: origin for k, (origin, _) in _files(extra_dirs or []).items()}


def load_standard(standard_id: str = "gb50180", *, extra_dirs: list[Path] | None = None) -> Standard:
    """The standard ``standard_id``, merged over the standards it extends, validated.

    Parameters
    ----------
    standard_id
        ``gb50180`` (the national default) or the id of a county rule file.
    extra_dirs
        Directories with county rule files (gisplan passes ``$GISPLAN_HOME/standards``).
    """
    files = _files(extra_dirs or [])
    chain: list[dict[str, Any]] = []
    current: str | None = standard_id
    while current is not None:
        if current not in files:
            raise StandardError(f"unknown standard {current!r}; available: {', '.join(sorted(files))}")
        if any(c["id"] == current for c in chain):
            raise StandardError(f"standard {standard_id}: `extends` goes round in a circle")
        chain.append(files[current][1])
        current = chain[-1].get("extends")
    merged: dict[str, Any] = {}
    changed: list[str] = []
    for i, data in enumerate(reversed(chain)):
        body = {k: v for k, v in data.items() if k not in ("id", "extends", "title")}
        merged = _merge(merged, body, "", changed if i else [])
        merged["title"] = data.get("title", merged.get("title", {}))
    merged["id"] = standard_id
    merged["extends"] = chain[0].get("extends")
    merged["overridden"] = changed
    try:
        std = Standard.model_validate(merged)
    except ValidationError as exc:
        raise StandardError(f"standard {standard_id} is invalid: {exc}") from None
    _check_against_registry(std)
    return std
