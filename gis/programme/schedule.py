"""The schedule table planners keep in Excel (时间配档表): its columns, and the table written as a
template (nothing stored yet) or an export (what is stored); :mod:`gis.programme.schedule_import`
reads it back.

One row per project (compound and year), headers in Chinese with the English name and column id
as a comment. Grey columns (name, district, street, buildings, households, floor area) come from the
compounds layer and are not read back. The look is :mod:`gis.xlsx_style`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import Connection

from gis.programme import store
from gis.programme.definitions import ProgrammeDefs, programme_defs
from gis.programme.model import Project
from gis.programme.xlsx_rows import Rows, merge, styled
from gis.registry import normalise_label, registry
from gis.store.database import Database
from gis.xlsx_style import BLUE_FILL, GREY_FILL, CellStyle

SHEET = "时间配档表"
LIST_SEP = "、"
HEADER_ROW = 3
SPARE_ROWS = 200  # room below the rows for projects a planner adds
NOTE = (
    "填写说明：灰色列取自小区图层，仅供核对，导入时不读取；日期写 2026-03-15 或 2026年3月15日；"
    "各阶段日期为进入该阶段的日期（开工＝进入施工，完工＝进入完工）；当前阶段可不填（按实际日期推定）；"
    "改造类别、改造内容多项用“、”分隔；金额单位万元。已填报的实际日期不能改动，更正须由管理员说明理由"
    "（gisplan progress correct）。"
)
TITLE_STYLE = CellStyle(bold=True, size=16, border=False, align=Alignment(horizontal="center"))
NOTE_STYLE = CellStyle(size=9, color="555555", border=False, align=Alignment(wrap_text=True, vertical="top"))


@dataclass(frozen=True)
class Column:
    id: str
    zh: str
    en: str
    kind: str  # key | info | int | categories | items | stage | date | money | mgmt | text
    aliases: tuple[str, ...] = ()
    width: float = 12


def columns(defs: ProgrammeDefs) -> list[Column]:
    """The table's columns, in order; the stage and funding columns come from the definitions."""
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
        for when, zh, en in (("planned", "计划", "Planned"), ("actual", "实际", "Actual")):
            aliases = (f"{s.zh}{zh}日期", f"{s.id} {when}", f"{when} {s.id}")
            label = f"{zh}{s.milestone_zh}"
            cols.append(Column(f"{when}_{s.id}", label, f"{en} {s.milestone_en}", "date", aliases, 11.5))
    planned, spent = ("计划投资", "总投资"), ("累计完成投资", "完成投资", "已完成投资")
    cols += [
        Column("investment_planned", "计划投资（万元）", "Planned investment (10k yuan)", "money", planned, 11),
        Column("investment_spent", "累计完成投资（万元）", "Investment spent (10k yuan)", "money", spent, 11),
    ]
    for f in defs.funding.codes:
        sources: tuple[str, ...] = (f.zh, *f.aliases, *[f"{a}（万元）" for a in f.aliases])
        cols.append(Column(f"funding_{f.id}", f"{f.zh}（万元）", f"{f.en} (10k yuan)", "money", sources, 10))
    mgmt_aliases = ("改造后物业管理方式", "物业管理（改造后）")
    cols += [
        Column("property_mgmt_after", "改造后物业管理", "Property management after", "mgmt", mgmt_aliases, 11),
        Column("responsible_street", "责任街道", "Responsible street office", "text", ("责任街道办",), 12),
        Column("responsible_dept", "责任部门", "Responsible department", "text", ("责任单位", "牵头部门"), 12),
        Column("note", "备注", "Note", "text", ("说明",), 26),
    ]
    return cols


def lookup(cols: list[Column]) -> dict[str, Column]:
    """Every spelling of every header (id, Chinese, English, aliases), normalised, to its column."""
    table: dict[str, Column] = {}
    for c in cols:
        for spelling in (c.id, c.zh, c.en, *c.aliases):
            table.setdefault(normalise_label(spelling), c)
    return table


# -- writing ---------------------------------------------------------------------------------------
def schedule_rows(conn: Connection, year: int, defs: ProgrammeDefs) -> list[dict[str, Any]]:
    """A row per compound planned for the year or with a project in it, with what is stored."""
    comps = store.schedule_compounds(conn, year)
    projects = {p.compound_id: p for p in store.projects(conn, year)}
    cats = registry().code_list("renovation_category")
    out = []
    for c in comps:
        row: dict[str, Any] = {
            "compound_id": int(c.fid),
            "name": c.name,
            "district": c.district,
            "street": c.street,
            "buildings": c.buildings,
            "households": c.households,
            "floor_area_m2": c.floor_area_m2,
            "year": year,
        }
        p = projects.get(int(c.fid))
        if p is None:
            row["categories"] = LIST_SEP.join(cats.get(k).zh for k in (c.categories or []))
        else:
            row.update(project_cells(p, defs))
        out.append(row)
    return out


