"""Working CRS choice and the plausibility check of declared CRSs."""

from __future__ import annotations

import pytest
from pyproj import CRS

from gis.crs import check_plausible, describe_coordinates, gk3_epsg, working_crs_for
from gis.errors import CRSError


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (116.35, 40.0, 4548),  # Beijing: CM 117E
        (114.32, 23.02, 4547),  # Huizhou: CM 114E
        (121.47, 31.23, 4549),  # Shanghai: CM 120E
        (117.22, 28.30, 4548),  # Guixi
        (9.52, 47.14, 32632),  # Liechtenstein: outside China's zones -> UTM 32N
        (30.06, -1.95, 32736),  # Kigali: UTM 36S
    ],
)
def test_working_crs(lon: float, lat: float, epsg: int) -> None:
    crs = working_crs_for(lon, lat)
    assert crs.to_epsg() == epsg and crs.axis_info[0].unit_name == "metre"


def test_gk3_epsg_names_its_central_meridian() -> None:
    for lon in (75.0, 99.1, 117.0, 135.0):
        code = gk3_epsg(lon)
        assert code is not None
        assert f"CM {3 * round(lon / 3)}E" in CRS.from_epsg(code).name


def test_degrees_declared_over_metres_refused() -> None:
    bounds = (532189.0, 2545681.0, 533924.0, 2547982.0)  # cn-huizhou-regplan, .prj says WGS 84
    with pytest.raises(CRSError, match="EPSG:4547"):
        check_plausible(bounds, CRS.from_epsg(4326), origin="the .prj file")


def test_metres_declared_over_degrees_refused() -> None:
    with pytest.raises(CRSError, match="degrees"):
        check_plausible((116.3, 39.9, 116.4, 40.0), CRS.from_epsg(4548), origin="--crs")


def test_projected_crs_far_from_its_area_refused() -> None:
    # Kigali's UTM 36S metres (northing ~9.8e6 from the southern false origin) read as a Chinese GK zone
    # would lie near the North Pole: refused.
    kigali = (158341.0, 9768683.0, 200242.0, 9795802.0)
    with pytest.raises(CRSError, match="area of use"):
        check_plausible(kigali, CRS.from_epsg(4548), origin="--crs")
    check_plausible(kigali, CRS.from_epsg(32736), origin="the .prj file")
    # A GK easting is relative to the zone's meridian: Huizhou's metres are plausible in both neighbouring
    # zones, so only the data's own CRS can tell (the message of the lying-.prj case says so).
    check_plausible((532189.0, 2545681.0, 533924.0, 2547982.0), CRS.from_epsg(4547), origin="--crs")


def test_zone_prefixed_easting_is_recognised() -> None:
    assert "EPSG:4526" in describe_coordinates((38532189.0, 2545681.0, 38533924.0, 2547982.0))
