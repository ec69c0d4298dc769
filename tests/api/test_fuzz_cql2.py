"""Generated CQL2 filters never make the API fail: at least 10,000 of them, none answered 5xx.

A property-based generator (hypothesis) writes filters in CQL2 text and CQL2 JSON over the real
queryables of every public collection (and, as a planner, ``pipelines`` and the planner's provenance
columns) and over names that are not queryables (unknown, quoted, unicode, not even strings): type
mismatches, arithmetic with zero, huge, tiny and non-finite numbers, nesting past the compiler's
``MAX_DEPTH`` and chains past ``MAX_NODES``, LIKE with odd escapes, IN, BETWEEN, IS NULL, every
spatial operator with geometries in odd CRSs, out of range, empty or invalid, DWITHIN/BEYOND in
every unit and some that are not units, BBOX with and without a crs, RELATE patterns, the
``filter-crs`` parameter with odd values, and plain garbage. Each filter goes to the live server
over HTTP; the property is that every answer is either a 200 feature collection or a 4xx
``application/problem+json`` whose ``detail`` says something. A figure line gives the count.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gis.ogc.cql2 import CRS84_NAMES, MAX_DEPTH, MAX_NODES

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)

ITEMS = "/ogc/collections/{}/items"
PROBLEM = "application/problem+json"
PUBLIC = ("compounds", "facilities", "roads", "buildings", "water")
RESTRICTED = ("pipelines",)
TARGET = 10_000  # requests at least
MAX_QUERY = 50_000  # characters of a URL-encoded filter: httpx refuses URLs over 64 KiB
BATCH = 25  # requests drawn in one hypothesis example (fewer examples, less overhead)
THREADS = 4
ROUNDS = 40  # a bound on the rounds that make repeats up (a few are needed)
LIMIT = 1  # features per page: the database work is the filter's, not the encoding's
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
PLANNER_COLUMNS = {"source": "string", "source_key": "string", "synthetic": "string", "version": "integer"}
ATTRIBUTE = re.compile(r"[a-zA-Z][a-zA-Z_:0-9.]+")  # what CQL2 text takes unquoted

Json = Any  # a value json.dumps writes (nan and inf included)


@dataclass(frozen=True)
class Term:
    """One piece of a filter, written in both languages (a piece one language cannot say is
    written as something that language rejects: that is a case too)."""

    text: str
    json: Json


@dataclass(frozen=True, eq=False)
class Target:
    """A collection as one role sees it: its queryables (name -> JSON type), values seen in its
    features, and the box its features lie in (filter geometries are drawn near it, and far)."""

    collection: str
    planner: bool
    types: dict[str, str]
    seen: dict[str, list[Any]]
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class Ask:
    """One request: the filter, its language, the filter-crs and who asks."""

    collection: str
    planner: bool
    lang: str
    filter: str
    filter_crs: str | None


@dataclass
class Tally:
    """What was sent and how it was answered; requests in flight are recorded as they come back."""

    sent: int = 0
    langs: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seen: set[Ask] = field(default_factory=set)  # every request once: a repeat is not sent again
    flying: deque[tuple[Ask, Future[tuple[int, str | None]]]] = field(default_factory=deque)

    def land(self, keep: int = 0) -> None:
        """Record answers until at most ``keep`` requests are in flight."""
        while len(self.flying) > keep:
            ask, future = self.flying.popleft()
            status, wrong = future.result()
            self.sent += 1
            self.langs[ask.lang] += 1
            self.statuses[status] += 1
            if wrong is not None:
                self.failures.append(f"{ask}: {wrong}")


# -- the odd values --------------------------------------------------------------------------------
ODD_NAMES = ["名称", "name'", 'na"me', "na me", "", " ", "fid", "geom", "extra", "source", "source_key", "synthetic"]
ODD_NAMES += ["version", "GEOMETRY", "Name", "name;DROP TABLE compounds", "a" * 300, "😀", "\x00", "x.y", "a:b"]
ODD_NAMES += ["geometry ", "\ud800"]
JSON_ONLY_NAMES: list[Json] = [5, None, True, 1.5, ["name"], {"a": 1}, [], {}]
ODD_INTS = [0, 1, -1, 2**31, 2**63 - 1, 2**63, -(2**63), 10**30, 10**300, 10**301, 10**400, -(10**400)]
NON_FINITE = [float("nan"), float("inf"), float("-inf")]
ODD_FLOATS = [0.0, -0.0, 0.5, 1e-300, 5e-324, 1e300, 1.0000000000000002e300, 1e301, 1.7976931348623157e308]
ODD_FLOATS += NON_FINITE
ODD_STRINGS = ["", "'", "''", "\\", "%", "学院路街道", "\x00", "a\x00b", "\ud800", "😀", "basic", "improve", "gas"]
ODD_STRINGS += ["2020-01-01", "true", "NULL", "x" * 2000, "y" * 10_001, "\n", "\u202e"]
ODD_COORDS = [0, -0.0, 180, -180, 180.0000001, 90, -90, 90.5, 1000, 440000, 4430000, 1e300, 5e-324, -1e10]
SRIDS: list[int | None] = [None] * 6 + [4326, 4547, 3857, 4490, 0, 1, 99999, 2**31, 10**20]
JSON_CRS_MEMBERS: list[Json] = [{"type": "name", "properties": {"name": CRS84}}, "EPSG:4326", {}, None, 5]
JSON_CRS_MEMBERS += [
    {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
    {"type": "link", "properties": {"href": "http://example.com/crs"}},
]
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
FILTER_CRS: list[str | None] = [None] * 12 + [CRS84, "CRS84", "OGC:CRS84", "EPSG:4326", f"{EPSG}4326", f"{EPSG}4547"]
FILTER_CRS += [
    f"{EPSG}3857",
    "urn:ogc:def:crs:EPSG::4547",
    "",
    " ",
    "garbage",
    "EPSG:999999",
    "坐标系",
    "\x00",
    "a" * 500,
]
UNITS = ["meters", "metres", "m", "kilometers", "kilometres", "km", "feet", "statute miles", "nautical miles", "miles"]
UNITS += ["METERS", "Feet", "furlongs", "degrees", "parsecs", "mm", "'meters'", "", "meters meters", "5"]
DISTANCES: list[Json] = [0, 1, 500, 0.5, -5, -0.0, 1e-300, 5e-324, 1e300, 1e301, 10**30, *NON_FINITE, "500", None]
RELATE_PATTERNS = ["T*F**F***", "FF*FF****", "212101212", "*********", "", "T", "t*f**f***", "T*F**F****"]
RELATE_PATTERNS += ["XYZ", "T*F**F**'", "T*F**F**\\", "２********", "T*F**F***  "]
BBOX_CRS: list[str | None] = [None, None, "CRS84", CRS84, "OGC:CRS84", "EPSG:4326", "EPSG:4547", "", "坐标"]
BBOX_CRS += [f"{EPSG}3857", "urn:ogc:def:crs:OGC:1.3:CRS84"]
LIKE_PATTERNS = ["\\", "abc\\", "\\\\", "\\%", "%\\_%", "\\x", "a\\\\\\", "%", "_", "", "%园%", "[a-z]", "\\\\\\\\"]
LIKE_PATTERNS += ["%%%%", "\\'", "_\\", "\\园", "%\x00%"]
COMPARISONS = ["=", "<>", "<", "<=", ">", ">=", "!=", "eq", "ne", "lt", "gte"]
SPATIAL = ["S_INTERSECTS", "S_DISJOINT", "S_CONTAINS", "S_WITHIN", "S_TOUCHES", "S_CROSSES", "S_OVERLAPS"]
SPATIAL += ["S_EQUALS", "s_intersects", "S_COVERS"]
DISTANCE_OPS = ["DWITHIN", "BEYOND", "S_DWITHIN", "s_beyond", "dwithin"]
ARRAY_OPS = ["a_equals", "a_contains", "a_containedby", "a_overlaps"]
TEMPORAL = ["T_BEFORE", "T_AFTER", "T_INTERSECTS", "T_DURING"]
JSON_KEYS = ["op", "args", "property", "type", "coordinates", "bbox", "date", "timestamp", "interval"]
JSON_KEYS += ["function", "name", "arguments", "filter", "filter-lang", "crs", "lower", "geometries"]


# -- writing terms ---------------------------------------------------------------------------------
def _no_surrogates(value: str) -> str:
    """A text a URL can carry (a lone surrogate cannot be UTF-8: only CQL2 JSON's escapes send one)."""
    return value.encode("utf-8", "replace").decode("utf-8")


def _number_text(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return repr(value)  # nan and inf come out as words the text grammar does not know
    return str(value)


def _quoted(value: str) -> str:
    return "'" + _no_surrogates(value).replace("'", "''") + "'"


def _literal_text(value: Json) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, list):
        return "(" + ", ".join(_literal_text(v) for v in value) + ")"
    if isinstance(value, dict):
        return _no_surrogates(json.dumps(value))
    return _number_text(value)


def literal(value: Json) -> Term:
    return Term(_literal_text(value), value)


def prop(name: Json) -> Term:
    if isinstance(name, str) and ATTRIBUTE.fullmatch(name):
        return Term(name, {"property": name})
    return Term('"' + _no_surrogates(str(name)) + '"', {"property": name})


def call(name: str, args: list[Term], json_op: str | None = None) -> Term:
    """``NAME(a, b)`` in text; ``{"op": json_op or name, "args": [...]}`` in JSON."""
    text = f"{name}({', '.join(a.text for a in args)})"
    return Term(text, {"op": json_op or name.lower(), "args": [a.json for a in args]})


def infix(op: str, lhs: Term, rhs: Term) -> Term:
    return Term(f"{lhs.text} {op} {rhs.text}", {"op": op, "args": [lhs.json, rhs.json]})


def combined(op: str, parts: list[Term]) -> Term:
    return Term("(" + f" {op.upper()} ".join(p.text for p in parts) + ")", {"op": op, "args": [p.json for p in parts]})


def negated(part: Term) -> Term:
    return Term(f"NOT ({part.text})", {"op": "not", "args": [part.json]})


def _nest_text(value: Any) -> str:
    """WKT coordinates of any nesting (the writer never refuses: a wrong nesting is a case)."""
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return " ".join(_number_text(v) for v in value)
    if isinstance(value, list):
        return "(" + ", ".join(_nest_text(v) for v in value) + ")"
    return _no_surrogates(str(value))


def _wkt(geojson: dict[str, Any]) -> str:
    kind = str(geojson.get("type", "")).upper()
    if kind == "GEOMETRYCOLLECTION":
        return f"GEOMETRYCOLLECTION({', '.join(_wkt(g) for g in geojson.get('geometries', []))})"
    coordinates = geojson.get("coordinates")
    if kind == "POINT":
        return f"POINT({_nest_text(coordinates)})"
    return kind + _nest_text(coordinates)


# -- drawing ---------------------------------------------------------------------------------------
# The generator is plain functions given hypothesis' ``draw``: only prebuilt leaf strategies are
# drawn and the structure is Python (every nested strategy costs hypothesis bookkeeping per draw).
def _date(day: date) -> Term:
    return Term(f"DATE('{day.isoformat()}')", {"date": day.isoformat()})


def _timestamp(moment: datetime) -> Term:
    stamp = moment.isoformat().replace("+00:00", "Z")
    return Term(f"TIMESTAMP('{stamp}')", {"timestamp": stamp})


def _interval(start: datetime, days: int) -> Term:
    a, b = start.isoformat() + "Z", (start + timedelta(days=days)).isoformat() + "Z"
    return Term(f"INTERVAL('{a}','{b}')", {"interval": [a, b]})


def kinds(**weights: int) -> st.SearchStrategy[str]:
    """A name drawn as often as its weight (the first is what hypothesis starts from)."""
    return st.sampled_from([name for name, weight in weights.items() for _ in range(weight)])


NUMBERS = st.one_of(st.integers(-(10**6), 10**6), st.sampled_from(ODD_INTS), st.floats(), st.sampled_from(ODD_FLOATS))
FINITE = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([v for v in ODD_FLOATS if v - v == 0]),
)
STRINGS = st.one_of(st.text(max_size=12), st.sampled_from(ODD_STRINGS))
ODD_DATES = [Term("DATE('2020-13-45')", {"date": "2020-13-45"}), Term("DATE('0000-01-01')", {"date": 5})]
DATES = st.one_of(st.dates().map(_date), st.sampled_from(ODD_DATES))
ODD_TIMESTAMP = Term("TIMESTAMP('2020-01-01T25:61:61Z')", {"timestamp": "yesterday"})
TIMESTAMPS = st.one_of(st.datetimes(timezones=st.sampled_from([UTC, None])).map(_timestamp), st.just(ODD_TIMESTAMP))
MOMENTS = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))
INTERVALS = st.builds(_interval, MOMENTS, st.integers(-400, 400))
LISTS = st.lists(st.one_of(NUMBERS, STRINGS), max_size=4)
LITERAL = kinds(number=3, text=3, boolean=1, null=1, date=1, timestamp=1, interval=1, list=1)
NAME = kinds(real=5, odd=1, random=1, not_text=1)
ODD_NAME, RANDOM_NAME, NOT_TEXT_NAME = st.sampled_from(ODD_NAMES), st.text(max_size=8), st.sampled_from(JSON_ONLY_NAMES)
VALUE = kinds(name=5, literal=4, geometry=2, envelope=1, arithmetic=3, by_zero=1, casei=1, function=1)
PREDICATE = kinds(compare=7, loose_compare=3, like=2, in_=2, between=2, null=1, spatial=4, relate=2, distance=3)
PREDICATE = st.one_of(PREDICATE, kinds(bbox=2, array=1, temporal=1, include=1, garbage=1))
SPATIAL_VALUE = kinds(geometry=5, property=1, envelope=1, any=1)
CONDITION = kinds(predicate=6, and_=1, or_=1, not_=1)
ASK = kinds(nested=96, deep=3, wide=1)
HOW = kinds(as_written=38, other_language=1, cut_short=1)
COORDINATE = kinds(near=6, odd=1, wide=1)
POSITION = kinds(xy=12, xyz=1, odd=1)
RING = kinds(box=2, random=1, open=1)
GEOMETRY = kinds(Point=2, LineString=1, Polygon=2, MultiPoint=1, MultiLineString=1, MultiPolygon=1)
CLEAN = kinds(clean=3, odd=2)  # a geometry near the data, or with odd coordinates
ANTIPODE_X = st.one_of(st.floats(-180, 180), st.sampled_from([0, 180, -180, 90, -90, 116.35]))
ANTIPODE_Y = st.one_of(st.floats(-90, 90), st.sampled_from([0, 90, -90, 40.0]))
GEOMETRY_ODD = kinds(plain=16, GeometryCollection=2, Empty=1, Bogus=1, antipodal=1, world=1)
WORLD = st.sampled_from(
    [
        [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]],  # the whole world
        [[[0, 0], [180, 0], [180, 1], [0, 1], [0, 0]]],  # an edge 180 degrees long
        [[[-180, 0], [180, 0], [180, 90], [-180, 90], [-180, 0]]],  # a hemisphere
        [[[0, 89], [120, 89], [240 - 360, 89], [0, 89]]],  # around a pole
        [[[-179, -89], [179, -89], [179, 89], [-179, 89], [-179, -89]]],
    ]
)
STRICT_STRINGS = st.text(st.characters(exclude_characters="\x00"), max_size=12)
STRICT_NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6), st.floats(-1e300, 1e300), st.sampled_from([0.0, 5e-324, 1e300])
)
LOOSE = kinds(typed=3, loose=1)  # a predicate's operands of the queryable's type, or anything
COIN = st.booleans()
ODD_COORD, ODD_COORD_TEXT = st.sampled_from(ODD_COORDS + NON_FINITE), st.sampled_from(ODD_COORDS)
WIDE_COORD, Z = st.floats(-200, 200), st.floats(-10, 10)
ODD_POSITION: st.SearchStrategy[list[Json]] = st.sampled_from([[], [116.35], [116.35, 40.0, 1.0, 2.0], ["a", "b"]])
BOGUS_TYPE = st.sampled_from(["Circle", "Feature", "point", ""])
SRID = st.sampled_from(SRIDS)
CRS_MEMBER = st.sampled_from(["absent"] * 8 + JSON_CRS_MEMBERS)
COUNT_0_6, COUNT_1_3, COUNT_2_3, COUNT_1_5 = st.integers(0, 6), st.integers(1, 3), st.integers(2, 3), st.integers(1, 5)
COUNT_2_7, COUNT_3_6 = st.integers(2, 7), st.integers(3, 6)
COMPARISON, ARITHMETIC = st.sampled_from(COMPARISONS), st.sampled_from("+-*/")
ZERO = st.sampled_from([0, 0.0, -0.0])
FUNCTION = st.sampled_from(["LOWER", "upper", "abs", "名"])
LIKE = st.one_of(st.sampled_from(LIKE_PATTERNS), st.text(alphabet="%_\\ab'园.*[] ", max_size=8))
LIKE_FORM = kinds(like=2, not_like=1, casei=1)
RELATE = st.one_of(st.sampled_from(RELATE_PATTERNS), st.text(alphabet="TF*012", min_size=9, max_size=9))
DISTANCE = st.one_of(st.sampled_from(DISTANCES), st.floats(0, 1e6), st.integers(0, 10**7))
UNIT = st.one_of(st.sampled_from(UNITS[:10]), st.sampled_from(UNITS))
SPATIAL_OP, DISTANCE_OP = st.sampled_from(SPATIAL), st.sampled_from(DISTANCE_OPS)
BBOX_CRS_ = st.sampled_from(BBOX_CRS)
ARRAY_OP, TEMPORAL_OP = st.sampled_from(ARRAY_OPS), st.sampled_from(TEMPORAL)
CODES = st.lists(st.one_of(st.sampled_from(["basic", "improve", "upgrade"]), STRINGS, NUMBERS), max_size=4)
TEMPORAL_VALUE = st.one_of(TIMESTAMPS, INTERVALS, DATES)
INCLUDE = st.sampled_from([Term("INCLUDE", True), Term("EXCLUDE", False)])
GARBAGE_LEAVES = st.one_of(st.none(), st.booleans(), st.floats(), st.text(max_size=5), st.sampled_from(["and", "="]))
GARBAGE_JSON = st.recursive(
    GARBAGE_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(JSON_KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)
WORDS = st.sampled_from(["INCLUDE", "EXCLUDE", "AND", "NOT", "(", ")", "'", "name", "=", "1", "S_INTERSECTS("])
GARBAGE_TEXT = st.one_of(st.text(max_size=30), st.lists(WORDS, max_size=8).map(" ".join))
COMBINATION = st.sampled_from(["and", "or"])
BETWEEN_FORM = kinds(pygeofilter=1, standard=1)
IN_FORM = kinds(listed=8, empty=1, not_listed=1)
NULL_FORM = kinds(listed=1, bare=1)
DEEP = kinds(and_or=1, not_=1, arithmetic=1)
DEPTHS, WIDTHS = st.integers(MAX_DEPTH - 4, MAX_DEPTH + 8), st.integers(MAX_NODES // 3 - 10, MAX_NODES // 3 + 10)
LANG, FILTER_CRS_ = st.sampled_from(["cql2-text", "cql2-json"]), st.sampled_from(FILTER_CRS)


def _seen_term(value: Any) -> Term:
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return Term(f"DATE('{value}')", {"date": value})
    return literal(value)


def _arithmetic(op: str, lhs: Term, rhs: Term) -> Term:
    return Term(f"({lhs.text} {op} {rhs.text})", {"op": op, "args": [lhs.json, rhs.json]})


class Grammar:
    """What drawing needs of one target, built once: its queryables, their literals, its box, and
    the choices that make a filter odd. A strict grammar draws filters meant to compile and run
    (queryables against literals of their type, geometries near the data, real units and
    patterns), so that PostgreSQL and PostGIS see them; the other draws anything."""

    def __init__(self, target: Target, strict: bool = False) -> None:
        self.target, self.strict = target, strict
        x0, y0, x1, y1 = target.box
        self.near = (st.floats(x0 - 0.05, x1 + 0.05), st.floats(y0 - 0.05, y1 + 0.05))
        self.queryables = st.sampled_from(list(target.types))
        self.real = self.queryables if strict else st.sampled_from([*target.types, "geometry"])
        texts = STRICT_STRINGS if strict else STRINGS
        own: dict[str, st.SearchStrategy[Json]] = {
            "integer": st.one_of(st.integers(1900, 2030), st.integers(-(10**6), 10**6)),
            "number": STRICT_NUMBERS if strict else FINITE,
            "boolean": st.booleans(),
        }
        self.typed = {
            name: st.one_of(own.get(kind, texts).map(literal), *self._seen(name)) for name, kind in target.types.items()
        }
        self.numeric = [n for n, kind in target.types.items() if kind in ("integer", "number")]
        self.texts = st.sampled_from([n for n, kind in target.types.items() if kind == "string"] or ["geometry"])
        strictly = {
            "loose": st.just("typed"),
            "clean": st.just("clean"),
            "name": st.just("real"),
            "geometry_odd": kinds(plain=8, GeometryCollection=2, Empty=1, antipodal=1, world=1),
            "srid": st.none(),
            "crs_member": st.just("absent"),
            "spatial_value": kinds(geometry=5, property=1, envelope=1),
            "unit": st.sampled_from(UNITS[:10]),
            "distance": st.one_of(st.floats(0, 1e6), st.integers(0, 10**7), st.sampled_from([0, 1e-300, 1e300])),
            "relate": st.text(alphabet="TF*012", min_size=9, max_size=9),
            "bbox_crs": st.sampled_from([None, *sorted(CRS84_NAMES)]),
            "predicate": kinds(compare=4, like=1, in_=1, between=1, null=1, spatial=3, relate=2, distance=3, bbox=1),
            "how": st.just("as_written"),
            "filter_crs": st.sampled_from([None, None, CRS84, "CRS84"]),
            "in_form": st.just("listed"),
            "like": LIKE.filter(lambda p: (len(p) - len(p.rstrip("\\"))) % 2 == 0 and "\x00" not in p),
        }
        loosely = {
            "loose": LOOSE,
            "clean": CLEAN,
            "name": NAME,
            "geometry_odd": GEOMETRY_ODD,
            "srid": SRID,
            "crs_member": CRS_MEMBER,
            "spatial_value": SPATIAL_VALUE,
            "unit": UNIT,
            "distance": DISTANCE,
            "relate": RELATE,
            "bbox_crs": BBOX_CRS_,
            "predicate": PREDICATE,
            "how": HOW,
            "filter_crs": FILTER_CRS_,
            "in_form": IN_FORM,
            "like": LIKE,
        }
        self.choose: dict[str, st.SearchStrategy[Any]] = strictly if strict else loosely
        self.asks = asks(self)

    def _seen(self, name: str) -> list[st.SearchStrategy[Term]]:
        seen = self.target.seen.get(name) or []
        return [st.sampled_from(seen).map(_seen_term)] if seen else []

    def __repr__(self) -> str:  # hypothesis may print a strategy: not the whole target
        return f"Grammar({self.target.collection}, planner={self.target.planner})"


# -- values ----------------------------------------------------------------------------------------
def literal_term(draw: st.DrawFn) -> Term:
    """A literal of any type: numbers, texts, booleans, dates, timestamps, intervals, NULL, lists."""
    kind = draw(LITERAL)
    simple = {"number": NUMBERS, "text": STRINGS, "boolean": COIN, "list": LISTS}
    if kind in simple:
        return literal(draw(simple[kind]))
    if kind == "null":
        return literal(None)
    return draw({"date": DATES, "timestamp": TIMESTAMPS, "interval": INTERVALS}[kind])


def name_term(draw: st.DrawFn, g: Grammar) -> Term:
    """A queryable (or ``geometry``) mostly; else an unknown, quoted or unicode name, or not a text."""
    kind = draw(g.choose["name"])
    return prop(draw({"real": g.real, "odd": ODD_NAME, "random": RANDOM_NAME, "not_text": NOT_TEXT_NAME}[kind]))


def value_term(draw: st.DrawFn, g: Grammar, room: int = 2) -> Term:
    """Anything that can stand beside an operator: names, literals, geometries, arithmetic, functions."""
    kind = draw(VALUE)
    if room <= 0 and kind in ("arithmetic", "by_zero", "casei", "function"):
        kind = "name"
    if kind == "name":
        return name_term(draw, g)
    if kind == "literal":
        return literal_term(draw)
    if kind == "geometry":
        return geometry_term(draw, g)
    if kind == "envelope":
        return envelope_term(draw, g)
    lhs = value_term(draw, g, room - 1)
    if kind == "arithmetic":
        return _arithmetic(draw(ARITHMETIC), lhs, value_term(draw, g, room - 1))
    if kind == "by_zero":
        return _arithmetic("/", lhs, literal(draw(ZERO)))
    return call("CASEI" if kind == "casei" else draw(FUNCTION), [lhs])


def coordinate(draw: st.DrawFn, g: Grammar, axis: int, clean: bool = False, text_safe: bool = False) -> Json:
    """Near the data (always, when ``clean``), or odd: out of range, huge, tiny, not finite."""
    kind = "near" if clean else draw(COORDINATE)
    if kind == "near":
        return draw(g.near[axis])
    return draw(WIDE_COORD if kind == "wide" else ODD_COORD_TEXT if text_safe else ODD_COORD)


def position(draw: st.DrawFn, g: Grammar, clean: bool) -> list[Json]:
    kind = draw(POSITION)
    if kind == "odd" and not clean:
        return draw(ODD_POSITION)
    xy = [coordinate(draw, g, 0, clean), coordinate(draw, g, 1, clean)]
    return [*xy, draw(Z)] if kind == "xyz" else xy


def positions(draw: st.DrawFn, g: Grammar, clean: bool, count: st.SearchStrategy[int] = COUNT_0_6) -> list[Json]:
    return [position(draw, g, clean) for _ in range(max(draw(count), 2 if clean else 0))]


def ring(draw: st.DrawFn, g: Grammar, clean: bool) -> list[list[Json]]:
    """A polygon ring: a box, a random ring (perhaps crossing itself), or one not closed."""
    how = draw(RING)
    if how == "box":
        ax, bx = sorted((coordinate(draw, g, 0, clean), coordinate(draw, g, 0, clean)), key=float)
        ay, by = sorted((coordinate(draw, g, 1, clean), coordinate(draw, g, 1, clean)), key=float)
        return [[ax, ay], [bx, ay], [bx, by], [ax, by], [ax, ay]]
    points = positions(draw, g, clean, COUNT_2_7)
    return points if how == "open" and not clean else [*points, points[0]]


def polygon(draw: st.DrawFn, g: Grammar, clean: bool) -> list[list[list[Json]]]:
    return [ring(draw, g, clean) for _ in range(1 if draw(COIN) else 2)]


def geojson(draw: st.DrawFn, g: Grammar, clean: bool | None = None) -> dict[str, Json]:
    """A GeoJSON geometry: every type, near the data or not, empty, invalid, of types that do not exist,
    a collection (of clean parts, mostly), with an edge between antipodes, around the world."""
    nested = clean is not None
    clean = draw(g.choose["clean"]) == "clean" if clean is None else clean
    odd = "plain" if nested else draw(g.choose["geometry_odd"])
    kind = draw(GEOMETRY)
    if odd == "GeometryCollection":
        parts = [geojson(draw, g, clean) for _ in range(draw(COUNT_1_3))]
        return {"type": odd, "coordinates": [], "geometries": parts}
    if odd == "Empty":
        return {"type": kind, "coordinates": []}
    if odd == "Bogus":
        return {"type": draw(BOGUS_TYPE), "coordinates": position(draw, g, clean)}
    if odd == "antipodal":  # an edge between a point and its antipode: no geodesic is the shortest
        x, y = draw(ANTIPODE_X), draw(ANTIPODE_Y)
        line = [[x, y], [x - 180 if x > 0 else x + 180, -y]]
        return {"type": "LineString" if draw(COIN) else "MultiPoint", "coordinates": line}
    if odd == "world":
        return {"type": "Polygon", "coordinates": draw(WORLD)}
    coordinates: Json
    if kind == "Point":
        coordinates = position(draw, g, clean)
    elif kind in ("LineString", "MultiPoint"):
        coordinates = positions(draw, g, clean)
    elif kind == "Polygon":
        coordinates = polygon(draw, g, clean)
    elif kind == "MultiLineString":
        coordinates = [positions(draw, g, clean) for _ in range(draw(COUNT_1_3))]
    else:
        coordinates = [polygon(draw, g, clean) for _ in range(draw(COUNT_1_3))]
    return {"type": kind, "coordinates": coordinates}


def geometry_term(draw: st.DrawFn, g: Grammar) -> Term:
    """A geometry literal, in CRS84 or claiming another CRS (EWKT ``SRID=n;`` or a ``crs`` member)."""
    geometry = geojson(draw, g)
    srid = draw(g.choose["srid"])
    text = _wkt(geometry) if srid is None else f"SRID={srid};{_wkt(geometry)}"
    member: Json = draw(g.choose["crs_member"])
    if srid is not None:
        member = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}
    if member != "absent":
        geometry = {**geometry, "crs": member}
    return Term(text, geometry)


def envelope_term(draw: st.DrawFn, g: Grammar) -> Term:
    size = 4 if draw(COIN) else draw(COUNT_3_6)
    values = [coordinate(draw, g, i % 2, draw(g.choose["clean"]) == "clean") for i in range(size)]
    return Term(f"ENVELOPE({' '.join(_number_text(v) for v in values)})", {"bbox": values})


def spatial_term(draw: st.DrawFn, g: Grammar) -> Term:
    """Mostly a geometry literal; else the feature geometry, an envelope or any value."""
    kind = draw(g.choose["spatial_value"])
    if kind == "geometry":
        return geometry_term(draw, g)
    if kind == "envelope":
        return envelope_term(draw, g)
    return prop("geometry") if kind == "property" else value_term(draw, g)


# -- predicates ------------------------------------------------------------------------------------
def operands(draw: st.DrawFn, g: Grammar) -> tuple[Term, st.SearchStrategy[Term] | None]:
    """A predicate's left side and the literals to put beside it: a queryable and literals of its
    type (or arithmetic on it), or, now and then, any value and any literal (None)."""
    if draw(g.choose["loose"]) == "loose":
        return value_term(draw, g), None
    name = draw(g.queryables)
    lhs = prop(name)
    if name in g.numeric and draw(COIN):
        other = prop(draw(g.queryables)) if draw(COIN) else literal(draw(NUMBERS))
        lhs = _arithmetic(draw(ARITHMETIC), lhs, other)
    return lhs, g.typed[name]


def _beside(draw: st.DrawFn, g: Grammar, typed: st.SearchStrategy[Term] | None) -> Term:
    return draw(typed) if typed is not None else value_term(draw, g)


def compare(draw: st.DrawFn, g: Grammar) -> Term:
    lhs, typed = operands(draw, g)
    return infix(draw(COMPARISON), lhs, _beside(draw, g, typed))


def loose_compare(draw: st.DrawFn, g: Grammar) -> Term:
    """Type mismatches: a name or any value against a literal or any value."""
    lhs = name_term(draw, g) if draw(COIN) else value_term(draw, g)
    return infix(draw(COMPARISON), lhs, literal_term(draw) if draw(COIN) else value_term(draw, g))


def like(draw: st.DrawFn, g: Grammar) -> Term:
    lhs = prop(draw(g.texts)) if draw(g.choose["loose"]) == "typed" else value_term(draw, g)
    pattern, how = draw(g.choose["like"]), draw(LIKE_FORM)
    if how == "casei":
        return Term(
            f"CASEI({lhs.text}) LIKE CASEI({_quoted(pattern)})",
            {"op": "like", "args": [{"op": "casei", "args": [lhs.json]}, {"op": "casei", "args": [pattern]}]},
        )
    term = Term(f"{lhs.text} LIKE {_quoted(pattern)}", {"op": "like", "args": [lhs.json, pattern]})
    return Term(f"{lhs.text} NOT LIKE {_quoted(pattern)}", negated(term).json) if how == "not_like" else term


def in_(draw: st.DrawFn, g: Grammar) -> Term:
    lhs, typed = operands(draw, g)
    options = [_beside(draw, g, typed) for _ in range(draw(COUNT_1_5))]
    form = draw(g.choose["in_form"])
    listed: Json = [o.json for o in options] if form == "listed" else [] if form == "empty" else options[0].json
    negate = draw(COIN)
    word = "NOT IN" if negate else "IN"
    term = Term(f"{lhs.text} {word} ({', '.join(o.text for o in options)})", {"op": "in", "args": [lhs.json, listed]})
    return Term(term.text, negated(term).json) if negate else term


def between(draw: st.DrawFn, g: Grammar) -> Term:
    lhs, typed = operands(draw, g)
    low, high = _beside(draw, g, typed), _beside(draw, g, typed)
    negate = draw(COIN)
    word = "NOT BETWEEN" if negate else "BETWEEN"
    # pygeofilter reads {"args": [a, [low, high]]}; the standard's [a, low, high] is sent too
    pygeofilter = draw(BETWEEN_FORM) == "pygeofilter"
    args = [lhs.json, [low.json, high.json]] if pygeofilter else [lhs.json, low.json, high.json]
    term = Term(f"{lhs.text} {word} {low.text} AND {high.text}", {"op": "between", "args": args})
    return Term(term.text, negated(term).json) if negate else term


def null(draw: st.DrawFn, g: Grammar) -> Term:
    value = name_term(draw, g) if g.strict or draw(COIN) else value_term(draw, g)
    negate = draw(COIN)
    args = [value.json] if draw(NULL_FORM) == "listed" else value.json  # pygeofilter takes both
    term = Term(f"{value.text} IS {'NOT ' if negate else ''}NULL", {"op": "isNull", "args": args})
    return Term(term.text, negated(term).json) if negate else term


def spatial(draw: st.DrawFn, g: Grammar) -> Term:
    lhs = prop("geometry") if draw(g.choose["loose"]) == "typed" else spatial_term(draw, g)
    return call(draw(SPATIAL_OP), [lhs, spatial_term(draw, g)])


def relate(draw: st.DrawFn, g: Grammar) -> Term:
    lhs, rhs, pattern = prop("geometry"), spatial_term(draw, g), draw(g.choose["relate"])
    text = f"RELATE({lhs.text}, {rhs.text}, {_quoted(pattern)})"
    return Term(text, {"op": "relate", "args": [lhs.json, rhs.json, pattern]})


def distance(draw: st.DrawFn, g: Grammar) -> Term:
    op = draw(DISTANCE_OP)
    lhs = prop("geometry") if draw(g.choose["loose"]) == "typed" else spatial_term(draw, g)
    rhs, amount, units = spatial_term(draw, g), draw(g.choose["distance"]), draw(g.choose["unit"])
    text = f"{op}({lhs.text}, {rhs.text}, {_literal_text(amount)}, {units})"
    return Term(text, {"op": op.lower(), "args": [lhs.json, rhs.json, amount, units]})


def bbox(draw: st.DrawFn, g: Grammar) -> Term:
    lhs = prop("geometry") if draw(g.choose["loose"]) == "typed" else value_term(draw, g)
    clean = draw(g.choose["clean"]) == "clean"
    box = [coordinate(draw, g, i % 2, clean, text_safe=True) for i in range(4)]
    crs = draw(g.choose["bbox_crs"])
    text = f"BBOX({lhs.text}, {', '.join(_number_text(v) for v in box)}{'' if crs is None else ', ' + _quoted(crs)})"
    member = {"bbox": box} if crs is None else {"bbox": box, "crs": crs}
    return Term(text, {"op": "s_intersects", "args": [lhs.json, member]})


def array(draw: st.DrawFn, g: Grammar) -> Term:
    op, lhs, items = draw(ARRAY_OP), name_term(draw, g), draw(CODES)
    return Term(f"{op.upper()}({lhs.text}, {_literal_text(items)})", {"op": op, "args": [lhs.json, items]})


def temporal(draw: st.DrawFn, g: Grammar) -> Term:
    op, lhs, rhs = draw(TEMPORAL_OP), name_term(draw, g), draw(TEMPORAL_VALUE)
    return Term(f"{lhs.text} {op} {rhs.text}", {"op": op.lower(), "args": [lhs.json, rhs.json]})


def garbage(draw: st.DrawFn, g: Grammar) -> Term:
    """Text that is not CQL2 and JSON that is not CQL2 JSON (but looks like it)."""
    return Term(_no_surrogates(draw(GARBAGE_TEXT)), draw(GARBAGE_JSON))


PREDICATES = {
    "compare": compare,
    "loose_compare": loose_compare,
    "like": like,
    "in_": in_,
    "between": between,
    "null": null,
    "spatial": spatial,
    "relate": relate,
    "distance": distance,
    "bbox": bbox,
    "array": array,
    "temporal": temporal,
    "include": lambda draw, g: draw(INCLUDE),
    "garbage": garbage,
}


def condition(draw: st.DrawFn, g: Grammar, room: int = 2) -> Term:
    """A predicate of every kind CQL2 has (and some it has not), or AND/OR/NOT of a few."""
    kind = draw(CONDITION)
    if room <= 0 or kind == "predicate":
        return PREDICATES[draw(g.choose["predicate"])](draw, g)
    if kind == "not_":
        return negated(condition(draw, g, room - 1))
    return combined(kind.rstrip("_"), [condition(draw, g, room - 1) for _ in range(draw(COUNT_2_3))])


def deep(draw: st.DrawFn, g: Grammar) -> Term:
    """Nesting around MAX_DEPTH: alternating AND/OR (each level counts), NOT, or arithmetic."""
    levels, how, leaf = draw(DEPTHS), draw(DEEP), compare(draw, g)
    if how == "arithmetic":
        value = prop(g.numeric[0] if g.numeric else "geometry")
        for level in range(levels):
            value = _arithmetic("+-*"[level % 3], value, literal(1))
        return infix(">", value, literal(1))
    term = leaf
    for level in range(levels):
        term = negated(term) if how == "not_" else combined(("and", "or")[level % 2], [leaf, term])
    return term


def wide(draw: st.DrawFn, g: Grammar) -> Term:
    """A chain of one combination near MAX_NODES terms (a comparison is three nodes)."""
    count, name = draw(WIDTHS), draw(g.queryables)
    value = draw(g.typed[name])
    term = infix("=", prop(name), value if len(value.text) < 40 else literal(1))
    return combined(draw(COMBINATION), [term] * count)


@st.composite
def asks(draw: st.DrawFn, g: Grammar) -> Ask:
    """A request: a filter in one language (now and then the other's, or cut short) and a filter-crs."""
    kind = draw(ASK)
    term = condition(draw, g) if kind == "nested" else deep(draw, g) if kind == "deep" else wide(draw, g)
    lang, how = draw(LANG), draw(g.choose["how"])
    written = term.text if lang == "cql2-text" else json.dumps(term.json)
    if how == "other_language":
        written = json.dumps(term.json) if lang == "cql2-text" else term.text
    elif how == "cut_short":
        written = written[: draw(st.integers(0, max(0, len(written) - 1)))]
    while len(quote(written)) > MAX_QUERY:  # what an HTTP client sends in a URL
        written = written[: len(written) // 2]
    return Ask(g.target.collection, g.target.planner, lang, written, draw(g.choose["filter_crs"]))


# -- the live server -------------------------------------------------------------------------------
def _targets(client: httpx.Client, token: str) -> list[Target]:
    """Every collection for the public and, as a planner, the restricted ones too, with their real
    queryables (GET .../queryables) and values from their first features."""
    planner = {"Authorization": f"Bearer {token}"}
    found = []
    box = client.get("/ogc/collections/compounds").json()["extent"]["spatial"]["bbox"][0]
    for collection, as_planner in [*[(c, False) for c in PUBLIC], *[(c, True) for c in (*PUBLIC, *RESTRICTED)]]:
        headers = planner if as_planner else {}
        r = client.get(f"/ogc/collections/{collection}/queryables", headers=headers)
        assert r.status_code == 200, (collection, r.status_code, r.text[:200])
        types = {name: p["type"] for name, p in r.json()["properties"].items()}
        if as_planner:
            types |= PLANNER_COLUMNS
        features = client.get(ITEMS.format(collection), params={"limit": 30}, headers=headers).json()["features"]
        seen: dict[str, list[Any]] = {}
        for feature in features:
            for name, value in feature["properties"].items():
                items = value if isinstance(value, list) else [value]
                seen.setdefault(name, []).extend(v for v in items if isinstance(v, str | int | float) and name in types)
        found.append(Target(collection, as_planner, types, seen, tuple(box)))
    return found


def _verdict(response: httpx.Response) -> str | None:
    """What is wrong with an answer (None: nothing): a 200 is a feature collection of at most
    LIMIT features, anything else a 4xx problem with a detail."""
    kind = response.headers.get("content-type", "")
    if response.status_code == 200:
        body = response.json()
        if body.get("type") != "FeatureCollection" or len(body.get("features", [])) > LIMIT:
            return f"200 but not a feature collection of at most {LIMIT}: {response.text[:200]}"
        return None
    if not 400 <= response.status_code < 500:
        return f"{response.status_code} {kind} {response.text[:200]}"
    if not kind.startswith(PROBLEM):
        return f"{response.status_code} with {kind!r}, not a problem: {response.text[:200]}"
    detail = response.json().get("detail")
    if not isinstance(detail, str) or not detail.strip():
        return f"{response.status_code} problem without a detail: {response.text[:200]}"
    return None


def _send(client: httpx.Client, token: str, ask: Ask) -> tuple[int, str | None]:
    params = {"filter": ask.filter, "filter-lang": ask.lang, "limit": str(LIMIT)}
    if ask.filter_crs is not None:
        params["filter-crs"] = ask.filter_crs
    headers = {"Authorization": f"Bearer {token}"} if ask.planner else {}
    for attempt in (1, 2):
        try:
            response = client.get(ITEMS.format(ask.collection), params=params, headers=headers)
            break
        except httpx.TransportError as exc:
            # after a 500 the server drops the connection, and the next request sent on it fails through
            # no fault of its own: it is sent again, and a second failure is recorded
            if attempt == 2:
                return 0, f"no answer: {type(exc).__name__} {exc}"
    return response.status_code, _verdict(response)


def _round(tally: Tally, requests: st.SearchStrategy[Ask], examples: int, send: Callable[[Ask], Any]) -> None:
    """One hypothesis run of ``examples`` batches; each request not sent before is sent."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    # unique: besides no repeats in a batch, this keeps hypothesis from following each new batch
    # with copies in which one part is repeated elsewhere (copies that would resend the batch)
    @given(st.lists(requests, min_size=BATCH, max_size=BATCH, unique=True))
    def batch(drawn: list[Ask]) -> None:
        for ask in drawn:
            if ask not in tally.seen:  # a repeat of an earlier batch's request is not sent again
                tally.seen.add(ask)
                tally.flying.append((ask, send(ask)))
        tally.land(keep=2 * BATCH)  # the next batch is drawn while this one is answered

    batch()


def test_generated_cql2_filters_never_answer_5xx(server_process: tuple[str, str]) -> None:
    base, token = server_process
    started = time.monotonic()
    tally = Tally()
    limits = httpx.Limits(max_connections=THREADS, max_keepalive_connections=THREADS)
    with httpx.Client(base_url=base, timeout=60, limits=limits) as client, ThreadPoolExecutor(THREADS) as pool:
        targets = _targets(client, token)
        public = [Grammar(t, strict).asks for t in targets if not t.planner for strict in (False, True)]
        planner = [Grammar(t, strict).asks for t in targets if t.planner for strict in (False, True)]
        requests = st.sampled_from([*public, *public, *planner]).flatmap(lambda asks: asks)  # a third as planner
        # a repeat is not sent, and each hypothesis run starts again from the simplest examples (the
        # repeats of the last run): rounds go on, each sized for what is missing, until TARGET is sent
        for _ in range(ROUNDS):
            missing = TARGET - tally.sent - len(tally.flying)
            if missing <= 0:
                break
            _round(
                tally,
                requests,
                max(10, math.ceil(missing * 1.1 / BATCH)),
                lambda ask: pool.submit(_send, client, token, ask),
            )
        tally.land()
    seconds = time.monotonic() - started
    fives = sum(n for s, n in tally.statuses.items() if s >= 500)
    print(
        f"\ncql2 fuzz: {tally.sent} requests ({tally.langs['cql2-text']} text / {tally.langs['cql2-json']} json), "
        f"statuses {dict(sorted(tally.statuses.items()))}, {fives} responses 5xx, {seconds:.0f} s"
    )
    assert tally.failures == [], f"{len(tally.failures)} wrong answers; the first 20:\n" + "\n".join(
        tally.failures[:20]
    )
    assert tally.sent >= TARGET
    assert tally.statuses[200] > 0 and tally.statuses[400] > 0  # both kinds of answer were reached
