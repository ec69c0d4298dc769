"""OpenStreetMap XML / PBF: which features feed a layer, by the rules in ``layers/*.yaml``.

GDAL's OSM driver splits a file into points, lines, multilinestrings and multipolygons, with a
few tags as columns and the rest in ``other_tags``. The layer's rules are evaluated column-wise over
those tags (or, for facilities, the type code list's tags and name patterns feature by feature over
the candidates); the chosen features keep all their tags as attributes. Features that look like candidates but cannot
be typed are set aside with a reason rather than dropped.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely

from gis.errors import ImportRefusedError
from gis.ingest.precheck import check_osm_xml
from gis.ingest.readers import RawSource, parse_wkb
from gis.registry import CodeList, LayerDef, OsmClassify, OsmRule, Registry

TAG_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
KEY_PREFIX = {"points": "node", "lines": "way", "multilinestrings": "relation"}
# What GDAL's OSM driver says (as debug messages only) of the ways it cannot build whole
DISCARDED = re.compile(r"Way (\d+) with (\d+) nodes( that could be found)?\. Discarding it")
SHORTENED = re.compile(r"For way (\d+), got only (\d+) nodes instead of (\d+)")


@contextmanager
def _gdal_debug() -> Iterator[list[str]]:
    """GDAL's OSM debug messages while the block runs. GDAL prints them on standard error (file
    descriptor 2), which is a temporary file meanwhile: a way that refers to nodes the file lacks is
    otherwise built without them (a wrong shape) or left out, and nothing else says so."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        pyogrio.set_gdal_config_options({"CPL_DEBUG": "OSM"})
        try:
            yield lines
        finally:
            pyogrio.set_gdal_config_options({"CPL_DEBUG": None})
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode("utf-8", errors="replace").splitlines())


@dataclass
class BrokenWays:
    """The ways GDAL could not build whole: left out (nodes missing, or a single node), or shortened."""

    missing_nodes: set[str] = field(default_factory=set)
    single_node: set[str] = field(default_factory=set)
    shortened: dict[str, str] = field(default_factory=dict)  # "way/ID" -> why it is set aside

    def read(self, lines: list[str]) -> None:
        for line in lines:
            if m := DISCARDED.search(line):
                (self.missing_nodes if m.group(3) else self.single_node).add(m.group(1))
            elif m := SHORTENED.search(line):
                got, wanted = int(m.group(2)), int(m.group(3))
                self.shortened[f"way/{m.group(1)}"] = (
                    f"way {m.group(1)} refers to {wanted - got} of its {wanted} nodes that are not in the file "
                    "(an incomplete extract): its shape would be wrong"
                )

    def dropped(self) -> list[str]:
        """What was left out, in words (for the report and a refusal)."""
        said = []
        for ids, what in (
            (self.missing_nodes, "{n} refer{s} to nodes that are not in the file (an incomplete extract: way {ids})"),
            (self.single_node, "{n} {have} a single node, too few for a line (way {ids})"),
        ):
            if ids:
                one = len(ids) == 1
                n = "1 way" if one else f"{len(ids):,} ways"
                shown = ", ".join(sorted(ids, key=int)[:5]) + (" ..." if len(ids) > 5 else "")
                said.append(what.format(n=n, s="s" if one else "", have="has" if one else "have", ids=shown))
        return [f"{s}; GDAL left {'it' if s.startswith('1 way ') else 'them'} out" for s in said]


def parse_other_tags(value: object) -> dict[str, str]:
    """GDAL's ``other_tags`` (``"k"=>"v","k2"=>"v2"``) as a dict."""
    if not isinstance(value, str) or not value:
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in TAG_PAIR.findall(value)}


def read_bounds(path: Path) -> tuple[float, float, float, float] | None:
    """The ``<bounds>`` of an OSM XML export (lon/lat), or None (PBF, or none given)."""
    if path.suffix.lower() != ".osm":
        return None
    with path.open("rb") as fh:
        head = fh.read(4096).decode("utf-8", errors="replace")
    m = re.search(r"<bounds\s+([^>]*)/?>", head)
    if not m:
        return None
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
    try:
        return (
            float(attrs["minlon"]),
            float(attrs["minlat"]),
            float(attrs["maxlon"]),
            float(attrs["maxlat"]),
        )
    except (KeyError, ValueError):
        return None


