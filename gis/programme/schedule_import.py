"""Reading the schedule table (时间配档表) back: one transaction through the programme's store and rules.

A header is recognised by its Chinese or English name, its column id or a few aliases, wherever the
header row is in the first ten rows of the sheet. Dates may be Excel dates or text (2026-03-15,
2026/3/15, 2026年3月15日). Rows that cannot be used are set aside with their reason (``strict``
refuses the whole file instead). Plan columns replace the stored plan; new actual dates advance the
stage (forward only); changed actual dates and lower spending are refused (corrections are an admin's).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel
from python_calamine import CalamineWorkbook
from sqlalchemy import Connection

from gis.errors import ImportRefusedError, ProgrammeError
from gis.ingest.precheck import check_archive
from gis.programme import acceptance_store, store
from gis.programme.dates import parse_date, parse_money
from gis.programme.definitions import (
    ProgrammeDefs,
    category_codes,
    funding_code,
    item_code,
    mgmt_code,
    programme_defs,
)
from gis.programme.model import Event, Project, furthest
from gis.programme.rules import (
    Checks,
    check_plan,
    check_spent,
    ordered_items,
    plan_events,
    progress_events,
    require_planner,
)
from gis.programme.schedule import LIST_SEP, SHEET, Column, columns, lookup
from gis.registry import normalise_label
from gis.store.database import Database

# The bounds of a schedule table, checked before the reader (python-calamine) opens it: what its zip
# archive may unpack to (from the archive's directory, before anything is inflated), no DTD in any part
# (calamine expands no entity, but refusing is the clear answer), and the rows and cells of each sheet
# (counted in its XML as it streams; the reader holds the sheet's values whole). 10,000 rows of 35
# columns unpack to 7 MB.
MAX_UNPACKED_BYTES = 256 << 20
MAX_ROWS = 50_000
MAX_CELLS = 2_000_000  # 50,000 rows of 40 columns
SHEET_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,15}:)?(row|c)[\s/>]")
DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
ENTITIES = (
    "holds an XML entity declaration (a DTD): spreadsheets never need one, and it is how a file expands to "
    'gigabytes ("billion laughs") or reads other files on the server (XXE); refused / 文件含XML实体声明，拒绝导入'
)

# the plan columns a row replaces when present (an empty cell clears)
PLAN_COLUMNS = (
    "categories",
    "items",
    "investment_planned",
    "property_mgmt_after",
    "responsible_street",
    "responsible_dept",
    "note",
)


class RowProblem(BaseModel):
    row: int
    key: str | None = None
    reason: str


class ScheduleImportReport(BaseModel):
    """What an import of a schedule table (时间配档表) did."""

    path: str
    sheet: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    events: int = 0
    rejected: list[RowProblem] = []
    strict: bool = False


def find_header(sheet: Any, table: dict[str, Column]) -> tuple[int, dict[int, Column]]:
    """The header row among the first 10 (the one naming most columns) and its columns by position."""
    best: tuple[int, dict[int, Column]] = (0, {})
    for r, row in enumerate(sheet.iter_rows(min_row=1, max_row=10, values_only=True), start=1):
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


def split(value: str) -> list[str]:
    """A list cell's entries, whatever separator the planner used."""
    for sep in (",", "，", ";", "；", "/", "\n"):
        value = value.replace(sep, LIST_SEP)
    return [p.strip() for p in value.split(LIST_SEP) if p.strip()]


def _integer(v: Any) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return int(str(v))


def _items(value: str, defs: ProgrammeDefs) -> list[str]:
    for _cat, item in defs.items():  # labels that contain the separator themselves
        if LIST_SEP in item.zh:
            value = value.replace(item.zh, item.id)
    return [item_code(x, defs) for x in split(value)]


