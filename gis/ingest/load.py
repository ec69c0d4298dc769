"""One import, start to end: read, decide the CRS, prepare, write in one transaction, report."""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np
import psycopg
import shapely
from pyproj import CRS, Transformer
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from gis.bars import progress
from gis.crs import Coords, check_plausible, crs_label, describe_coordinates, parse_crs, working_crs_for
from gis.errors import CRSError, ImportFailedError, ImportRefusedError, ReadOnlyLayerError, WorkingCRSMismatchError
from gis.ingest import history
from gis.ingest.import_report import ImportReport
from gis.ingest.osm import read_osm
from gis.ingest.precheck import MAX_COORDINATE
from gis.ingest.prepare import Prepared, Steps, prepare_parts
from gis.ingest.readers import CSV_SUFFIXES, RawSource, is_osm, read_csv, read_vector
from gis.ingest.writer import RowWriter, WriteCounts, write_rows
from gis.registry import LayerDef, Registry
from gis.store import schema
from gis.store.audit import audited

WGS84 = CRS.from_epsg(4326)
# A file is written in about PARTS parts of PART_LEAST to PART_MOST features each: the database
# ingests one while the next is prepared (with 2 cores, the two take turns least at this size).
PARTS, PART_LEAST, PART_MOST = 8, 2_000, 25_000


def _bounds(raw: RawSource) -> tuple[float, float, float, float] | None:
    geoms = np.array([g for g in raw.geometries if g is not None], dtype=object)
    if not len(geoms):
        return None
    xy = shapely.get_coordinates(geoms)
    with np.errstate(invalid="ignore"):
        xy = xy[(np.abs(xy) <= MAX_COORDINATE).all(axis=1)]  # NaN, infinity and 1e308 are no place
    if not len(xy):
        return None
    return (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))


def _source_crs(
    raw: RawSource,
    bounds: tuple[float, float, float, float] | None,
    crs: str | None,
    coords: Coords,
    report: ImportReport,
) -> CRS:
    if raw.driver == "OSM":
        src = WGS84
        report.crs_declared = "EPSG:4326 (OpenStreetMap)"
    elif crs is not None:
        src = parse_crs(crs)
        report.crs_declared = crs_label(raw.crs) if raw.crs else None
        if bounds:
            check_plausible(bounds, src, origin="--crs")
        if raw.crs is not None and raw.crs != src:
            report.crs_note = f"{raw.crs_origin} says {crs_label(raw.crs)}; --crs {crs} used instead"
    elif raw.crs is not None:
        src = raw.crs
        report.crs_declared = crs_label(src)
        if bounds:
            check_plausible(bounds, src, origin=raw.crs_origin)
    else:
        if bounds and -180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90:
            src = WGS84
            report.crs_note = (
                f"{raw.crs_origin} declares no CRS; the coordinates look like degrees, read as WGS 84 "
                "(EPSG:4326). Pass --crs EPSG:4490 for CGCS2000, or --coords gcj02/bd09 for Amap/Baidu points."
            )
            report.warnings.append(report.crs_note)
        else:
            looks = describe_coordinates(bounds) if bounds else "no usable coordinates"
            raise CRSError(f"{raw.crs_origin} declares no CRS and the coordinates are {looks}. Pass --crs.")
    if coords != "wgs84" and not src.is_geographic:
        raise CRSError(
            f"--coords {coords} applies to longitude/latitude in degrees, but the data are in {crs_label(src)}"
        )
    report.crs_used = crs_label(src)
    return src


def _working_crs(
    engine: Engine, bounds: tuple[float, float, float, float] | None, src: CRS, configured: str | None
) -> CRS:
    """The database's working CRS; before the first load, the configured one or the data's GK zone."""
    with engine.connect() as conn:
        stored = schema.stored_working_crs(conn)
    wanted = parse_crs(configured) if configured else None
    if bounds is None:
        raise ImportRefusedError("no usable coordinates in the file")
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    lon, lat = Transformer.from_crs(src, WGS84, always_xy=True).transform(cx, cy)
    if stored is not None and wanted is not None and wanted != stored:
        raise WorkingCRSMismatchError(
            f"GISPLAN_WORKING_CRS is {crs_label(wanted)} but this database stores {crs_label(stored)}; "
            "unset it or use another database"
        )
    work = stored or wanted or working_crs_for(lon, lat)
    area = work.area_of_use
    margin = 6.0  # degrees; a metric zone stretched this far would distort distances badly
    if area is not None and not (
        area.west - margin <= lon <= area.east + margin and area.south - margin <= lat <= area.north + margin
    ):
        raise CRSError(
            f"the data lie around {lon:.3f}°, {lat:.3f}°, far outside the working CRS {crs_label(work)} "
            f"({area.name}); distances there would be wrong. Load them into a database of their own "
            "(another GISPLAN_HOME or GISPLAN_DATABASE_URL)"
        )
    return work


