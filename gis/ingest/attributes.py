"""Attributes of raw features mapped to a layer's fields: which column feeds which field (through
the field's aliases), each value coerced to its declared type, and what is left over kept as extras.

Pure: frames in, values and reasons out, no database.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gis.ingest.import_report import Problem
from gis.ingest.readers import RawSource
from gis.registry import FieldDef, LayerDef, Registry, normalise_label

NUMBER = re.compile(
    r"^\s*([-+]?\d+(?:\.\d+)?)\s*(?:年|年代|户|戶|人|栋|棟|幢|床|张|個|个|位|m2|m²|㎡|平方米|平米|m|米|mm|毫米|kv)?\s*$",
    re.IGNORECASE,
)
YEAR = re.compile(r"^\s*(\d{4})(?:\s*(?:[-/.年]\s*\d{1,2}(?:\s*[-/.月]\s*\d{1,2}\s*日?)?\s*月?)?)?\s*年?\s*$")
SPLIT_CODES = re.compile(r"[,，、;；/|+\s]+")
INT4 = (-(2**31), 2**31 - 1)
TRUE = {"yes", "true", "1", "-1", "y", "t", "是", "单行", "單行"}
FALSE = {"no", "false", "0", "n", "f", "否", "双向", "雙向"}


def json_safe(value: Any) -> Any:
    """A value JSON (and JSONB) can hold: numpy scalars unwrapped, NaN and inf to None."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


def _json_values(series: pd.Series, rows: np.ndarray) -> list[Any]:
    """:func:`json_safe` of the values of ``series`` at ``rows``; a numeric column converted at once."""
    kind = series.dtype.kind
    if kind in "biu":
        return list(series.to_numpy()[rows].tolist())
    if kind == "f":
        return [v if math.isfinite(v) else None for v in series.to_numpy()[rows].tolist()]
    return [v if v is None or type(v) is str else json_safe(v) for v in series.to_numpy(dtype=object)[rows]]


def is_missing(series: pd.Series) -> np.ndarray:
    """True where a value is absent: null, NaN, or a blank string."""
    missing = series.isna().to_numpy(dtype=bool, copy=True)
    if series.dtype == object and not missing.all():
        present = series[~missing]
        text = present[present.map(type) == str]  # noqa: E721 - exact type test is the fast one here
        if len(text):
            blank = text.str.strip() == ""
            missing[series.index.get_indexer(blank[blank].index)] = True
    return missing


def nfkc(value: Any) -> str:
    """``value`` as text in Unicode compatibility form (full-width digits to ASCII), stripped."""
    return unicodedata.normalize("NFKC", str(value)).strip()


def feature_attributes(raw: RawSource, i: int) -> dict[str, Any]:
    """Feature ``i``'s attributes as read, JSON-safe, without the empty ones."""
    row = raw.attributes.iloc[i].to_dict() if len(raw.attributes.columns) else {}
    return {str(k): json_safe(v) for k, v in row.items() if json_safe(v) not in (None, "")}


# -- coercion of one field ----------------------------------------------------------------------
@dataclass
class Column:
    """One field's input column while it is coerced: the values, which are present, the results."""

    series: pd.Series
    label: str
    raw: np.ndarray
    present: list[int]
    out: list[Any]
    bad: dict[int, str] = field(default_factory=dict)

    def refuse(self, i: int, why: str) -> None:
        """Row ``i``'s value cannot be used, because it ``why`` ("is not a number")."""
        self.bad[i] = f"{self.label}: {self.raw[i]!r} {why}"


def number_bounds(fdef: FieldDef) -> tuple[float | None, float | None]:
    """The declared range of a number field; an integer without one is bounded by PostgreSQL's int4."""
    integer = fdef.type == "integer"
    low = fdef.min if fdef.min is not None else (INT4[0] if integer else None)
    high = fdef.max if fdef.max is not None else (INT4[1] if integer else None)
    return low, high


def parse_number(value: Any, numeric: float, *, year: bool) -> float:
    """The number in ``value`` (``numeric`` when pandas could already read it): units such as 户 or
    ㎡ dropped, a date reduced to its year for a ``*_year`` field; NaN when there is none."""
    if math.isfinite(numeric):
        return numeric
    text = nfkc(value)
    m = (YEAR.match(text) if year else None) or NUMBER.match(text)
    return float(m.group(1)) if m else math.nan


def number_problem(x: float, fdef: FieldDef) -> str | None:
    """Why the number ``x`` cannot be stored in ``fdef``, or None when it can."""
    if not math.isfinite(x):
        return "is not a number"
    if fdef.type == "integer" and not float(x).is_integer():
        return "is not a whole number"
    low, high = number_bounds(fdef)
    if (low is not None and x < low) or (high is not None and x > high):
        span = f"{low if low is not None else '-∞'}–{high if high is not None else '∞'}"
        return f"is outside {span}"
    return None


