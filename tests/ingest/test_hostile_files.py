"""Hostile files (issue #15, item 7): each kind of broken or malicious input is refused with words a
planner understands, in bounded time (< 30 s) and memory (< 1 GB), and nothing is written.

Every file is made here, from scratch (tests/helpers/hostile_files.py), and goes in the way a user's
would: ``gisplan load`` and ``gisplan progress import``, and a feature edit or the schedule table
through a real ``gisplan serve`` (the peak memory of the server and of its worker processes, from
their ``VmHWM`` reset before each request). The commands run in one long-lived driver process
(tests/helpers/cli_driver.py: the library imported once, ``gis.cli.app.main`` called as the
``gisplan`` entry point calls it, file descriptors 1 and 2 captured, ``VmHWM`` reset before each
call so its peak is the call's own); two kinds (PROCESS_KINDS) still run as ``gisplan`` processes of
their own (wall time and peak memory from the kernel: ``wait4``), so the real entry point and its
exit code are proven end to end. "Nothing written" is every table of the
database — the layers, the audit log, ``layer_changes``, ``imports``, the programme, the users —
counted and hashed before and after each attempt; the database holds the sample's compounds,
facilities and roads and a project, so there is something to disturb.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import openpyxl
import psutil
import pytest
import shapely

from gis.demo import sample_path
from gis.settings import Settings
from gis.store.engine import make_engine
from gis.store.privileges import APP_ROLE, OWNER_ROLE
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers import hostile_files as hf
from tests.helpers.database import SuiteServer
from tests.helpers.served import Served, serve_process

GB = 1 << 30
MB = 1 << 20
TIME_S = 30.0
PASSWD = "root:x:0:0"  # what /etc/passwd starts with: never to be found in anything gisplan says or stores
FIGURES: list[tuple[str, str, int | str, float, float]] = []  # (kind, entry, answer, seconds, peak MB)
pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)


@dataclass
class Site:
    """The module's database (owner and app URLs), its home, a workspace on it, the CLI's environment."""

    owner_url: str
    app_url: str
    home: Path
    ws: Workspace
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def site(test_server: SuiteServer, template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One database for the whole module (nothing is ever written to it: a test that wrote would see it
    in its own before/after comparison), holding the sample's layers and a project."""
    home = tmp_path_factory.mktemp("hostile-home")
    with test_server.database(template) as name:
        owner, app = test_server.url(name, OWNER_ROLE), test_server.url(name, APP_ROLE)
        settings = Settings(database_url=app, owner_database_url=owner, home=home)
        ws = Workspace(make_engine(app, owner_url=owner), settings=settings)
        try:
            for layer in ("compounds", "facilities", "roads"):
                ws.load(layer, sample_path(), source_layer=layer, actor="fixture")
            first = int(ws.layer("compounds").iloc[0]["fid"])
            ws.programme.plan(
                first, 2026, categories=["basic"], items=["water_supply"], planned={"construction": date(2026, 5, 1)}
            )
            env = {**os.environ, "GISPLAN_DATABASE_URL": app, "GISPLAN_OWNER_DATABASE_URL": owner}
            env |= {"GISPLAN_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200", "GISPLAN_PROGRESS": "0"}
            yield Site(owner, app, home, ws, env)
        finally:
            hf.close_digests()
            ws.close()
            for kind, entry, answer, seconds, peak in FIGURES:
                print(f"{kind:32} {entry:8} {answer!s:4} {seconds:6.2f} s {peak:7.1f} MB")
            print(f"{len(hf.DIGEST_SECONDS)} database digests, {sum(hf.DIGEST_SECONDS):.1f} s in all")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the hostile files are made (some are hundreds of MB: removed after the module)."""
    folder = tmp_path_factory.mktemp("hostile-files")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def build(scratch: Path) -> Callable[[Kind, Path], Path]:
    """A kind's file made in ``folder``; a workbook, which goes both to the command line and to the
    API, is made once (in the scratch folder) and given to both."""
    made: dict[str, Path] = {}

    def make(kind: Kind, folder: Path) -> Path:
        if kind.command != SCHEDULE:
            return kind.build(folder)
        if kind.id not in made:
            home = scratch / "workbooks" / kind.id
            home.mkdir(parents=True)
            made[kind.id] = kind.build(home)
        return made[kind.id]

    return make


@pytest.fixture(scope="module")
def driver(site: Site, scratch: Path) -> Iterator[hf.CliDriver]:
    """The command line in one process for the whole module (tests/helpers/cli_driver.py)."""
    cli = hf.CliDriver(site.env, scratch)
    yield cli
    cli.close()


# -- the files ----------------------------------------------------------------------------------------
Builder = Callable[[Path], Path]


def _good_shapefile(folder: Path, stem: str) -> Path:
    return hf.shapefile(folder / stem, [hf.square(i) for i in range(3)])


def truncated_shp(d: Path) -> Path:
    shp = _good_shapefile(d, "truncated")
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) // 2 + 7])  # cut in the middle of a record
    return shp


def foreign_shx(d: Path) -> Path:
    shp = _good_shapefile(d, "foreign")
    other = hf.shapefile(d / "other", [hf.big_ring(40), hf.big_ring(9), hf.big_ring(200)])
    shutil.copy(other.with_suffix(".shx"), shp.with_suffix(".shx"))  # another layer's index
    return shp


def gbk_dbf_cpg_utf8(d: Path) -> Path:
    shp = hf.shapefile(
        d / "gbk", [hf.square(i) for i in range(3)], names=["静淑苑", "富润家园", "学院路"], encoding="gbk"
    )
    shp.with_suffix(".cpg").write_text("UTF-8")  # which it is not
    return shp


def nan_coordinates(d: Path) -> Path:
    ring = hf.square(0)
    ring[1:3, 0] = float("nan")
    return hf.shapefile(d / "nan", [ring, ring.copy()])


def infinite_coordinates(d: Path) -> Path:
    ring = hf.square(0)
    ring[1, 0], ring[2, 1] = float("inf"), float("-inf")
    return hf.shapefile(d / "inf", [ring, ring.copy()])


def coordinates_1e308(d: Path) -> Path:
    ring = hf.square(0)
    ring[1:3] = 1e308
    return hf.shapefile(d / "huge", [ring, ring.copy()])


@cache
def _ten_million_ring() -> np.ndarray:
    """One ring of 10,000,001 vertices for the shapefile and the GeoPackage (computed once: 160 MB)."""
    return hf.big_ring(10_000_001)


def ten_million_vertices_shp(d: Path) -> Path:
    return hf.shapefile(d / "ten_million", [_ten_million_ring()])  # 160 MB of .shp


def ten_million_vertices_gpkg(d: Path) -> Path:
    path = d / "ten_million.gpkg"
    polygon = shapely.Polygon(_ten_million_ring())
    gpd.GeoDataFrame({"编号": ["T1"]}, geometry=[polygon], crs=4326).to_file(path)  # 160 MB
    return path


def ten_million_vertices_geojson(d: Path) -> Path:
    return hf.big_geojson(d / "ten_million.geojson", 10_000_000)  # 250 MB


def bowtie_strict(d: Path) -> Path:
    x, y = hf.LON, hf.LAT
    bowtie = [[x, y], [x + 0.001, y + 0.001], [x + 0.001, y], [x, y + 0.001], [x, y]]
    features = [
        {"type": "Feature", "properties": {"编号": "B1"}, "geometry": {"type": "Polygon", "coordinates": [bowtie]}}
    ]
    path = d / "bowtie.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def empty_file(d: Path) -> Path:
    path = d / "empty.geojson"
    path.write_bytes(b"")
    return path


def zero_byte_shp(d: Path) -> Path:
    shp = _good_shapefile(d, "zero")
    shp.write_bytes(b"")  # its .shx, .dbf and .prj are there
    return shp


def nested_geojson(d: Path) -> Path:
    coordinates = "[" * 1000 + f"{hf.LON},{hf.LAT}" + "]" * 1000
    path = d / "nested.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"编号":"N1"},'
        f'"geometry":{{"type":"Polygon","coordinates":{coordinates}}}}}]}}'
    )
    return path


def geojson_not_json(d: Path) -> Path:
    path = d / "page.geojson"
    path.write_text("<html><body>404 Not Found</body></html>")  # what a failed download saves
    return path


def gpkg_not_sqlite(d: Path) -> Path:
    path = d / "小区.gpkg"
    path.write_bytes(b"PK\x03\x04" + b"not an SQLite database " * 200)
    return path


def gpkg_wrong_srs(d: Path) -> Path:
    frame = gpd.GeoDataFrame({"编号": ["W1", "W2"]}, geometry=[shapely.box(442100, 4428300, 442200, 4428400)] * 2)
    path = d / "wrong_srs.gpkg"
    frame.set_crs(4326).to_file(path)  # Gauss–Krüger metres declared as degrees
    return path


def csv_million_columns(d: Path) -> Path:
    path = d / "wide.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("名称,类型,经度,纬度," + ",".join(f"c{i}" for i in range(1_000_000)) + "\n")
        fh.write(f"幼儿园,幼儿园,{hf.LON},{hf.LAT}," + "1," * 999_999 + "1\n")
    return path


def csv_100mb_line(d: Path) -> Path:
    path = d / "long_line.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(f"名称,类型,经度,纬度\n一,幼儿园,{hf.LON},{hf.LAT}\n二,幼儿园,{hf.LON},{hf.LAT},")
        for _ in range(100):
            fh.write("x" * MB)
        fh.write("\n")
    return path


XXE = '<!DOCTYPE osm [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'


def osm_xxe(d: Path) -> Path:
    return hf.osm(d / "xxe.osm", hf.nodes(2) + hf.way(10, [1, 2], name="&xxe;"), doctype=XXE)


def osm_billion_laughs(d: Path) -> Path:
    doctype = f"<!DOCTYPE osm [{hf.laughs()}]>\n"
    return hf.osm(d / "laughs.osm", hf.nodes(2) + hf.way(10, [1, 2], name="&lol9;"), doctype=doctype)


def osm_dangling(d: Path) -> Path:
    body = hf.nodes(4) + hf.way(10, [1, 2, 99, 4]) + hf.way(11, [97, 98]) + hf.way(12, [1, 96])
    return hf.osm(d / "dangling.osm", body)  # 99, 98, 97, 96: nodes the file does not have


def osm_one_node_way(d: Path) -> Path:
    return hf.osm(d / "one_node.osm", hf.nodes(2) + hf.way(10, [1]) + hf.way(11, [2]))


def zip_escaping(d: Path) -> Path:
    _good_shapefile(d, "inside")
    parts = {f"../../../../tmp/escaped/inside{p.suffix}": [p.read_bytes()] for p in sorted(d.glob("inside.*"))}
    return hf.write_zip(d / "delivery.zip", parts)


SHELL_NAME = "$(touch PWNED);`touch PWNED2`<img src=x onerror=alert(1)>[bold]'\"&|.geojson"


def shell_html_name(d: Path) -> Path:
    path = d / SHELL_NAME
    path.write_text("not json either")
    return path


ROW = hf.text_row(["1", "甲", "2026", "施工", "2026-05-01"])


def xlsx_zip_bomb(d: Path) -> Path:
    block = ROW * ((1 << 20) // len(ROW))  # 1 MB of rows, deflated once and written 3,072 times
    return hf.xlsx(d / "bomb.xlsx", [hf.SHEET_HEAD, hf.header_row(), hf.Repeated(block, 3072), hf.SHEET_TAIL])


def xlsx_million_rows(d: Path) -> Path:
    rows = b"<row><c><v>1</v></c></row>" * 10_000
    return hf.xlsx(d / "million.xlsx", [hf.SHEET_HEAD, hf.header_row(), hf.Repeated(rows, 100), hf.SHEET_TAIL])


def xlsx_not_zip(d: Path) -> Path:
    path = d / "配档表.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"an old .xls" * 100)  # an OLE2 (.xls) header
    return path


def xlsx_billion_laughs(d: Path) -> Path:
    shared = (
        f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE sst [{hf.laughs()}]>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        "<si><t>&lol9;</t></si></sst>"
    ).encode()
    row = b'<row><c t="s"><v>0</v></c></row>'
    return hf.xlsx(d / "laughs.xlsx", [hf.SHEET_HEAD, hf.header_row(), row, hf.SHEET_TAIL], shared=shared)


def xlsx_xxe(d: Path) -> Path:
    head = hf.SHEET_HEAD.replace(
        b"<worksheet", b'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><worksheet'
    )
    row = hf.text_row(["1", "&xxe;", "2026", "施工", "2026-05-01"])
    return hf.xlsx(d / "xxe.xlsx", [head, hf.header_row(), row, hf.SHEET_TAIL])


@dataclass(frozen=True)
class Kind:
    """One kind of hostile file: how it is made, the command it goes to (``load LAYER`` with options,
    or ``progress import``), and the words the refusal must use."""

    id: str
    build: Builder
    command: tuple[str, ...]
    phrase: str


def _load(layer: str, *options: str) -> tuple[str, ...]:
    return ("load", layer, *options)


SCHEDULE = ("progress", "import", "--year", "2026")
KINDS = [
    Kind("shp-truncated", truncated_shp, _load("compounds"), "is truncated"),
    Kind("shx-of-another-file", foreign_shx, _load("compounds"), ".shx does not match"),
    Kind("dbf-gbk-cpg-says-utf8", gbk_dbf_cpg_utf8, _load("compounds"), "--encoding GB18030"),
    Kind("nan-coordinates", nan_coordinates, _load("compounds"), "NaN"),
    Kind("infinite-coordinates", infinite_coordinates, _load("compounds"), "infinite"),
    Kind("coordinates-1e308", coordinates_1e308, _load("compounds"), "beyond any coordinate system"),
    Kind("polygon-10m-vertices-shp", ten_million_vertices_shp, _load("compounds"), "10,000,001 vertices"),
    Kind("polygon-10m-vertices-gpkg", ten_million_vertices_gpkg, _load("compounds"), "a feature may have at most"),
    Kind("polygon-10m-vertices-geojson", ten_million_vertices_geojson, _load("compounds"), "too large"),
    Kind("bowtie-polygon-strict", bowtie_strict, _load("compounds", "--strict"), "Self-intersection"),
    Kind("empty-file", empty_file, _load("compounds"), "is empty (0 bytes)"),
    Kind("shp-zero-bytes", zero_byte_shp, _load("compounds"), "is empty (0 bytes)"),
    Kind("geojson-nested-1000", nested_geojson, _load("compounds"), "without a geometry GDAL could read"),
    Kind("geojson-not-json", geojson_not_json, _load("compounds"), "is not JSON"),
    Kind("gpkg-not-sqlite", gpkg_not_sqlite, _load("compounds"), "is not a GeoPackage"),
    Kind("gpkg-wrong-srs", gpkg_wrong_srs, _load("compounds"), "--crs"),
    Kind("csv-million-columns", csv_million_columns, _load("facilities"), "1,000,004 columns"),
    Kind("csv-100mb-line", csv_100mb_line, _load("facilities"), "line 3 is 100.0 MB long"),
    Kind("osm-xxe", osm_xxe, _load("roads"), "declares a DTD"),
    Kind("osm-billion-laughs", osm_billion_laughs, _load("roads"), "declares a DTD"),
    Kind("osm-dangling-node-refs", osm_dangling, _load("roads"), "nodes that are not in the file"),
    Kind("osm-way-of-one-node", osm_one_node_way, _load("roads"), "have a single node"),
    Kind("zip-path-escapes", zip_escaping, _load("compounds"), "leads out of the archive"),
    Kind("file-name-shell-html", shell_html_name, _load("compounds"), SHELL_NAME),
    Kind("xlsx-zip-bomb", xlsx_zip_bomb, SCHEDULE, "zip bomb"),
    Kind("xlsx-million-rows", xlsx_million_rows, SCHEDULE, "1,000,001 rows"),
    Kind("xlsx-not-zip", xlsx_not_zip, SCHEDULE, "not a zip archive"),
    Kind("xlsx-billion-laughs", xlsx_billion_laughs, SCHEDULE, "XML entity declaration"),
    Kind("xlsx-xxe", xlsx_xxe, SCHEDULE, "XML entity declaration"),
]
XLSX_KINDS = [k for k in KINDS if k.command == SCHEDULE]
# Run as real `gisplan` processes (python -m gis, through the wait4 launcher): the entry point and its
# exit code end to end, for a shapefile refusal and an XML one. The rest go to the driver, which none
# of them can leave changed: the only process-wide state the library sets, GDAL config options for
# OSM, it unsets in `finally` (gis/ingest/osm.py); the driver resets the rest per call.
PROCESS_KINDS = {"shp-zero-bytes", "osm-xxe"}


def _flat(text: str) -> str:
    """Console output with rich's line wrapping undone (the message is asserted on whole)."""
    return " ".join(text.split())


