"""``gisplan load`` and ``gisplan layers``: import a file into a layer, list the layers.

``load`` takes ``# noqa: PLR0913``: its parameters are the command's options, the CLI contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from gis.cli.common import actor, open_database, open_workspace, out, print_refused, settings

EXAMPLES = """Examples / 示例:

  gisplan load compounds 小区.shp

  gisplan load compounds land.shp --crs EPSG:4547      (the .prj lies: GK metres, CM 114E)

  gisplan load facilities 学校.shp --type primary_school

  gisplan load facilities 高德POI.csv --coords gcj02

  gisplan load roads map.osm
"""

COORDS = ("wgs84", "gcj02", "bd09")


def load(  # noqa: PLR0913
    layer: Annotated[str, typer.Argument(help="Target layer: compounds, facilities, pipelines, roads, buildings.")],
    path: Annotated[Path, typer.Argument(help="Shapefile, GeoPackage, GeoJSON, FlatGeobuf, DXF, CSV, OSM XML/PBF.")],
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding (default: .cpg, else UTF-8 or GB18030 detected).")
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(help="The data's real CRS, e.g. EPSG:4547, when the file's is missing or wrong."),
    ] = None,
    coords: Annotated[
        str,
        typer.Option(help="wgs84, or gcj02 (Amap/Tencent) / bd09 (Baidu) to convert commercial-map coordinates."),
    ] = "wgs84",
    type: Annotated[
        str | None,
        typer.Option("--type", help="Type/kind for features that carry none, e.g. primary_school, 幼儿园, JS."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Swap the layer's whole content for this file's, atomically.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse the whole file if any feature cannot be used.")
    ] = False,
    source: Annotated[
        str | None, typer.Option(help="Name re-imports are matched under (default: file name; osm for OSM).")
    ] = None,
    source_layer: Annotated[str | None, typer.Option(help="Layer of a multi-layer file (GeoPackage) to read.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import a file into a layer (导入图层). One transaction: a refused import changes nothing.

    Prints counts and per-feature problems; features that cannot be used are set aside into a
    rejects CSV next to the report. Exit code 1 when the file was refused.
    """
    from gis.errors import ImportRefusedError
    from gis.import_printers import print_import_report
    from gis.ingest import load_file
    from gis.registry import registry

    if coords not in COORDS:
        raise typer.BadParameter("choose wgs84, gcj02 or bd09", param_hint="--coords")
    coords_value: Literal["wgs84", "gcj02", "bd09"] = coords  # type: ignore[assignment]
    config = settings()
    db = open_database(config)  # the importer alone: no maps, analyses or programme loaded
    try:
        report = load_file(
            db.engine,
            registry(),
            layer,
            path,
            working_crs=config.working_crs,
            reports_dir=config.reports_dir,
            encoding=encoding,
            crs=crs,
            coords=coords_value,
            type=type,
            replace=replace,
            strict=strict,
            source=source,
            source_layer=source_layer,
            actor=actor(),
        )
    except ImportRefusedError as exc:
        refused(exc, as_json=as_json)
        raise typer.Exit(1) from None
    if as_json:
        out.print_json(report.model_dump_json())
    else:
        print_import_report(out, report)


def refused(exc: Exception, *, as_json: bool) -> None:
    """Say why an import was refused: its report as JSON, or its problems and the reason."""
    from gis.errors import ImportRefusedError
    from gis.import_printers import print_import_report
    from gis.ingest import ImportReport

    report = exc.report if isinstance(exc, ImportRefusedError) else None
    if as_json and isinstance(report, ImportReport):
        out.print_json(report.model_dump_json())
        return
    if isinstance(report, ImportReport) and report.rejected:
        print_import_report(out, report)
    print_refused(exc)


def layers() -> None:
    """List the layers with their labels, geometry types and feature counts (图层列表)."""
    from gis.printers import print_layers

    ws = open_workspace()
    print_layers(out, ws.layers(), ws.working_crs)
