"""Build the bundled demo sample ``gis/sample/haidian_cau.gpkg`` from the real OSM extract.

    .venv/bin/python scripts/make_sample.py ../shared/data/cn-beijing-haidian-cau/map.osm

Real (OpenStreetMap, ODbL): compound boundaries and names, facilities and their types, the walkable
roads, the buildings, the one mapped power line. Synthetic (derived deterministically here, and
listed per feature in the ``synthetic`` column): what OSM lacks and the programme needs — built
year, households, population, floor area, property management, plan and stage of compounds,
kindergarten and school places, and every pipeline but the OSM power line (laid along real
streets). Re-running the script gives the same file.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gis.ingest.osm import read_osm
from gis.ingest.prepare import prepare
from gis.registry import registry

OUT = Path(__file__).resolve().parents[1] / "gis" / "sample" / "haidian_cau.gpkg"
WORK = CRS.from_epsg(4548)  # CGCS2000 GK CM 117E, metres
WGS84 = CRS.from_epsg(4326)
HOUSEHOLD_SIZE = 2.62  # persons per household, 7th national census (2020) average
FLOOR_PER_HOUSEHOLD = 75.0  # m² of floor area per household assumed for the estimate
FLOORS = 6  # typical walk-up of the 1980s–90s
SYNTHETIC_COMPOUND_FIELDS = (
    "street,built_year,floor_area_m2,households,population,property_mgmt,plan_year,stage,categories"
)


def pick(key: str, salt: str, n: int) -> int:
    """A deterministic choice in range(n) from a feature key."""
    return int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest(), 16) % n


def osm_layer(path: Path, layer_id: str) -> gpd.GeoDataFrame:
    reg = registry()
    layer = reg.layer(layer_id)
    raw = read_osm(path, layer, reg)
    prep = prepare(raw, layer, reg, source_crs=WGS84, working_crs=WORK)
    frame = prep.values.copy()
    frame["osm_id"] = prep.keys
    return gpd.GeoDataFrame(frame, geometry=list(prep.geoms), crs=WORK)


def compounds(path: Path, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gdf = osm_layer(path, "compounds")
    gdf = gdf[gdf["name"].notna()].reset_index(drop=True)  # the sample keeps the named compounds
    footprint = gpd.overlay(buildings[["geometry"]], gdf[["osm_id", "geometry"]], how="intersection")
    area_by = footprint.assign(a=footprint.area).groupby("osm_id")["a"].sum()
    count_by = (
        gpd.sjoin(buildings[["geometry"]], gdf[["osm_id", "geometry"]], predicate="intersects").groupby("osm_id").size()
    )
    modes = ["professional", "basic", "committee", "self", "none"]
    stages = ["survey", "design", "tender", "construction", "completed", "accepted"]
    rows = []
    for r in gdf.itertuples():
        key = r.osm_id
        floor_area = area_by.get(key, 0.0) * FLOORS or r.geometry.area * 1.5
        households = max(20, round(floor_area / FLOOR_PER_HOUSEHOLD))
        planned = pick(key, "plan", 3) > 0
        rows.append(
            {
                "district": "海淀区",
                "street": "学院路街道",
                "built_year": 1978 + pick(key, "year", 22),
                "buildings": int(count_by.get(key, 0)) or None,
                "floor_area_m2": round(floor_area, 0),
                "households": households,
                "population": round(households * HOUSEHOLD_SIZE),
                "property_mgmt": modes[pick(key, "mgmt", len(modes))],
                "plan_year": 2026 if planned else None,
                "stage": stages[pick(key, "stage", 4)] if planned else None,
                "categories": ",".join(["basic", "complete", "improve"][: 1 + pick(key, "cat", 3)])
                if planned
                else None,
                "synthetic": SYNTHETIC_COMPOUND_FIELDS,
            }
        )
    attrs = pd.DataFrame(rows)
    out = gpd.GeoDataFrame(pd.concat([gdf[["osm_id", "name"]], attrs], axis=1), geometry=gdf.geometry.values, crs=WORK)
    return out


def facilities(path: Path) -> gpd.GeoDataFrame:
    gdf = osm_layer(path, "facilities")
    places = {"kindergarten": (6, 12, 30), "primary_school": (12, 24, 45), "middle_school": (12, 24, 50)}
    capacity, synthetic = [], []
    for r in gdf.itertuples():
        if r.type in places:
            lo, hi, per_class = places[r.type]
            capacity.append((lo + pick(r.osm_id, "classes", hi - lo + 1)) * per_class)
            synthetic.append("capacity")
        else:
            capacity.append(None)
            synthetic.append(None)
    gdf["capacity"] = capacity
    gdf["synthetic"] = synthetic
    return gdf[["osm_id", "type", "name", "capacity", "synthetic", "geometry"]]


def pipelines(path: Path, roads: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    real = osm_layer(path, "pipelines")
    real = real[["osm_id", "kind", "laying", "geometry"]].assign(owner="国网北京电力", synthetic=None)
    streets = roads[roads["highway"].isin(["residential", "service", "living_street", "tertiary", "unclassified"])]
    streets = streets[streets.length > 30]
    specs = [
        # kind, offset (m, left of the centreline), diameter, material, depth, pressure
        ("JS", 3.0, 200, "球墨铸铁", 1.4, None),
        ("WS", -3.0, 400, "钢筋混凝土", 2.2, None),
        ("YS", -4.5, 600, "钢筋混凝土", 1.8, None),
        ("RQ", 4.5, 160, "PE", 1.0, "medium_b"),
        ("RL", -6.0, 250, "钢管", 1.2, None),
    ]
    rows = []
    for s in streets.itertuples():
        for kind, offset, diameter, material, depth, pressure in specs:
            if kind in ("YS", "RL") and s.highway == "service":
                continue
            # a few gas mains laid too close to the water main, as an old compound would have them
            off = 3.8 if kind == "RQ" and pick(s.osm_id, "close", 6) == 0 else offset
            rows.append(
                {
                    "osm_id": f"syn:{kind}:{s.osm_id}",
                    "kind": kind,
                    "laying": "buried",
                    "diameter_mm": diameter,
                    "material": material,
                    "depth_m": depth,
                    "pressure": pressure,
                    "laid_year": 1980 + pick(s.osm_id, kind, 35),
                    "owner": {
                        "JS": "自来水集团",
                        "WS": "排水集团",
                        "YS": "排水集团",
                        "RQ": "燃气集团",
                        "RL": "热力集团",
                    }[kind],
                    "synthetic": "*",
                    "geometry": shapely.offset_curve(s.geometry, off),
                }
            )
    # overhead telecom and power cables across each compound, to be buried (管线规整入地)
    operators = ["telecom", "mobile", "unicom", "broadcast"]
    for c in compounds.itertuples():
        minx, miny, maxx, maxy = c.geometry.bounds
        y = miny + (maxy - miny) * (0.3 + 0.4 * pick(c.osm_id, "y", 100) / 100)
        line = shapely.LineString([(minx - 20, y), (maxx + 20, y)])
        for j, kind in enumerate(("TX", "DL")):
            rows.append(
                {
                    "osm_id": f"syn:{kind}-overhead:{c.osm_id}",
                    "kind": kind,
                    "laying": "overhead",
                    "operator": operators[pick(c.osm_id, "op", 4)] if kind == "TX" else None,
                    "laid_year": 1990 + pick(c.osm_id, f"oh{j}", 20),
                    "owner": None if kind == "TX" else "国网北京电力",
                    "synthetic": "*",
                    "geometry": shapely.affinity.translate(line, 0, 6 * j),
                }
            )
    synth = gpd.GeoDataFrame(rows, geometry="geometry", crs=WORK)
    return gpd.GeoDataFrame(pd.concat([real, synth], ignore_index=True), geometry="geometry", crs=WORK)


def main(path: Path) -> None:
    roads = osm_layer(path, "roads")
    buildings = osm_layer(path, "buildings")
    comps = compounds(path, buildings)
    layers = {
        "compounds": comps,
        "facilities": facilities(path),
        "roads": roads[["osm_id", "name", "highway", "oneway", "geometry"]],
        "buildings": buildings[["osm_id", "name", "use", "floors", "geometry"]],
        "pipelines": pipelines(path, roads, comps),
        "water": osm_layer(path, "water")[["osm_id", "name", "kind", "geometry"]],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.unlink(missing_ok=True)
    for name, gdf in layers.items():
        gdf = gdf.to_crs(WGS84)
        # round to ~1 cm: a smaller file, the same map
        gdf["geometry"] = shapely.set_precision(np.asarray(gdf.geometry.values), 1e-7)
        pyogrio.write_dataframe(gdf, OUT, layer=name, driver="GPKG")
        print(f"{name}: {len(gdf)}")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/cn-beijing-haidian-cau/map.osm"))
