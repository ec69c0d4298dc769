"""CQL2 filters (text and JSON) as SQL conditions, typed against the layer's fields.

pygeofilter parses (its CQL2 text grammar extended with ``DWITHIN``/``BEYOND`` and a distance unit);
the tree is compiled here, not by pygeofilter's SQL backend, so that every part is checked before any
SQL runs: a comparison between a field and a value of another type, arithmetic on anything but
numbers, a number PostgreSQL cannot hold, a geometry outside CRS84 or with a CRS of its own, a LIKE
pattern PostgreSQL refuses, nesting past a bound are each a QueryError saying what is wrong, never
a database error. Arithmetic runs in ``numeric`` (exact, no float overflow) with a bound on the
digits it can reach; a division by a literal zero is refused, and a divisor that is zero on a row
gives NULL there (the row does not match), not an error.
Distances are geodesic metres on the WGS 84 ellipsoid (PostGIS geography), whatever unit is asked.
Every value is a bound parameter.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import numpy as np
import shapely
from geoalchemy2 import Geography, Geometry
from lark import Lark, v_args
from pygeofilter import ast, values
from pygeofilter.parsers import cql2_text
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text.parser import CQLTransformer
from shapely.geometry import shape
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Numeric,
    Text,
    and_,
    bindparam,
    cast,
    false,
    func,
    not_,
    or_,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, array

from gis.errors import QueryError

MAX_DEPTH = 16  # nesting of predicates and expressions (a chain of AND or OR counts once)
MAX_NODES = 400  # terms in one filter
MAX_LITERAL = 1e300  # numbers beyond this are refused: PostgreSQL's float8 ends near 1.8e308
MAX_DIGITS = 4000  # digits (before and after the point) arithmetic may reach in numeric
MAX_STRING = 10_000
MAX_VERTICES = 10_000  # in one geometry literal
MAX_DISTANCE_M = 20_037_509  # half the equator: DWITHIN farther than this is everything
UNITS_M = {
    "meters": 1.0,
    "metres": 1.0,
    "m": 1.0,
    "kilometers": 1000.0,
    "kilometres": 1000.0,
    "km": 1000.0,
    "feet": 0.3048,
    "statute miles": 1609.344,
    "miles": 1609.344,
    "nautical miles": 1852.0,
}
FLOAT_DIGITS = (309, 340)  # a float8 column: integer digits at most, fractional digits at most (5e-324)
INT_DIGITS = (19, 0)
CRS84_NAMES = {
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "CRS84",
    "OGC:CRS84",
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
}
RELATE_PATTERN = re.compile(r"[TF*012]{9}")
ANTIPODAL = 1e-9  # |a + b| of two unit vectors this close to 0: PostGIS refuses the edge a-b (wider than its 1e-12)
SPATIAL = {
    ast.GeometryIntersects: func.ST_Intersects,
    ast.GeometryDisjoint: func.ST_Disjoint,
    ast.GeometryContains: func.ST_Contains,
    ast.GeometryWithin: func.ST_Within,
    ast.GeometryTouches: func.ST_Touches,
    ast.GeometryCrosses: func.ST_Crosses,
    ast.GeometryOverlaps: func.ST_Overlaps,
    ast.GeometryEquals: func.ST_Equals,
}
COMPARE = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
ARRAY_OPS = {ast.ArrayEquals: "=", ast.ArrayContains: "@>", ast.ArrayContainedBy: "<@", ast.ArrayOverlaps: "&&"}
# field type of the layer (or system column) -> the kind CQL2 compares it as
KINDS = {
    "text": "text",
    "code": "text",
    "codes": "codes",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "timestamp",
}
ORDERED = {"number", "text", "date", "timestamp"}

# -- parsing ---------------------------------------------------------------------------------------
DISTANCE_RULE = 'DISTANCE_OP "(" expression "," expression "," full_number "," distance_units ")"'
DISTANCE_RULES = (
    f"\n%extend spatial_predicate: {DISTANCE_RULE} -> distance_spatial_predicate"
    + r"""