def _parsers(defs: ProgrammeDefs) -> dict[str, Callable[[Any], Any]]:
    return {
        "key": _integer,
        "int": _integer,
        "date": parse_date,
        "money": parse_money,
        "categories": lambda v: category_codes(split(str(v))),
        "items": lambda v: _items(str(v), defs),
        "stage": lambda v: defs.resolve_stage(str(v)),
        "mgmt": lambda v: mgmt_code(str(v)),
        "text": str,
    }


@dataclass(frozen=True)
class RowParser:
    """Typed values of a row: the columns and their parsers, built once for a file."""

    by_id: dict[str, Column]
    parsers: dict[str, Callable[[Any], Any]]

    @classmethod
    def of(cls, defs: ProgrammeDefs) -> RowParser:
        return cls({c.id: c for c in columns(defs)}, _parsers(defs))

    def parse(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Typed values of one row and the problems found (a row with problems is set aside whole)."""
        out: dict[str, Any] = {}
        problems: list[str] = []
        for cid, v in raw.items():
            col = self.by_id[cid]
            if col.kind == "info":
                continue
            if isinstance(v, str):
                v = v.strip()
            if v is None or v == "":
                out[cid] = None
                continue
            try:
                out[cid] = self.parsers.get(col.kind, str)(v)
            except (ValueError, ProgrammeError) as exc:
                problems.append(f"{col.zh}: {exc}")
        return out, problems


@dataclass(frozen=True)
class Known:
    """What the file's rows refer to, read in a few queries before any row is checked: which of the
    ids given are compounds, and the compounds of each name given."""

    compounds: set[int]
    named: dict[str, list[tuple[int, str | None]]]

    @classmethod
    def read(cls, conn: Connection, parsed: list[tuple[dict[str, Any], dict[str, Any]]]) -> Known:
        """``parsed``: (typed values, raw cells) of the rows that parsed."""
        ids = [v["compound_id"] for v, _ in parsed if v.get("compound_id") is not None]
        names = [str(raw["name"]).strip() for v, raw in parsed if v.get("compound_id") is None and raw.get("name")]
        return cls(store.existing_compounds(conn, ids), store.compounds_by_name(conn, names))

    def resolve(self, values: dict[str, Any], raw: dict[str, Any]) -> tuple[int | None, str]:
        """The compound of a row by its id, else by its name (and street): (fid, "") or (None, why)."""
        if values.get("compound_id") is not None:
            fid = int(values["compound_id"])
            return (fid, "") if fid in self.compounds else (None, f"no compound {fid} / 无此小区编号")
        name = raw.get("name")
        if not name:
            return None, "no 小区编号 and no 小区名称 / 缺少小区编号和名称"
        street = str(raw.get("street")).strip() if raw.get("street") else None
        found = [fid for fid, st in self.named.get(str(name).strip(), []) if street is None or st == street]
        if len(found) == 1:
            return found[0], ""
        if not found:
            return None, f"no compound named {name} / 无此小区"
        return None, f"{len(found)} compounds are named {name}; give 小区编号 / 重名小区，请填小区编号"


@dataclass
class ImportContext:
    """One import: what changes are checked against, who makes them, the columns the file has, the
    ``--year`` given, the projects seen so far, and the stored projects and spending dates they touch."""

    checks: Checks
    as_of: date
    author: store.Author
    present: frozenset[str]
    year: int | None
    seen: set[tuple[int, int]] = field(default_factory=set)
    stored: dict[tuple[int, int], Project] = field(default_factory=dict)
    latest_spent: dict[int, date] = field(default_factory=dict)


# A row's way through the import: its sheet row and cells, then either the project it applies to
# (compound, year) and its typed values, or why it is set aside.
Located = tuple[int, dict[str, Any], tuple[int, int, dict[str, Any]] | str]
Change = tuple[Project | None, Project, list[Event]]


def import_schedule(
    db: Database,
    path: Path,
    *,
    year: int | None,
    strict: bool,
    actor: str,
    role: str,
    today: date,
    as_of: date | None,
) -> ScheduleImportReport:
    """Read a schedule table and apply it in one transaction (see :meth:`gis.programme.Programme.import_schedule`).

    Every row is checked as if it were applied alone, in the order of the file (no two rows touch
    the same project: a second one is refused), against what the transaction reads in a few
    set-based queries first; then every change is written in a few statements, and the compounds'
    stage follows in one update.
    """
    defs = programme_defs()
    require_planner(role, "importing a schedule")
    table = lookup(columns(defs))
    title, mapping, rows = read_table(path, table)
    report = ScheduleImportReport(path=str(path), sheet=title, strict=strict)
    author = store.Author(actor, role, source=path.name)
    parser = RowParser.of(defs)
    parsed = [(r, raw, *parser.parse(raw)) for r, raw in rows]
    with store.transaction(db, actor) as conn:
        checks = Checks(defs, today, store.locked_until(conn))
        present = frozenset(c.id for c in mapping.values())
        ctx = ImportContext(checks, as_of or today, author, present, year)
        known = Known.read(conn, [(values, raw) for _r, raw, values, problems in parsed if not problems])
        located: list[Located] = [
            (r, raw, locate(ctx, known, values, problems, raw)) for r, raw, values, problems in parsed
        ]
        ctx.stored = store.projects_for_update(
            conn, [(x[0], x[1]) for _r, _raw, x in located if not isinstance(x, str)]
        )
        ids = [p.id for p in ctx.stored.values() if p.id is not None]
        ctx.latest_spent = store.latest_spent_among(conn, ids)
        checks.accepted.update(acceptance_store.passed_on(conn, ids))
        changes: list[Change] = []
        for r, raw, where in located:
            report.rows += 1
            try:
                if isinstance(where, str):
                    raise ProgrammeError(where)
                outcome, change = apply_row(ctx, *where)
            except ProgrammeError as exc:
                key = str(raw.get("compound_id") or raw.get("name") or "")
                report.rejected.append(RowProblem(row=r, key=key, reason=str(exc)))
                continue
            if change is not None:
                changes.append(change)
                report.events += len(change[2])
            setattr(report, outcome, getattr(report, outcome) + 1)
        if strict and report.rejected:  # leaving the block by an exception rolls everything back
            raise ImportRefusedError(
                f"{len(report.rejected)} of {report.rows} rows cannot be used (--strict): nothing was written / "
                "有不合格行，未导入任何数据",
                report,
            )
        store.save_projects(conn, changes, author)
        store.sync_compounds(conn, None)  # a re-import of the compounds layer may have overwritten their stage
    return report


def locate(
    ctx: ImportContext, known: Known, values: dict[str, Any], problems: list[str], raw: dict[str, Any]
) -> tuple[int, int, dict[str, Any]] | str:
    """The project a row applies to, (compound, year, values), or why the row is set aside; in the
    order of the file (the second row of a project is refused)."""
    if problems:
        return "; ".join(problems)
    fid, why = known.resolve(values, raw)
    row_year = values.get("year") or ctx.year
    if fid is None or row_year is None:
        return why or "no 年度 and no --year / 缺少年度"
    if ctx.year is not None and values.get("year") not in (None, ctx.year):
        return f"年度 {values['year']} is not {ctx.year}"
    if (fid, row_year) in ctx.seen:
        return "the project appears twice / 重复行"
    ctx.seen.add((fid, row_year))
    return fid, int(row_year), values


def _unreadable(path: Path, exc: BaseException) -> str:
    """Why a workbook could not be read, in words."""
    said = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return f"{path.name} cannot be read as an XLSX workbook: {said}"


def scan_part(part: IO[bytes]) -> tuple[int, int, bool]:
    """(rows, cells, holds a DTD) of a part's XML, as it streams (a match cut by a chunk's end is
    counted in the next chunk, which starts with the last bytes of this one)."""
    keep = 32  # longer than any match
    counts = {b"row": 0, b"c": 0}
    dtd = False
    carry = b""
    while True:
        chunk = part.read(1 << 20)
        buffer = carry + chunk
        last = not chunk
        limit = len(buffer) if last else len(buffer) - keep
        # the matches that start before the limit (matches start at a "<" and hold no other one)
        found, tail = SHEET_ELEMENT.findall(buffer), SHEET_ELEMENT.findall(buffer, limit)
        for name in counts:
            counts[name] += found.count(name) - tail.count(name)
        dtd = dtd or DTD.search(buffer) is not None
        if last:
            return counts[b"row"], counts[b"c"], dtd
        carry = buffer[limit:]


def check_workbook(path: Path) -> None:
    """Refuse a workbook that would unpack past :data:`MAX_UNPACKED_BYTES`, any of whose XML parts
    holds a DTD (:data:`ENTITIES`), or whose sheets hold more than :data:`MAX_ROWS` rows or
    :data:`MAX_CELLS` cells, before the reader opens it."""
    members = check_archive(path, max_unpacked=MAX_UNPACKED_BYTES, what="an XLSX workbook (时间配档表)")
    try:
        with zipfile.ZipFile(path) as archive:
            for m in members:
                if m.is_dir():
                    continue
                with archive.open(m) as part:
                    rows, cells, dtd = scan_part(part)
                if dtd:
                    raise ImportRefusedError(f"{path.name} {ENTITIES}")
                if not (m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml")):
                    continue
                if rows > MAX_ROWS + 10 or cells > MAX_CELLS:  # + the rows above a header
                    raise ImportRefusedError(
                        f"{path.name}: a sheet ({m.filename}) holds {rows:,} rows and {cells:,} cells; a schedule "
                        f"table has at most {MAX_ROWS:,} rows and {MAX_CELLS:,} cells (split it by district) / "
                        "行数超过上限"
                    )
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ImportRefusedError(f"{path.name} is a damaged zip archive ({exc}); save the workbook again") from None


class SheetRows:
    """A sheet as python-calamine reads it (the values Excel stored, formulas' cached results), its rows
    as openpyxl's ``iter_rows(values_only=True)`` gives them: from the sheet's first row, empty cells
    None, whole numbers int."""

    def __init__(self, sheet: Any) -> None:
        self.title: str = sheet.name
        self._rows: list[list[Any]] = sheet.to_python(skip_empty_area=False)  # from A1

    def iter_rows(
        self, min_row: int = 1, max_row: int | None = None, values_only: bool = True
    ) -> Iterator[tuple[Any, ...]]:
        """Rows ``min_row`` to ``max_row`` (sheet row numbers, from 1), empty ones included."""
        for row in self._rows[min_row - 1 : max_row]:
            yield tuple(_cell(v) for v in row)


def _cell(v: Any) -> Any:
    if v == "":
        return None
    if type(v) is float and v.is_integer():  # Excel stores every number as a float
        return int(v)
    return v


def read_table(path: Path, table: dict[str, Column]) -> tuple[str, dict[int, Column], list[tuple[int, dict[str, Any]]]]:
    """The sheet's title, its columns by position and its data rows, read whole before any is applied:
    the archive checked first (:func:`check_workbook`), then at most :data:`MAX_ROWS` rows."""
    check_workbook(path)
    try:
        with CalamineWorkbook.from_path(str(path)) as wb:
            name = SHEET if SHEET in wb.sheet_names else wb.sheet_names[0]
            sheet = SheetRows(wb.get_sheet_by_name(name))
        header, mapping = find_header(sheet, table)
        return sheet.title, mapping, list(data_rows(sheet, header, mapping, table))
    except ImportRefusedError:
        raise
    except Exception as exc:  # calamine, zipfile and the XML parser raise many kinds for a broken file
        raise ImportRefusedError(_unreadable(path, exc)) from None


def data_rows(
    sheet: Any, header: int, mapping: dict[int, Column], table: dict[str, Column]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, cells by column id) of every row below the header that holds data; a sheet of more
    than :data:`MAX_ROWS` rows (empty ones included: the sheet's own count) is refused."""
    for r, cells in enumerate(sheet.iter_rows(min_row=header + 1, values_only=True), start=header + 1):
        if r > MAX_ROWS + header:
            raise ImportRefusedError(
                f"the sheet {sheet.title} has more than {MAX_ROWS:,} rows below its header; a schedule table "
                f"has at most {MAX_ROWS:,} (split it by district) / 行数超过上限"
            )
        raw = {c.id: cells[k] if k < len(cells) else None for k, c in mapping.items()}
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in raw.values()):
            continue
        if sum(1 for v in raw.values() if isinstance(v, str) and normalise_label(v) in table) >= 3:
            continue  # a second header row (English names)
        yield r, raw


