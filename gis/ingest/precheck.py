"""What a file must pass before a reader parses it, so that a broken or hostile one is refused in
words a planner understands — in bounded time and memory, before GDAL, pandas or openpyxl sees it.

- **Its structure**: not empty; a GeoPackage is an SQLite database; a GeoJSON file is JSON; a
  shapefile's .shp is as long as its header says, its .shx points at the .shp's records and its .dbf
  holds as many records; an archive's paths stay inside it; OSM XML has no DTD (read with
  ``defusedxml``: a DTD is how an XML file pulls in ``/etc/passwd`` or expands to gigabytes, and
  OpenStreetMap files never have one).
- **The limits** (module constants; the README lists them): :data:`MAX_VERTICES` per feature (from a
  shapefile's .shx before GDAL reads it, else from each feature's WKB before shapely parses it),
  :data:`MAX_CSV_COLUMNS` and :data:`MAX_CSV_LINE_BYTES` for tables, :data:`MAX_COORDINATE`.

Each refusal is an :class:`~gis.errors.ImportRefusedError`; nothing has been written when it is raised.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from gis.errors import ImportRefusedError

MAX_VERTICES = 1_000_000  # per feature: a province's boundary has a few hundred thousand
MAX_COORDINATE = 1e9  # in any unit: no coordinate system on Earth reaches a million km (or degrees)
MAX_CSV_COLUMNS = 16_384  # Excel's own limit
MAX_CSV_LINE_BYTES = 16 << 20  # a WKT polygon of some 400,000 vertices; a line longer is not a table's
OSM_PROLOG_BYTES = 1 << 20  # an OSM file's root element starts within this (after the XML declaration)

SQLITE_MAGIC = b"SQLite format 3\x00"
GPKG_HEADER_MAX = 8 + 64 + 9  # a GeoPackage blob's header with the largest envelope, and WKB's own
JSON_SUFFIXES = {".geojson", ".json"}
# shape type -> bytes per vertex (x, y; + z and m; + m)
VERTEX_BYTES = {1: 16, 3: 16, 5: 16, 8: 16, 11: 32, 13: 32, 15: 32, 18: 32, 21: 24, 23: 24, 25: 24, 28: 24, 31: 32}


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""  # unreachable


def check_file(path: Path) -> None:
    """The checks of :func:`check_structure` that apply to ``path``, by its suffix."""
    if not path.exists():
        raise ImportRefusedError(f"{path}: no such file")
    if path.is_file() and path.stat().st_size == 0:
        raise ImportRefusedError(f"{path.name} is empty (0 bytes): nothing to import")
    suffix = path.suffix.lower()
    if suffix == ".gpkg":
        with path.open("rb") as fh:
            if fh.read(16) != SQLITE_MAGIC:
                raise ImportRefusedError(
                    f"{path.name} is not a GeoPackage: a GeoPackage is an SQLite database and this file is "
                    "not one (damaged, or another kind of file renamed)"
                )
        check_geopackage(path)
    elif suffix in JSON_SUFFIXES:
        _check_json_start(path)
    elif suffix == ".shp":
        check_shapefile(path)
    elif suffix == ".zip":
        check_archive(path)


def check_geopackage(path: Path) -> None:
    """No geometry of a GeoPackage over :data:`MAX_VERTICES`, from the sizes SQLite keeps for its blobs
    (``length()`` of a blob reads no blob): GDAL would build the whole feature before anything could
    count its vertices (a 10,000,000-vertex polygon: 860 MB)."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)) as db:
            columns = db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall()
            for table, column in columns:
                quoted_table, quoted_column = (str(x).replace('"', '""') for x in (table, column))
                row = db.execute(f'SELECT max(length("{quoted_column}")) FROM "{quoted_table}"').fetchone()
                largest = int(row[0] or 0) if row else 0
                vertices = (largest - GPKG_HEADER_MAX) // 16
                if vertices > MAX_VERTICES:
                    raise too_many_vertices(f"a feature of layer {table} of {path.name}", vertices, about=True)
    except sqlite3.Error:
        return  # not a GeoPackage SQLite can read as one: GDAL says what it makes of it