class _GdalLayer:
    """One layer of GDAL's OSM reading: the tag columns GDAL makes, ``other_tags``, geometries, ids."""

    def __init__(self, path: Path, name: str, broken: BrokenWays) -> None:
        # GDAL's custom node index needs files sorted by id. XML exports from openstreetmap.org often are
        # not, and then it errs on one layer and silently returns part of another (cn-hongkong-tst: 171 of
        # 443 multipolygons). So XML always uses the plain index; PBF (written sorted by osmium/osmosis)
        # keeps the custom one, a third faster, and falls back to the plain one on "Non increasing node id".
        attempts = [None, "NO"] if path.suffix.lower() == ".pbf" else ["NO"]
        with warnings.catch_warnings(record=True) as caught, _gdal_debug() as debug:
            warnings.simplefilter("always")
            for attempt, indexing in enumerate(attempts):
                pyogrio.set_gdal_config_options({"OSM_USE_CUSTOM_INDEXING": indexing})
                try:
                    meta, _fids, wkb, field_data = pyogrio.raw.read(path, layer=name, force_2d=True)
                    break
                except Exception as exc:
                    if attempt == len(attempts) - 1:
                        said = str(exc)[:300]
                        raise ImportRefusedError(f"{path.name}: cannot be read as OpenStreetMap ({said})") from None
                finally:
                    pyogrio.set_gdal_config_options({"OSM_USE_CUSTOM_INDEXING": None})
        broken.read(debug)
        self.notes = sorted({str(w.message).split(".")[0] for w in caught})
        data = {str(c): v for c, v in zip(meta["fields"], field_data, strict=True)}
        self.n = len(wkb) if wkb is not None else 0
        skip = ("osm_id", "osm_way_id", "other_tags", "z_order")
        self.frame = pd.DataFrame({c: v for c, v in data.items() if c not in skip}, index=range(self.n)).replace(
            "", None
        )
        self.other = pd.Series(data.get("other_tags", np.full(self.n, None, dtype=object)), dtype=object)
        ids = pd.Series(data["osm_id"], dtype=object).astype(str)
        if name == "multipolygons":
            way = pd.Series(data["osm_way_id"], dtype=object)
            self.keys = np.where(way.notna() & (way != ""), "way/" + way.astype(str), "relation/" + ids)
        else:
            self.keys = (f"{KEY_PREFIX[name]}/" + ids).to_numpy(dtype=object)
        self.geoms, self.failed, _fixed = parse_wkb(wkb if wkb is not None else np.array([], dtype=object))
        self._tags: dict[str, pd.Series] = {}

    def tag(self, key: str) -> pd.Series:
        """One tag's values for every feature (NaN where absent), from its column or ``other_tags``."""
        if key in self.frame.columns:
            return self.frame[key]
        if key not in self._tags:
            pattern = '"' + re.escape(key) + r'"=>"((?:[^"\\]|\\.)*)"'
            found = self.other.astype("string").str.extract(pattern, expand=False)
            self._tags[key] = found.str.replace('\\"', '"', regex=False).astype(object)
        return self._tags[key]

    def tags_of(self, i: int) -> dict[str, str]:
        row = {str(k): str(v) for k, v in self.frame.iloc[i].items() if isinstance(v, str)}
        for k, v in parse_other_tags(self.other.iloc[i]).items():
            row.setdefault(k, v)
        return row

    def attributes(self, rows: np.ndarray) -> pd.DataFrame:
        """All tags of the given features, one column per key."""
        cols = self.frame.iloc[rows].reset_index(drop=True)
        cols = cols.loc[:, cols.notna().any(axis=0)]
        parsed = [parse_other_tags(o) for o in self.other.iloc[rows]]
        other = pd.DataFrame.from_records(parsed, index=range(len(rows))) if parsed else pd.DataFrame()
        other = other.drop(columns=[c for c in other.columns if c in cols.columns])
        return pd.concat([cols, other], axis=1)


Classifier = tuple[list[tuple[str, re.Pattern[str]]], list[tuple[str, str, str]]]


CJK = re.compile(r"[\u3400-\u9fff]")
# A Chinese institution's name ends with what it is (某某幼儿园, 某某小学(分校)); "原幼儿园停车场" is a
# car park. So Chinese patterns must end the name, allowing a branch suffix; Latin ones may stand anywhere.
BRANCH = r"(?:[东南西北总]?分?(?:园|校|部|院|所|站|校区|院区))?"
BRACKETS = re.compile(r"[(（]([^()（）]*)[)）]\s*$")


def _name_pattern(names: list[str]) -> re.Pattern[str]:
    parts = [f"(?:{n}){BRANCH}$" if CJK.search(n) else f"(?:{n})" for n in names]
    return re.compile("|".join(parts), re.IGNORECASE)


def _name_candidates(name: str) -> list[str]:
    """The name, the name without a trailing bracket, and the bracket's content
    (校医院（北京邮电大学社区卫生服务中心）is a community health centre)."""
    name = name.strip()
    m = BRACKETS.search(name)
    if not m:
        return [name]
    return [name, name[: m.start()].strip(), m.group(1).strip()]


