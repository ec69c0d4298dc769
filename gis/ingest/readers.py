"""Reading files into a uniform raw form: attributes as read, geometries, the declared CRS.

Every vector format goes through pyogrio's raw reader (GDAL), so that a geometry shapely cannot
parse (an OSM multipolygon with a 2-point ring, say) becomes a problem for that one feature
instead of an exception for the whole file. CSV with coordinate columns is read with pandas.
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely
from pyproj import CRS

from gis.errors import ImportRefusedError
from gis.ingest import precheck
from gis.registry import LayerDef, normalise_label

OSM_SUFFIXES = {".osm", ".pbf"}
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}

X_ALIASES = ["lon", "lng", "long", "longitude", "经度", "東經", "东经", "x", "point_x", "坐标x", "x坐标"]
Y_ALIASES = ["lat", "latitude", "纬度", "緯度", "北纬", "y", "point_y", "坐标y", "y坐标"]
WKT_ALIASES = ["wkt", "geometry", "geom", "the_geom", "shape"]


@dataclass
class RawSource:
    """A file as read: one row per feature, before any mapping or validation."""

    attributes: pd.DataFrame
    geometries: np.ndarray  # shapely geometries; None where missing or unparseable
    unparseable: np.ndarray  # bool: a geometry was there but could not be parsed
    crs: CRS | None
    crs_origin: str
    driver: str
    source_layers: list[str] = field(default_factory=list)
    layer_name: str | None = None  # the layer read, in a multi-layer file
    encoding: str | None = None
    encoding_note: str | None = None
    keys: np.ndarray | None = None  # stable ids given by the reader itself (OSM)
    preset: pd.DataFrame | None = None  # canonical field values the reader knows (OSM rules)
    rejected_reasons: np.ndarray | None = None  # reasons the reader already knows (OSM, too many vertices)
    not_relevant: int = 0
    warnings: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # what the reader left out, and why (OSM: broken ways)


def is_osm(path: Path) -> bool:
    return path.suffix.lower() in OSM_SUFFIXES or path.name.lower().endswith(".osm.pbf")


def parse_wkb(wkb: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """WKB to shapely, feature by feature where needed.

    Returns the geometries (None where unusable), a mask of the unparseable ones, and how many
    could only be parsed by shapely's repair (``on_invalid="fix"``, e.g. a ring with too few points
    dropped) — those count as repaired.
    """
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    present = np.array([w is not None for w in wkb], dtype=bool)
    failed = present & pd.isna(geoms)
    fixed = 0
    for i in np.flatnonzero(failed):
        try:
            g = shapely.from_wkb(wkb[i], on_invalid="fix")
        except Exception:  # shapely raises several kinds here; all mean "cannot be used"
            g = None
        if g is not None and not g.is_empty:
            geoms[i] = g
            failed[i] = False
            fixed += 1
    return geoms, failed, fixed


def _codec(declared: str) -> str | None:
    """The Python codec of a .cpg's value (UTF-8, GBK, 936, ANSI 936, CP936 ...), or None if unknown."""
    name = declared.strip().upper().removeprefix("ANSI").strip()
    name = f"cp{name}" if name.isdigit() else name
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _check_declared(shp: Path, declared: str, body: bytes) -> None:
    """Refuse a .dbf whose text is not in the encoding its .cpg declares (GDAL would fail on the first
    such value, or garble it), naming the encoding it does read in."""
    codec = _codec(declared)
    if codec is None:
        return
    try:
        body.decode(codec)
        return
    except UnicodeDecodeError:
        pass
    for alternative, label in (("utf-8", "UTF-8"), ("gb18030", "GB18030")):
        if alternative != codec:
            try:
                body.decode(alternative)
            except UnicodeDecodeError:
                continue
            raise ImportRefusedError(
                f"{shp.name}: its .cpg says {declared} but the .dbf's text is not {declared}; it reads as "
                f"{label} — pass --encoding {label} / .cpg 声明的编码与 .dbf 不符"
            )
    raise ImportRefusedError(
        f"{shp.name}: its .cpg says {declared} but the .dbf's text is not {declared}, nor UTF-8 or GBK; "
        "pass the right --encoding"
    )


def _dbf_text(shp: Path) -> bytes | None:
    """The .dbf's records (after its header), or None when there is no .dbf."""
    dbf = next((p for p in (shp.with_suffix(".dbf"), shp.with_suffix(".DBF")) if p.exists()), None)
    if dbf is None:
        return None
    data = dbf.read_bytes()
    header_len = int.from_bytes(data[8:10], "little") if len(data) > 10 else 0
    return data[header_len:]


