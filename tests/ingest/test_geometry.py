"""The geometry steps of an import on in-memory geometries with hand-worked answers (no database)."""

from __future__ import annotations

import math

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import GeometryCollection, LineString, MultiLineString, MultiPoint, Point, Polygon

from gis.ingest import geometry
from gis.ingest.readers import RawSource
from gis.registry import registry

BOW_TIE = Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])  # crosses itself at (1, 1)
SQUARE = Polygon([(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)])


def test_a_bow_tie_is_repaired_into_its_two_triangles() -> None:
    found = geometry.repair_geometry(BOW_TIE)
    assert found.rejected is None
    assert found.repaired == "repaired: Self-intersection[1 1]"
    assert found.geometry.geom_type == "MultiPolygon"
    triangles = sorted(shapely.get_parts(found.geometry), key=lambda p: p.centroid.x)
    # each half of the 2 x 2 bow-tie is a triangle of base 2 and height 1
    assert [t.area for t in triangles] == [1.0, 1.0]
    assert triangles[0].equals(Polygon([(0, 0), (1, 1), (0, 2)]))
    assert triangles[1].equals(Polygon([(2, 0), (1, 1), (2, 2)]))


def test_what_repair_keeps_and_rejects() -> None:
    assert geometry.repair_geometry(SQUARE) == geometry.Repair(SQUARE)
    assert geometry.repair_geometry(Point(1, 2)) == geometry.Repair(Point(1, 2))
    assert geometry.repair_geometry(LineString([(1, 1), (1, 1)])).rejected == "line of zero length"
    flat = geometry.repair_geometry(Polygon([(0, 0), (1, 1), (2, 2), (0, 0)]))  # a ring folded onto a line
    assert flat.geometry is None
    assert flat.rejected is not None
    assert flat.rejected.startswith("invalid polygon (")
    assert flat.rejected.endswith(") with no area left after repair")


def test_repair_step_reports_by_feature() -> None:
    geoms = np.array([SQUARE, None, BOW_TIE, LineString([(0, 0), (0, 0)])], dtype=object)
    reasons: list[list[str]] = [[], ["no geometry"], [], []]
    repaired = geometry.repair(geoms, reasons)
    assert [(p.index, p.reason) for p in repaired] == [(2, "repaired: Self-intersection[1 1]")]
    assert reasons == [[], ["no geometry"], [], ["line of zero length"]]
    assert geoms[3] is None
    assert shapely.area(geoms[2]) == 2.0


def test_to_storage_promotes_and_splits() -> None:
    assert geometry.to_storage(SQUARE, {"MultiPolygon", "Point"})[0].equals(shapely.multipolygons([SQUARE]))
    two_lines = MultiLineString([[(0, 0), (1, 0)], [(5, 5), (6, 6)]])
    assert [p.wkt for p in geometry.to_storage(two_lines, {"LineString"})] == [
        "LINESTRING (0 0, 1 0)",
        "LINESTRING (5 5, 6 6)",
    ]
    assert geometry.to_storage(MultiPoint([(3, 4)]), {"Point"}) == [Point(3, 4)]
    assert geometry.to_storage(MultiPoint([(3, 4), (5, 6)]), {"Point", "MultiPolygon"}) == []


def test_storage_parts_number_the_parts_of_each_feature() -> None:
    roads = registry().layer("roads")  # single LineStrings: a MultiLineString is split
    two = MultiLineString([[(0, 0), (1, 0)], [(5, 5), (6, 6)]])
    one = LineString([(2, 2), (3, 3)])
    geoms = np.array([one, two, None, one], dtype=object)
    parts = geometry.storage_parts(geoms, roads, [[], [], ["no geometry"], []])
    assert parts.owner.tolist() == [0, 1, 1, 3]
    assert parts.number.tolist() == [1, 1, 2, 1] and parts.count.tolist() == [1, 2, 2, 1]
    assert [g.wkt for g in parts.geoms] == [one.wkt, "LINESTRING (0 0, 1 0)", "LINESTRING (5 5, 6 6)", one.wkt]


def test_keep_family_takes_the_parts_of_a_collection() -> None:
    mixed = GeometryCollection([SQUARE, LineString([(0, 0), (3, 3)])])
    kept = geometry.keep_family(mixed, "polygon")
    assert kept.equals(shapely.multipolygons([SQUARE]))
    assert geometry.keep_family(mixed, "point") is None
    assert geometry.keep_family(Point(1, 1), "polygon") is None


def test_source_checks_give_each_unusable_feature_its_reason() -> None:
    compounds = registry().layer("compounds")  # takes MultiPolygon or Point
    mixed = GeometryCollection([SQUARE, LineString([(0, 0), (3, 3)])])
    raw = RawSource(
        attributes=np.empty(0),  # type: ignore[arg-type]  # the geometry checks read no attributes
        geometries=np.array(
            [None, Point(1, math.inf), Polygon(), None, LineString([(0, 0), (1, 1)]), mixed, SQUARE], dtype=object
        ),
        unparseable=np.array([False, False, False, True, False, False, False]),
        crs=None,
        crs_origin="a test",
        driver="test",
    )
    reasons: list[list[str]] = [[] for _ in range(7)]
    geoms = geometry.check_source(raw, compounds, reasons)
    assert reasons == [
        ["no geometry"],
        ["coordinates are not numbers (NaN or infinite)"],
        ["empty geometry"],
        ["geometry cannot be parsed (for example a ring with fewer than 4 points)"],
        ["geometry is LineString; layer compounds takes MultiPolygon or Point"],
        [],
        [],
    ]
    assert list(geoms[:5]) == [None] * 5
    assert geoms[5].equals(shapely.multipolygons([SQUARE]))
    assert geoms[6] is SQUARE
    assert raw.geometries[4] is not None  # the reader's geometries stay as read (for the rejects file)


def test_projection_to_web_mercator_by_its_formula() -> None:
    lon, lat = 116.39, 39.9
    geoms = np.array([Point(lon, lat), None], dtype=object)
    out = geometry.project(geoms, CRS.from_epsg(4326), CRS.from_epsg(3857))
    r = 6378137.0
    x, y = r * math.radians(lon), r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    assert math.isclose(out[0].x, x, abs_tol=1e-6)
    assert math.isclose(out[0].y, y, abs_tol=1e-6)
    assert out[1] is None


def test_storage_parts_reason_names_the_parts() -> None:
    compounds = registry().layer("compounds")
    geoms = np.array([MultiPoint([(0, 0), (1, 1)]), None, Point(2, 2)], dtype=object)
    reasons: list[list[str]] = [[], ["no geometry"], []]
    parts = geometry.storage_parts(geoms, compounds, reasons)
    assert parts.owner.tolist() == [2] and list(parts.geoms) == [Point(2, 2)]
    assert parts.number.tolist() == [1] and parts.count.tolist() == [1]
    assert reasons[0] == ["MultiPoint of 2 parts; layer compounds takes one MultiPolygon or Point"]