def _check_json_start(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(65536).removeprefix(b"\xef\xbb\xbf").lstrip()
    if head[:1] not in (b"{", b"\x1e"):  # an object, or a GeoJSON text sequence's record separator
        shown = head[:20].decode("utf-8", errors="replace")
        raise ImportRefusedError(f"{path.name} is not JSON: GeoJSON starts with '{{', this file with {shown!r}")


# -- shapefiles -------------------------------------------------------------------------------------
def _sibling(shp: Path, suffix: str) -> Path | None:
    for s in (suffix, suffix.upper()):
        if (p := shp.with_suffix(s)).exists():
            return p
    return None


def check_shapefile(shp: Path) -> None:
    """A shapefile whose parts agree: the .shp as long as its header says, each .shx entry pointing at
    a record of that length inside it, as many .dbf records as shapes, no shape over :data:`MAX_VERTICES`.

    GDAL reads a truncated .shp as far as it goes and a foreign .shx as whatever bytes it points at
    (features without geometry, or geometries that are not the file's): refused here instead.
    """
    size = shp.stat().st_size
    with shp.open("rb") as fh:
        header = fh.read(100)
    if size < 100:
        raise ImportRefusedError(
            f"{shp.name} is {size} bytes, shorter than a shapefile's 100-byte header: truncated or not a shapefile"
        )
    if int.from_bytes(header[:4], "big") != 9994:
        raise ImportRefusedError(f"{shp.name} is not a shapefile (its first bytes are not a shapefile's)")
    declared = int.from_bytes(header[24:28], "big") * 2
    if declared > size:
        raise ImportRefusedError(
            f"{shp.name} is truncated: its header says {declared:,} bytes, the file has {size:,} "
            "(copied or downloaded only in part?)"
        )
    shx = _sibling(shp, ".shx")
    if shx is None:
        raise ImportRefusedError(
            f"{shp.name} has no .shx beside it (the index every shapefile comes with); copy all its files together"
        )
    index = shx.read_bytes()
    if len(index) < 100 or (len(index) - 100) % 8:
        raise ImportRefusedError(f"{shx.name} is damaged: {len(index):,} bytes is not a shapefile index's size")
    entries = np.frombuffer(index, dtype=">i4", offset=100).reshape(-1, 2).astype(np.int64) * 2
    offsets, lengths = entries[:, 0], entries[:, 1]
    _check_index(shp, shx, size, offsets, lengths)
    _check_vertices(shp, int.from_bytes(header[32:36], "little"), lengths)
    dbf = _sibling(shp, ".dbf")
    if dbf is not None:
        with dbf.open("rb") as fh:
            records = int.from_bytes(fh.read(8)[4:8], "little")
        if records != len(entries):
            raise ImportRefusedError(
                f"{dbf.name} has {records:,} records but {shx.name} {len(entries):,} shapes: "
                "the files are not of the same layer"
            )


def _check_index(shp: Path, shx: Path, size: int, offsets: np.ndarray, lengths: np.ndarray) -> None:
    mismatch = f"{shx.name} does not match {shp.name}"
    if len(offsets) == 0:
        return
    outside = np.flatnonzero((offsets < 100) | (lengths < 0) | (offsets + 8 + lengths > size))
    if len(outside):
        i = int(outside[0])
        raise ImportRefusedError(
            f"{mismatch}: shape {i + 1} lies beyond the end of the .shp ({int(offsets[i] + 8 + lengths[i]):,} of "
            f"{size:,} bytes); the .shp is truncated or the .shx belongs to another file"
        )
    shp_bytes = np.memmap(shp, dtype=np.uint8, mode="r")
    at = offsets[:, None] + np.arange(4, 8)  # each record header's content length (big-endian words)
    stored = (shp_bytes[at].astype(np.int64) * np.array([1 << 24, 1 << 16, 1 << 8, 1])).sum(axis=1) * 2
    wrong = np.flatnonzero(stored != lengths)
    if len(wrong):
        i = int(wrong[0])
        raise ImportRefusedError(
            f"{mismatch}: shape {i + 1} is {int(lengths[i]):,} bytes in the .shx and {int(stored[i]):,} in the "
            f".shp ({len(wrong):,} shapes differ); the .shx belongs to another file — copy the layer's own"
        )


def _check_vertices(shp: Path, shape_type: int, lengths: np.ndarray) -> None:
    per_vertex = VERTEX_BYTES.get(shape_type)
    if per_vertex is None or not len(lengths):
        return
    vertices = (lengths - 44) // per_vertex  # at most: the content less its fixed part, per vertex
    worst = int(np.argmax(vertices))
    if vertices[worst] > MAX_VERTICES:
        raise too_many_vertices(f"shape {worst + 1} of {shp.name}", int(vertices[worst]))


def too_many_vertices(what: str, vertices: int, *, about: bool = False) -> ImportRefusedError:
    return ImportRefusedError(
        f"{what} has {'about ' if about else ''}{vertices:,} vertices; a feature may have at most {MAX_VERTICES:,} "
        "(gis.ingest.precheck.MAX_VERTICES): simplify it (QGIS: Vector ▸ Geometry ▸ Simplify) or split it"
    )


def wkb_vertices(wkb: bytes | None) -> int:
    """How many 2D vertices a WKB geometry holds, at most (from its length: 16 bytes a vertex)."""
    return 0 if wkb is None else max(0, (len(wkb) - 9) // 16)


# -- archives ---------------------------------------------------------------------------------------
def check_archive(path: Path, *, max_unpacked: int | None = None, what: str = "a zip archive") -> list[zipfile.ZipInfo]:
    """The members of a zip archive, refused when it is not one, when a member's path would leave the
    archive (``../``, an absolute path) and, with ``max_unpacked``, when its members would unpack to
    more bytes than that (read from the archive's directory, before anything is inflated: Python's
    zipfile never inflates a member past the size the directory gives it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportRefusedError(f"{path.name} is not {what}: it is not a zip archive (or a damaged one)") from None
    for m in members:
        parts = PurePosixPath(m.filename.replace("\\", "/")).parts
        if m.filename.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", m.filename):
            raise ImportRefusedError(
                f"{path.name} holds {m.filename!r}, a path that leads out of the archive: refused (nothing is "
                "unpacked, but a file made like this is not a delivery to trust)"
            )
    if max_unpacked is not None:
        total = sum(m.file_size for m in members)
        if total > max_unpacked:
            biggest = max(members, key=lambda m: m.file_size)
            raise ImportRefusedError(
                f"{path.name} would unpack to {_size(total)} ({biggest.filename}: {_size(biggest.file_size)}) from "
                f"{_size(path.stat().st_size)}; {what} holds at most {_size(max_unpacked)} — this looks like a "
                "zip bomb / 文件解压后过大，疑为压缩炸弹"
            )
    return members


# -- OpenStreetMap XML ------------------------------------------------------------------------------
class _RootReached(Exception):
    pass


class _StopAtRoot:
    """An XML parser target that stops at the first element: the prolog is all that is checked."""

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        raise _RootReached(tag)

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        pass


def check_osm_xml(path: Path) -> None:
    """OSM XML up to its root element, read with ``defusedxml`` forbidding any DTD: an external entity
    (XXE, ``<!ENTITY x SYSTEM "file:///etc/passwd">``) or an entity expansion ("billion laughs") can only
    be declared there, and OpenStreetMap files declare nothing."""
    parser = DefusedXMLParser(target=_StopAtRoot(), forbid_dtd=True)
    read = 0
    try:
        with path.open("rb") as fh:
            while read < OSM_PROLOG_BYTES and (chunk := fh.read(65536)):
                read += len(chunk)
                parser.feed(chunk)
    except _RootReached as root:
        if str(root) != "osm":
            raise ImportRefusedError(
                f"{path.name} is XML but not OpenStreetMap: its root is <{root}>, not <osm>"
            ) from None
        return
    except DefusedXmlException:
        raise ImportRefusedError(
            f"{path.name} declares a DTD (<!DOCTYPE ...>): OpenStreetMap files never do, and a DTD is how an XML "
            "file reads other files (XXE) or expands to gigabytes (entity expansion); refused / 文件含DTD实体声明"
        ) from None
    except ParseError as exc:
        raise ImportRefusedError(f"{path.name} is not well-formed XML ({exc})") from None
    raise ImportRefusedError(f"{path.name}: no <osm> element in its first {_size(OSM_PROLOG_BYTES)}; not OSM XML")


# -- tables ------------------------------------------------------------------------------------------
def check_table(data: bytes, name: str) -> None:
    """A CSV's header within :data:`MAX_CSV_COLUMNS` columns and every line within
    :data:`MAX_CSV_LINE_BYTES`, checked on the bytes before anything decodes or parses them."""
    first_end = data.find(b"\n")
    header = data if first_end < 0 else data[:first_end]
    columns = 1 + max(header.count(sep) for sep in (b",", b"\t", b";", b"|"))
    if columns > MAX_CSV_COLUMNS:
        raise ImportRefusedError(
            f"{name} has {columns:,} columns; a table may have at most {MAX_CSV_COLUMNS:,} (Excel's own limit)"
        )
    number, longest = _longest_line(data)
    if longest > MAX_CSV_LINE_BYTES:
        raise ImportRefusedError(
            f"{name}: line {number:,} is {_size(longest)} long; a line may be at most {_size(MAX_CSV_LINE_BYTES)} "
            "(a file without line breaks, or not a table)"
        )


def _longest_line(data: bytes, chunk: int = 8 << 20) -> tuple[int, int]:
    """(1-based number, length in bytes) of the longest line, scanning the bytes in chunks."""
    view = np.frombuffer(data, dtype=np.uint8)
    ends: list[np.ndarray] = []
    for start in range(0, len(view), chunk):
        ends.append(np.flatnonzero(view[start : start + chunk] == 10) + start)
    breaks = np.concatenate([np.array([-1]), *ends, np.array([len(view)])])
    lengths = np.diff(breaks) - 1
    worst = int(np.argmax(lengths))
    return worst + 1, int(lengths[worst])