def apply_row(ctx: ImportContext, fid: int, year: int, values: dict[str, Any]) -> tuple[str, Change | None]:
    """Check a row against the stored project: ``(created | updated | unchanged, the change to write)``;
    ProgrammeError says why it is set aside."""
    defs = ctx.checks.defs
    before = ctx.stored.get((fid, year)) or Project(compound_id=fid, year=year)  # read, never changed
    after = planned_from_row(before, values, ctx.present, defs)
    after.actual = actual_from_row(before, values, ctx.present, defs)
    after.stage = furthest(after.actual, defs)
    stated = values.get("stage") if "stage" in ctx.present else None
    if stated is not None and stated != after.stage:
        reached = defs.stage(after.stage).zh if after.stage else "未启动"
        raise ProgrammeError(
            f"当前阶段 {defs.stage(stated).zh} does not match the actual dates (they reach {reached}); "
            "give the date the stage was reached / 当前阶段与实际日期不符"
        )
    if defs.index(after.stage) < defs.index(before.stage):
        raise ProgrammeError("stages only move forward / 阶段只能前进")
    events = plan_events(None if before.is_new else before, after)
    events += progress_events(before, after, ctx.checks)
    events += spending_from_row(ctx, before, after, values)
    if not events:
        return "unchanged", None
    return ("created" if before.is_new else "updated"), (None if before.is_new else before, after, events)