DISTANCE_OP.2: /(S_)?(DWITHIN|BEYOND)(?![A-Za-z_:0-9.])/i
distance_units: UNITS
UNITS.2: /(meters|metres|kilometers|kilometres|feet|statute miles|nautical miles|miles|km|m)(?![A-Za-z_:0-9.])/i
"""
)


@v_args(meta=False, inline=True)
class _Transformer(CQLTransformer):
    def distance_spatial_predicate(self, op: Any, lhs: Any, rhs: Any, distance: Any, units: Any) -> Any:
        cls = ast.DistanceBeyond if "BEYOND" in str(op).upper() else ast.DistanceWithin
        return cls(lhs, rhs, distance, str(units).lower())

    def distance_units(self, value: Any) -> Any:
        return value

    def wkt__geometry_with_srid(self, srid: Any, geometry: dict[str, Any]) -> dict[str, Any]:
        # pygeofilter's own prints; the SRID is kept so that compiling can refuse it
        geometry["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}
        return geometry


_grammar = (resources.files("pygeofilter.parsers.cql2_text") / "grammar.lark").read_text(encoding="utf-8")
_text_parser = Lark(
    _grammar + DISTANCE_RULES,
    parser="lalr",
    maybe_placeholders=False,
    transformer=_Transformer(),
    import_paths=[os.path.dirname(os.path.dirname(cql2_text.__file__))],
    source_path=cql2_text.__file__,
)


def parse(expression: str, lang: str = "cql2-text") -> Any:
    """The pygeofilter tree of a CQL2 expression; a QueryError when it does not parse."""
    if len(expression) > 100_000:
        raise QueryError("the filter is longer than 100,000 characters")
    try:
        tree = parse_json(json.loads(expression)) if lang == "cql2-json" else _text_parser.parse(expression)
    except Exception as exc:  # the parsers raise many kinds; all mean a malformed expression
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise QueryError(f"malformed CQL2 ({lang}) filter: {first}") from None
    return tree


# -- compiling -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """A queryable: its SQL expression and its field type (``text``, ``integer``, ``codes`` ...)."""

    sql: Any
    type: str


@dataclass(frozen=True)
class Typed:
    """A compiled value: SQL, its kind, whether arithmetic made it, and digits it may reach."""

    sql: Any
    kind: str  # number, text, boolean, date, timestamp, codes, geometry
    what: str  # how to name it in a message
    arithmetic: bool = False
    digits: tuple[int, int] = (0, 0)  # (integer digits, fractional digits) at most, for numbers
    shape: Any = None  # a geometry literal's shapely geometry


class Compiler:
    """Compiles one parsed filter over ``columns`` (``geometry`` is the feature geometry in CRS84)."""

    def __init__(self, columns: dict[str, Column], layer_id: str, lang: str) -> None:
        self.columns = columns
        self.layer_id = layer_id
        self.lang = lang
        self.nodes = 0

    def condition(self, node: Any, depth: int = 0) -> Any:
        self._count(depth)
        if isinstance(node, ast.And | ast.Or):
            parts = [self.condition(n, depth + 1) for n in _chain(node, type(node))]
            return and_(*parts) if isinstance(node, ast.And) else or_(*parts)
        if isinstance(node, ast.Not):
            return not_(self.condition(node.sub_node, depth + 1))
        if isinstance(node, ast.Include):
            return false() if node.not_ else true()
        if type(node) in COMPARE:
            return self._compare(node, depth)
        if isinstance(node, ast.Between):
            return self._between(node, depth)
        if isinstance(node, ast.Like):
            return self._like(node, depth)
        if isinstance(node, ast.In):
            return self._in(node, depth)
        if isinstance(node, ast.IsNull):
            value = self.value(node.lhs, depth + 1)
            return value.sql.is_not(None) if node.not_ else value.sql.is_(None)
        if isinstance(node, ast.SpatialComparisonPredicate | ast.Relate | ast.SpatialDistancePredicate | ast.BBox):
            return self._spatial(node, depth)
        if type(node) in ARRAY_OPS:
            return self._array(node, depth)
        if isinstance(node, ast.TemporalPredicate):
            raise QueryError("temporal predicates (T_...) are not supported: compare dates with = < > instead")
        raise QueryError(f"not a condition: {_describe(node)} (a filter is a comparison, LIKE, IN, ... or S_...)")

    def _count(self, depth: int) -> None:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise QueryError(f"the filter nests deeper than {MAX_DEPTH} levels")
        if self.nodes > MAX_NODES:
            raise QueryError(f"the filter has more than {MAX_NODES} terms")

    # -- values -------------------------------------------------------------------------------------
    def value(self, node: Any, depth: int) -> Typed:
        self._count(depth)
        if isinstance(node, ast.Attribute):
            return self._attribute(node.name)
        if isinstance(node, ast.Arithmetic):
            return self._arithmetic(node, depth)
        if isinstance(node, ast.Function):
            return self._function(node, depth)
        if isinstance(node, values.Geometry):
            return _geometry_literal(node.geometry)
        if isinstance(node, values.Envelope):
            return _envelope(node, self.lang)
        return _literal(node)

    def _attribute(self, name: Any) -> Typed:
        if not isinstance(name, str):  # CQL2 JSON's {"property": ...} may hold anything
            raise QueryError(f"a property name is a text, not {_describe(name)}")
        col = self.columns.get(name)
        if col is None:
            queryables = ", ".join(self.columns)
            raise QueryError(f"the filter uses {name!r}, not a queryable of {self.layer_id}; queryables: {queryables}")
        if col.type == "geometry":
            return Typed(col.sql, "geometry", name)
        kind = KINDS.get(col.type, "text")
        digits = (FLOAT_DIGITS if col.type == "number" else INT_DIGITS) if kind == "number" else (0, 0)
        return Typed(col.sql, kind, name, digits=digits)

    def _arithmetic(self, node: Any, depth: int) -> Typed:
        lhs, rhs = self.value(node.lhs, depth + 1), self.value(node.rhs, depth + 1)
        op = node.op.value
        for side in (lhs, rhs):
            if side.kind != "number":
                raise QueryError(f"arithmetic ({op}) takes numbers; {side.what} is a {side.kind}")
        (hi_a, sc_a), (hi_b, sc_b) = lhs.digits, rhs.digits
        a, b = cast(lhs.sql, Numeric), cast(rhs.sql, Numeric)
        if op in "+-":
            digits, sql = (max(hi_a, hi_b) + 1, max(sc_a, sc_b)), (a + b if op == "+" else a - b)
        elif op == "*":
            digits, sql = (hi_a + hi_b, sc_a + sc_b), a * b
        elif _is_zero(node.rhs):
            raise QueryError(f"division by zero: {lhs.what} / {rhs.what}")
        else:  # a divisor that is zero on a row gives NULL there: that row does not match
            digits, sql = (hi_a + sc_b + 1, min(1000, max(sc_a, sc_b) + hi_b + 20)), a / func.nullif(b, 0)
        if max(digits) > MAX_DIGITS:
            raise QueryError(f"the arithmetic could reach numbers of more than {MAX_DIGITS} digits; simplify it")
        return Typed(sql, "number", f"({lhs.what} {op} {rhs.what})", arithmetic=True, digits=digits)

    def _function(self, node: Any, depth: int) -> Typed:
        name = str(node.name).lower()
        arguments = _listed(node.arguments, f"the function {str(node.name)[:40]!r}")
        if name not in ("lower", "casei") or len(arguments) != 1:
            raise QueryError(f"unsupported function {node.name!r}; supported: CASEI(text)")
        arg = self.value(arguments[0], depth + 1)
        if arg.kind != "text":
            raise QueryError(f"CASEI takes a text; {arg.what} is a {arg.kind}")
        return Typed(func.lower(arg.sql), "text", f"CASEI({arg.what})")

    # -- predicates ---------------------------------------------------------------------------------
    def _compare(self, node: Any, depth: int) -> Any:
        op = COMPARE[type(node)]
        lhs, rhs = self.value(node.lhs, depth + 1), self.value(node.rhs, depth + 1)
        if "codes" in (lhs.kind, rhs.kind):
            return _codes_compare(lhs, rhs, op)
        _same_kind(lhs, rhs, op)
        if lhs.kind == "geometry":
            raise QueryError("geometries are compared with S_EQUALS, S_INTERSECTS ..., not with " + op)
        if lhs.kind == "boolean" and op not in ("=", "<>"):
            raise QueryError(f"booleans compare with = or <> only, not {op}")
        a, b = lhs.sql, rhs.sql
        if lhs.arithmetic or rhs.arithmetic:  # both in numeric: a float8 column would overflow
            a, b = cast(a, Numeric), cast(b, Numeric)
        return a.op(op)(b)

    def _between(self, node: Any, depth: int) -> Any:
        lhs = self.value(node.lhs, depth + 1)
        low, high = self.value(node.low, depth + 1), self.value(node.high, depth + 1)
        for bound in (low, high):
            _same_kind(lhs, bound, "BETWEEN")
        if lhs.kind not in ORDERED:
            raise QueryError(f"BETWEEN takes numbers, texts or dates; {lhs.what} is a {lhs.kind}")
        a, lo, hi = lhs.sql, low.sql, high.sql
        if lhs.arithmetic or low.arithmetic or high.arithmetic:
            a, lo, hi = cast(a, Numeric), cast(lo, Numeric), cast(hi, Numeric)
        found = a.between(lo, hi)
        return not_(found) if node.not_ else found

    def _like(self, node: Any, depth: int) -> Any:
        lhs = self.value(node.lhs, depth + 1)
        if lhs.kind != "text":
            raise QueryError(f"LIKE takes a text; {lhs.what} is a {lhs.kind}")
        pattern = node.pattern
        if isinstance(pattern, ast.Function):  # LIKE CASEI('...')
            sql = self.value(pattern, depth + 1).sql
            raw = pattern.arguments[0]
            if not isinstance(raw, str):
                raise QueryError("the LIKE pattern must be a text literal")
        elif isinstance(pattern, str):
            raw, sql = pattern, _literal(pattern).sql
        else:
            raise QueryError(f"the LIKE pattern must be a text, not {_describe(pattern)}")
        if (len(raw) - len(raw.rstrip("\\"))) % 2:
            raise QueryError("the LIKE pattern ends with an escape character (\\)")
        found = lhs.sql.like(sql)
        return not_(found) if node.not_ else found

    def _in(self, node: Any, depth: int) -> Any:
        lhs = self.value(node.lhs, depth + 1)
        options = [self.value(o, depth + 1) for o in _listed(node.sub_nodes, "IN")]
        if not options:
            raise QueryError("IN needs at least one value")
        if lhs.kind == "codes":
            return _codes_in(lhs, options, node.not_)
        for option in options:
            _same_kind(lhs, option, "IN")
        if lhs.kind == "geometry":
            raise QueryError("IN does not take geometries")
        if lhs.arithmetic or any(o.arithmetic for o in options):
            found = cast(lhs.sql, Numeric).in_([cast(o.sql, Numeric) for o in options])
        else:
            found = lhs.sql.in_([o.sql for o in options])
        return not_(found) if node.not_ else found

    def _array(self, node: Any, depth: int) -> Any:
        lhs = self.value(node.lhs, depth + 1)
        if lhs.kind != "codes":
            raise QueryError(f"A_... predicates take a list field; {lhs.what} is a {lhs.kind}")
        items = _listed(node.rhs, "A_...")
        codes = [self.value(item, depth + 1) for item in items]
        if not codes or any(c.kind != "text" for c in codes):
            raise QueryError("A_... predicates take a list of texts, e.g. ('basic', 'improve')")
        return lhs.sql.op(ARRAY_OPS[type(node)])(cast(array([c.sql for c in codes]), ARRAY(Text)))

    def _spatial(self, node: Any, depth: int) -> Any:
        lhs = self.value(node.lhs, depth + 1)
        if isinstance(node, ast.BBox):
            rhs = _box(node.minx, node.miny, node.maxx, node.maxy, node.crs)
        else:
            rhs = self.value(node.rhs, depth + 1)
        for side in (lhs, rhs):
            if side.kind != "geometry":
                raise QueryError(f"spatial predicates take geometries; {side.what} is a {side.kind}")
        if isinstance(node, ast.BBox):
            return func.ST_Intersects(lhs.sql, rhs.sql)
        if isinstance(node, ast.Relate):
            if any(side.shape is not None and side.shape.geom_type == "GeometryCollection" for side in (lhs, rhs)):
                raise QueryError("S_RELATE does not take a GEOMETRYCOLLECTION (GEOS cannot relate one): use its parts")
            if not isinstance(node.pattern, str) or not RELATE_PATTERN.fullmatch(node.pattern):
                raise QueryError("S_RELATE takes a 9-character pattern of T, F, *, 0, 1, 2 (e.g. 'T*F**F***')")
            return func.ST_Relate(lhs.sql, rhs.sql, bindparam(None, node.pattern, type_=Text))
        if isinstance(node, ast.SpatialDistancePredicate):
            return _distance(node, lhs, rhs)
        return SPATIAL[type(node)](lhs.sql, rhs.sql)


def compile_filter(tree: Any, columns: dict[str, Column], layer_id: str, lang: str = "cql2-text") -> Any:
    """The SQL condition of a parsed CQL2 filter; a QueryError when it cannot be run as written."""
    return Compiler(columns, layer_id, lang).condition(tree)


# -- helpers ---------------------------------------------------------------------------------------
def _chain(node: Any, kind: Any) -> list[Any]:
    """The operands of a chain of one combination (``a AND b AND c``), without recursion."""
    found: list[Any] = []
    todo: list[Any] = [node]
    while todo:
        current = todo.pop()
        if type(current) is kind:
            todo += [current.rhs, current.lhs]
        else:
            found.append(current)
    return found


def _is_zero(node: Any) -> bool:
    return isinstance(node, int | float) and not isinstance(node, bool) and node == 0


def _listed(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise QueryError(f"{what} takes a list of values")
    return list(value)


def _describe(node: Any) -> str:
    if isinstance(node, ast.Node):
        return type(node).__name__
    return f"{type(node).__name__} {str(node)[:40]!r}"


def _same_kind(lhs: Typed, rhs: Typed, op: str) -> None:
    if lhs.kind != rhs.kind:
        raise QueryError(
            f"cannot compare {lhs.what} ({lhs.kind}) {op} {rhs.what} ({rhs.kind}): both sides must be of one type"
        )


def _codes_compare(lhs: Typed, rhs: Typed, op: str) -> Any:
    """``categories = 'basic'``: the list holds the code (``<>``: does not)."""
    codes, code = (lhs, rhs) if lhs.kind == "codes" else (rhs, lhs)
    if code.kind != "text" or op not in ("=", "<>"):
        raise QueryError(f"{codes.what} is a list of codes: compare it with = or <> to a code, or use A_CONTAINS")
    found = codes.sql.op("@>")(cast(array([code.sql]), ARRAY(Text)))
    return found if op == "=" else not_(found)


def _codes_in(lhs: Typed, options: list[Typed], negate: bool) -> Any:
    if any(o.kind != "text" for o in options):
        raise QueryError(f"{lhs.what} is a list of codes: IN takes codes (texts)")
    found = lhs.sql.op("&&")(cast(array([o.sql for o in options]), ARRAY(Text)))
    return not_(found) if negate else found


def text_value(value: str, what: str = "a text") -> str:
    """A text PostgreSQL can store: no NUL, valid Unicode, not huge."""
    if "\x00" in value:
        raise QueryError(f"{what} contains a NUL character")
    if len(value) > MAX_STRING:
        raise QueryError(f"{what} is longer than {MAX_STRING} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError(f"{what} is not valid Unicode (a lone surrogate)") from None
    return value


def number_value(value: float | int, what: str = "a number") -> float | int:
    """A finite number within what PostgreSQL's float8 holds."""
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"{what} is not a finite number ({value})")
    if abs(value) > MAX_LITERAL:
        raise QueryError(f"{what} is beyond ±{MAX_LITERAL:g}")
    return value