def project_cells(p: Project, defs: ProgrammeDefs) -> dict[str, Any]:
    """The cells of a stored project, labels in Chinese."""
    stages = registry().code_list("stage")
    mgmt = registry().code_list("property_mgmt")
    cats = registry().code_list("renovation_category")
    row: dict[str, Any] = {
        "categories": LIST_SEP.join(cats.get(k).zh for k in p.categories),
        "items": LIST_SEP.join(defs.item_label(i) for i in p.items),
        "stage": stages.get(p.stage).zh if p.stage else None,
    }
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
    return row


def write_schedule(db: Database, path: Path, year: int) -> Path:
    """Write the schedule table of ``year``: the template when nothing is stored, the export otherwise.

    A write-only workbook (:mod:`gis.programme.xlsx_rows`): each row is written as it is made."""
    defs = programme_defs()
    cols = columns(defs)
    with db.engine.connect() as conn:
        rows = schedule_rows(conn, year, defs)
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(SHEET)
    n = len(cols)
    for k, c in enumerate(cols, start=1):
        sheet.column_dimensions[get_column_letter(k)].width = c.width
    sheet.freeze_panes = f"C{HEADER_ROW + 1}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A3  # a wide working table: A3, as such tables are printed
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    out = Rows(sheet)
    out.append([(f"{year}年城镇老旧小区改造项目时间配档表", TITLE_STYLE)])
    merge(sheet, 1, 1, 1, n)
    out.append([(NOTE, NOTE_STYLE)], height=30)
    merge(sheet, 2, 1, 2, n)
    _header(out, cols)
    _cells(out, cols, rows)
    _validations(sheet, cols, HEADER_ROW + max(len(rows), 1) + SPARE_ROWS)
    _items_sheet(wb, defs)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _header(out: Rows, cols: list[Column]) -> None:
    grey, blue = CellStyle(bold=True, fill=GREY_FILL), CellStyle(bold=True, fill=BLUE_FILL)
    cells = []
    for c in cols:  # a cell of its own each: it carries the column's comment
        cell = styled(out.sheet, c.zh, grey if c.kind == "info" else blue)
        cell.comment = Comment(f"{c.en} ({c.id})", "gisplan")
        cells.append(cell)
    out.append(cells, height=32)


def _cells(out: Rows, cols: list[Column], rows: list[dict[str, Any]]) -> None:
    plain = Alignment()  # the cells keep Excel's own alignment
    formats = {"date": "yyyy-mm-dd", "money": "0.00"}
    styles = [
        CellStyle(fmt=formats.get(c.kind), fill=GREY_FILL if c.kind == "info" else None, align=plain) for c in cols
    ]
    for values in rows:
        cells = []
        for k, c in enumerate(cols):
            v = values.get(c.id)
            cells.append((float(v) if isinstance(v, Decimal) else v, styles[k]))
        out.append(cells)


def _validations(sheet: WriteOnlyWorksheet, cols: list[Column], last: int) -> None:
    """Drop-down lists for the stage, the categories (any combination; others allowed) and the
    property management after renovation."""
    by_id = {c.id: get_column_letter(k) for k, c in enumerate(cols, start=1)}
    cats = registry().code_list("renovation_category").codes
    combos = [LIST_SEP.join(c.zh for j, c in enumerate(cats) if mask >> j & 1) for mask in range(1, 2 ** len(cats))]
    lists = [
        ("stage", ",".join(s.zh for s in programme_defs().stages), False),
        ("categories", ",".join(combos), True),
        ("property_mgmt_after", ",".join(c.zh for c in registry().code_list("property_mgmt").codes), False),
    ]
    for col, options, allow_other in lists:
        dv = DataValidation(type="list", formula1=f'"{options}"', allow_blank=True, showErrorMessage=not allow_other)
        dv.add(f"{by_id[col]}{HEADER_ROW + 1}:{by_id[col]}{last}")
        sheet.data_validations.append(dv)


def _items_sheet(wb: Workbook, defs: ProgrammeDefs) -> None:
    """A second sheet listing the content items per category (改造内容清单), for reference."""
    ref = wb.create_sheet("改造内容清单")
    for k, w in enumerate((10, 30, 36, 26), start=1):
        ref.column_dimensions[get_column_letter(k)].width = w
    head, body = CellStyle(bold=True, border=False, align=Alignment()), CellStyle(border=False, align=Alignment())
    out = Rows(ref)
    out.append([(label, head) for label in ("改造类别", "改造内容", "Item", "依据")])
    cats = registry().code_list("renovation_category")
    basis = f"{defs.source['id']}（{defs.source['status']}）"
    for cat, item in defs.items():
        out.append([(value, body) for value in (cats.get(cat).zh, item.zh, item.en, basis)])