def _stem(path: Path, layer: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    safe = re.sub(r"[^\w.-]+", "_", path.stem)[:60]
    return f"{stamp}-{layer}-{safe}"


class ImportOptions(TypedDict, total=False):
    """Options of one import; see ``Workspace.load`` for their meaning."""

    encoding: str | None
    crs: str | None
    coords: Coords
    type: str | None
    replace: bool
    strict: bool
    source: str | None
    source_layer: str | None
    actor: str


def check_options(options: Mapping[str, object]) -> None:
    """Refuse a keyword that is not an import option (a typo would otherwise pass unnoticed)."""
    unknown = set(options) - set(ImportOptions.__annotations__)
    if unknown:
        valid = ", ".join(ImportOptions.__annotations__)
        raise TypeError(f"unknown import option(s) {', '.join(sorted(unknown))}; valid: {valid}")


@dataclass(frozen=True)
class ImportRequest:
    """One import: the layer, the file, and the options (:class:`ImportOptions`) with their defaults."""

    layer: LayerDef
    path: Path
    encoding: str | None = None
    crs: str | None = None
    coords: Coords = "wgs84"
    type: str | None = None
    replace: bool = False
    strict: bool = False
    source: str | None = None
    source_layer: str | None = None
    actor: str = "gisplan"

    @property
    def osm(self) -> bool:
        return is_osm(self.path)

    @property
    def source_name(self) -> str:
        """The name re-imports are matched under: as given, else ``osm``, else the file's (and layer's)."""
        if self.source:
            return self.source
        if self.osm:
            return "osm"
        return self.path.name + (f":{self.source_layer}" if self.source_layer else "")

    def recorded_options(self) -> dict[str, object]:
        """The options as the ``imports`` table keeps them."""
        return {
            "encoding": self.encoding,
            "crs": self.crs,
            "coords": self.coords,
            "type": self.type,
            "replace": self.replace,
            "strict": self.strict,
            "source_layer": self.source_layer,
        }


def _type_option(request: ImportRequest, registry: Registry) -> str | None:
    """The type code ``--type`` names, checked against the layer's type field."""
    if request.type is None:
        return None
    layer = request.layer
    if not layer.type_field:
        raise ImportRefusedError(f"--type applies to layers with a type field; {layer.id} has none")
    codes = registry.code_list(layer.field(layer.type_field).codes or "")
    resolved = codes.resolve(request.type)
    if resolved is None:
        valid = ", ".join(f"{c.id} ({c.zh})" for c in codes.codes)
        raise ImportRefusedError(f"--type {request.type!r} is not a {layer.type_field} of {layer.id}; valid: {valid}")
    return resolved


def _type_from_names(raw: RawSource, request: ImportRequest, registry: Registry, report: ImportReport) -> str | None:
    """Survey deliveries name their layers or files after the kind: 给水.shp, a GeoPackage layer 燃气."""
    layer = request.layer
    if not layer.type_field or request.osm:
        return None
    codes = registry.code_list(layer.field(layer.type_field).codes or "")
    for name in (raw.layer_name, request.path.stem):
        found = codes.resolve(name) if name else None
        if found:
            report.warnings.append(
                f"{layer.type_field} {found} taken from the name {name!r} for features that carry none"
            )
            return found
    return None


def _read(request: ImportRequest, registry: Registry) -> RawSource:
    if request.osm:
        return read_osm(request.path, request.layer, registry)
    if request.path.suffix.lower() in CSV_SUFFIXES:
        return read_csv(request.path, encoding=request.encoding)
    return read_vector(request.path, request.layer, encoding=request.encoding, source_layer=request.source_layer)


def _describe_source(report: ImportReport, raw: RawSource) -> None:
    report.driver = raw.driver
    report.source_layers = raw.source_layers
    report.encoding, report.encoding_note = raw.encoding, raw.encoding_note
    report.warnings.extend(raw.warnings)
    report.not_relevant = raw.not_relevant


def _crs_pair(
    engine: Engine, raw: RawSource, request: ImportRequest, report: ImportReport, configured: str | None
) -> tuple[CRS, CRS]:
    """The data's CRS and the working CRS they are stored in."""
    bounds = _bounds(raw)
    if bounds is None:
        raise ImportRefusedError(_unusable(raw, request.path.name))
    src = _source_crs(raw, bounds, request.crs, request.coords, report)
    work = _working_crs(engine, bounds, src, configured)
    report.working_crs = crs_label(work)
    return src, work


def _unusable(raw: RawSource, name: str) -> str:
    """Why no feature of a file has a coordinate to place it by: the reader's reason, or what there is."""
    n = len(raw.geometries)
    known = [str(r) for r in (raw.rejected_reasons if raw.rejected_reasons is not None else []) if r]
    if known:
        return f"none of the {n:,} features of {name} can be used (first: {known[0]}); nothing was loaded"
    broken = int(raw.unparseable.sum())
    missing = sum(g is None for g in raw.geometries) - broken
    gdal = next((w.removeprefix("GDAL: ") for w in raw.warnings if w.startswith("GDAL: ")), None)
    kinds = [
        f"{missing:,} without a geometry GDAL could read" + (f" (GDAL: {gdal})" if gdal else "") if missing else "",
        f"{broken:,} whose geometry cannot be parsed" if broken else "",
        f"{n - missing - broken:,} whose coordinates are NaN, infinite or beyond {MAX_COORDINATE:.0e}"
        if n - missing - broken
        else "",
    ]
    return (
        f"none of the {n:,} features of {name} has coordinates that can be used: "
        f"{', '.join(k for k in kinds if k)}; nothing was loaded"
    )


def _take_findings(report: ImportReport, prep: Prepared, request: ImportRequest) -> None:
    """Put what preparing found into the report; refuse the file when nothing (or, strict, not all) can be used."""
    report.read = prep.read
    report.warnings.extend(prep.warnings)
    report.repaired, report.rejected, report.field_issues = prep.repaired, prep.rejected, prep.field_issues
    if request.strict and (prep.rejected or prep.field_issues or prep.repaired):
        first = (prep.rejected or prep.field_issues or prep.repaired)[0]
        raise ImportRefusedError(
            f"--strict: {len(prep.rejected)} of {prep.read} features cannot be used, "
            f"{len(prep.repaired)} would need repair and {len(prep.field_issues)} values cannot be read "
            f"(first: #{first.index} {first.reason}); nothing was loaded"
        )
    if not prep.keys:
        why = f" (first: #{prep.rejected[0].index} {prep.rejected[0].reason})" if prep.rejected else ""
        raise ImportRefusedError(
            f"none of the {prep.read} features of {request.path.name} can be used{why}; nothing was loaded"
        )


def _take_counts(report: ImportReport, counts: WriteCounts, prep: Prepared) -> None:
    report.inserted, report.updated, report.unchanged = counts.inserted, counts.updated, counts.unchanged
    report.deleted, report.not_in_file = counts.deleted, counts.not_in_file
    report.loaded = len(prep.keys)
    if counts.not_in_file:
        report.warnings.append(
            f"{counts.not_in_file} features of source {report.source} already in {report.layer} are not in "
            "this file; they were kept (use --replace to swap the layer's content)"
        )


def _write(
    engine: Engine, request: ImportRequest, prep: Prepared, report: ImportReport, work: CRS, started: float
) -> None:
    """Record the import and merge its rows, in one audited transaction."""
    schema.upgrade(engine, work)  # creates the schema on first load; a no-op at head
    with audited(engine, request.actor) as conn:
        import_id = _record(conn, request, report)
        counts = write_rows(conn, request.layer, prep, source=report.source, replace=request.replace)
        report.import_id = import_id
        _take_counts(report, counts, prep)
        report.seconds = round(time.perf_counter() - started, 3)
        report.finished_at = datetime.now(UTC)
        history.attach_report(conn, import_id, report.summary())


def _record(conn: Connection, request: ImportRequest, report: ImportReport) -> int:
    """The import's row in ``imports`` (who, which layer and file, the options), in ``conn``'s transaction."""
    return history.record(
        conn,
        actor=request.actor,
        layer=request.layer.id,
        source=report.source,
        path=str(request.path),
        options=request.recorded_options(),
    )


def _write_in_parts(engine: Engine, request: ImportRequest, steps: Steps, report: ImportReport, started: float) -> None:
    """Prepare and write a part of the file at a time in one audited transaction, the database
    writing one part (its COPY, indexes and audit rows) while the next is prepared; refused, as
    :func:`_take_findings` says, once every part has been seen (the transaction then rolls back)."""
    n = len(steps.raw.geometries)
    size = min(PART_MOST, max(PART_LEAST, -(-n // PARTS)))
    with audited(engine, request.actor) as conn:
        import_id = _record(conn, request, report)
        writer = RowWriter(conn, request.layer, source=report.source, replace=request.replace)
        seen = Prepared.nothing()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gisplan-copy") as pool:
            pending: Future[None] | None = None
            for part in prepare_parts(steps, size):
                seen.add(part)
                if pending is not None:
                    pending.result()  # one part in the database at a time; its error stops the import
                pending = pool.submit(writer.write, part)
            if pending is not None:
                pending.result()
        _take_findings(report, seen, request)
        counts = writer.finish(len(seen.keys))
        report.import_id = import_id
        _take_counts(report, counts, seen)
        report.seconds = round(time.perf_counter() - started, 3)
        report.finished_at = datetime.now(UTC)
        history.attach_report(conn, import_id, report.summary())


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic GC finds nothing to free among the many small objects a large read creates, yet
    its passes over them cost a tenth of the import; it is off while reading and preparing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _save(report: ImportReport, request: ImportRequest, reports_dir: Path | None) -> None:
    if reports_dir is not None:
        report.write(reports_dir, _stem(request.path, request.layer.id))


def _refused(report: ImportReport, why: str, started: float) -> None:
    report.refused = why
    report.seconds = round(time.perf_counter() - started, 3)


def load_file(
    engine: Engine,
    registry: Registry,
    layer_id: str,
    path: str | Path,
    *,
    working_crs: str | None = None,
    reports_dir: Path | None = None,
    **options: Unpack[ImportOptions],
) -> ImportReport:
    """Import ``path`` into layer ``layer_id`` in one transaction. See ``Workspace.load``."""
    check_options(options)
    if registry.layer(layer_id).read_only:
        raise ReadOnlyLayerError(f"{layer_id} is not imported from files: gisplan evidence add attaches evidence")
    started = time.perf_counter()
    request = ImportRequest(layer=registry.layer(layer_id), path=Path(path), **options)
    report = ImportReport(
        layer=request.layer.id,
        path=str(request.path),
        source=request.source_name,
        coords=request.coords,
        strict=request.strict,
        replace=request.replace,
    )
    type_default = _type_option(request, registry)
    bars = ExitStack()  # closed in the finally below, whichever way the import ends
    bar = bars.enter_context(progress(f"导入 {request.path.name} → {request.layer.id}", total=3))
    try:
        with _collector_paused():
            bar.set_postfix_str("读取 reading")
            raw = _read(request, registry)
            if type_default is None:
                type_default = _type_from_names(raw, request, registry, report)
            _describe_source(report, raw)
            if len(raw.geometries) == 0:
                left_out = f" ({'; '.join(raw.dropped)})" if raw.dropped else ""
                raise ImportRefusedError(
                    f"{request.path.name} holds no features for layer {request.layer.id}{left_out}"
                )
            bar.update()
            bar.set_postfix_str(f"检查 checking {len(raw.geometries):,}")
            src, work = _crs_pair(engine, raw, request, report, working_crs)
            steps = Steps(raw, request.layer, registry, src, work, request.coords, type_default)
            # In parts when the schema is there already and the import need not see every feature
            # before it writes (--strict refuses on the first problem, naming them all): a refused
            # first import must not even create the schema.
            if not request.strict and schema.at_head(engine):
                bar.update()
                bar.set_postfix_str(f"检查与写入 checking and writing {len(raw.geometries):,}")
                _write_in_parts(engine, request, steps, report, started)
            else:
                prep = steps.part(0, len(raw.geometries))
                _take_findings(report, prep, request)
                bar.update()
                bar.set_postfix_str("写入 writing")
                _write(engine, request, prep, report, work, started)
    except (DBAPIError, psycopg.Error) as exc:
        said = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"])[0][:300]
        why = f"the database refused the write ({said}); the transaction was rolled back, nothing changed"
        _refused(report, why, started)
        _save(report, request, reports_dir)
        raise ImportFailedError(why, report) from exc
    except ImportRefusedError as exc:
        _refused(report, str(exc), started)
        _save(report, request, reports_dir)
        exc.report = report
        raise
    finally:
        bar.update()
        bars.close()
    _save(report, request, reports_dir)
    return report
