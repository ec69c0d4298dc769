"""One import, start to end: read, decide the CRS, prepare, write in one transaction, report."""

from __future__ import annotations

import gc
import json
import re
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np
import psycopg
import shapely
from pyproj import CRS, Transformer
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from gis.bars import progress
from gis.crs import Coords, check_plausible, crs_label, describe_coordinates, parse_crs, working_crs_for
from gis.errors import CRSError, ImportFailedError, ImportRefusedError, WorkingCRSMismatchError
from gis.ingest.attributes import json_safe
from gis.ingest.import_report import ImportReport
from gis.ingest.osm import read_osm
from gis.ingest.prepare import prepare
from gis.ingest.readers import CSV_SUFFIXES, RawSource, is_osm, read_csv, read_vector
from gis.ingest.writer import write_rows
from gis.registry import Registry
from gis.store import schema

WGS84 = CRS.from_epsg(4326)


def _bounds(raw: RawSource) -> tuple[float, float, float, float] | None:
    geoms = np.array([g for g in raw.geometries if g is not None], dtype=object)
    if not len(geoms):
        return None
    xy = shapely.get_coordinates(geoms)
    xy = xy[np.isfinite(xy).all(axis=1)]
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
    unknown = set(options) - set(ImportOptions.__annotations__)
    if unknown:
        valid = ", ".join(ImportOptions.__annotations__)
        raise TypeError(f"unknown import option(s) {', '.join(sorted(unknown))}; valid: {valid}")
    encoding = options.get("encoding")
    crs = options.get("crs")
    coords: Coords = options.get("coords", "wgs84")
    type = options.get("type")
    replace = options.get("replace", False)
    strict = options.get("strict", False)
    source = options.get("source")
    source_layer = options.get("source_layer")
    actor = options.get("actor", "gisplan")
    started = time.perf_counter()
    layer = registry.layer(layer_id)
    path = Path(path)
    osm = is_osm(path)
    report = ImportReport(
        layer=layer.id,
        path=str(path),
        source=source or ("osm" if osm else path.name + (f":{source_layer}" if source_layer else "")),
        coords=coords,
        strict=strict,
        replace=replace,
    )
    type_default = None
    if type is not None:
        if not layer.type_field:
            raise ImportRefusedError(f"--type applies to layers with a type field; {layer.id} has none")
        codes = registry.code_list(layer.field(layer.type_field).codes or "")
        type_default = codes.resolve(type)
        if type_default is None:
            valid = ", ".join(f"{c.id} ({c.zh})" for c in codes.codes)
            raise ImportRefusedError(f"--type {type!r} is not a {layer.type_field} of {layer.id}; valid: {valid}")

    # The cyclic GC finds nothing to free among the many small objects a large read creates, yet
    # its passes over them cost a tenth of the import; it is off while reading and preparing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    bars = ExitStack()  # closed in the finally below, whichever way the import ends
    bar = bars.enter_context(progress(f"导入 {path.name} → {layer.id}", total=3))
    try:
        bar.set_postfix_str("读取 reading")
        if osm:
            raw = read_osm(path, layer, registry)
        elif path.suffix.lower() in CSV_SUFFIXES:
            raw = read_csv(path, encoding=encoding)
        else:
            raw = read_vector(path, layer, encoding=encoding, source_layer=source_layer)
        report.driver = raw.driver
        if type_default is None and layer.type_field and not osm:
            # survey deliveries name their layers or files after the kind: 给水.shp, a GeoPackage layer 燃气
            codes = registry.code_list(layer.field(layer.type_field).codes or "")
            for name in (raw.layer_name, path.stem):
                if name and codes.resolve(name):
                    type_default = codes.resolve(name)
                    report.warnings.append(
                        f"{layer.type_field} {type_default} taken from the name {name!r} for features that carry none"
                    )
                    break
        report.source_layers = raw.source_layers
        report.encoding, report.encoding_note = raw.encoding, raw.encoding_note
        report.warnings.extend(raw.warnings)
        report.not_relevant = raw.not_relevant
        if len(raw.geometries) == 0:
            raise ImportRefusedError(f"{path.name} holds no features for layer {layer.id}")
        bar.update()
        bar.set_postfix_str(f"检查 checking {len(raw.geometries):,}")
        bounds = _bounds(raw)
        src = _source_crs(raw, bounds, crs, coords, report)
        work = _working_crs(engine, bounds, src, working_crs)
        report.working_crs = crs_label(work)
        prep = prepare(raw, layer, registry, source_crs=src, working_crs=work, coords=coords, type_default=type_default)
        if gc_was_enabled:
            gc.enable()
        report.read = prep.read
        report.warnings.extend(prep.warnings)
        report.repaired, report.rejected, report.field_issues = (
            prep.repaired,
            prep.rejected,
            prep.field_issues,
        )
        if strict and (prep.rejected or prep.field_issues):
            first = (prep.rejected or prep.field_issues)[0]
            raise ImportRefusedError(
                f"--strict: {len(prep.rejected)} of {prep.read} features cannot be used and "
                f"{len(prep.field_issues)} values cannot be read (first: #{first.index} {first.reason}); "
                "nothing was loaded"
            )
        if not prep.keys:
            raise ImportRefusedError(f"none of the {prep.read} features of {path.name} can be used; nothing was loaded")
        bar.update()
        bar.set_postfix_str("写入 writing")
        schema.upgrade(engine, work)  # creates the schema on first load; a no-op at head
        srid = work.to_epsg()
        assert srid is not None
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('gisplan.actor', :a, true)"), {"a": actor})
            import_id: int = conn.execute(
                text(
                    "INSERT INTO imports (actor, layer, source, path, options) "
                    "VALUES (:actor, :layer, :source, :path, CAST(:options AS jsonb)) RETURNING id"
                ),
                {
                    "actor": actor,
                    "layer": layer.id,
                    "source": report.source,
                    "path": str(path),
                    "options": _json(
                        {
                            "encoding": encoding,
                            "crs": crs,
                            "coords": coords,
                            "type": type,
                            "replace": replace,
                            "strict": strict,
                            "source_layer": source_layer,
                        }
                    ),
                },
            ).scalar_one()
            conn.execute(text("SELECT set_config('gisplan.import_id', :i, true)"), {"i": str(import_id)})
            counts = write_rows(conn, layer, prep, source=report.source, srid=srid, replace=replace)
            report.import_id = int(import_id)
            report.inserted, report.updated, report.unchanged = (
                counts.inserted,
                counts.updated,
                counts.unchanged,
            )
            report.deleted, report.not_in_file = counts.deleted, counts.not_in_file
            report.loaded = len(prep.keys)
            if counts.not_in_file:
                report.warnings.append(
                    f"{counts.not_in_file} features of source {report.source} already in {layer.id} are not in "
                    "this file; they were kept (use --replace to swap the layer's content)"
                )
            report.seconds = round(time.perf_counter() - started, 3)
            report.finished_at = datetime.now(UTC)
            conn.execute(
                text("UPDATE imports SET report = CAST(:r AS jsonb) WHERE id = :i"),
                {"r": _json(report.summary()), "i": import_id},
            )
    except (DBAPIError, psycopg.Error) as exc:
        said = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"])[0][:300]
        report.refused = f"the database refused the write ({said}); the transaction was rolled back, nothing changed"
        report.seconds = round(time.perf_counter() - started, 3)
        if reports_dir is not None:
            report.write(reports_dir, _stem(path, layer.id))
        raise ImportFailedError(report.refused, report) from exc
    except ImportRefusedError as exc:
        report.refused = str(exc)
        report.seconds = round(time.perf_counter() - started, 3)
        if reports_dir is not None:
            report.write(reports_dir, _stem(path, layer.id))
        exc.report = report
        raise
    finally:
        bar.update()
        bars.close()
        if gc_was_enabled:
            gc.enable()
    if reports_dir is not None:
        report.write(reports_dir, _stem(path, layer.id))
    return report


def _json(value: object) -> str:
    return json.dumps(json_safe(value), ensure_ascii=False, default=str)
