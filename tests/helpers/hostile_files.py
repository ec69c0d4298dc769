"""Hostile files, written from scratch (tests/ingest/test_hostile_files.py): shapefiles put together
byte by byte (so they can hold what GDAL would never write: NaN, a truncated record, a foreign .shx),
zip archives streamed entry by entry (an XLSX whose sheet expands to gigabytes is a few MB on disk),
OSM XML with a DTD, and a process's peak memory and time measured by the kernel.

Nothing here reads back what gisplan wrote; the test compares the database before and after.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg

WGS84_PRJ = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
LON, LAT = 116.35, 40.0  # Haidian, Beijing: inside the sample's working CRS (EPSG:4548)


# -- shapefiles -------------------------------------------------------------------------------------
def square(i: int, side: float = 0.001) -> np.ndarray:
    """A closed ring (clockwise, as shapefiles want outer rings) a little east of the last one."""
    x, y = LON + 0.003 * i, LAT
    return np.array([(x, y), (x, y + side), (x + side, y + side), (x + side, y), (x, y)], dtype=float)


def _shp_header(length_bytes: int, bbox: tuple[float, float, float, float]) -> bytes:
    # file code 9994, five unused ints, the file length in 16-bit words (big-endian), then version
    # 1000, shape type 5 (polygon) and the bounding box (little-endian)
    return struct.pack(">7i", 9994, 0, 0, 0, 0, 0, length_bytes // 2) + struct.pack("<2i8d", 1000, 5, *bbox, 0, 0, 0, 0)


def _bbox(rings: list[np.ndarray]) -> tuple[float, float, float, float]:
    xy = np.concatenate(rings) if rings else np.zeros((1, 2))
    with np.errstate(invalid="ignore"):
        return (
            float(np.nanmin(xy[:, 0])),
            float(np.nanmin(xy[:, 1])),
            float(np.nanmax(xy[:, 0])),
            float(np.nanmax(xy[:, 1])),
        )


def _dbf(names: list[str], encoding: str) -> bytes:
    """A dBASE III table with one text field NAME (40 bytes), one record per name."""
    width = 40
    header = struct.pack("<4BIHH20x", 3, 126, 1, 1, len(names), 32 + 32 + 1, 1 + width)
    field = struct.pack("<11sc4xBB14x", b"NAME", b"C", width, 0)
    records = b"".join(b" " + n.encode(encoding).ljust(width)[:width] for n in names)
    return header + field + b"\r" + records + b"\x1a"


def shapefile(stem: Path, rings: list[np.ndarray], *, names: list[str] | None = None, encoding: str = "utf-8") -> Path:
    """A polygon shapefile (.shp, .shx, .dbf, .prj in WGS 84, .cpg saying UTF-8) with one ring per
    record, written as the format says and nothing checked: NaN, infinity, 1e308 go in as given."""
    records = []
    for ring in rings:
        ring = np.ascontiguousarray(ring, dtype="<f8")
        content = struct.pack("<i4dii", 5, *_bbox([ring]), 1, len(ring)) + struct.pack("<i", 0) + ring.tobytes()
        records.append(content)
    box = _bbox(rings)
    size = 100 + sum(8 + len(c) for c in records)
    with open(stem.with_suffix(".shp"), "wb") as shp, open(stem.with_suffix(".shx"), "wb") as shx:
        shp.write(_shp_header(size, box))
        shx.write(_shp_header(100 + 8 * len(records), box))
        offset = 100
        for number, content in enumerate(records, start=1):
            shp.write(struct.pack(">2i", number, len(content) // 2))
            shp.write(content)
            shx.write(struct.pack(">2i", offset // 2, len(content) // 2))
            offset += 8 + len(content)
    stem.with_suffix(".dbf").write_bytes(_dbf(names or [f"小区{i}" for i in range(len(rings))], encoding))
    stem.with_suffix(".prj").write_text(WGS84_PRJ)
    stem.with_suffix(".cpg").write_text("UTF-8")
    return stem.with_suffix(".shp")


def big_ring(vertices: int) -> np.ndarray:
    """A closed ring of ``vertices`` points on a 1 km circle (a valid, simple polygon)."""
    angle = np.linspace(0, 2 * np.pi, vertices - 1, endpoint=False)
    ring = np.column_stack([LON + 0.01 * np.cos(angle), LAT + 0.01 * np.sin(angle)])
    return np.vstack([ring, ring[:1]])


def big_geojson(path: Path, vertices: int) -> Path:
    """A FeatureCollection of one polygon of ``vertices`` vertices, written as it streams (about 25
    bytes a vertex); the ring zigzags through 1,000 distinct points repeated."""
    block = ",".join(f"[{LON + 0.00001 * (i % 7):.7f},{LAT + 0.00001 * i:.7f}]" for i in range(1000))
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"编号":"B1"},')
        fh.write('"geometry":{"type":"Polygon","coordinates":[[')
        for _ in range(vertices // 1000):
            fh.write(block)
            fh.write(",")
        fh.write(f"[{LON:.7f},{LAT:.7f}]]]}}}}]}}")
    return path


# -- zip archives (XLSX) ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Repeated:
    """``block`` ``times`` times over: deflated once, the compressed block written ``times`` times."""

    block: bytes
    times: int


def _deflate(parts: Iterable[bytes | Repeated]) -> Iterator[tuple[bytes, int, int]]:
    """(compressed bytes, uncompressed length, crc of them chained) as the parts stream: every part is
    followed by a full flush, which empties the compressor's window — so a block deflated once can be
    written again and again and still inflates to the block each time."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc = 0
    for part in parts:
        if isinstance(part, Repeated):
            packed = comp.compress(part.block) + comp.flush(zlib.Z_FULL_FLUSH)
            for _ in range(part.times):
                crc = zlib.crc32(part.block, crc)
                yield packed, len(part.block), crc
        else:
            crc = zlib.crc32(part, crc)
            yield comp.compress(part) + comp.flush(zlib.Z_FULL_FLUSH), len(part), crc
    yield comp.flush(zlib.Z_FINISH), 0, crc