def detect_dbf_encoding(shp: Path) -> tuple[str | None, str]:
    """The text encoding of a shapefile's .dbf: the .cpg when present (and true), else detected.

    Without a .cpg GDAL assumes ISO-8859-1 and Chinese text comes back garbled, so the bytes are
    tried as UTF-8 first (which GBK text practically never is), then GB18030 (a superset of GBK).
    """
    body = _dbf_text(shp)
    for cpg in (shp.with_suffix(".cpg"), shp.with_suffix(".CPG")):
        if cpg.exists():
            declared = cpg.read_text(errors="replace").strip()
            if body is not None:
                _check_declared(shp, declared, body)
            return declared, f".cpg says {declared}"
    if body is None:
        return None, "no .dbf: geometry only, no attributes"
    if all(b < 0x80 for b in body):
        return None, "no .cpg; the text is plain ASCII"
    try:
        body.decode("utf-8")
        return "UTF-8", "no .cpg; the text decodes as UTF-8, read as UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        body.decode("gb18030")
        return "GB18030", "no .cpg; the text is not UTF-8 but decodes as GB18030/GBK, read as GB18030"
    except UnicodeDecodeError:
        raise ImportRefusedError(
            f"{shp.name}: no .cpg and the .dbf text is neither UTF-8 nor GBK/GB18030; pass --encoding"
        ) from None


def choose_layer(path: Path, layer: LayerDef, source_layer: str | None) -> tuple[str | None, list[str]]:
    """Which layer of a multi-layer file to read."""
    try:
        listed = pyogrio.list_layers(path)
    except Exception as exc:
        raise ImportRefusedError(f"{path.name}: cannot be read as a vector file ({_gdal_message(exc)})") from None
    names = [str(n) for n in listed[:, 0]]
    if source_layer is not None:
        if source_layer not in names:
            raise ImportRefusedError(f"{path.name} has no layer {source_layer!r}; its layers: {', '.join(names)}")
        return source_layer, names
    if len(names) <= 1:
        return (names[0] if names else None), names
    wanted = {normalise_label(s) for s in (layer.id, layer.label.zh, layer.label.en)}
    for n in names:
        if normalise_label(n) in wanted:
            return n, names
    raise ImportRefusedError(f"{path.name} has several layers ({', '.join(names)}); say which with --source-layer")


# GDAL's words for a file it cannot take, and a planner's
GDAL_SAYS = (
    (
        "not recognized as being in a supported file format",
        "not a format GDAL reads: damaged, or not what its name says",
    ),
    (
        "GeoJSON object too complex/large",
        "a feature is too large for GDAL's GeoJSON reader (about a million vertices or more); simplify or split it",
    ),
)


def _gdal_message(exc: Exception) -> str:
    said = str(exc)
    for words, meaning in GDAL_SAYS:
        if words in said:
            return meaning
    return said.splitlines()[0][:300] if said else type(exc).__name__


def _shortened(text: str, most: int = 200) -> str:
    """A message cut to ``most`` characters (GDAL quotes what it could not read: a thousand brackets)."""
    return text if len(text) <= most else text[: most - 5] + " ..."


