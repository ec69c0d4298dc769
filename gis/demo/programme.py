"""The programme's part of the demo: the sample's renovation programme advanced to today, with
synthetic evidence, acceptance records and inspection findings, each labelled synthetic."""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import openpyxl
from PIL import ExifTags, Image, ImageDraw
from pyproj import Transformer
from rich.console import Console

from gis import clock
from gis.demo.sample import SOURCE
from gis.errors import ProgrammeError
from gis.evidence.acceptance import Sheet
from gis.evidence.findings import Opening
from gis.evidence.service import Attachment
from gis.export.inspection_report import write_bulletin
from gis.report_printers import print_month
from gis.workspace import Workspace


def run_programme_demo(ws: Workspace, console: Console, *, out_dir: Path = Path("out")) -> None:
    """The renovation programme of the sample, advanced to today, and this month's 统计月报.

    Writes the schedule table (时间配档表) of the sample's plan year, fills it as a planner would —
    planned dates, the actual dates of the stages each compound had reached in the sample, amounts —
    imports it, then reports progress stage by stage up to today. Dates and amounts are synthetic,
    derived from each compound's key (one project is made to stall in construction, so the report
    shows an overdue project). Writes ``月报_YYYY-MM.xlsx`` and ``.csv``; re-running changes nothing.
    """
    compounds = ws.layer("compounds", where={"source": SOURCE})
    planned = compounds[compounds["plan_year"].notna()].copy()
    if planned.empty:
        return
    year = int(planned["plan_year"].max())
    today = clock.today()
    stages = [s.id for s in ws.programme.defs.stages]
    gaps = [30, 35, 30, 160, 30]  # days from one planned stage to the next (synthetic)
    plan: dict[int, list[date]] = {}
    actual: dict[int, dict[str, date]] = {}
    for c in planned.itertuples():
        key, dates = str(c.source_key), [date(year, 2, 20) + timedelta(days=pick(str(c.source_key), "start", 30))]
        for gap in gaps:
            dates.append(dates[-1] + timedelta(days=gap))
        plan[int(c.fid)] = dates
        actual[int(c.fid)] = {s: dates[i] + timedelta(days=pick(key, s, 15)) for i, s in enumerate(stages)}
    stalled = min(plan, key=lambda f: (plan[f][stages.index("completed")], f))  # stays in construction
    for s in stages[stages.index("construction") + 1 :]:
        actual[stalled].pop(s)

    schedule = ws.programme.write_schedule(out_dir / f"配档表_{year}.xlsx", year)
    book = openpyxl.load_workbook(schedule)
    sheet = book["时间配档表"]
    col = {sheet.cell(3, c).value: c for c in range(1, sheet.max_column + 1)}
    rows = {sheet.cell(r, 1).value: r for r in range(4, sheet.max_row + 1) if sheet.cell(r, 1).value}
    milestone = {s.id: s.milestone_zh for s in ws.programme.defs.stages}
    for c in planned.itertuples():
        fid, r = int(c.fid), rows.get(int(c.fid))
        if r is None:
            continue
        sample_stage = stages.index(c.stage) if isinstance(c.stage, str) else -1
        for i, s in enumerate(stages):
            sheet.cell(r, col[f"计划{milestone[s]}"]).value = plan[fid][i]
            # 实际验收 is reported after the acceptance is recorded (below), never by the table alone
            if i <= sample_stage and s in actual[fid] and actual[fid][s] <= today and s != "accepted":
                sheet.cell(r, col[f"实际{milestone[s]}"]).value = actual[fid][s]
        invest = round(float(c.floor_area_m2 or 0) * 0.05, 2)  # 500 元/m²
        central = round(invest * 0.4, 2)
        reached = max([stages.index(s) for s, d in actual[fid].items() if d <= today], default=-1)
        share = {3: 0.4, 4: 0.9, 5: 1.0}.get(reached, 0.05 if reached >= 0 else 0.0)
        values = {
            "计划投资（万元）": invest,
            "中央补助（万元）": central,
            "地方财政（万元）": round(invest - central, 2),
            "累计完成投资（万元）": round(invest * share, 2),
            "责任街道": c.street,
            "责任部门": "区住房城乡建设委",
            "备注": "示例数据（合成）/ synthetic sample",
        }
        for name, value in values.items():
            sheet.cell(r, col[name]).value = value
    book.save(schedule)
    report = ws.programme.import_schedule(schedule, year=year, actor="demo", role="planner")
    events = len(ws.programme.history(year=year))
    for fid, reached_on in actual.items():  # progress reported up to today, stage by stage
        advance_to(ws, console, fid, {s: d for s, d in reached_on.items() if d <= today}, year)
    moved = len(ws.programme.history(year=year)) - events
    console.print(
        f"programme {year} / 改造计划: {schedule} imported — new {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, set aside {len(report.rejected)}; {moved} stages advanced to today"
    )
    month = f"{today.year}-{today.month:02d}" if today.year == year else f"{year}-12"
    rep = ws.report_month(month, today=today)
    print_month(console, rep)
    xlsx, csv = rep.write(out_dir / f"月报_{month}.xlsx"), rep.write(out_dir / f"月报_{month}.csv")
    console.print(f"wrote {schedule}, {xlsx}, {csv}")


