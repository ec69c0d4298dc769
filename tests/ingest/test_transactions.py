"""An import is one transaction: bad features are set aside, a refused or failed import changes
nothing, --replace swaps atomically, a re-import updates by key instead of duplicating."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from gis.errors import ImportFailedError, ImportRefusedError
from gis.store.engine import migration_engine
from gis.workspace import Workspace


def _feature(name: str, x: float, y: float, **props: object) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": {"小区名称": name, **props},
        "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 0.001, y], [x + 0.001, y + 0.001], [x, y]]]},
    }


def _write(path: Path, features: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def _snapshot(ws: Workspace) -> list[tuple[object, ...]]:
    with ws.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT fid, source_key, name, built_year, ST_AsEWKB(geom), version FROM compounds ORDER BY fid")
        )
        return [tuple(r) for r in rows]


def _counts(ws: Workspace) -> tuple[int, int, int]:
    with ws.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("compounds", "imports", "audit_log")
        )


@pytest.fixture
def base(ws: Workspace, tmp_path: Path) -> Path:
    path = _write(
        tmp_path / "base.geojson",
        [_feature(f"小区{i}", 116.35 + i * 0.002, 40.0, 建成年代=1985 + i, 编号=f"C{i}") for i in range(5)],
    )
    report = ws.load("compounds", path)
    assert report.inserted == 5
    return path


def test_bad_features_are_set_aside_with_reasons(ws: Workspace, tmp_path: Path) -> None:
    features = [_feature(f"好{i}", 116.35 + i * 0.002, 40.0, 编号=f"G{i}") for i in range(6)]
    features[2]["geometry"] = None
    features[3]["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[116.4, 40.0], [116.4, 40.0], [116.4, 40.0], [116.4, 40.0]]],
    }
    features[4]["properties"]["物业管理"] = "外星物业"  # not a code: the feature loads, the field is left empty
    bowtie = [[116.5, 40.0], [116.501, 40.001], [116.501, 40.0], [116.5, 40.001], [116.5, 40.0]]
    features[5]["geometry"] = {"type": "Polygon", "coordinates": [bowtie]}
    report = ws.load("compounds", _write(tmp_path / "mixed.geojson", features))
    assert report.loaded == 4
    reasons = {p.key: p.reason for p in report.rejected}
    assert set(reasons) == {"G2", "G3"}
    assert "no geometry" in reasons["G2"]
    assert "area" in reasons["G3"] or "empty" in reasons["G3"]
    assert [p.key for p in report.repaired] == ["G5"] and "Self-intersection" in report.repaired[0].reason
    assert [p.key for p in report.field_issues] == ["G4"] and "外星物业" in report.field_issues[0].reason
    g4 = ws.layer("compounds", where={"source_key": "G4"}).iloc[0]
    assert g4["property_mgmt"] is None and g4["extra"]["物业管理"] == "外星物业"  # kept as read
    # the rejects file lists them with the original attributes, readable in Excel (UTF-8 with BOM)
    assert report.rejects_path
    with open(report.rejects_path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["key"] for r in rows] == ["G2", "G3"] and rows[0]["小区名称"] == "好2"


def test_strict_refuses_the_whole_file(ws: Workspace, base: Path, tmp_path: Path) -> None:
    before, counts = _snapshot(ws), _counts(ws)
    features = [_feature(f"新{i}", 116.4 + i * 0.002, 40.0, 编号=f"N{i}") for i in range(4)]
    features[2]["geometry"]["coordinates"] = [[[116.4, "NaN"], [116.41, 40.0], [116.41, 40.01], [116.4, "NaN"]]]
    with pytest.raises(ImportRefusedError, match="--strict"):
        ws.load("compounds", _write(tmp_path / "strict.geojson", features), strict=True)
    assert _snapshot(ws) == before and _counts(ws) == counts


def test_database_failure_half_way_changes_nothing(ws: Workspace, base: Path, tmp_path: Path) -> None:
    # A real failure inside PostgreSQL while the rows are being merged: a trigger refuses the 3rd row
    # (installed by the schema's owner: the app may not create functions or triggers).
    with migration_engine(ws.engine) as owner, owner.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.name = '坏' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse_bad BEFORE INSERT OR UPDATE ON compounds "
                "FOR EACH ROW EXECUTE FUNCTION refuse_bad()"
            )
        )
    before, counts = _snapshot(ws), _counts(ws)
    features = [_feature(n, 116.37 + i * 0.002, 40.01, 编号=f"F{i}") for i, n in enumerate(["甲", "乙", "坏", "丁"])]
    features.append(_feature("改", 116.35, 40.0, 编号="C0"))  # an update of an existing row, also rolled back
    with pytest.raises(ImportFailedError, match="nothing changed"):
        ws.load("compounds", _write(tmp_path / "fails.geojson", features))
    assert _snapshot(ws) == before and _counts(ws) == counts
    # and with --replace: the delete is rolled back too
    with pytest.raises(ImportFailedError):
        ws.load("compounds", _write(tmp_path / "fails2.geojson", features), replace=True)
    assert _snapshot(ws) == before and _counts(ws) == counts


def test_reimport_updates_by_key(ws: Workspace, base: Path, tmp_path: Path) -> None:
    again = ws.load("compounds", base)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    features = [_feature(f"小区{i}", 116.35 + i * 0.002, 40.0, 建成年代=1985 + i, 编号=f"C{i}") for i in range(5)]
    features[1]["properties"]["建成年代"] = 1999
    features = features[:4]  # C4 is not in the new file
    path = _write(base, features)  # same file name -> same source
    report = ws.load("compounds", path)
    assert (report.inserted, report.updated, report.unchanged, report.not_in_file) == (0, 1, 3, 1)
    gdf = ws.layer("compounds").set_index("source_key")
    assert len(gdf) == 5 and gdf.loc["C1", "built_year"] == 1999 and gdf.loc["C1", "version"] == 2
    with ws.engine.connect() as conn:
        audit = conn.execute(
            text("SELECT actor, before->>'built_year', after->>'built_year' FROM audit_log WHERE action = 'update'")
        ).all()
    assert [tuple(a) for a in audit] == [("notebook", "1986", "1999")]


def test_replace_swaps_content(ws: Workspace, base: Path, tmp_path: Path) -> None:
    other = _write(tmp_path / "other.geojson", [_feature("唯一", 116.36, 40.02, 编号="X1")])
    report = ws.load("compounds", other, replace=True)
    assert report.deleted == 5 and report.inserted == 1
    assert list(ws.layer("compounds")["name"]) == ["唯一"]
    with ws.engine.connect() as conn:
        deleted = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'delete'")).scalar_one()
    assert deleted == 5


def test_osm_snapshot_reimport_updates_by_osm_id(ws: Workspace, data_dir: Path) -> None:
    folder = data_dir / "fallback-liechtenstein"
    old = ws.load("compounds", folder / "liechtenstein-2013-08-03.osm.pbf")
    new = ws.load("compounds", folder / "liechtenstein-latest.osm.pbf")
    keys_old = {p for p in ws.layer("compounds")["source_key"]}
    assert new.inserted + new.updated + new.unchanged == new.loaded
    assert len(keys_old) == old.loaded + new.inserted  # no duplicates: same OSM ids were updated in place
    assert new.not_in_file == old.loaded - (new.updated + new.unchanged)