def _pair(tag: str) -> tuple[str, str]:
    key, value = tag.split("=", 1)
    return key, value


def _classifier(codes: CodeList) -> Classifier:
    by_name = [(c.id, _name_pattern(c.names)) for c in codes.codes if c.names]
    by_tag = [(c.id, *_pair(t)) for c in codes.codes for t in c.osm_tags]
    return by_name, by_tag


def classify_facility(
    tags: dict[str, str], codes: CodeList, classifier: Classifier | None = None
) -> tuple[str | None, str | None]:
    """(type, None) for a facility, (None, reason) for a candidate that cannot be typed, else (None, None)."""
    by_name, by_tag = classifier or _classifier(codes)
    if not any(k in tags for k in codes.osm_candidate_keys):
        return None, None
    name = tags.get("name") or tags.get("name:zh") or ""
    candidates = _name_candidates(name) if name else []
    for code_id, pattern in by_name:
        if any(pattern.search(c) for c in candidates):
            return code_id, None
    for code_id, key, value in by_tag:
        if tags.get(key) == value:
            return code_id, None
    for tag in codes.osm_ambiguous_tags:
        key, value = tag.split("=", 1)
        if tags.get(key) == value:
            return None, (
                f"{tag} named {name or '(no name)'}: neither the name nor the tags say which facility type "
                "(小学, 初中, 幼儿园 ...) it is; if it is one, load it from a file of its own with --type"
            )
    return None, None


@dataclass
class Choice:
    """The features of one GDAL layer that feed the layer: their rows, the field values the rules
    set (``preset``), and for each a reason it cannot be used, or None."""

    rows: list[int] = field(default_factory=list)
    preset: list[dict[str, str]] = field(default_factory=list)
    reasons: list[str | None] = field(default_factory=list)


def choose_facilities(src: _GdalLayer, layer: LayerDef, codes: CodeList, classifier: Classifier) -> Choice:
    """The candidates (features with one of the code list's candidate keys) that can be typed, or
    cannot but look like a facility (they are set aside with the reason)."""
    chosen = Choice()
    candidate = np.zeros(src.n, dtype=bool)
    for key in codes.osm_candidate_keys:
        candidate |= src.tag(key).notna().to_numpy(dtype=bool)
    for i in np.flatnonzero(candidate).tolist():
        ftype, why = classify_facility(src.tags_of(i), codes, classifier)
        if ftype is not None or why is not None:
            chosen.rows.append(i)
            chosen.preset.append({layer.type_field or "type": ftype} if ftype else {})
            chosen.reasons.append(why)
    return chosen


def rule_mask(src: _GdalLayer, rule: OsmRule) -> np.ndarray:
    """The features ``rule`` matches: every ``where`` tag holds, no ``exclude`` tag, a name if required."""
    mask = np.ones(src.n, dtype=bool)
    for key, wanted in rule.where.items():
        values = src.tag(key)
        mask &= (values.notna() if wanted == "*" else values.isin(wanted)).to_numpy(dtype=bool)
    for key, unwanted in rule.exclude.items():
        mask &= ~src.tag(key).isin(unwanted).to_numpy(dtype=bool)
    if rule.name_required:
        mask &= src.tag("name").notna().to_numpy(dtype=bool)
    return mask


def choose_by_rules(src: _GdalLayer, layer: LayerDef, rules: list[OsmRule]) -> Choice:
    """The features some rule matches; the first rule that matches a feature decides its values."""
    rule_of = np.full(src.n, -1)
    for r_idx, rule in enumerate(rules):
        rule_of[(rule_of < 0) & rule_mask(src, rule)] = r_idx
    chosen = Choice(rows=np.flatnonzero(rule_of >= 0).tolist())
    for i in chosen.rows:
        rule = rules[rule_of[i]]
        chosen.preset.append(dict(rule.set))
        why = None
        if layer.type_field and layer.type_field not in rule.set:
            where = ", ".join(f"{k}={src.tag(k).iloc[i]}" for k in rule.where)
            why = f"{where}: no {layer.type_field} is mapped for it in layers/{layer.id}.yaml"
        chosen.reasons.append(why)
    return chosen


def within_bounds(g: np.ndarray, gdal_layer: str, box: shapely.Polygon) -> tuple[np.ndarray, int]:
    """Which of the geometries ``g`` lie in the file's ``<bounds>``, and how many lines were clipped
    to them (in place): exports hold whole ways reaching far outside, of which the part inside is kept."""
    present = ~pd.isna(g)
    if gdal_layer in ("lines", "multilinestrings"):
        outside = present & ~shapely.contains(box, g)
        g[outside] = shapely.intersection(g[outside], box)
        return ~(present & shapely.is_empty(g)), int(outside.sum())
    return ~(present & ~shapely.intersects(box, g)), 0