EVIDENCE_MARK = "evidence: photo drawn by gisplan demo / 合成示例照片"


def synthetic_photo(lon: float, lat: float, taken: datetime, label: str, shade: int) -> bytes:
    """A JPEG that says it is synthetic, with EXIF DateTimeOriginal (+ offset) and a GPS fix."""
    img = Image.new("RGB", (800, 600), (90 + shade % 120, 140, 110))
    ImageDraw.Draw(img).text((40, 40), f"SYNTHETIC / {label}", fill=(255, 255, 255))
    exif = Image.Exif()
    inner = exif.get_ifd(ExifTags.IFD.Exif)
    inner[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
    inner[ExifTags.Base.OffsetTimeOriginal] = taken.strftime("%z")[:3] + ":" + taken.strftime("%z")[3:]
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    for ref, tag, value, sign in (
        (ExifTags.GPS.GPSLatitudeRef, ExifTags.GPS.GPSLatitude, lat, "NS"),
        (ExifTags.GPS.GPSLongitudeRef, ExifTags.GPS.GPSLongitude, lon, "EW"),
    ):
        gps[ref] = sign[0] if value >= 0 else sign[1]
        whole = abs(value)
        degrees, minutes = int(whole), int(whole * 60) % 60
        gps[tag] = (
            Fraction(degrees),
            Fraction(minutes),
            Fraction(round((whole * 3600 - degrees * 3600 - minutes * 60) * 100), 100),
        )
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, quality=80)
    return out.getvalue()


def run_evidence_demo(ws: Workspace, console: Console) -> None:
    """A few synthetic evidence items (labelled so): before and after photos of a finished compound,
    paired and published for 公示, construction photos of one under way (one taken 2 km away, so it
    is flagged far_from_compound). Re-running adds nothing."""
    if ws.evidence.items()["synthetic"].eq(EVIDENCE_MARK).any():
        return
    projects = ws.programme.projects().to_dict("records")
    compounds = ws.layer("compounds").set_index("fid")
    to_lonlat = Transformer.from_crs(compounds.crs, 4326, always_xy=True)

    def shot(fid: int, day: date, hour: int, label: str, east_m: float = 0.0) -> bytes:
        p = compounds.loc[fid].geometry.representative_point()
        lon, lat = to_lonlat.transform(p.x + east_m, p.y)
        return synthetic_photo(lon, lat, datetime.combine(day, time(hour, 15), clock.zone()), label, hour * 7)

    added = 0
    done = [p for p in projects if p["stage"] in ("completed", "accepted")][:1]
    for project in done:
        fid = int(project["compound_id"])
        history = ws.programme.history(fid).to_dict("records")
        reached = {e["stage_after"]: e["effective"] for e in history if e["stage_after"] and e["effective"]}
        ids = []
        for side, stage, category, hour in (
            ("before", "survey", "sanitation", 9),
            ("after", "completed", "completion", 15),
        ):
            photo = shot(fid, reached.get(stage) or clock.today(), hour, f"{side} {fid}")
            note = f"示例{'改造后' if side == 'after' else '改造前'}照片（合成）"
            item = Attachment(fid, category, stage=stage, side=side, note=note, synthetic=EVIDENCE_MARK)
            ids.append(int(ws.evidence.add(item, [(f"{side}.jpg", photo)], actor="demo").iloc[0]["id"]))
        ws.evidence.pair(ids[0], ids[1], actor="demo")
        for item_id in ids:
            ws.evidence.publish(item_id, actor="demo")
        added += len(ids)
    for project in [p for p in projects if p["stage"] == "construction"][:1]:
        fid = int(project["compound_id"])
        files = [
            (f"construction-{i + 1}.jpg", shot(fid, clock.today(), 10 + i, f"construction {fid}", east))
            for i, east in enumerate((0.0, 2000.0))
        ]
        item = Attachment(
            fid, "construction", stage="construction", note="示例施工照片（合成）", synthetic=EVIDENCE_MARK
        )
        added += len(ws.evidence.add(item, files, actor="demo"))
    console.print(
        f"evidence / 资料留存: {added} synthetic photos (before/after paired and published for 公示; "
        "one flagged far_from_compound: gisplan evidence list)"
    )


def advance_to(ws: Workspace, console: Console, fid: int, reached: dict[str, date], year: int) -> None:
    """Report a project's stages in order; ``accepted`` after a (synthetic) passed acceptance."""
    for s in ws.programme.defs.stage_ids:
        if s not in reached:
            continue
        try:
            if ws.programme.defs.stage(s).requires_acceptance:
                demo_acceptance(ws, fid, reached[s])
            ws.programme.advance(fid, s, reached[s], year=year, actor="demo", role="planner")
        except ProgrammeError as exc:  # a database where this project was reported otherwise
            console.print(f"[yellow]note:[/] {exc}")
            break


