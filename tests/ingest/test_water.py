"""The water layer from OSM: water bodies as polygons, waterways as lines, kinds from the tags."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from gis.workspace import Workspace


def osm_water(path: Path) -> tuple[dict[str, str], set[str]]:
    """Independently, from the XML: water ways and relations by id with the kind they should get,
    and the ways that must load (every node present, one inside the extract's bounds)."""
    out: dict[str, str] = {}
    complete: set[str] = set()
    root = ET.parse(path).getroot()
    b = root.find("bounds")
    assert b is not None
    box = [float(b.get(k, "nan")) for k in ("minlon", "minlat", "maxlon", "maxlat")]
    nodes = {n.get("id"): (float(n.get("lon", "nan")), float(n.get("lat", "nan"))) for n in root.iter("node")}
    for el in root:
        if el.tag not in ("way", "relation"):
            continue
        tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
        kind = None
        if tags.get("natural") == "water":
            kind = "water"
        elif tags.get("landuse") in ("reservoir", "basin"):
            kind = "reservoir"
        elif el.tag == "way" and tags.get("waterway") in ("river", "canal", "stream", "drain", "ditch"):
            kind = tags["waterway"]
        if kind:
            key = f"{el.tag}/{el.get('id')}"
            out[key] = kind
            refs = [nd.get("ref") for nd in el.findall("nd")]
            if el.tag == "way" and refs and all(r in nodes for r in refs):
                inside = any(box[0] <= nodes[r][0] <= box[2] and box[1] <= nodes[r][1] <= box[3] for r in refs)
                closed = refs[0] == refs[-1] and len(refs) >= 4
                if inside and (closed or kind not in ("water", "reservoir")):
                    complete.add(key)
    return out, complete


def test_water_from_osm(ws: Workspace, data_dir: Path) -> None:
    path = data_dir / "cn-beijing-haidian-tsinghua" / "map.osm"
    report = ws.load("water", path)
    water = ws.layer("water")
    expected, must = osm_water(path)
    got = dict(zip(water["source_key"], water["kind"], strict=True))
    # every loaded feature is one the XML says is water, with the kind it says
    assert got and all(expected.get(k) == v for k, v in got.items()), {k: (v, expected.get(k)) for k, v in got.items()}
    # every complete water way inside the extract is there
    assert must and must <= set(got), sorted(must - set(got))
    assert not report.rejected
    kinds = set(water.geom_type)
    assert kinds <= {"MultiPolygon", "MultiLineString"} and "MultiPolygon" in kinds
    assert water.crs == ws.working_crs