def _literal(value: Any) -> Typed:
    if isinstance(value, bool):
        return Typed(bindparam(None, value, type_=Boolean), "boolean", str(value).upper())
    if isinstance(value, int | float):
        number_value(value, f"the number {value!r}"[:60])
        sql: Any
        if isinstance(value, float):
            sql = cast(bindparam(None, value, type_=Float(53)), Float(53))
        elif -(2**63) <= value < 2**63:
            sql = cast(bindparam(None, value, type_=BigInteger), BigInteger)
        else:
            sql = cast(bindparam(None, Decimal(value), type_=Numeric()), Numeric())
        digits = _digits(value)
        return Typed(sql, "number", repr(value)[:40], digits=digits)
    if isinstance(value, str):
        text_value(value, "a text in the filter")
        return Typed(cast(bindparam(None, value, type_=Text), Text), "text", repr(value)[:40])
    if isinstance(value, datetime):
        return Typed(bindparam(None, value, type_=DateTime(timezone=True)), "timestamp", value.isoformat())
    if isinstance(value, date):
        return Typed(cast(bindparam(None, value, type_=Date), Date), "date", value.isoformat())
    raise QueryError(f"unsupported value in the filter: {_describe(value)}")


def _digits(value: float | int) -> tuple[int, int]:
    if value == 0:
        return (1, 0)
    exponent = math.floor(math.log10(abs(value)))
    fraction = 0 if isinstance(value, int) else max(0, 17 - exponent)
    return (max(1, exponent + 1), fraction)


