"""Feature keys and duplicates within a file, on in-memory data with hand-worked answers (no database)."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pandas as pd
from shapely.geometry import Point

from gis.ingest import keys
from gis.ingest.readers import RawSource


def _raw(frame: pd.DataFrame, reader_keys: list[str] | None = None) -> RawSource:
    return RawSource(
        attributes=frame,
        geometries=np.array([Point(i, 0) for i in range(len(frame))], dtype=object),
        unparseable=np.zeros(len(frame), dtype=bool),
        crs=None,
        crs_origin="a test",
        driver="test",
        keys=None if reader_keys is None else np.array(reader_keys, dtype=object),
    )


def test_a_key_column_is_used_only_when_unique() -> None:
    frame = pd.DataFrame({"编号": ["A", "B", None, " "], "dup": ["A", "B", "A", None]})
    assert keys.unique_key_column(frame, "编号") == ("编号", [])
    assert keys.unique_key_column(frame, None) == (None, [])
    column, notes = keys.unique_key_column(frame, "dup")
    assert column is None
    assert notes == [
        "column dup is not unique (2 distinct values in 3 features), so it is not used as the key: "
        "a re-import matches features by their content"
    ]


def test_key_text() -> None:
    assert keys.key_text(12.0) == "12"  # a shapefile's numeric id
    assert keys.key_text(12.5) == "12.5"
    assert keys.key_text(np.int64(7)) == "7"
    assert keys.key_text("C1") == "C1"
    assert keys.key_text(float("nan")) is None
    assert keys.key_text("") is None


def test_content_key_is_the_sha1_of_wkb_and_sorted_json() -> None:
    # little-endian WKB of POINT (1 2), written out by hand: byte order, type 1, x, y
    wkb = struct.pack("<BIdd", 1, 1, 1.0, 2.0)
    attrs = {"名称": "甲", "a": 1}
    expected = hashlib.sha1(wkb + json.dumps({"a": 1, "名称": "甲"}, ensure_ascii=False).encode()).hexdigest()
    assert keys.content_key(Point(1, 2), attrs) == "h:" + expected[:20]
    assert keys.content_key(None, {}) == "h:" + hashlib.sha1(b"{}").hexdigest()[:20]


def test_feature_keys_prefer_the_reader_then_the_column_then_the_content() -> None:
    frame = pd.DataFrame({"编号": [3.0, None], "名称": ["甲", "乙"]})
    assert keys.feature_keys(_raw(frame, ["way/1", "node/2"]), "编号") == ["way/1", "node/2"]
    by_column = keys.feature_keys(_raw(frame), "编号")
    assert by_column[0] == "3"
    assert by_column[1] == keys.content_key(Point(1, 0), {"名称": "乙"})
    assert keys.feature_keys(_raw(frame), None)[0] == keys.content_key(Point(0, 0), {"编号": 3.0, "名称": "甲"})


def test_duplicates_point_at_the_first_usable_feature() -> None:
    reasons: list[list[str]] = [[], [], ["no geometry"], [], []]
    keys.mark_duplicates(["a", "b", "a", "a", "b"], reasons)
    assert reasons == [
        [],
        [],
        ["no geometry"],  # an unusable feature is no duplicate and claims no key
        ["duplicate of feature #0 (same key a)"],
        ["duplicate of feature #1 (same key b)"],
    ]