def _coerce_text(col: Column, fdef: FieldDef, registry: Registry) -> None:
    for i in col.present:
        v = col.raw[i]
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        col.out[i] = str(v).strip()


def _coerce_number(col: Column, fdef: FieldDef, registry: Registry) -> None:
    numeric = pd.to_numeric(col.series, errors="coerce").to_numpy(dtype=float)
    year = fdef.id.endswith("_year")
    for i in col.present:
        x = parse_number(col.raw[i], numeric[i], year=year)
        why = number_problem(x, fdef)
        if why is not None:
            col.refuse(i, why)
        else:
            col.out[i] = int(x) if fdef.type == "integer" else float(x)


def _coerce_boolean(col: Column, fdef: FieldDef, registry: Registry) -> None:
    for i in col.present:
        folded = nfkc(col.raw[i]).casefold()
        if folded in TRUE:
            col.out[i] = True
        elif folded in FALSE:
            col.out[i] = False
        else:
            col.refuse(i, "is not yes/no")


def _coerce_date(col: Column, fdef: FieldDef, registry: Registry) -> None:
    parsed = pd.to_datetime(col.series, errors="coerce")
    for i in col.present:
        if pd.isna(parsed.iloc[i]):
            col.refuse(i, "is not a date")
        else:
            col.out[i] = parsed.iloc[i].date()


def _coerce_datetime(col: Column, fdef: FieldDef, registry: Registry) -> None:
    parsed = pd.to_datetime(col.series, errors="coerce", utc=True)
    for i in col.present:
        if pd.isna(parsed.iloc[i]):
            col.refuse(i, "is not a date and time")
        else:
            col.out[i] = parsed.iloc[i].to_pydatetime()


def _coerce_codes(col: Column, fdef: FieldDef, registry: Registry) -> None:
    """A ``code`` field takes one code; a ``codes`` field several, split at commas, 、, / and the like."""
    codes = registry.code_list(fdef.codes or "")
    valid = "; ".join(f"{c.id} {c.zh}" for c in codes.codes)
    for i in col.present:
        parts = [col.raw[i]] if fdef.type == "code" else [p for p in SPLIT_CODES.split(nfkc(col.raw[i])) if p]
        resolved = [codes.resolve(nfkc(p)) for p in parts]
        unknown = [p for p, r in zip(parts, resolved, strict=True) if r is None]
        if unknown:
            col.bad[i] = f"{col.label}: {', '.join(map(str, unknown))!s} is not a known code (valid: {valid})"
        else:
            col.out[i] = resolved[0] if fdef.type == "code" else list(dict.fromkeys(resolved))


COERCERS: dict[str, Callable[[Column, FieldDef, Registry], None]] = {
    "text": _coerce_text,
    "integer": _coerce_number,
    "number": _coerce_number,
    "boolean": _coerce_boolean,
    "date": _coerce_date,
    "datetime": _coerce_datetime,
    "code": _coerce_codes,
    "codes": _coerce_codes,
}


def coerce(series: pd.Series, fdef: FieldDef, registry: Registry) -> tuple[list[Any], dict[int, str]]:
    """Values of one declared field, and a reason for each row whose value cannot be used."""
    n = len(series)
    col = Column(
        series=series,
        label=f"{fdef.zh} ({fdef.id})",
        raw=series.to_numpy(dtype=object),
        present=np.flatnonzero(~is_missing(series)).tolist(),
        out=[None] * n,
    )
    if fdef.values:
        _take_conventions(col, fdef)
    COERCERS[fdef.type](col, fdef, registry)
    return col.out, col.bad


def _take_conventions(col: Column, fdef: FieldDef) -> None:
    """The values the field's own conventions (``values:`` in its layer's yaml) read, taken before
    the type's rule; those rows leave ``col.present``."""
    lookup = fdef.value_lookup
    rest = []
    for i in col.present:
        found = lookup.get(normalise_label(nfkc(col.raw[i])))
        if found is None:
            rest.append(i)
        else:
            col.out[i] = found
    col.present = rest


# -- the layer's fields -------------------------------------------------------------------------
@dataclass
class ColumnMap:
    """Which input column feeds which field, the columns that feed none, and the key column."""

    fields: dict[str, str]  # field id -> input column (the first that matches wins)
    unmapped: list[str]
    key: str | None = None  # a column named like the layer's key (编号, id), when the reader gave no keys

    @property
    def synthetic(self) -> str | None:
        """The column that marks synthetic features, when there is one."""
        return self.fields.get("synthetic")