def _geometry_literal(geojson: dict[str, Any]) -> Typed:
    """A geometry of the filter, checked: CRS84, finite, within longitude/latitude, valid."""
    if not isinstance(geojson, dict):
        raise QueryError("a geometry in the filter must be a GeoJSON object")
    if geojson.get("crs") is not None:
        raise QueryError(
            "a geometry in the filter may not carry its own crs: filter geometries are in CRS84 "
            "(longitude, latitude; see filter-crs)"
        )
    try:
        geom = shape(geojson)
    except Exception as exc:  # shapely raises several kinds for a geometry it cannot build
        raise QueryError(f"invalid geometry in the filter: {str(exc)[:200] or type(exc).__name__}") from None
    return _checked_geometry(geom)


def _checked_geometry(geom: Any) -> Typed:
    coords = shapely.get_coordinates(geom)  # x, y: a z is dropped
    if len(coords) > MAX_VERTICES:
        raise QueryError(f"a geometry in the filter has more than {MAX_VERTICES} vertices")
    if not np.isfinite(coords).all():
        raise QueryError("a geometry in the filter has a coordinate that is not a finite number")
    if not ((np.abs(coords[:, 0]) <= 180).all() and (np.abs(coords[:, 1]) <= 90).all()):
        raise QueryError("a geometry in the filter lies outside longitude -180..180, latitude -90..90 (CRS84)")
    if not geom.is_valid:
        raise QueryError(f"invalid geometry in the filter: {shapely.is_valid_reason(geom)}")
    polygons = [g for g in _singles(geom) if g.geom_type == "Polygon"] if geom.geom_type == "GeometryCollection" else []
    if len(polygons) > 1 and not shapely.MultiPolygon(polygons).is_valid:  # GEOS would fail on such a collection
        raise QueryError("the polygons of a GEOMETRYCOLLECTION in the filter overlap or share an edge: merge them")
    wkt = shapely.to_wkt(geom, rounding_precision=-1, output_dimension=2)
    sql = func.ST_GeomFromText(bindparam(None, wkt, type_=Text), 4326, type_=Geometry(srid=4326))
    return Typed(sql, "geometry", f"{geom.geom_type} literal", shape=geom)


