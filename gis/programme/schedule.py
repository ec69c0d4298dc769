"""The schedule table planners keep in Excel (时间配档表): written as a template / export, read back.

One row per project (compound and year). Headers are Chinese; a header is also recognised by its
English name or column id and a few aliases, wherever the header row is in the first rows of the
sheet. Dates may be Excel dates or text (2026-03-15, 2026/3/15, 2026年3月15日). Grey columns
(name, district, street, buildings, households, floor area) come from the compounds layer and are
not read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import text

from gis.errors import ImportRefusedError
from gis.programme.service import (
    Event,
    Programme,
    ProgrammeDefs,
    ProgrammeError,
    RowProblem,
    ScheduleImportReport,
    _check_plan,
    _check_spent,
    _latest_spent,
    _locked_until,
    _plan_events,
    _resolve_categories,
    _resolve_funding,
    _resolve_item,
    _resolve_mgmt,
    _sync_compound,
    parse_date,
    parse_money,
    progress_events,
)
from gis.registry import normalise_label, registry

if TYPE_CHECKING:
    from sqlalchemy import Connection

SHEET = "时间配档表"
LIST_SEP = "、"


@dataclass(frozen=True)
class Column:
    id: str
    zh: str
    en: str
    kind: str  # key | info | int | categories | items | stage | date | money | mgmt | text
    aliases: tuple[str, ...] = ()
    width: float = 12


def columns(defs: ProgrammeDefs) -> list[Column]:
    cols = [
        Column("compound_id", "小区编号", "Compound id", "key", ("编号", "小区代码", "fid", "id"), 9),
        Column("name", "小区名称", "Name", "info", ("项目名称", "小区", "项目"), 16),
        Column("district", "区县", "District", "info", ("区",), 8),
        Column("street", "街道", "Street", "info", ("所属街道", "街道办事处"), 12),
        Column("buildings", "楼栋数", "Buildings", "info", ("栋数",), 7),
        Column("households", "户数", "Households", "info", ("总户数",), 7),
        Column("floor_area_m2", "建筑面积（平方米）", "Floor area (m2)", "info", ("建筑面积",), 11),
        Column("year", "年度", "Year", "int", ("计划年度", "改造年度", "plan_year"), 7),
        Column("categories", "改造类别", "Categories", "categories", ("改造类型",), 14),
        Column("items", "改造内容", "Content items", "items", ("改造项目", "改造内容清单"), 30),
        Column("stage", "当前阶段", "Stage", "stage", ("改造阶段", "阶段", "进度"), 9),
    ]
    for s in defs.stages:
        cols.append(Column(f"planned_{s.id}", f"计划{s.milestone_zh}", f"Planned {s.milestone_en}", "date",
                           (f"{s.zh}计划日期", f"{s.id} planned", f"planned {s.id}"), 11.5))  # fmt: skip
        cols.append(Column(f"actual_{s.id}", f"实际{s.milestone_zh}", f"Actual {s.milestone_en}", "date",
                           (f"{s.zh}实际日期", f"{s.id} actual", f"actual {s.id}"), 11.5))  # fmt: skip
    cols += [
        Column("investment_planned", "计划投资（万元）", "Planned investment (10k yuan)", "money",
               ("计划投资", "总投资"), 11),
        Column("investment_spent", "累计完成投资（万元）", "Investment spent (10k yuan)", "money",
               ("累计完成投资", "完成投资", "已完成投资"), 11),
    ]  # fmt: skip
    for f in defs.funding.codes:
        cols.append(Column(f"funding_{f.id}", f"{f.zh}（万元）", f"{f.en} (10k yuan)", "money",
                           (f.zh, *f.aliases, *[f"{a}（万元）" for a in f.aliases]), 10))  # fmt: skip
    cols += [
        Column("property_mgmt_after", "改造后物业管理", "Property management after", "mgmt",
               ("改造后物业管理方式", "物业管理（改造后）"), 11),
        Column("responsible_street", "责任街道", "Responsible street office", "text", ("责任街道办",), 12),
        Column("responsible_dept", "责任部门", "Responsible department", "text", ("责任单位", "牵头部门"), 12),
        Column("note", "备注", "Note", "text", ("说明",), 26),
    ]  # fmt: skip
    return cols


def _lookup(cols: list[Column]) -> dict[str, Column]:
    table: dict[str, Column] = {}
    for c in cols:
        for spelling in (c.id, c.zh, c.en, *c.aliases):
            table.setdefault(normalise_label(spelling), c)
    return table


# -- writing -------------------------------------------------------------------------------------
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
GREY = PatternFill("solid", fgColor="E7E6E6")
HEAD = PatternFill("solid", fgColor="DDEBF7")


def _rows(programme: Programme, year: int) -> list[dict[str, Any]]:
    """A row per compound planned for the year or with a project in it, with what is stored."""
    defs = programme.defs
    with programme.ws.engine.connect() as conn:
        comps = conn.execute(
            text(
                "SELECT fid, name, district, street, buildings, households, floor_area_m2, categories FROM compounds "
                "WHERE plan_year = :y OR fid IN (SELECT compound_id FROM programme_projects WHERE year = :y) "
                "ORDER BY district, street, fid"
            ),
            {"y": year},
        ).all()
        projects = {p.compound_id: p for p in programme._projects(conn, year)}
    cats = registry().code_list("renovation_category")
    stages = registry().code_list("stage")
    mgmt = registry().code_list("property_mgmt")
    out = []
    for c in comps:
        p = projects.get(int(c.fid))
        row: dict[str, Any] = {"compound_id": int(c.fid), "name": c.name, "district": c.district, "street": c.street,
                               "buildings": c.buildings, "households": c.households,
                               "floor_area_m2": c.floor_area_m2, "year": year}  # fmt: skip
        if p is None:
            row["categories"] = LIST_SEP.join(cats.get(k).zh for k in (c.categories or []))
            out.append(row)
            continue
        row["categories"] = LIST_SEP.join(cats.get(k).zh for k in p.categories)
        row["items"] = LIST_SEP.join(defs.item_label(i) for i in p.items)
        row["stage"] = stages.get(p.stage).zh if p.stage else None
        for s in defs.stage_ids:
            row[f"planned_{s}"] = p.planned.get(s)
            row[f"actual_{s}"] = p.actual.get(s)
        row["investment_planned"] = p.investment_planned
        row["investment_spent"] = p.investment_spent
        for k, v in p.funding.items():
            row[f"funding_{k}"] = v
        row["property_mgmt_after"] = mgmt.get(p.property_mgmt_after).zh if p.property_mgmt_after else None
        row["responsible_street"] = p.responsible_street
        row["responsible_dept"] = p.responsible_dept
        row["note"] = p.note
        out.append(row)
    return out


def write_schedule(programme: Programme, path: Path, year: int | None) -> Path:
    defs = programme.defs
    if year is None:
        years = programme.years()
        year = years[-1] if years else programme._today(None).year
    cols = columns(defs)
    rows = _rows(programme, year)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET
    n = len(cols)
    ws.cell(1, 1, f"{year}年城镇老旧小区改造项目时间配档表").font = Font(name="宋体", size=16, bold=True)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    note = (
        "填写说明：灰色列取自小区图层，仅供核对，导入时不读取；日期写 2026-03-15 或 2026年3月15日；"
        "各阶段日期为进入该阶段的日期（开工＝进入施工，完工＝进入完工）；当前阶段可不填（按实际日期推定）；"
        "改造类别、改造内容多项用“、”分隔；金额单位万元。已填报的实际日期不能改动，更正须由管理员说明理由"
        "（gisplan progress correct）。"
    )
    ws.cell(2, 1, note).font = Font(name="宋体", size=9, color="555555")
    ws.cell(2, 1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=n)
    ws.row_dimensions[2].height = 30
    header = 3
    for k, c in enumerate(cols, start=1):
        cell = ws.cell(header, k, c.zh)
        cell.font = Font(name="宋体", size=10, bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = BORDER
        cell.fill = GREY if c.kind == "info" else HEAD
        cell.comment = Comment(f"{c.en} ({c.id})", "gisplan")
        ws.column_dimensions[get_column_letter(k)].width = c.width
    ws.row_dimensions[header].height = 32
    for r, values in enumerate(rows, start=header + 1):
        for k, c in enumerate(cols, start=1):
            v = values.get(c.id)
            if isinstance(v, Decimal):
                v = float(v)
            cell = ws.cell(r, k, v)
            cell.font = Font(name="宋体", size=10)
            cell.border = BORDER
            if c.kind == "info":
                cell.fill = GREY
            if c.kind == "date":
                cell.number_format = "yyyy-mm-dd"
            elif c.kind == "money":
                cell.number_format = "0.00"
    last = header + max(len(rows), 1) + 200  # room for rows a planner adds
    by_id = {c.id: get_column_letter(k) for k, c in enumerate(cols, start=1)}
    stage_list = ",".join(s.zh for s in defs.stages)
    cats = registry().code_list("renovation_category").codes
    combos = [LIST_SEP.join(c.zh for j, c in enumerate(cats) if mask >> j & 1) for mask in range(1, 2 ** len(cats))]
    mgmt = ",".join(c.zh for c in registry().code_list("property_mgmt").codes)
    for col, options, allow_other in (("stage", stage_list, False), ("categories", ",".join(combos), True),
                                      ("property_mgmt_after", mgmt, False)):  # fmt: skip
        dv = DataValidation(type="list", formula1=f'"{options}"', allow_blank=True, showErrorMessage=not allow_other)
        dv.add(f"{by_id[col]}{header + 1}:{by_id[col]}{last}")
        ws.add_data_validation(dv)
    ws.freeze_panes = ws.cell(header + 1, 3)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A3  # a wide working table: A3, as such tables are printed
    ws.print_title_rows = f"{header}:{header}"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    # a second sheet listing the content items per category (改造内容清单), for reference
    ref = wb.create_sheet("改造内容清单")
    ref.append(["改造类别", "改造内容", "Item", "依据"])
    for cat, item in defs.items():
        ref.append([registry().code_list("renovation_category").get(cat).zh, item.zh, item.en,
                    f"{defs.source['id']}（{defs.source['status']}）"])  # fmt: skip
    for k, w in enumerate((10, 30, 36, 26), start=1):
        ref.column_dimensions[get_column_letter(k)].width = w
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


# -- reading -------------------------------------------------------------------------------------
def _find_header(ws: Any, table: dict[str, Column]) -> tuple[int, dict[int, Column]]:
    best: tuple[int, dict[int, Column]] = (0, {})
    for r, row in enumerate(ws.iter_rows(min_row=1, max_row=10, values_only=True), start=1):
        found = {}
        for k, v in enumerate(row):
            if isinstance(v, str) and normalise_label(v) in table:
                found[k] = table[normalise_label(v)]
        if len(found) > len(best[1]):
            best = (r, found)
    if len(best[1]) < 3 or not any(c.kind == "key" or c.id == "name" for c in best[1].values()):
        raise ImportRefusedError(
            "no header row found in the first 10 rows (小区编号 or 小区名称, 当前阶段, 计划开工 ...) / 未找到表头"
        )
    seen: dict[str, int] = {}
    for k, c in best[1].items():
        if c.id in seen:
            raise ImportRefusedError(f"column {c.zh} appears twice (columns {seen[c.id] + 1} and {k + 1}) / 表头重复")
        seen[c.id] = k
    return best


def _parse_row(raw: dict[str, Any], defs: ProgrammeDefs) -> tuple[dict[str, Any], list[str]]:
    """Typed values of one row and the problems found (a row with problems is set aside whole)."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    by_id = {c.id: c for c in columns(defs)}
    for cid, v in raw.items():
        col = by_id[cid]
        if col.kind == "info":
            continue
        if isinstance(v, str):
            v = v.strip()
        if v is None or v == "":
            out[cid] = None
            continue
        try:
            if col.kind in ("key", "int"):
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                out[cid] = int(str(v))
            elif col.kind == "date":
                out[cid] = parse_date(v)
            elif col.kind == "money":
                out[cid] = parse_money(v)
            elif col.kind == "categories":
                out[cid] = _resolve_categories(_split(str(v)))
            elif col.kind == "items":
                value = str(v)
                for _cat, item in defs.items():  # labels that contain the separator themselves
                    if LIST_SEP in item.zh:
                        value = value.replace(item.zh, item.id)
                out[cid] = [_resolve_item(x, defs) for x in _split(value)]
            elif col.kind == "stage":
                out[cid] = defs.resolve_stage(str(v))
            elif col.kind == "mgmt":
                out[cid] = _resolve_mgmt(str(v))
            else:
                out[cid] = str(v)
        except (ValueError, ProgrammeError) as exc:
            problems.append(f"{col.zh}: {exc}")
    return out, problems