@dataclass
class Gathered:
    """The chosen features of every GDAL layer read, in order, before they become one source."""

    frames: list[pd.DataFrame] = field(default_factory=list)
    geoms: list[np.ndarray] = field(default_factory=list)
    failed: list[np.ndarray] = field(default_factory=list)
    keys: list[np.ndarray] = field(default_factory=list)
    presets: list[dict[str, str]] = field(default_factory=list)
    reasons: list[str | None] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_relevant: int = 0
    clipped: int = 0

    def add(self, src: _GdalLayer, gdal_layer: str, chosen: Choice, box: shapely.Polygon | None) -> None:
        """Keep the chosen features of ``src`` that lie in ``box`` (the file's bounds, when it has them)."""
        rows = np.array(chosen.rows, dtype=int)
        g = src.geoms[rows] if len(rows) else np.array([], dtype=object)
        keep = np.ones(len(rows), dtype=bool)
        if box is not None and len(rows):
            inside, clipped = within_bounds(g, gdal_layer, box)
            keep &= inside
            self.clipped += clipped
        self.not_relevant += src.n - int(keep.sum())
        rows, g = rows[keep], g[keep]
        self.frames.append(src.attributes(rows))
        self.geoms.append(g)
        self.failed.append(src.failed[rows])
        self.keys.append(np.asarray(src.keys, dtype=object)[rows])
        self.presets.extend(p for p, k in zip(chosen.preset, keep, strict=True) if k)
        self.reasons.extend(r for r, k in zip(chosen.reasons, keep, strict=True) if k)


def _concat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.array([], dtype=dtype)


def read_osm(path: Path, layer: LayerDef, registry: Registry) -> RawSource:
    """The features of an OSM file that feed ``layer``, with their tags as attributes."""
    if not path.exists():
        raise ImportRefusedError(f"{path}: no such file")
    if layer.osm is None:
        raise ImportRefusedError(f"layer {layer.id} has no OpenStreetMap rules in layers/{layer.id}.yaml")
    if path.suffix.lower() == ".osm":
        check_osm_xml(path)  # no DTD: no external entity, no entity expansion reaches GDAL's parser
    bounds = read_bounds(path)
    box = shapely.box(*bounds) if bounds else None
    classify = layer.osm if isinstance(layer.osm, OsmClassify) else None
    rules_all = layer.osm if isinstance(layer.osm, list) else []
    wanted_layers: list[str] = list(classify.layers) if classify else list(dict.fromkeys(r.layer for r in rules_all))
    codes = registry.code_list(classify.classify) if classify else None
    classifier = _classifier(codes) if codes else None

    found = Gathered()
    broken = BrokenWays()
    for gdal_layer in wanted_layers:
        src = _GdalLayer(path, gdal_layer, broken)
        found.notes.extend(f"GDAL ({gdal_layer}): {n}" for n in src.notes)
        if codes is not None and classifier is not None:
            chosen = choose_facilities(src, layer, codes, classifier)
        else:
            chosen = choose_by_rules(src, layer, [r for r in rules_all if r.layer == gdal_layer])
        for j, i in enumerate(chosen.rows):  # a way built without some of its nodes is set aside
            why = broken.shortened.get(str(src.keys[i]))
            if why and chosen.reasons[j] is None:
                chosen.reasons[j] = why
        found.add(src, gdal_layer, chosen, box)
    found.notes.extend(broken.dropped())

    if found.clipped:
        found.notes.append(f"{found.clipped} lines reaching outside the file's <bounds> were clipped to it")
    attrs = pd.concat(found.frames, ignore_index=True) if found.frames else pd.DataFrame()
    attrs = attrs.rename(columns={k: v for k, v in layer.osm_rename.items() if v not in attrs.columns})
    return RawSource(
        attributes=attrs,
        geometries=_concat(found.geoms, object),
        unparseable=_concat(found.failed, bool),
        crs=None,
        crs_origin="OpenStreetMap (always WGS 84)",
        driver="OSM",
        source_layers=wanted_layers,
        encoding="UTF-8",
        encoding_note="OpenStreetMap is UTF-8",
        keys=_concat(found.keys, object),
        preset=pd.DataFrame.from_records(found.presets, index=range(len(found.presets))),
        rejected_reasons=np.array(found.reasons, dtype=object),
        not_relevant=found.not_relevant,
        warnings=found.notes,
        dropped=broken.dropped(),
    )