def _no_file_escaped(folder: Path) -> None:
    assert not Path("/tmp/escaped").exists(), "a zip member was unpacked outside"
    for name in ("PWNED", "PWNED2"):
        assert not (folder / name).exists() and not Path(name).exists(), "a file name ran as a shell command"


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_hostile_file_is_refused_by_the_command_line(
    kind: Kind,
    site: Site,
    scratch: Path,
    driver: hf.CliDriver,
    build: Callable[[Kind, Path], Path],
    api_starting: Future[Api],  # the server starts meanwhile
) -> None:
    folder = scratch / kind.id
    folder.mkdir()
    path = build(kind, folder)
    before = hf.digest(site.owner_url)
    if kind.id in PROCESS_KINDS:
        ran = hf.run_measured([sys.executable, "-m", "gis", *kind.command, str(path)], site.env, cwd=folder)
    else:
        ran = driver.run([*kind.command, str(path)], cwd=folder)
    after = hf.digest(site.owner_url)
    entry = "process" if kind.id in PROCESS_KINDS else "cli"
    FIGURES.append((kind.id, entry, ran.returncode, ran.seconds, ran.peak_bytes / MB))
    said = _flat(ran.output)
    print(f"{kind.id}: exit {ran.returncode} in {ran.seconds:.2f} s, peak {ran.peak_bytes / MB:.0f} MB: {said[:400]}")
    assert not ran.killed and ran.returncode == 1, said
    assert _flat(kind.phrase) in said, said
    assert "nothing was changed" in said
    assert "Traceback" not in ran.stderr, ran.stderr[-2000:]
    assert ran.seconds < TIME_S, f"{kind.id} took {ran.seconds:.1f} s"
    assert ran.peak_bytes < GB, f"{kind.id} peaked at {ran.peak_bytes / MB:.0f} MB"
    assert after == before, {t: (before.get(t), after.get(t)) for t in after if after.get(t) != before.get(t)}
    assert PASSWD not in ran.output
    _no_file_escaped(folder)
    for p in folder.iterdir():  # the big ones go at once: the disk is shared
        p.unlink()


