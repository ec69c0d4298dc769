"""The audit log of an import: a row per inserted, updated and deleted feature, whose before and
after are the rows as PostgreSQL's own ``to_jsonb`` gives them (geometry as GeoJSON with its CRS),
and the stored geometries carry the working SRID."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from gis.workspace import Workspace


def _shape(i: int) -> dict[str, object]:
    x, y = 116.35 + i * 0.002, 40.0
    if i % 2:  # points and polygons: the compounds layer takes both
        return {"type": "Point", "coordinates": [x, y]}
    return {"type": "Polygon", "coordinates": [[[x, y], [x + 0.001, y], [x + 0.001, y + 0.001], [x, y]]]}


def _collection(path: Path, names: dict[int, str]) -> Path:
    features = [
        {"type": "Feature", "properties": {"编号": f"C{i}", "小区名称": name, "备注": "原"}, "geometry": _shape(i)}
        for i, name in names.items()
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def test_audit_rows_are_the_rows_as_to_jsonb_gives_them(ws: Workspace, tmp_path: Path) -> None:
    first = _collection(tmp_path / "a.geojson", {i: f"小区{i}" for i in range(4)})
    assert ws.load("compounds", first, actor="张工").inserted == 4
    with ws.engine.connect() as conn:
        after = conn.execute(
            text(
                "SELECT a.after = to_jsonb(c), a.actor, a.import_id IS NOT NULL FROM audit_log a "
                "JOIN compounds c ON c.fid = a.fid WHERE a.action = 'insert'"
            )
        ).all()
        srids = conn.execute(text("SELECT DISTINCT ST_SRID(geom) FROM compounds")).scalars().all()
        stored = conn.execute(text("SELECT value FROM gisplan_meta WHERE key = 'srid'")).scalar_one()
        snapshot = {r.fid: r.row for r in conn.execute(text("SELECT fid, to_jsonb(c) AS row FROM compounds c")).all()}
    assert after == [(True, "张工", True)] * 4
    assert srids == [int(stored)]

    # a changed name updates one row (and a feature no longer in the file is kept: not a delete)
    changed = _collection(tmp_path / "a.geojson", {0: "新名"})
    assert ws.load("compounds", changed, actor="李工").updated == 1
    # --replace deletes what is not in the new file
    assert ws.load("compounds", changed, actor="李工", replace=True).deleted == 4
    with ws.engine.connect() as conn:
        updates = conn.execute(
            text("SELECT fid, before, after FROM audit_log WHERE action = 'update' AND actor = '李工'")
        ).all()
        deletes = conn.execute(text("SELECT fid, before FROM audit_log WHERE action = 'delete'")).all()
    ((fid, before, after_update),) = updates
    assert before == snapshot[fid]
    assert after_update["name"] == "新名" and after_update["version"] == 2
    assert after_update["geom"] == snapshot[fid]["geom"]
    assert after_update["geom"]["crs"]["properties"]["name"] == f"EPSG:{stored}"
    assert {f: b for f, b in deletes if f != fid} == {f: r for f, r in snapshot.items() if f != fid}
    assert len(deletes) == 4