def write_zip(path: Path, entries: dict[str, Iterable[bytes | Repeated]]) -> Path:
    """A zip archive of deflated entries, each streamed from its parts (at most 4 GiB each: no
    ZIP64). The local header is written first and patched with the sizes and CRC afterwards."""
    central = []
    with path.open("wb") as fh:
        for name, parts in entries.items():
            raw_name = name.encode("utf-8")
            start = fh.tell()
            fh.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, 8, 0, 0x21, 0, 0, 0, len(raw_name), 0))
            fh.write(raw_name)
            size = packed = crc = 0
            for data, n, crc_so_far in _deflate(parts):
                fh.write(data)
                size += n
                packed += len(data)
                crc = crc_so_far
            assert size < 1 << 32 and packed < 1 << 32, "an entry of 4 GiB or more needs ZIP64"
            end = fh.tell()
            fh.seek(start + 14)
            fh.write(struct.pack("<III", crc, packed, size))
            fh.seek(end)
            central.append((raw_name, crc, packed, size, start))
        directory = fh.tell()
        for raw_name, crc, packed, size, start in central:
            # version made by, needed, flags (UTF-8 names), deflate, time, date, crc, sizes, name length,
            # extra, comment, disk, internal and external attributes, the local header's offset
            record = (0x02014B50, 20, 20, 0x800, 8, 0, 0x21, crc, packed, size, len(raw_name), 0, 0, 0, 0, 0, start)
            fh.write(struct.pack("<IHHHHHHIIIHHHHHII", *record))
            fh.write(raw_name)
        length = fh.tell() - directory
        fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), length, directory, 0))
    return path


CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    b"</Types>"
)
ROOT_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="时间配档表" sheetId="1" r:id="rId1"/></sheets></workbook>'
).encode()
WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'worksheet" Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = b"</sheetData></worksheet>"
HEADER = ["小区编号", "小区名称", "年度", "当前阶段", "计划开工"]


def text_row(values: list[str]) -> bytes:
    """A sheet row of inline strings (no shared strings needed)."""
    cells = "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values)
    return f"<row>{cells}</row>".encode()


def header_row() -> bytes:
    return text_row(HEADER)


def xlsx(
    path: Path,
    sheet: Iterable[bytes | Repeated],
    *,
    shared: bytes = b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
    b'spreadsheetml/2006/main" count="0" uniqueCount="0"></sst>',
) -> Path:
    """A workbook of one sheet, 时间配档表, streamed from ``sheet`` (its XML, in parts)."""
    return write_zip(
        path,
        {
            "[Content_Types].xml": [CONTENT_TYPES],
            "_rels/.rels": [ROOT_RELS],
            "xl/workbook.xml": [WORKBOOK],
            "xl/_rels/workbook.xml.rels": [WORKBOOK_RELS],
            "xl/sharedStrings.xml": [shared],
            "xl/worksheets/sheet1.xml": sheet,
        },
    )


def laughs(levels: int = 10) -> str:
    """The DTD of the "billion laughs": each entity ten of the one before; the last one 10^levels."""
    defs = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    return "".join(defs)


# -- OpenStreetMap ----------------------------------------------------------------------------------
def osm(path: Path, body: str, *, doctype: str = "") -> Path:
    """An OSM XML file: ``doctype`` (a DTD, when hostile), then ``<osm>`` holding ``body``."""
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}<osm version="0.6">{body}</osm>\n', "utf-8")
    return path


def nodes(n: int) -> str:
    return "".join(
        f'<node id="{i}" lat="{LAT + 0.0005 * i:.7f}" lon="{LON + 0.0005 * i:.7f}"/>' for i in range(1, n + 1)
    )


def way(way_id: int, refs: list[int], **tags: str) -> str:
    nds = "".join(f'<nd ref="{r}"/>' for r in refs)
    kv = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in {"highway": "residential", **tags}.items())
    return f'<way id="{way_id}">{nds}{kv}</way>'