# -- the API ------------------------------------------------------------------------------------------
@dataclass
class Api:
    served: Served
    token: str

    def tree(self) -> list[int]:
        """The server and its worker processes (where edits and the schedule import are parsed)."""
        return [self.served.pid, *(c.pid for c in psutil.Process(self.served.pid).children(recursive=True))]


@pytest.fixture(scope="module")
def api_starting(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future[Api]]:
    """``gisplan serve`` started in the background as the module begins (the command-line tests ask
    for this), so that its start and its worker processes' imports (about 20 s) overlap them. The user
    is added here, before any test's "before" snapshot; what the background does — a process start
    and requests that are refused — writes nothing (a write would show in a test's before/after)."""
    token = add_user(site.ws.engine, "规划师", "planner", actor="fixture")
    log = tmp_path_factory.mktemp("hostile-serve") / "serve.log"
    stack = contextlib.ExitStack()

    def start() -> Api:
        served = stack.enter_context(serve_process(site.env, log, ready="/ogc"))

        # The worker processes start with the app and take seconds to import the library: edits that
        # are not JSON, one for each, wait for them and are answered by them (400), so the measured
        # requests find them ready.
        def warm(_: int) -> httpx.Response:
            return httpx.post(
                f"{served.base}/ogc/collections/compounds/items",
                content=b"not json",
                headers={"Authorization": f"Bearer {token}"},
                timeout=180,
            )

        with ThreadPoolExecutor(Settings().edit_workers) as pool:
            answers = list(pool.map(warm, range(Settings().edit_workers)))
        assert all(a.status_code == 400 and "not JSON" in a.text for a in answers), [a.text for a in answers]
        return Api(served, token)

    with stack, ThreadPoolExecutor(1) as background:
        yield background.submit(start)  # on the way out: the start finished, then the server stopped