def _split(value: str) -> list[str]:
    for sep in (",", "，", ";", "；", "/", "\n"):
        value = value.replace(sep, LIST_SEP)
    return [p.strip() for p in value.split(LIST_SEP) if p.strip()]


def _resolve_compound(conn: Connection, values: dict[str, Any], raw: dict[str, Any]) -> tuple[int | None, str]:
    if values.get("compound_id") is not None:
        fid = values["compound_id"]
        hit = conn.execute(text("SELECT fid FROM compounds WHERE fid = :f"), {"f": fid}).first()
        return (int(fid), "") if hit else (None, f"no compound {fid} / 无此小区编号")
    name = raw.get("name")
    if not name:
        return None, "no 小区编号 and no 小区名称 / 缺少小区编号和名称"
    params = {"n": str(name).strip(), "s": (str(raw.get("street")).strip() if raw.get("street") else None)}
    found = conn.execute(
        text("SELECT fid FROM compounds WHERE name = :n AND (CAST(:s AS text) IS NULL OR street = :s)"), params
    ).all()
    if len(found) == 1:
        return int(found[0].fid), ""
    if not found:
        return None, f"no compound named {name} / 无此小区"
    return None, f"{len(found)} compounds are named {name}; give 小区编号 / 重名小区，请填小区编号"