def _envelope(node: Any, lang: str) -> Typed:
    # pygeofilter builds an Envelope from CQL2-JSON's [minx, miny, maxx, maxy] in field order
    # (x1, x2, y1, y2), and from the text ENVELOPE(x1 x2 y1 y2) as written
    if lang == "cql2-json":
        minx, miny, maxx, maxy = node.x1, node.x2, node.y1, node.y2
    else:
        minx, maxx, miny, maxy = node.x1, node.x2, node.y1, node.y2
    return _box(minx, miny, maxx, maxy, None)


def _box(minx: Any, miny: Any, maxx: Any, maxy: Any, crs: Any) -> Typed:
    if crs not in (None, *CRS84_NAMES):
        raise QueryError(f"a BBOX in the filter is in CRS84; {str(crs)[:60]!r} is not supported")
    numbers = [minx, miny, maxx, maxy]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
        raise QueryError("a BBOX takes four numbers")
    for v in numbers:
        number_value(v, "a BBOX coordinate")
    x0, x1 = sorted((float(minx), float(maxx)))
    y0, y1 = sorted((float(miny), float(maxy)))
    return _checked_geometry(shapely.box(x0, y0, x1, y1) if x0 < x1 and y0 < y1 else shapely.Point(x0, y0))


def _singles(geom: Any) -> list[Any]:
    """The points, linestrings and polygons of a geometry, its collections and multi-parts taken apart."""
    if geom.geom_type in ("Point", "LineString", "Polygon"):
        return [geom]
    return [single for part in shapely.get_parts(geom) for single in _singles(part)]


