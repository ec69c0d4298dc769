"""Evidence files recognised by content; EXIF time and GPS read from photos made here with Pillow;
the flags worked by hand."""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from PIL import Image
from shapely.geometry import Point, box

from gis.evidence import evidence_defs, flags, inspect, stage_window, thumbnail
from gis.evidence.files import EvidenceFileError
from tests.helpers.photos import photo

STAGES = ["survey", "design", "tender", "construction", "completed", "accepted"]


def test_a_photo_s_time_and_position_are_read_from_its_exif() -> None:
    data = photo(lat=(39.0, 54.0, 27.0), lon=(116.0, 23.0, 51.0), taken="2026:05:10 09:30:00")
    facts = inspect(data)
    assert facts.media_type == "image/jpeg" and facts.size == len(data)
    assert facts.lat == pytest.approx(39 + 54 / 60 + 27 / 3600)  # 39.9075 by hand
    assert facts.lon == pytest.approx(116 + 23 / 60 + 51 / 3600)  # 116.3975
    assert facts.taken_at == datetime(2026, 5, 10, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    thumb = thumbnail(data, 320)
    assert thumb is not None and Image.open(io.BytesIO(thumb)).size == (320, 240)


def test_type_is_told_by_content_not_by_name() -> None:
    with pytest.raises(EvidenceFileError):
        inspect(b"<script>alert(1)</script>")  # would be "photo.jpg" by name
    whole = photo(lat=None, lon=None, taken=None)
    with pytest.raises(EvidenceFileError):
        inspect(whole[: len(whole) // 2])  # truncated upload
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    assert inspect(pdf).media_type == "application/pdf" and thumbnail(pdf, 320) is None
    with pytest.raises(EvidenceFileError):
        inspect(pdf[:-7])
    with pytest.raises(EvidenceFileError):
        inspect(pdf, allowed=["image/jpeg"])


def test_flags_distance_and_stage_dates() -> None:
    defs = evidence_defs()
    compound = box(0, 0, 100, 100)
    facts = inspect(photo(lat=(39.0, 54.0, 27.0), lon=(116.0, 23.0, 51.0), taken="2026:05:10 09:30:00"))
    actual = {"survey": date(2026, 3, 1), "design": date(2026, 4, 1), "construction": date(2026, 5, 1)}
    inside = stage_window("construction", actual, STAGES)
    assert flags(facts, defs, point=Point(50, 50), compound=compound, window=inside) == []
    assert flags(facts, defs, point=Point(301, 50), compound=compound) == ["far_from_compound"]  # 201 m out
    assert flags(facts, defs, point=Point(300, 50), compound=compound) == []  # 200 m: within
    survey = stage_window("survey", actual, STAGES)  # 1 Mar to 1 Apr, +-7 days
    assert flags(facts, defs, point=Point(50, 50), compound=compound, window=survey) == ["outside_stage_dates"]
    later = stage_window("completed", actual, STAGES)
    assert flags(facts, defs, point=Point(50, 50), compound=compound, window=later) == ["stage_not_reached"]
    bare = inspect(photo(lat=None, lon=None, taken=None))
    assert flags(bare, defs, compound=compound, window=inside) == ["no_position", "no_time"]