ACCEPTANCE_MARK = "acceptance: demo record / 合成示例验收记录"


def run_acceptance_demo(ws: Workspace, console: Console) -> None:
    """One synthetic 综合验收 (labelled so): the first completed project is accepted a week after it
    completed (or today), citing its before/after photos, then reported 验收. Re-running adds nothing."""
    if not ws.acceptance.records().empty:
        return
    projects = ws.programme.projects()
    done = projects[projects["stage"] == "completed"]
    if done.empty:
        return
    fid = int(done.iloc[0]["compound_id"])
    history = ws.programme.history(fid).to_dict("records")
    completed = max(e["effective"] for e in history if e["stage_after"] == "completed")
    on = min(completed + timedelta(days=7), clock.today())
    photos = [int(i) for i in ws.evidence.items(fid, withdrawn=False)["id"]]
    demo_acceptance(ws, fid, on, photos)
    ws.programme.advance(fid, "accepted", on, actor="demo", role="planner")
    console.print(f"acceptance / 综合验收: compound {fid} accepted on {on} (synthetic record; gisplan acceptance list)")


def demo_acceptance(ws: Workspace, compound_id: int, on: date, photos: list[int] | None = None) -> None:
    """A synthetic passed 综合验收 on ``on`` (full points but two on residents' satisfaction), unless
    the project has one already."""
    if ws.acceptance.records(compound_id)["passed"].any():
        return
    scores: dict[str, Any] = {i.id: i.points for i in ws.acceptance.rules.items}
    scores["residents_satisfied"] -= 2
    if photos:
        scores["records_complete"] = (9, "改造前后照片齐全（示例）", photos)
    team = ["区住建委（示例）", "街道办事处（示例）", "居民代表（示例）"]
    sheet = Sheet(on, team, scores, findings=["满意度调查回收率偏低，补充入户回访（示例）"], synthetic=ACCEPTANCE_MARK)
    ws.acceptance.record(compound_id, sheet, actor="demo")


def pick(key: str, salt: str, n: int) -> int:
    """A deterministic choice in range(n) from a feature key (as scripts/make_sample.py picks)."""
    return int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest(), 16) % n


FINDINGS_MARK = "findings: inspection drawn by gisplan demo / 合成示例督查问题"


def drawn_photo(label: str, colour: tuple[int, int, int]) -> bytes:
    """A small JPEG that says it is synthetic (no EXIF: flagged no position, no time, as it should be)."""
    img = Image.new("RGB", (640, 480), colour)
    ImageDraw.Draw(img).text((30, 30), f"SYNTHETIC / {label}", fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def run_findings_demo(ws: Workspace, console: Console, *, out_dir: Path | None = None) -> None:
    """Two synthetic inspection findings (labelled so): one open past its deadline (overdue, so the 月报
    lists it), one closed with a rectification photo; then the 督查通报 and the month's 月报 again under
    ``out_dir``. Re-running adds nothing."""
    if ws.findings.items()["synthetic"].eq(FINDINGS_MARK).any():
        return
    projects = ws.programme.projects().to_dict("records")
    started = [p for p in projects if p["stage"] == "construction"] or projects
    if not started:
        return
    today = clock.today()
    first, second = int(started[0]["compound_id"]), int(started[-1]["compound_id"])
    late = Opening(
        first,
        "施工现场围挡缺失，材料露天堆放（示例）",
        "示例建设工程有限公司",
        today - timedelta(days=6),
        category="civilised",
        found_on=today - timedelta(days=20),
        inspector="demo",
        synthetic=FINDINGS_MARK,
    )
    ws.findings.open(late, [("围挡缺失.jpg", drawn_photo(f"finding {first}", (150, 60, 50)))], actor="demo")
    fixed = Opening(
        second,
        "楼道管线未规整（示例）",
        "示例街道办事处",
        today + timedelta(days=10),
        category="quality",
        found_on=today - timedelta(days=12),
        inspector="demo",
        synthetic=FINDINGS_MARK,
    )
    opened = ws.findings.open(fixed, [("管线.jpg", drawn_photo(f"finding {second}", (60, 90, 150)))], actor="demo")
    rectified = [("整改后.jpg", drawn_photo(f"rectified {second}", (60, 140, 80)))]
    ws.findings.close(
        int(opened["id"]), rectified, note="已规整入槽（示例）", closed_on=today - timedelta(days=2), actor="demo"
    )
    console.print("findings / 督查问题: 2 synthetic (one overdue: 月报 and gisplan findings list --open; one closed)")
    if out_dir is not None:
        bulletin = write_bulletin(ws.findings.bulletin(), out_dir / "督查通报.html")
        year = int(started[0]["year"])
        month = f"{today.year}-{today.month:02d}" if today.year == year else f"{year}-12"
        report = ws.report_month(month, today=today)
        console.print(f"wrote {bulletin}, {report.write(out_dir / f'月报_{month}.xlsx')}")