def import_schedule(
    programme: Programme, path: Path, *, year: int | None, strict: bool, actor: str, role: str, today: date,
    as_of: date | None,
) -> ScheduleImportReport:  # fmt: skip
    defs = programme.defs
    if role not in ("planner", "admin"):
        from gis.programme.service import AdminRequiredError

        raise AdminRequiredError("importing a schedule needs a planner / 需规划人员权限")
    try:
        wb = load_workbook(path, data_only=True, read_only=True)
    except Exception as exc:  # openpyxl raises several kinds for files that are not XLSX
        raise ImportRefusedError(f"{path.name} cannot be read as an XLSX workbook: {exc}") from None
    ws = wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]
    table = _lookup(columns(defs))
    header, mapping = _find_header(ws, table)
    report = ScheduleImportReport(path=str(path), sheet=ws.title, strict=strict)
    as_of = as_of or today
    seen: set[tuple[int, int]] = set()
    with programme._transaction(actor) as conn:
        locked = _locked_until(conn)
        for r, cells in enumerate(ws.iter_rows(min_row=header + 1, values_only=True), start=header + 1):
            raw = {c.id: cells[k] if k < len(cells) else None for k, c in mapping.items()}
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in raw.values()):
                continue
            if sum(1 for v in raw.values() if isinstance(v, str) and normalise_label(v) in table) >= 3:
                continue  # a second header row (English names)
            report.rows += 1
            key = str(raw.get("compound_id") or raw.get("name") or "")
            values, problems = _parse_row(raw, defs)
            if problems:
                report.rejected.append(RowProblem(row=r, key=key, reason="; ".join(problems)))
                continue
            fid, why = _resolve_compound(conn, values, raw)
            row_year = values.get("year") or year
            if fid is None or row_year is None:
                report.rejected.append(RowProblem(row=r, key=key, reason=why or "no 年度 and no --year / 缺少年度"))
                continue
            if year is not None and values.get("year") not in (None, year):
                report.rejected.append(RowProblem(row=r, key=key, reason=f"年度 {values['year']} is not {year}"))
                continue
            if (fid, row_year) in seen:
                report.rejected.append(RowProblem(row=r, key=key, reason="the project appears twice / 重复行"))
                continue
            seen.add((fid, row_year))
            try:
                outcome, n_events = _apply_row(programme, conn, fid, int(row_year), values, mapping, today, as_of,
                                               locked, actor, role, path.name)  # fmt: skip
            except ProgrammeError as exc:
                report.rejected.append(RowProblem(row=r, key=key, reason=str(exc)))
                continue
            report.events += n_events
            setattr(report, outcome, getattr(report, outcome) + 1)
        _sync_compound(conn, None)  # a re-import of the compounds layer may have overwritten their stage
        if strict and report.rejected:  # leaving the block by an exception rolls everything back
            raise ImportRefusedError(
                f"{len(report.rejected)} of {report.rows} rows cannot be used (--strict): nothing was written / "
                "有不合格行，未导入任何数据",
                report,
            )
    wb.close()
    return report