def _vertex_limit(wkb: np.ndarray) -> np.ndarray | None:
    """A reason for each feature over :data:`precheck.MAX_VERTICES` (its geometry dropped, unparsed), or None."""
    # precheck.wkb_vertices of each, from the lengths at once (16 bytes a vertex after a 9-byte header)
    lengths = np.fromiter(map(len, (w if w is not None else b"" for w in wkb)), dtype=np.int64, count=len(wkb))
    counts = np.maximum(0, (lengths - 9) // 16)
    over = np.flatnonzero(counts > precheck.MAX_VERTICES)
    if not len(over):
        return None
    reasons = np.full(len(wkb), None, dtype=object)
    for i in over:
        reasons[i] = str(precheck.too_many_vertices("the feature", int(counts[i]), about=True))
        wkb[i] = None
    return reasons


def read_vector(path: Path, layer: LayerDef, *, encoding: str | None, source_layer: str | None) -> RawSource:
    """Shapefile, GeoPackage, GeoJSON, FlatGeobuf, DXF ... through pyogrio's raw reader."""
    precheck.check_file(path)
    enc_note = None
    if path.suffix.lower() == ".shp" and encoding is None:
        encoding, enc_note = detect_dbf_encoding(path)
    elif encoding is not None:
        enc_note = "given with --encoding"
    name, names = choose_layer(path, layer, source_layer)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            meta, _fids, wkb, field_data = pyogrio.raw.read(
                path, layer=name, encoding=encoding, force_2d=True, datetime_as_string=True
            )
    except Exception as exc:
        raise ImportRefusedError(f"{path.name}: cannot be read ({_gdal_message(exc)})") from None
    columns = {str(n): np.asarray(v) for n, v in zip(meta["fields"], field_data, strict=True)}
    attrs = pd.DataFrame(columns) if columns else pd.DataFrame(index=range(len(wkb)))
    if wkb is None:
        wkb = np.full(len(attrs), None, dtype=object)
    too_big = _vertex_limit(wkb)  # before shapely parses them
    geoms, unparseable, fixed = parse_wkb(wkb)
    crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
    origin = {".shp": "the .prj file"}.get(path.suffix.lower(), f"the {path.suffix.lstrip('.')} file")
    notes = [f"GDAL: {_shortened(m)}" for m in sorted({str(w.message).split(". ")[0] for w in caught})]
    if fixed:
        notes.append(f"{fixed} geometries could only be read after repair")
    return RawSource(
        attributes=attrs,
        geometries=geoms,
        unparseable=unparseable,
        crs=crs,
        crs_origin=origin,
        driver=str(meta.get("driver") or path.suffix),
        source_layers=names if len(names) > 1 else [],
        layer_name=name,
        encoding=encoding or meta.get("encoding"),
        encoding_note=enc_note,
        rejected_reasons=too_big,
        warnings=notes,
    )


def _pick(columns: list[str], aliases: list[str]) -> str | None:
    folded = {normalise_label(c): c for c in columns}
    for a in aliases:
        if normalise_label(a) in folded:
            return folded[normalise_label(a)]
    return None


def _listed(names: list[str], most: int = 30) -> str:
    shown = ", ".join(str(n)[:40] for n in names[:most])
    return shown + (f" ... ({len(names):,} in all)" if len(names) > most else "")


def read_csv(path: Path, *, encoding: str | None) -> RawSource:
    """A table with coordinate columns (lon/lat, x/y, 经度/纬度) or a WKT column."""
    precheck.check_file(path)
    data = path.read_bytes()
    precheck.check_table(data, path.name)  # columns and line lengths, before decoding or parsing
    note = "given with --encoding"
    if encoding is None:
        for candidate in ("utf-8-sig", "gb18030"):
            try:
                data.decode(candidate)
                encoding = candidate
                note = f"detected {candidate.upper()}"
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ImportRefusedError(f"{path.name}: text is neither UTF-8 nor GBK/GB18030; pass --encoding")
    text = data.decode(encoding)
    try:
        dialect = csv.Sniffer().sniff(text[:65536], delimiters=",\t;|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise ImportRefusedError(f"{path.name}: cannot be read as a table ({exc})") from None
    notes = [f"{path.name} is separated by tabs, not commas"] if sep == "\t" and path.suffix == ".csv" else []
    cols = list(frame.columns)
    wkt_col = _pick(cols, WKT_ALIASES)
    x_col, y_col = _pick(cols, X_ALIASES), _pick(cols, Y_ALIASES)
    if wkt_col:
        raw = frame.pop(wkt_col).replace("", None)
        geoms = shapely.from_wkt(raw.to_numpy(dtype=object), on_invalid="ignore")
        unparseable = raw.notna().to_numpy() & pd.isna(geoms)
    elif x_col and y_col:
        xs = pd.to_numeric(frame.pop(x_col).str.strip(), errors="coerce").to_numpy(dtype=float)
        ys = pd.to_numeric(frame.pop(y_col).str.strip(), errors="coerce").to_numpy(dtype=float)
        geoms = shapely.points(xs, ys)  # NaN coordinates are caught by validation, feature by feature
        unparseable = np.zeros(len(frame), dtype=bool)
    else:
        raise ImportRefusedError(
            f"{path.name}: no coordinate columns found (looked for {', '.join(X_ALIASES[:6])} / "
            f"{', '.join(Y_ALIASES[:4])} or a WKT column); its columns: {_listed(cols)}"
        )
    return RawSource(
        attributes=frame.replace("", None),
        geometries=np.asarray(geoms, dtype=object),
        unparseable=np.asarray(unparseable, dtype=bool),
        crs=None,
        crs_origin="the CSV file",
        driver="CSV",
        encoding=encoding,
        encoding_note=note,
        warnings=notes,
    )