@pytest.fixture(scope="module")
def api(api_starting: Future[Api]) -> Api:
    return api_starting.result(timeout=300)


def _measured_request(api: Api, site: Site, kind: str, method: str, url: str, **kw: object) -> httpx.Response:
    """One request, with the database compared before and after and the process tree's peak memory."""
    pids = api.tree()
    for pid in pids:
        hf.reset_peak(pid)
    before = hf.digest(site.owner_url)
    started = time.perf_counter()
    answer = httpx.request(method, api.served.base + url, timeout=120, **kw)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    peak = max(hf.peak_of(pid) for pid in pids)
    after = hf.digest(site.owner_url)
    FIGURES.append((kind, "api", answer.status_code, seconds, peak / MB))
    print(f"{kind} (API): {answer.status_code} in {seconds:.2f} s, peak {peak / MB:.0f} MB: {answer.text[:300]}")
    assert answer.headers["content-type"] == "application/problem+json"
    assert seconds < TIME_S and peak < GB
    assert after == before
    assert PASSWD not in answer.text
    return answer


def _nested(levels: int) -> str:
    return "[" * levels + f"{hf.LON},{hf.LAT}" + "]" * levels


def test_a_feature_nested_a_thousand_levels_is_400(api: Api, site: Site) -> None:
    auth = {"Authorization": f"Bearer {api.token}"}
    fid = int(site.ws.layer("compounds").iloc[0]["fid"])
    got = httpx.get(f"{api.served.base}/ogc/collections/compounds/items/{fid}", headers=auth, timeout=30)
    etag = got.headers["etag"]
    patch = '{"properties": {"note": ' + _nested(1000) + "}}"
    answer = _measured_request(
        api,
        site,
        "patch-nested-1000",
        "PATCH",
        f"/ogc/collections/compounds/items/{fid}",
        content=patch,
        headers={**auth, "If-Match": etag, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and "levels deep" in answer.json()["detail"]
    feature = '{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": '
    # 1,000 levels defeats Python's own parser; 100 does not, and is refused all the same
    for depth, said in ((1000, "levels deep"), (100, "more than 32 levels deep")):
        answer = _measured_request(
            api,
            site,
            f"post-nested-{depth}",
            "POST",
            "/ogc/collections/compounds/items",
            content=feature + _nested(depth) + "}}",
            headers={**auth, "Content-Type": "application/geo+json"},
        )
        assert answer.status_code == 400 and said in answer.json()["detail"]


@pytest.mark.parametrize("kind", XLSX_KINDS, ids=[k.id for k in XLSX_KINDS])
def test_hostile_schedule_table_is_422_over_the_api(
    kind: Kind, api: Api, site: Site, scratch: Path, build: Callable[[Kind, Path], Path]
) -> None:
    body = build(kind, scratch).read_bytes()
    answer = _measured_request(
        api,
        site,
        kind.id,
        "POST",
        "/api/programme/schedule?year=2026",
        content=body,
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert answer.status_code == 422, answer.text
    assert kind.phrase in answer.json()["detail"]


def test_defusedxml_is_a_runtime_dependency_and_openpyxl_uses_it() -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text("utf-8"))["project"]
    assert any(d.startswith("defusedxml") for d in project["dependencies"])
    assert openpyxl.DEFUSEDXML  # openpyxl parses with defusedxml whenever it is installed
