"""Coordinate reference systems: the working CRS, plausibility of declared CRSs, GCJ-02 / BD-09.

gisplan stores every layer in one metric working CRS: by default the CGCS2000 3-degree
Gauss–Krüger zone (EPSG:4534–4554, by central meridian) that covers the data; outside China's
zones, the WGS 84 UTM zone. A declared CRS is checked against the coordinates before it is
believed, since a ``.prj`` can lie.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import prcoords
import shapely
from pyproj import CRS, Transformer

from gis.errors import CRSError

Coords = Literal["wgs84", "gcj02", "bd09"]

# CGCS2000 / 3-degree Gauss-Kruger CM 75E .. CM 135E  (no zone prefix in the easting)
GK3_CM_FIRST_EPSG, GK3_CM_FIRST_MERIDIAN = 4534, 75
# CGCS2000 / 3-degree Gauss-Kruger zone 25 .. 45 (zone number prefixed to the easting)
GK3_ZONE_FIRST_EPSG, GK3_ZONE_FIRST = 4513, 25


def gk3_epsg(lon: float) -> int | None:
    """The CGCS2000 3-degree GK (central-meridian form) EPSG code covering ``lon``, if any."""
    cm = 3 * round(lon / 3)
    if 75 <= cm <= 135:
        return GK3_CM_FIRST_EPSG + (cm - GK3_CM_FIRST_MERIDIAN) // 3
    return None


def working_crs_for(lon: float, lat: float) -> CRS:
    """The default working CRS for data centred at (lon, lat), in degrees.

    Inside China's 3-degree zones (73.5°E–136.5°E, 3°N–54°N): the CGCS2000 GK zone; elsewhere the
    WGS 84 UTM zone (so that the project's non-Chinese test data also get metres).
    """
    code = gk3_epsg(lon)
    if code is not None and 3 <= lat <= 54:
        return CRS.from_epsg(code)
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def parse_crs(value: str | int | CRS) -> CRS:
    """Accept ``EPSG:4547``, ``4547``, a WKT or PROJ string, or a CRS."""
    if isinstance(value, CRS):
        return value
    text = str(value).strip()
    if text.isascii() and text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except Exception as exc:  # pyproj raises CRSError of its own; say it in our words
        raise CRSError(f"not a CRS pyproj knows: {value!r} ({exc})") from None


def crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def _fmt(a: float, b: float) -> str:
    return f"{a:,.0f}–{b:,.0f}" if max(abs(a), abs(b)) > 1000 else f"{a:.5f}–{b:.5f}"


def describe_coordinates(bounds: tuple[float, float, float, float]) -> str:
    """What the coordinate ranges look like, and which CRSs they suggest (for error messages)."""
    minx, miny, maxx, maxy = bounds
    looks = f"x {_fmt(minx, maxx)}, y {_fmt(miny, maxy)}"
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return f"{looks}: these look like degrees (longitude/latitude); try --crs EPSG:4326 or EPSG:4490"
    zone = int(minx // 1_000_000)
    if 1e7 <= minx <= maxx < 1e8 and zone == int(maxx // 1_000_000) and 0 < miny < 1e7:
        hint = ""
        if GK3_ZONE_FIRST <= zone <= GK3_ZONE_FIRST + 20:
            hint = f"; with a 3-degree zone {zone} prefix: try --crs EPSG:{GK3_ZONE_FIRST_EPSG + zone - GK3_ZONE_FIRST}"
        elif 13 <= zone <= 23:
            hint = f"; with a 6-degree zone {zone} prefix: try --crs EPSG:{4491 + zone - 13}"
        return f"{looks}: these look like Gauss–Krüger metres with a zone number before the easting{hint}"
    if 1e5 <= minx <= maxx <= 9e5 and 1e6 <= miny <= maxy <= 1e7:
        return (
            f"{looks}: these look like projected metres (Gauss–Krüger or UTM, easting around 500,000). "
            "If they are CGCS2000 3-degree Gauss–Krüger, pass the zone of your city's central meridian, "
            "e.g. --crs EPSG:4547 for 114°E (Guangzhou, Huizhou, Wuhan), EPSG:4548 for 117°E (Beijing, "
            "Tianjin), EPSG:4549 for 120°E (Shanghai, Hangzhou); EPSG:4534 + (meridian − 75) / 3 in general"
        )
    return f"{looks}: these look like projected metres"


def check_plausible(bounds: tuple[float, float, float, float], crs: CRS, *, origin: str) -> None:
    """Refuse a CRS that cannot be true for data with these bounds.

    Parameters
    ----------
    bounds
        (minx, miny, maxx, maxy) of the data in ``crs`` units.
    crs
        The declared CRS.
    origin
        Where the CRS came from, for the message (e.g. "the .prj file", "--crs").
    """
    minx, miny, maxx, maxy = bounds
    if not np.all(np.isfinite(bounds)):
        return  # nothing usable to judge by; features with bad coordinates are set aside one by one
    if crs.is_geographic:
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise CRSError(
                f"{origin} says {crs_label(crs)} (degrees), but the coordinates are {describe_coordinates(bounds)}. "
                "Pass the real CRS with --crs."
            )
        return
    # Projected: degrees-sized numbers over a small range are not metres.
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        raise CRSError(
            f"{origin} says {crs_label(crs)} (metres), but the coordinates are "
            f"{describe_coordinates(bounds)}. Pass the real CRS with --crs."
        )
    area = crs.area_of_use
    if area is None:
        return
    to_geo = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    xs, ys = to_geo.transform([minx, maxx, minx, maxx], [miny, miny, maxy, maxy])
    margin = 3.0  # degrees: areas of use are drawn tightly; data a little outside them is normal
    inside = all(
        np.isfinite(x)
        and np.isfinite(y)
        and area.west - margin <= x <= area.east + margin
        and area.south - margin <= y <= area.north + margin
        for x, y in zip(xs, ys, strict=True)
    )
    if not inside:
        raise CRSError(
            f"{origin} says {crs_label(crs)}, whose area of use is {area.name} "
            f"({area.west:.1f}°–{area.east:.1f}°E, {area.south:.1f}°–{area.north:.1f}°N), but the coordinates "
            f"would then lie outside it; the coordinates are {describe_coordinates(bounds)}. "
            "Pass the real CRS with --crs."
        )


def _convert_array(coords: np.ndarray, fn: object) -> np.ndarray:
    out = np.empty_like(coords)
    for i, (x, y) in enumerate(coords):
        if np.isfinite(x) and np.isfinite(y):
            c = fn(prcoords.Coords(lat=float(y), lon=float(x)), False)  # type: ignore[operator]
            out[i] = (c.lon, c.lat)
        else:
            out[i] = (x, y)
    return out


def to_wgs84(geoms: np.ndarray, coords: Coords) -> np.ndarray:
    """Convert geometries in GCJ-02 or BD-09 degrees to WGS 84 (precise iterative inverse, < 0.5 m).

    China's commercial maps (Amap, Tencent: GCJ-02; Baidu: BD-09) publish coordinates shifted
    300–600 m from WGS 84 by a published obfuscation; ``prcoords`` inverts it.
    """
    if coords == "wgs84":
        return geoms
    fn = prcoords.gcj_wgs_bored if coords == "gcj02" else prcoords.bd_wgs_bored
    return shapely.transform(geoms, lambda c: _convert_array(c, fn))


# -- a search area in the working CRS ------------------------------------------------------------
# How far beyond its area of use a working CRS is trusted to hold data (degrees): a layer may reach
# past its zone's edge, a transverse Mercator stays exact well beyond it.
ZONE_MARGIN_DEG = 5.0
EDGE_POINTS = 16  # points per side of a search area: a lon/lat box's edges are curves in the working CRS


@lru_cache(maxsize=64)
def _transformer(source: int, target: int) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


@lru_cache(maxsize=64)
def zone_lonlat(srid: int) -> tuple[float, float, float, float] | None:
    """Where the CRS ``srid`` holds data, in longitude/latitude: its area of use widened by
    :data:`ZONE_MARGIN_DEG` (None: a CRS that states none, or a geographic one)."""
    crs = CRS.from_epsg(srid)
    area = crs.area_of_use
    if area is None or crs.is_geographic:
        return None
    m = ZONE_MARGIN_DEG
    return (
        max(area.west - m, -180.0),
        max(area.south - m, -90.0),
        min(area.east + m, 180.0),
        min(area.north + m, 90.0),
    )


@lru_cache(maxsize=4096)  # a tile or a QGIS page's bbox is asked for again and again; shapely's are immutable
def search_area(box: tuple[float, float, float, float], box_srid: int, working_srid: int) -> shapely.Polygon | None:
    """The part of ``box`` (minx, miny, maxx, maxy in ``box_srid``) within the working CRS's zone,
    as a polygon in the working CRS; None when the box lies wholly outside the zone (nothing there).

    A box far larger than the zone (a world bbox, a z0 tile) cannot be transformed by its corners:
    they fall where the projection is meaningless, and the transformed box holds nothing. The box is
    taken to longitude/latitude, clipped to :func:`zone_lonlat`, and its outline densified before
    it is transformed, so the area holds what the box holds.
    """
    zone = zone_lonlat(working_srid)
    if box_srid == working_srid or zone is None:
        return shapely.box(*_transformer(box_srid, working_srid).transform_bounds(*box, densify_pts=EDGE_POINTS))
    west, south, east, north = (
        box if box_srid == 4326 else _transformer(box_srid, 4326).transform_bounds(*box, densify_pts=EDGE_POINTS)
    )
    west, south, east, north = max(west, zone[0]), max(south, zone[1]), min(east, zone[2]), min(north, zone[3])
    if west > east or south > north:
        return None
    xs = np.r_[np.linspace(west, east, EDGE_POINTS), np.full(EDGE_POINTS, east), np.linspace(east, west, EDGE_POINTS)]
    xs = np.r_[xs, np.full(EDGE_POINTS, west)]
    ys = np.r_[np.full(EDGE_POINTS, south), np.linspace(south, north, EDGE_POINTS), np.full(EDGE_POINTS, north)]
    ys = np.r_[ys, np.linspace(north, south, EDGE_POINTS)]
    x, y = _transformer(4326, working_srid).transform(xs, ys)
    return shapely.make_valid(shapely.Polygon(np.c_[x, y]))