def _apply_row(
    programme: Programme, conn: Connection, fid: int, year: int, values: dict[str, Any], mapping: dict[int, Column],
    today: date, as_of: date, locked: date | None, actor: str, role: str, source: str,
) -> tuple[str, int]:  # fmt: skip
    """Validate a row against the stored project and write it; raises ProgrammeError before any write."""
    defs = programme.defs
    present = {c.id for c in mapping.values()}
    before = programme._load(conn, fid, year, create=True)
    is_new = before.id is None
    after = before.copy()
    # plan: the columns present replace the stored values (an empty cell clears)
    simple = ("categories", "items", "investment_planned", "property_mgmt_after", "responsible_street",
              "responsible_dept", "note")  # fmt: skip
    for name in simple:
        if name in present:
            v = values.get(name)
            setattr(after, name, v if v is not None else ([] if name in ("categories", "items") else None))
    for s in defs.stage_ids:
        if f"planned_{s}" in present:
            if values.get(f"planned_{s}") is None:
                after.planned.pop(s, None)
            else:
                after.planned[s] = values[f"planned_{s}"]
    funding_cols = [c for c in present if c.startswith("funding_")]
    if funding_cols:
        given = [c for c in funding_cols if values.get(c) is not None]
        after.funding = {_resolve_funding(c.removeprefix("funding_"), defs): values[c] for c in given}
    _check_plan(after, defs)
    # progress: new actual dates move the stage forward; changed ones are refused
    actual = dict(before.actual)
    for s in defs.stage_ids:
        if f"actual_{s}" in present:
            v = values.get(f"actual_{s}")
            if v is None and s in before.actual:
                raise ProgrammeError(
                    f"实际{defs.stage(s).milestone_zh} {before.actual[s]} was reported and is now empty; an admin "
                    "corrects it with a reason / 已填报的实际日期不能删除，更正须由管理员"
                )
            if v is not None:
                actual[s] = v
    after.actual = actual
    reached = [s for s in defs.stage_ids if s in actual]
    after.stage = reached[-1] if reached else None
    stated = values.get("stage") if "stage" in present else None
    if stated is not None and stated != after.stage:
        raise ProgrammeError(
            f"当前阶段 {defs.stage(stated).zh} does not match the actual dates (they reach "
            f"{defs.stage(after.stage).zh if after.stage else '未启动'}); give the date the stage was reached / "
            "当前阶段与实际日期不符"
        )
    if defs.index(after.stage) < defs.index(before.stage):
        raise ProgrammeError("stages only move forward / 阶段只能前进")
    events = _plan_events(None if is_new else before, after)
    progress = progress_events(before, after, today, locked, defs)
    events += progress
    if "investment_spent" in present:
        after.investment_spent = values.get("investment_spent")
        if after.investment_spent is None and before.investment_spent is not None:
            raise ProgrammeError("累计完成投资 was reported and is now empty / 已填报的完成投资不能删除")
        if after.investment_spent != before.investment_spent:
            _check_spent(before, after, as_of, today, locked, _latest_spent(conn, before))
            changes = {"investment_spent": [before.investment_spent, after.investment_spent]}
            events.append(Event("spent", changes, effective=as_of))
    if not events:
        return "unchanged", 0
    # the compounds' stage follows in one update when the whole file is in (import_schedule)
    programme._save(conn, None if is_new else before, after, events, actor, role, source=source, sync=False)
    return ("created" if is_new else "updated"), len(events)