def _antipodal_edge(geom: Any) -> bool:
    """Whether an edge joins two antipodal points (on a sphere every great circle through them is as
    short: PostGIS geography refuses such an edge with an error)."""
    polygons = [shapely.get_rings(g) for g in _singles(geom) if g.geom_type == "Polygon"]
    for line in [g for g in _singles(geom) if g.geom_type == "LineString"] + [r for rs in polygons for r in rs]:
        lon, lat = np.radians(shapely.get_coordinates(line)).T
        unit = np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))
        if len(unit) > 1 and (np.linalg.norm(unit[1:] + unit[:-1], axis=1) < ANTIPODAL).any():
            return True
    return False


def _distance(node: Any, lhs: Typed, rhs: Typed) -> Any:
    if any(side.shape is not None and _antipodal_edge(side.shape) for side in (lhs, rhs)):
        raise QueryError(
            "a geometry of DWITHIN/BEYOND has an edge between two antipodal points (e.g. 0 0 to 180 0): "
            "no geodesic is the shortest there; add a vertex in between"
        )
    units = str(node.units).lower() if node.units is not None else None
    if units not in UNITS_M:
        raise QueryError(f"DWITHIN/BEYOND need a distance unit: one of {', '.join(UNITS_M)}")
    if not isinstance(node.distance, int | float) or isinstance(node.distance, bool):
        raise QueryError("DWITHIN/BEYOND take a number as the distance")
    metres = float(number_value(node.distance, "the distance")) * UNITS_M[units]
    if metres < 0:
        raise QueryError("the distance of DWITHIN/BEYOND must not be negative")
    metres = min(metres, MAX_DISTANCE_M)
    within = func.ST_DWithin(
        cast(lhs.sql, Geography(srid=4326)),
        cast(rhs.sql, Geography(srid=4326)),
        bindparam(None, metres, type_=Float(53)),
        True,
    )
    return not_(within) if isinstance(node, ast.DistanceBeyond) else within