def planned_from_row(before: Project, values: dict[str, Any], present: frozenset[str], defs: ProgrammeDefs) -> Project:
    """The project with the row's plan: the columns present replace the stored values."""
    after = before.copy()
    for name in PLAN_COLUMNS:
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
        after.funding = {funding_code(c.removeprefix("funding_"), defs): values[c] for c in given}
    after.items = ordered_items(after.items, defs)
    check_plan(after, defs)
    return after


def actual_from_row(
    before: Project, values: dict[str, Any], present: frozenset[str], defs: ProgrammeDefs
) -> dict[str, date]:
    """The actual dates with the row's new ones; a reported date left empty is refused."""
    actual = dict(before.actual)
    for s in defs.stage_ids:
        if f"actual_{s}" not in present:
            continue
        v = values.get(f"actual_{s}")
        if v is None and s in before.actual:
            raise ProgrammeError(
                f"实际{defs.stage(s).milestone_zh} {before.actual[s]} was reported and is now empty; an admin "
                "corrects it with a reason / 已填报的实际日期不能删除，更正须由管理员"
            )
        if v is not None:
            actual[s] = v
    return actual


def spending_from_row(ctx: ImportContext, before: Project, after: Project, values: dict[str, Any]) -> list[Event]:
    """The row's spending (as of the import's date) set on ``after``, and its event if it changed."""
    if "investment_spent" not in ctx.present:
        return []
    after.investment_spent = values.get("investment_spent")
    if after.investment_spent is None and before.investment_spent is not None:
        raise ProgrammeError("累计完成投资 was reported and is now empty / 已填报的完成投资不能删除")
    if after.investment_spent == before.investment_spent:
        return []
    latest = ctx.latest_spent.get(before.id) if before.id is not None else None
    check_spent(before, after, ctx.as_of, ctx.checks, latest)
    changes: dict[str, list[Any]] = {"investment_spent": [before.investment_spent, after.investment_spent]}
    return [Event("spent", changes, effective=ctx.as_of)]