# -- measuring a process --------------------------------------------------------------------------
# A child's ru_maxrss starts at its parent's high-water mark (Linux copies it on fork and keeps it over
# exec): a command forked from pytest, which has built a 160 MB file, would seem to use 700 MB. So the
# command is forked from this small launcher instead, which writes the command's ru_maxrss (KiB) to argv[1].
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


@dataclass(frozen=True)
class Ran:
    """What a process did: exit code, its output, its wall time and peak resident memory (from the
    kernel: ``wait4``'s ``ru_maxrss``, the process's own high-water mark)."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_bytes: int
    killed: bool = False

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_measured(args: list[str], env: dict[str, str], cwd: Path, timeout_s: float = 120) -> Ran:
    """Run ``args`` (its first item an absolute path) to its end, killed past ``timeout_s``, with its
    output in files (no pipe to fill)."""
    out, err, peak = cwd / ".stdout", cwd / ".stderr", cwd / ".peak"
    with out.open("wb") as o, err.open("wb") as e:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(peak), *args],
            env=env,
            cwd=cwd,
            stdout=o,
            stderr=e,
            start_new_session=True,
        )
        timer = threading.Timer(timeout_s, os.killpg, (proc.pid, signal.SIGKILL))
        timer.start()
        try:
            returncode = proc.wait()
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
    killed = returncode == -signal.SIGKILL
    return Ran(
        returncode,
        out.read_text("utf-8", errors="replace"),
        err.read_text("utf-8", errors="replace"),
        seconds,
        0 if killed else int(peak.read_text()) * 1024,
        killed=killed,
    )


def peak_of(pid: int) -> int:
    """A process's peak resident memory so far (``VmHWM``), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"no VmHWM for {pid}")


def reset_peak(pid: int) -> None:
    """Start a process's ``VmHWM`` afresh from its present size (Linux ``clear_refs`` 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


# -- what the database holds ------------------------------------------------------------------------
_CONNECTIONS: dict[str, psycopg.Connection[tuple[object, ...]]] = {}
DIGEST_SECONDS: list[float] = []  # how long each digest took (the module prints the total)


def digest(url: str) -> dict[str, tuple[int, str | None]]:
    """Every table of the schema: its row count and an md5 of its rows in order — so any row added,
    changed or removed anywhere (a layer, the audit log, layer_changes, imports, the programme) shows.
    One statement, one snapshot, for all the tables, on a connection kept open between digests
    (autocommit: each digest sees what is committed when it runs)."""
    started = time.perf_counter()
    conn = _CONNECTIONS.get(url)
    if conn is None or conn.closed:
        conn = _CONNECTIONS[url] = psycopg.connect(url, autocommit=True)
    tables = sorted(r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    query = " UNION ALL ".join(
        f"SELECT '{t}', count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM public.\"{t}\" t" for t in tables
    )
    found = {str(name): (int(n), h) for name, n, h in conn.execute(query).fetchall()}
    DIGEST_SECONDS.append(time.perf_counter() - started)
    return found


def close_digests() -> None:
    """Close the connections :func:`digest` keeps (before the module's database is dropped)."""
    while _CONNECTIONS:
        _CONNECTIONS.popitem()[1].close()


# -- many commands in one process ------------------------------------------------------------------
DRIVER = Path(__file__).with_name("cli_driver.py")


class CliDriver:
    """tests/helpers/cli_driver.py as a child process: the library imported once, then ``gisplan``
    run in it once per :meth:`run` (its exit code and output, its wall time and its own peak memory:
    ``VmHWM`` reset before the call). A call past ``timeout_s`` kills the driver (its process group);
    the next call starts a fresh one."""

    def __init__(self, env: dict[str, str], cwd: Path, start_timeout_s: float = 120) -> None:
        self.env, self.cwd, self.start_timeout_s = env, cwd, start_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def _start(self) -> subprocess.Popen[bytes]:
        self._buffer = b""
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER)],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        ready = self._line(self.start_timeout_s)
        assert ready is not None and "ready" in ready, f"the CLI driver did not start: {ready}"
        return self.proc

    def _line(self, timeout_s: float) -> dict[str, object] | None:
        """The driver's next JSON line, or None when it died or took longer than ``timeout_s``."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        answer: dict[str, object] = json.loads(line)
        return answer

    def run(self, argv: list[str], cwd: Path, timeout_s: float = 120) -> Ran:
        proc = self.proc if self.proc is not None and self.proc.poll() is None else self._start()
        assert proc.stdin is not None
        proc.stdin.write((json.dumps({"argv": argv, "cwd": str(cwd)}) + "\n").encode())
        proc.stdin.flush()
        answer = self._line(timeout_s)
        if answer is None:  # hung or died: a fresh driver for the next call
            self.close()
            return Ran(-signal.SIGKILL, "", "", timeout_s, 0, killed=True)
        return Ran(
            int(answer["code"]),  # type: ignore[call-overload]
            str(answer["stdout"]),
            str(answer["stderr"]),
            float(answer["seconds"]),  # type: ignore[arg-type]
            int(answer["peak_bytes"]),  # type: ignore[call-overload]
        )

    def close(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None
