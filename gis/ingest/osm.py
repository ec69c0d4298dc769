"""OpenStreetMap XML / PBF: which features feed a layer, by the rules in ``layers/*.yaml``.

GDAL's OSM driver splits a file into points, lines, multilinestrings and multipolygons, with a
few tags as columns and the rest in ``other_tags``. Each feature's tags are merged back into one
dict; the layer's rules (or, for facilities, the type code list's tags and name patterns) decide
whether it belongs and which field values it gets. Features that look like candidates but cannot
be typed are set aside with a reason rather than dropped.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely

from gis.errors import ImportRefusedError
from gis.ingest.readers import RawSource, parse_wkb
from gis.registry import CodeList, LayerDef, OsmClassify, OsmRule, Registry

TAG_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
KEY_PREFIX = {"points": "node", "lines": "way", "multilinestrings": "relation"}


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


def _read_layer(path: Path, name: str) -> tuple[list[dict[str, str]], np.ndarray, np.ndarray, list[str], list[str]]:
    # Small exports are not sorted by id; GDAL's custom indexing then fails ("Non increasing node id").
    pyogrio.set_gdal_config_options({"OSM_USE_CUSTOM_INDEXING": "NO"})
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            meta, _fids, wkb, field_data = pyogrio.raw.read(path, layer=name, force_2d=True)
    except Exception as exc:
        raise ImportRefusedError(f"{path.name}: cannot be read as OpenStreetMap ({str(exc)[:300]})") from None
    columns = [str(c) for c in meta["fields"]]
    n = len(wkb) if wkb is not None else 0
    tags: list[dict[str, str]] = [{} for _ in range(n)]
    keys: list[str] = [""] * n
    data = dict(zip(columns, field_data, strict=True))
    for col in columns:
        if col in ("osm_id", "osm_way_id", "other_tags", "z_order"):
            continue
        values = data[col]
        for i in np.flatnonzero(pd.notna(values)).tolist():
            if values[i] != "":
                tags[i][col] = str(values[i])
    if "other_tags" in data:
        for i, raw in enumerate(data["other_tags"]):
            if raw:
                for k, v in parse_other_tags(raw).items():
                    tags[i].setdefault(k, v)
    for i in range(n):
        if name == "multipolygons":
            way_id = data["osm_way_id"][i]
            keys[i] = f"way/{way_id}" if way_id else f"relation/{data['osm_id'][i]}"
        else:
            keys[i] = f"{KEY_PREFIX[name]}/{data['osm_id'][i]}"
    geoms, failed, _fixed = parse_wkb(wkb if wkb is not None else np.array([], dtype=object))
    notes = sorted({str(w.message).split(".")[0] for w in caught})
    return tags, geoms, failed, keys, notes


Classifier = tuple[list[tuple[str, re.Pattern[str]]], list[tuple[str, str, str]]]


def _matches(rule: OsmRule, tags: dict[str, str]) -> bool:
    for key, wanted in rule.where.items():
        value = tags.get(key)
        if value is None or (wanted != "*" and value not in wanted):
            return False
    for key, unwanted in rule.exclude.items():
        if tags.get(key) in unwanted:
            return False
    return not (rule.name_required and not tags.get("name"))


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


def read_osm(path: Path, layer: LayerDef, registry: Registry) -> RawSource:
    """The features of an OSM file that feed ``layer``, with their tags as attributes."""
    if not path.exists():
        raise ImportRefusedError(f"{path}: no such file")
    if layer.osm is None:
        raise ImportRefusedError(f"layer {layer.id} has no OpenStreetMap rules in layers/{layer.id}.yaml")
    bounds = read_bounds(path)
    if isinstance(layer.osm, OsmClassify):
        wanted_layers: list[str] = list(layer.osm.layers)
    else:
        wanted_layers = list(dict.fromkeys(r.layer for r in layer.osm))

    rows_tags: list[dict[str, str]] = []
    rows_geom: list[object] = []
    rows_failed: list[bool] = []
    rows_key: list[str] = []
    rows_preset: list[dict[str, str]] = []
    rows_reason: list[str | None] = []
    not_relevant = 0
    clipped = 0
    gdal_notes: list[str] = []
    box = shapely.box(*bounds) if bounds else None
    classifier = _classifier(registry.code_list(layer.osm.classify)) if isinstance(layer.osm, OsmClassify) else None

    for gdal_layer in wanted_layers:
        tags, geoms, failed, keys, notes = _read_layer(path, gdal_layer)
        gdal_notes.extend(f"GDAL ({gdal_layer}): {n}" for n in notes)
        for i, t in enumerate(tags):
            preset: dict[str, str] = {}
            reason: str | None = None
            if isinstance(layer.osm, OsmClassify):
                ftype, reason = classify_facility(t, registry.code_list(layer.osm.classify), classifier)
                if ftype is None and reason is None:
                    not_relevant += 1
                    continue
                if ftype is not None:
                    preset = {layer.type_field or "type": ftype}
            else:
                rule = next((r for r in layer.osm if r.layer == gdal_layer and _matches(r, t)), None)
                if rule is None:
                    not_relevant += 1
                    continue
                preset = dict(rule.set)
                if layer.type_field and layer.type_field not in preset:
                    where = ", ".join(f"{k}={t.get(k)}" for k in rule.where)
                    reason = f"{where}: no {layer.type_field} is mapped for it in layers/{layer.id}.yaml"
            g = geoms[i]
            if box is not None and g is not None and gdal_layer in ("lines", "multilinestrings"):
                # Exports hold whole ways reaching far outside <bounds>: keep the part inside.
                if not box.contains(g):
                    g = shapely.intersection(g, box)
                    clipped += 1
                    if g.is_empty:
                        not_relevant += 1
                        continue
            elif box is not None and g is not None and not box.intersects(g):
                not_relevant += 1
                continue
            rows_tags.append(t)
            rows_geom.append(g)
            rows_failed.append(bool(failed[i]))
            rows_key.append(keys[i])
            rows_preset.append(preset)
            rows_reason.append(reason)

    notes = list(gdal_notes)
    if clipped:
        notes.append(f"{clipped} lines reaching outside the file's <bounds> were clipped to it")
    attrs = pd.DataFrame.from_records(rows_tags) if rows_tags else pd.DataFrame(index=range(0))
    attrs = attrs.rename(columns={k: v for k, v in layer.osm_rename.items() if v not in attrs.columns})
    attrs.index = pd.RangeIndex(len(rows_tags))
    return RawSource(
        attributes=attrs,
        geometries=np.array([*rows_geom, None], dtype=object)[:-1],
        unparseable=np.array(rows_failed, dtype=bool),
        crs=None,
        crs_origin="OpenStreetMap (always WGS 84)",
        driver="OSM",
        source_layers=wanted_layers,
        encoding="UTF-8",
        encoding_note="OpenStreetMap is UTF-8",
        keys=np.array(rows_key, dtype=object),
        preset=pd.DataFrame.from_records(rows_preset, index=range(len(rows_preset))),
        rejected_reasons=np.array(rows_reason, dtype=object),
        not_relevant=not_relevant,
        warnings=notes,
    )