def map_columns(attrs: pd.DataFrame, layer: LayerDef, *, reader_keys: bool) -> ColumnMap:
    """Map the columns of ``attrs`` to ``layer``'s fields by their aliases (case, width and
    punctuation folded). ``reader_keys``: the reader gave stable keys, so no column is the key."""
    mapping = ColumnMap(fields={}, unmapped=[])
    key_aliases = {normalise_label(a) for a in layer.key_aliases}
    for col in attrs.columns:
        folded = normalise_label(str(col))
        fid = layer.alias_lookup.get(folded)
        if fid is not None and fid not in mapping.fields:
            mapping.fields[fid] = str(col)
        else:
            if mapping.key is None and folded in key_aliases and not reader_keys:
                mapping.key = str(col)
            mapping.unmapped.append(str(col))
    return mapping


@dataclass
class FieldValues:
    """The declared fields' values, one row per feature read, and what could not be read."""

    values: pd.DataFrame
    issues: list[Problem] = field(default_factory=list)  # optional values left empty
    kept_raw: dict[int, dict[str, Any]] = field(default_factory=dict)  # those values as read, for extras


def field_input(raw: RawSource, fdef: FieldDef, source: str | None, type_default: str | None) -> pd.Series:
    """The values ``fdef`` is coerced from: its column, gaps filled from the reader's presets
    (OSM rules) and, for the layer's type field, from ``type_default`` (``--type``)."""
    n = len(raw.geometries)
    series = raw.attributes[source] if source is not None else pd.Series([None] * n, dtype=object)
    if raw.preset is not None and fdef.id in raw.preset.columns:
        series = series.astype(object).where(~is_missing(series), raw.preset[fdef.id])
    if type_default is not None:
        series = series.astype(object).where(~is_missing(series), type_default)
    return series.reset_index(drop=True)


def _missing_required(out: list[Any], bad: dict[int, str], raw: RawSource) -> list[int]:
    """Rows without a value for a required field that no other reason already explains."""
    told = raw.rejected_reasons
    return [i for i, v in enumerate(out) if v is None and i not in bad and not (told is not None and told[i])]


def field_values(
    raw: RawSource,
    layer: LayerDef,
    registry: Registry,
    columns: ColumnMap,
    reasons: list[list[str]],
    type_default: str | None = None,
) -> FieldValues:
    """Coerce every declared field of ``layer``; a required field's bad or missing value adds to the
    feature's ``reasons``, an optional one's leaves the field empty and is reported."""
    n = len(raw.geometries)
    found = FieldValues(values=pd.DataFrame(index=range(n)))
    for fdef in layer.fields:
        source = columns.fields.get(fdef.id)
        default = type_default if fdef.id == layer.type_field else None
        out, bad = coerce(field_input(raw, fdef, source, default), fdef, registry)
        for i, why in bad.items():
            if fdef.required:
                reasons[i].append(why)
            else:
                # The feature is usable without this value: load it with the field empty, keep the
                # value as read in `extra`, and report it.
                found.issues.append(Problem(index=i, reason=f"left empty: {why}"))
                if source is not None:
                    found.kept_raw.setdefault(i, {})[source] = json_safe(raw.attributes[source].iloc[i])
        if fdef.required:
            hint = " (pass --type)" if fdef.id == layer.type_field else ""
            for i in _missing_required(out, bad, raw):
                reasons[i].append(f"{fdef.zh} ({fdef.id}) is missing{hint}")
        found.values[fdef.id] = pd.Series(out, dtype=object)
    return found


def synthetic_marks(attrs: pd.DataFrame, column: str | None, n: int) -> list[str | None]:
    """Each feature's synthetic mark (why its data are made up), None where it has none."""
    return [
        (None if v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == "" else str(v).strip())
        for v in (attrs[column] if column else [None] * n)
    ]


def extras(
    attrs: pd.DataFrame, columns: ColumnMap, kept_raw: dict[int, dict[str, Any]], n: int
) -> list[dict[str, Any]]:
    """Each of the ``n`` features' unmapped attributes, and the values its fields could not take, as read."""
    extra: list[dict[str, Any]] = [{} for _ in range(n)]
    # Column by column over the present values only: OSM frames are wide and sparse.
    for col in (c for c in columns.unmapped if c != columns.synthetic):
        rows = np.flatnonzero(~is_missing(attrs[col]))
        for i, v in zip(rows.tolist(), _json_values(attrs[col], rows), strict=True):
            if v is not None and v != "":
                extra[i][col] = v
    for i, kept in kept_raw.items():
        extra[i].update(kept)
    return extra
