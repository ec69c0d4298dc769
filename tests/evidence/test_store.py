"""Evidence stored: photos with EXIF positions inside and outside a compound and times inside and
outside a stage (made here with Pillow); a tampered and a missing file found by ``verify``; a
withdrawal after the month is submitted; the public never seeing an unpublished item."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from pyproj import Transformer
from shapely.geometry import Point
from sqlalchemy import text

from gis.errors import AdminRequiredError, EvidenceError, NotFoundError, ReadOnlyLayerError
from gis.evidence.files import EvidenceFileError
from gis.evidence.service import Attachment
from gis.workspace import Workspace
from tests.helpers.cli import run
from tests.helpers.photos import PDF, photo

pytestmark = pytest.mark.sample


def exif_time(day: date) -> str:
    return f"{day:%Y:%m:%d} 10:00:00"


def site(ws: Workspace) -> tuple[int, dict[str, date], Point, Point]:
    """A compound whose project reached construction, its actual stage dates (read in SQL, not through
    the library), a point inside it and one 1 km east of its boundary, as longitude/latitude."""
    with ws.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.compound_id, d.stage, d.actual FROM programme_projects p "
                "JOIN programme_stage_dates d ON d.project_id = p.id WHERE d.actual IS NOT NULL "
                "AND p.compound_id IN (SELECT compound_id FROM programme_projects p2 JOIN programme_stage_dates d2 "
                "ON d2.project_id = p2.id WHERE d2.stage = 'construction' AND d2.actual IS NOT NULL) "
                "AND p.compound_id NOT IN (SELECT compound_id FROM programme_projects p3 JOIN programme_stage_dates d3 "
                "ON d3.project_id = p3.id WHERE d3.stage = 'accepted' AND d3.actual IS NOT NULL) "
                "ORDER BY p.compound_id"
            )
        ).all()
    fid = int(rows[0].compound_id)
    actual = {r.stage: r.actual for r in rows if r.compound_id == fid}
    compound = ws.layer("compounds", where={"fid": fid})
    to_lonlat = Transformer.from_crs(compound.crs, 4326, always_xy=True)
    shape = compound.geometry.iloc[0]
    c = shape.representative_point()
    return fid, actual, Point(*to_lonlat.transform(c.x, c.y)), Point(*to_lonlat.transform(shape.bounds[2] + 1000, c.y))


def test_photos_are_points_flagged_when_far_or_outside_their_stage(ws: Workspace) -> None:
    fid, actual, inside, far = site(ws)
    stored = ws.evidence.verify()  # the sample's own items (the demo's inspection photos)
    start = actual["construction"]
    nxt = min(d for s, d in actual.items() if d > start) if any(d > start for d in actual.values()) else None
    during = start + timedelta(days=3)
    before = start - timedelta(days=60)  # farther back than the 7 grace days
    added = ws.evidence.add(
        Attachment(fid, "施工", stage="施工", note="北门 =1+1"),
        [
            ("in.jpg", photo(lon=inside.x, lat=inside.y, taken=exif_time(during))),
            ("far.jpg", photo(lon=far.x, lat=far.y, taken=exif_time(during), colour=10)),
            ("early.jpg", photo(lon=inside.x, lat=inside.y, taken=exif_time(before), colour=200)),
            ("nogps.jpg", photo(taken=exif_time(during), colour=40)),
            ("scan.pdf", PDF),
        ],
        actor="alice",
    )
    assert nxt is None or during < nxt
    assert [list(f) for f in added["flags"]] == [
        [],
        ["far_from_compound"],
        ["outside_stage_dates"],
        ["no_position"],
        [],  # a document proves by what it says, not by where it was made
    ]
    assert added.iloc[0]["lon"] == pytest.approx(inside.x, abs=1e-6)
    assert added.iloc[0]["lat"] == pytest.approx(inside.y, abs=1e-6)
    assert added.iloc[0]["month"] == f"{during:%Y-%m}"
    assert set(added["actor"]) == {"alice"} and set(added["category"]) == {"construction"}
    # the layer: points in the working CRS where the photos were taken, none for the scan and the GPS-less photo
    layer = ws.layer("evidence", where={"fid": [int(i) for i in added["id"]]})
    assert layer.geometry.notna().sum() == 3 and len(layer) == 5
    # the same file twice is stored once
    again = ws.evidence.add(
        Attachment(fid, "other"), [("copy.jpg", photo(lon=inside.x, lat=inside.y, taken=exif_time(during)))]
    )
    assert again.iloc[0]["sha256"] == added.iloc[0]["sha256"]
    report = ws.evidence.verify()
    assert report.ok and report.items == stored.items + 6 and report.files == stored.files + 5

    # a stage the project has not reached
    unreached = [s for s in ("survey", "design", "tender", "construction", "completed", "accepted") if s not in actual]
    assert unreached, "the site reached construction and not acceptance"
    late = ws.evidence.add(
        Attachment(fid, "完工", stage=unreached[0]),
        [("x.jpg", photo(lon=inside.x, lat=inside.y, taken=exif_time(during), colour=77))],
    )
    assert list(late.iloc[0]["flags"]) == ["stage_not_reached"]


def test_refused_files_change_nothing(ws: Workspace) -> None:
    fid, _, inside, _ = site(ws)
    before = (len(ws.evidence.items()), ws.evidence.verify().files)
    good = photo(lon=inside.x, lat=inside.y, taken="2026:05:10 09:30:00")
    with pytest.raises(EvidenceFileError):
        ws.evidence.add(Attachment(fid, "施工"), [("ok.jpg", good), ("photo.jpg", b"<script>alert(1)</script>")])
    with pytest.raises(EvidenceError, match="category"):
        ws.evidence.add(Attachment(fid, "火箭"), [("ok.jpg", good)])
    with pytest.raises(NotFoundError):
        ws.evidence.add(Attachment(10**9, "施工"), [("ok.jpg", good)])
    assert (len(ws.evidence.items()), ws.evidence.verify().files) == before
    with pytest.raises(ReadOnlyLayerError):
        ws.load("evidence", Path(__file__))


def test_verify_names_a_tampered_and_a_missing_file(
    ws: Workspace, server_url: str, db_name: str, db_url: str, tmp_path: Path
) -> None:
    fid, _, inside, _ = site(ws)
    files = [
        (f"{i}.jpg", photo(lon=inside.x, lat=inside.y, taken="2026:05:10 09:30:00", colour=i)) for i in (0, 100, 200)
    ]
    added = ws.evidence.add(Attachment(fid, "环境卫生"), files)
    env = {"GISPLAN_DATABASE_URL": db_url, "GISPLAN_HOME": str(tmp_path)}
    clean = run(["evidence", "verify"], env)
    assert clean.returncode == 0, clean.stderr

    # the app may neither change nor delete a file or an item
    with ws.engine.begin() as conn, pytest.raises(Exception, match=r"permission denied|append-only"):
        conn.execute(text("UPDATE evidence_files SET content = 'x'"))
    with ws.engine.begin() as conn, pytest.raises(Exception, match=r"permission denied|never deleted"):
        conn.execute(text("DELETE FROM evidence"))
    with ws.engine.begin() as conn, pytest.raises(Exception, match="only its withdrawal"):
        conn.execute(text("UPDATE evidence SET category = 'other'"))

    # someone with the power to switch the guards off (a superuser) changes one file and removes another
    changed, missing = added.iloc[0], added.iloc[1]
    url = server_url.rsplit("/", 1)[0] + f"/{db_name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no triggers, no foreign keys
        conn.execute(
            "UPDATE evidence_files SET content = overlay(content placing '\\x00'::bytea from 200 for 1) "
            "WHERE sha256 = %s",
            (changed.sha256,),
        )
        conn.execute("DELETE FROM evidence_files WHERE sha256 = %s", (missing.sha256,))
    report = ws.evidence.verify()
    assert [r["id"] for r in report.changed] == [changed.id] and [r["id"] for r in report.missing] == [missing.id]
    done = run(["evidence", "verify"], env)
    assert done.returncode == 1
    assert (
        f"changed #{changed.id} {changed.sha256}" in done.stderr
        and f"missing #{missing.id} {missing.sha256}" in done.stderr
    )


def test_withdrawal_needs_a_reason_and_after_the_lock_an_admin(ws: Workspace) -> None:
    fid, _, inside, _ = site(ws)
    last_month = date.today().replace(day=1) - timedelta(days=1)
    added = ws.evidence.add(
        Attachment(fid, "违建"),
        [(f"{i}.jpg", photo(lon=inside.x, lat=inside.y, taken=exif_time(last_month), colour=i)) for i in (5, 150)],
    )
    first, second = (int(i) for i in added["id"])
    assert set(added["month"]) == {f"{last_month:%Y-%m}"}
    with pytest.raises(EvidenceError, match="reason"):
        ws.evidence.withdraw(first, "  ", actor="bob")
    ws.evidence.withdraw(first, "duplicate of #2", actor="bob")  # before the lock a planner may
    with pytest.raises(EvidenceError, match="withdrawn already"):
        ws.evidence.withdraw(first, "again", actor="bob")

    ws.programme.submit(f"{last_month:%Y-%m}", actor="chief", role="admin")
    with pytest.raises(AdminRequiredError, match="submitted"):
        ws.evidence.withdraw(second, "blurred", actor="bob", role="planner")
    row = ws.evidence.withdraw(second, "blurred", actor="chief", role="admin")
    assert row["withdrawn_by"] == "chief" and row["withdraw_reason"] == "blurred"
    # kept, and the audit log names who withdrew it and why
    items = ws.evidence.items(fid)
    assert set(items["id"]) >= {first, second} and items.set_index("id").loc[second, "withdrawn_at"] is not None
    with ws.engine.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT actor, after->>'withdraw_reason' FROM audit_log "
                "WHERE layer = 'evidence' AND fid = :f AND action = 'update'"
            ),
            {"f": second},
        ).all()
    assert [tuple(a) for a in audit] == [("chief", "blurred")]
    assert ws.evidence.items(fid, withdrawn=False)["id"].isin([first, second]).sum() == 0


def test_the_public_sees_a_published_photo_only(ws: Workspace, tmp_path: Path) -> None:
    fid, _, inside, _ = site(ws)
    added = ws.evidence.add(
        Attachment(fid, "完工", note="secret"),
        [(f"{i}.jpg", photo(lon=inside.x, lat=inside.y, taken="2026:05:10 09:30:00", colour=i)) for i in (30, 180)],
    )
    shown, hidden = (int(i) for i in added["id"])
    ws.evidence.publish(shown)
    assert list(ws.evidence.published()["id"]) == [shown]
    assert "note" not in ws.evidence.item(shown, role="public")
    media_type, data, _ = ws.evidence.file(shown, role="public")
    assert media_type == "image/jpeg" and data == photo(
        lon=inside.x, lat=inside.y, taken="2026:05:10 09:30:00", colour=30
    )
    for thumb in (False, True):
        with pytest.raises(NotFoundError):
            ws.evidence.file(hidden, role="public", thumb=thumb)
    with pytest.raises(NotFoundError):
        ws.evidence.item(hidden, role="public")
    ws.evidence.withdraw(shown, "wrong compound")
    assert ws.evidence.published().empty  # a withdrawal takes it off the public map

    key = ws.evidence.pair(int(added["id"].iloc[0]), hidden)
    sides = ws.evidence.items(fid).set_index("id")
    assert sides.loc[hidden, "side"] == "after" and sides.loc[hidden, "pair"] == key

    written = ws.evidence.export(fid, tmp_path / "out")
    mine = [p.name for p in written if p.name.startswith((f"{shown}-", f"{hidden}-"))]  # besides the sample's own
    assert mine == [f"{hidden}-180.jpg"] and written[-1].name == "evidence.csv"
    listing = (tmp_path / "out" / "evidence.csv").read_text(encoding="utf-8-sig")
    assert "secret" in listing and ",=" not in listing


def test_the_cli_lists_items_as_json(ws: Workspace, db_url: str, tmp_path: Path) -> None:
    fid, _, inside, far = site(ws)
    env = {"GISPLAN_DATABASE_URL": db_url, "GISPLAN_HOME": str(tmp_path)}
    pics = []
    for i, where in enumerate((inside, far)):
        path = tmp_path / f"p{i}.jpg"
        path.write_bytes(photo(lon=where.x, lat=where.y, taken="2026:05:10 09:30:00", colour=i))
        pics.append(str(path))
    name = ws.layer("compounds", where={"fid": fid}).iloc[0]["name"]
    done = run(["evidence", "add", str(fid), *pics, "--category", "管线", "--note", "架空线"], env)
    assert done.returncode == 0, done.stderr
    listed = run(["evidence", "list", str(fid), "--json"], env)
    items = [i for line in listed.stdout.splitlines() if (i := json.loads(line))["note"] == "架空线"]
    assert [i["flags"] for i in items] == [[], ["far_from_compound"]]
    assert {i["category"] for i in items} == {"pipelines"} and {i["compound_id"] for i in items} == {fid}
    assert items[0]["lon"] == pytest.approx(inside.x, abs=1e-6) and items[0]["taken_at"].startswith("2026-05-10T")
    assert all(len(i["sha256"]) == 64 for i in items) and name
    bad = run(["evidence", "add", str(fid), __file__], env)
    assert bad.returncode == 1 and "error" in bad.stderr
    out = run(["evidence", "export", str(fid), "--out", str(tmp_path / "x")], env)
    assert out.returncode == 0 and (tmp_path / "x" / "evidence.csv").exists()
