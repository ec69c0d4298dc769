"""The role × route × collection matrix: every route of the API, called by each kind of caller, answers
what that caller is owed — and a refused call changes nothing.

Callers: anonymous (no credentials), a signed-in user of the public role, a planner, an admin (bad,
disabled and expired credentials answer 401 on every route: ``test_auth``). Every operation of the
OpenAPI document must be in ``ROUTES`` (a new route fails this test until its rule is written down);
the routes under ``/ogc/collections/{collection_id}`` are called for every collection of the
registry. The rule a caller is held to:

* allowed (its role reaches the route and the collection): the route's success status;
* a restricted collection to the public or an anonymous caller: 404 (it does not exist for them);
* otherwise 401 with a challenge when anonymous, 403 when signed in: problem+json either way.

Every response to a planner or an admin is ``Cache-Control: no-store``. The refused calls run
first, and the layers, the audit log, the programme's events, the runs and the users are compared
before and after them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.main import create_app
from gis import clock
from gis.evidence.findings import Opening
from gis.evidence.service import Attachment
from gis.gaps import runs as gap_runs
from gis.residents.consultations import Opening as Consulting
from gis.residents.consultations import Result
from gis.residents.public import Message, NoticeDraft
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.photos import PDF, photo

# the database is a copy of the prepared sample; a long module (run first)
pytestmark = [pytest.mark.sample, pytest.mark.heavy]

CALLERS = ("anonymous", "public", "planner", "admin")
LEVEL = {"anonymous": 0, "public": 0, "planner": 1, "admin": 2}
NEED = {"public": 0, "planner": 1, "admin": 2}
GAP_TYPES = ["kindergarten", "elderly_station"]


@dataclass
class Site:
    """The sample, analysed and with its programme advanced, served in-process."""

    ws: Workspace
    client: TestClient
    tokens: dict[str, str]
    spent: list[float] = field(default_factory=lambda: [100_000.0])  # above the sample's
    made: Iterator[int] = field(default_factory=itertools.count)  # numbers for names that must differ
    firsts: dict[str, int] = field(default_factory=dict)
    refusing: bool = True  # while calls are refused, a delete or a disable aims at what already exists

    def headers(self, caller: str) -> dict[str, str]:
        token = self.tokens.get(caller)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def first(self, layer: str) -> int:
        """The layer's first feature (the matrix deletes only features it made)."""
        if layer not in self.firsts:
            self.firsts[layer] = int(self.ws.layer(layer)["fid"].min())
        return self.firsts[layer]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    files: Any = None
    data: Any = None


Builder = Callable[[Site, str], Call]


@dataclass(frozen=True)
class Route:
    """Who a route is for, and a call that succeeds for them (built anew for each call: a delete
    needs a feature of its own)."""

    need: str
    ok: int
    build: Builder
    hidden: bool = False  # not public: 404 to the public and to an anonymous caller, as a restricted layer


def _get(path: str, **params: Any) -> Builder:
    return lambda site, collection: Call("GET", path.format(c=collection), params)


def _feature(site: Site, collection: str) -> dict[str, Any]:
    if site.refusing:  # refused before the body is read: any body will do
        return {"type": "Feature", "geometry": None, "properties": {}}
    fid = site.first(collection)
    r = site.client.get(f"/ogc/collections/{collection}/items/{fid}", headers=site.headers("admin"))
    assert r.status_code == 200, r.text
    feature = r.json()
    props = {k: v for k, v in feature["properties"].items() if k not in ("fid", "source", "source_key", "synthetic")}
    if "name" in props:
        props["name"] = f"矩阵测试 {next(site.made)}"
    return {"type": "Feature", "geometry": feature["geometry"], "properties": props}


def _etag(site: Site, collection: str, fid: int) -> str:
    r = site.client.get(f"/ogc/collections/{collection}/items/{fid}", headers=site.headers("admin"))
    assert r.status_code == 200, r.text
    return r.headers["ETag"]


def _create(site: Site, collection: str) -> Call:
    return Call("POST", f"/ogc/collections/{collection}/items", json=_feature(site, collection))


def _replace(method: str) -> Builder:
    def build(site: Site, collection: str) -> Call:
        fid = site.first(collection)
        body = _feature(site, collection)
        if method == "PATCH":
            body = {"properties": body["properties"]}
        return Call(
            method, f"/ogc/collections/{collection}/items/{fid}", json=body, headers=_if_match(site, collection, fid)
        )

    return build


def _if_match(site: Site, collection: str, fid: int) -> dict[str, str]:
    if site.refusing:
        return {"If-Match": '"0"'}
    return {"If-Match": _etag(site, collection, fid)}


def _delete(site: Site, collection: str) -> Call:
    if site.refusing:
        return Call("DELETE", f"/ogc/collections/{collection}/items/1", headers=_if_match(site, collection, 1))
    made = site.client.post(
        f"/ogc/collections/{collection}/items", json=_feature(site, collection), headers=site.headers("admin")
    )
    assert made.status_code == 201, made.text
    fid = int(made.json()["id"])
    return Call("DELETE", f"/ogc/collections/{collection}/items/{fid}", headers={"If-Match": made.headers["ETag"]})


def _tile(site: Site, collection: str) -> Call:
    layer = site.ws.layer(collection).to_crs(4326)
    point = layer.geometry.iloc[0].representative_point()
    t = morecantile.tms.get("WebMercatorQuad").tile(point.x, point.y, 15)
    return Call("GET", f"/ogc/collections/{collection}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}")


def _project(site: Site) -> int:
    return int(site.ws.programme.status()["compound_id"].iloc[0])


def _funds(path: str, **params: Any) -> Builder:
    """A path of the first project's funds ledger."""
    return lambda site, _: Call("GET", path.format(id=_project(site)), params)


def _fund_pack(site: Site, _: str) -> Call:
    return Call("GET", "/api/funds/pack.xlsx", {"compound_id": _project(site)})


def _fund_entry(site: Site, _: str) -> Call:
    body = {"kind": "received", "amount": "1.00", "on": str(date.today()), "fund_source": "local"}
    return Call("POST", f"/api/funds/{_project(site)}/entries", json=body)


def _month(site: Site) -> str:
    months = site.client.get("/api/reports/months", headers=site.headers("admin")).json()["submissions"]
    latest = max((m["month"] for m in months), default=None)
    year, month = (int(v) for v in (latest or "2025-12").split("-"))
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def _progress(site: Site, _: str) -> Call:
    site.spent.append(site.spent[-1] + 1.5)
    return Call("POST", f"/api/programme/{_project(site)}/progress", json={"spent": site.spent[-1]})


def _correction(site: Site, _: str) -> Call:
    site.spent.append(site.spent[-1] + 1.5)
    body = {"reason": "矩阵测试：金额更正", "investment_spent": site.spent[-1]}
    return Call("POST", f"/api/programme/{_project(site)}/corrections", json=body)


def _schedule(site: Site, _: str) -> Call:
    xlsx = site.client.get("/api/programme/schedule.xlsx", headers=site.headers("admin"))
    assert xlsx.status_code == 200
    return Call("POST", "/api/programme/schedule", content=xlsx.content)


def _job(site: Site, _: str) -> Call:
    started = site.client.post("/api/gaps", json={"facility": ["kindergarten"]}, headers=site.headers("planner"))
    assert started.status_code == 202, started.text
    return Call("GET", f"/api/jobs/{started.json()['job']}")


def _cancel(site: Site, _: str) -> Call:
    if site.refusing:  # refused before the job is looked up
        return Call("DELETE", f"/api/jobs/{'0' * 32}")
    started = site.client.post("/api/gaps", json={"facility": ["kindergarten"]}, headers=site.headers("planner"))
    assert started.status_code == 202, started.text
    return Call("DELETE", f"/api/jobs/{started.json()['job']}")  # the planner's own, or any as an admin


def _run(path: str) -> Builder:
    return lambda site, _: Call("GET", path.format(run=gap_runs.list_runs(site.ws.engine, limit=1)[0]["id"]))


def _compound(path: str, **params: Any) -> Builder:
    return lambda site, _: Call("GET", path.format(id=site.first("compounds")), params)


def _open_finding(site: Site) -> int:
    """A finding of the matrix's own (each close needs one still open)."""
    compound = int(site.ws.programme.status()["compound_id"].iloc[0])
    opening = Opening(compound, f"矩阵测试 {next(site.made)}", "矩阵测试单位", clock.today())
    return int(site.ws.findings.open(opening, actor="matrix")["id"])


def _new_finding(site: Site, _: str) -> Call:
    compound = int(site.ws.programme.status()["compound_id"].iloc[0])
    body = {"compound_id": compound, "what": f"矩阵测试 {next(site.made)}", "responsible_unit": "矩阵测试单位"}
    return Call("POST", "/api/findings", json={**body, "deadline": clock.today().isoformat()})


def _finding(site: Site, _: str) -> Call:
    return Call("GET", f"/api/findings/{int(site.ws.findings.items()['id'].min())}")


def _close_finding(site: Site, _: str) -> Call:
    if site.refusing:  # refused before the finding is looked up
        return Call("POST", "/api/findings/1/close", content=PDF)
    return Call("POST", f"/api/findings/{_open_finding(site)}/close", content=PDF)


def _disable(site: Site, _: str) -> Call:
    if site.refusing:
        return Call("POST", "/api/users/m-planner/disable")
    name = f"temp-{next(site.made)}"
    add_user(site.ws.engine, name, "planner")
    return Call("POST", f"/api/users/{name}/disable")


def _published(path: str) -> Builder:
    """A path of a published evidence item (the demo publishes its before/after photos)."""
    return lambda site, _: Call("GET", path.format(id=int(site.ws.evidence.published()["id"].iloc[0])))


def _upload(site: Site, _: str) -> Call:
    data = photo(taken="2026:11:02 10:00:00", colour=next(site.made) % 250)
    return Call(
        "POST",
        "/api/evidence",
        data={"compound_id": str(site.first("compounds")), "category": "施工"},
        files=[("files", ("m.jpg", data, "image/jpeg"))],
    )


def _fresh_item(site: Site) -> int:
    if site.refusing:  # refused before the item is looked up
        return 1
    data = photo(colour=next(site.made) % 250)
    added = site.ws.evidence.add(Attachment(site.first("compounds"), "other"), [("m.jpg", data)], actor="matrix")
    return int(added["id"].iloc[0])


def _withdraw(site: Site, _: str) -> Call:
    return Call("POST", f"/api/evidence/{_fresh_item(site)}/withdraw", json={"reason": "矩阵测试"})


def _publish(site: Site, _: str) -> Call:
    return Call("POST", f"/api/evidence/{_fresh_item(site)}/publish", json={"published": True})


def _acceptance(path: str) -> Builder:
    """A path of the sample's (demo) acceptance record."""
    return lambda site, _: Call("GET", path.format(id=int(site.ws.acceptance.records()["id"].iloc[0])))


def _record(site: Site, _: str) -> Call:
    scores = {i.id: {"score": i.points} for i in site.ws.acceptance.rules.items}
    body = {"compound_id": _project(site), "held_on": str(date.today()), "team": ["矩阵测试组"], "scores": scores}
    return Call("POST", "/api/acceptance", json=body)


def _consultation(site: Site) -> int:
    """A consultation of the sample's first project, closed yesterday, with one building counted."""
    today = date.today()
    opening = Consulting(
        "other", "meeting", f"矩阵测试 {next(site.made)}", today - timedelta(10), today - timedelta(1), 100, 10
    )
    made = site.ws.residents.open_consultation(_project(site), opening, actor="matrix")
    site.ws.residents.record_results(made["id"], [Result("1号楼", 80, 8, 60, 6, 20, 2)], actor="matrix")
    return int(made["id"])


def _results(site: Site, _: str) -> Call:
    body = {
        "results": [
            {
                "unit": f"{next(site.made)}号楼",
                "area": 1,
                "owners": 1,
                "favour_area": 1,
                "favour_owners": 1,
                "against_area": 0,
                "against_owners": 0,
            }
        ]
    }
    return Call("POST", f"/api/consultations/{_consultation(site)}/results", json=body)


def _notice_body(site: Site) -> dict[str, Any]:
    today = str(date.today())
    return {
        "compound_id": _project(site),
        "kind": "plan",
        "title": "矩阵",
        "text": "矩阵测试",
        "from_on": today,
        "to_on": today,
    }


def _notice(site: Site) -> int:
    made = site.ws.residents.add_notice(
        _project(site), NoticeDraft("plan", "矩阵", "矩阵测试", date.today(), date.today()), actor="matrix"
    )
    return int(made["id"])


def _fresh_feedback(site: Site) -> int:
    return int(site.ws.residents.submit_feedback(_project(site), Message(f"矩阵测试 {next(site.made)}"))["id"])


def _feedback_step(action: str, body: Any = None) -> Builder:
    return lambda site, _: Call("POST", f"/api/feedback/{_fresh_feedback(site)}/{action}", json=body)


def _published_quarter(site: Site, _: str) -> Call:
    """The public ranking of a published quarter (2026Q3, published here once by the library)."""
    if not site.refusing and "2026Q3" not in set(site.ws.assessment.publications()["quarter"]):
        site.ws.assessment.publish("2026Q3", actor="matrix", role="admin")
    return Call("GET", "/api/assessment/2026Q3/ranking")


def _manual_score(site: Site, _: str) -> Call:
    """A manual score of 2026Q4 (never published here) citing the sample's first standing evidence item."""
    items = site.ws.evidence.items()
    item = items[items["withdrawn_at"].isna()].iloc[0]
    street = site.ws.layer("compounds", where={"fid": [int(item["compound_id"])]}).iloc[0]["street"]
    body = {
        "street": street,
        "item": "long_term_management",
        "points": 3,
        "note": "矩阵测试",
        "evidence": [int(item["id"])],
    }
    return Call("POST", "/api/assessment/2026Q4/manual", json=body)


C = "/ogc/collections/{c}"
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/healthz"): Route("public", 200, _get("/healthz")),
    ("GET", "/readyz"): Route("public", 200, _get("/readyz")),
    ("GET", "/ogc"): Route("public", 200, _get("/ogc")),
    ("GET", "/ogc/conformance"): Route("public", 200, _get("/ogc/conformance")),
    ("GET", "/ogc/api"): Route("public", 200, _get("/ogc/api")),
    ("GET", "/ogc/collections"): Route("public", 200, _get("/ogc/collections")),
    ("GET", C): Route("public", 200, _get(C)),
    ("GET", C + "/queryables"): Route("public", 200, _get(C + "/queryables")),
    ("GET", C + "/items"): Route("public", 200, _get(C + "/items", limit=5)),
    ("GET", C + "/items/{fid}"): Route("public", 200, lambda s, c: Call("GET", f"{C.format(c=c)}/items/{s.first(c)}")),
    ("POST", C + "/items"): Route("planner", 201, _create),
    ("PUT", C + "/items/{fid}"): Route("planner", 204, _replace("PUT")),
    ("PATCH", C + "/items/{fid}"): Route("planner", 204, _replace("PATCH")),
    ("DELETE", C + "/items/{fid}"): Route("planner", 204, _delete),
    ("GET", C + "/tiles/WebMercatorQuad/{z}/{y}/{x}"): Route("public", 200, _tile),
    ("GET", C + "/tiles/WebMercatorQuad/tilejson.json"): Route(
        "public", 200, _get(C + "/tiles/WebMercatorQuad/tilejson.json")
    ),
    ("GET", "/api/map/config"): Route("public", 200, _get("/api/map/config")),
    ("GET", "/api/map/gaps/{facility}"): Route("public", 200, _get("/api/map/gaps/kindergarten")),
    ("GET", "/api/map/compounds/{compound_id}/gaps"): Route("public", 200, _compound("/api/map/compounds/{id}/gaps")),
    ("GET", "/api/map/catchments/{facility}"): Route("public", 200, _get("/api/map/catchments/kindergarten")),
    ("GET", "/api/map/progress"): Route("planner", 200, _get("/api/map/progress")),
    ("POST", "/api/gaps"): Route("planner", 202, lambda s, _: Call("POST", "/api/gaps", json={"facility": GAP_TYPES})),
    ("GET", "/api/jobs/{job_id}"): Route("public", 200, _job),
    ("GET", "/api/jobs"): Route("planner", 200, _get("/api/jobs")),
    ("DELETE", "/api/jobs/{job_id}"): Route("planner", 202, _cancel),
    ("GET", "/api/gaps/runs"): Route("public", 200, _get("/api/gaps/runs")),
    ("GET", "/api/gaps/runs/{run_id}"): Route("public", 200, _run("/api/gaps/runs/{run}")),
    ("GET", "/api/gaps/runs/{run_id}/summary"): Route("public", 200, _run("/api/gaps/runs/{run}/summary")),
    ("GET", "/api/exports/gaps/{run_id}.csv"): Route("public", 200, _run("/api/exports/gaps/{run}.csv")),
    ("GET", "/api/exports/map.html"): Route("public", 200, _get("/api/exports/map.html")),
    ("GET", "/api/exports/gisplan.gpkg"): Route("public", 200, _get("/api/exports/gisplan.gpkg")),
    ("GET", "/api/exports/gaps.xlsx"): Route("public", 200, _get("/api/exports/gaps.xlsx")),
    ("GET", "/api/exports/gaps.csv"): Route("public", 200, _get("/api/exports/gaps.csv")),
    ("GET", "/api/exports/reports/{compound_id}.html"): Route(
        "public", 200, _compound("/api/exports/reports/{id}.html")
    ),
    ("GET", "/api/programme"): Route("planner", 200, _get("/api/programme")),
    ("GET", "/api/programme/risks"): Route("planner", 200, _get("/api/programme/risks")),
    ("GET", "/api/programme/property-coverage"): Route("planner", 200, _get("/api/programme/property-coverage")),
    ("GET", "/api/programme/schedule.xlsx"): Route("planner", 200, _get("/api/programme/schedule.xlsx")),
    ("POST", "/api/programme/schedule"): Route("planner", 200, _schedule),
    ("GET", "/api/programme/{compound_id}"): Route(
        "planner", 200, lambda s, _: Call("GET", f"/api/programme/{_project(s)}")
    ),
    ("POST", "/api/programme/{compound_id}/progress"): Route("planner", 200, _progress),
    ("POST", "/api/programme/{compound_id}/corrections"): Route("admin", 201, _correction),
    ("GET", "/api/reports/months"): Route("planner", 200, _get("/api/reports/months")),
    ("GET", "/api/reports/month/{month}.xlsx"): Route(
        "planner", 200, lambda s, _: Call("GET", f"/api/reports/month/{_month(s)}.xlsx")
    ),
    ("GET", "/api/reports/month/{month}.csv"): Route(
        "planner", 200, lambda s, _: Call("GET", f"/api/reports/month/{_month(s)}.csv")
    ),
    ("GET", "/api/reports/month/{month}"): Route(
        "planner", 200, lambda s, _: Call("GET", f"/api/reports/month/{_month(s)}")
    ),
    ("POST", "/api/reports/month/{month}/submit"): Route(
        "admin", 201, lambda s, _: Call("POST", f"/api/reports/month/{_month(s)}/submit")
    ),
    ("POST", "/api/evidence"): Route("planner", 201, _upload),
    ("GET", "/api/evidence"): Route("planner", 200, _get("/api/evidence")),
    ("GET", "/api/evidence/published"): Route("public", 200, _get("/api/evidence/published")),
    ("GET", "/api/evidence/verify"): Route("planner", 200, _get("/api/evidence/verify")),
    ("GET", "/api/evidence/{item_id}"): Route("public", 200, _published("/api/evidence/{id}")),
    ("GET", "/api/evidence/{item_id}/file"): Route("public", 200, _published("/api/evidence/{id}/file")),
    ("GET", "/api/evidence/{item_id}/thumbnail"): Route("public", 200, _published("/api/evidence/{id}/thumbnail")),
    ("POST", "/api/evidence/{item_id}/withdraw"): Route("planner", 200, _withdraw),
    ("POST", "/api/evidence/{item_id}/publish"): Route("planner", 200, _publish),
    ("GET", "/api/acceptance/checklist"): Route("public", 200, _get("/api/acceptance/checklist")),
    ("GET", "/api/acceptance/public"): Route("public", 200, _get("/api/acceptance/public")),
    ("GET", "/api/acceptance"): Route("planner", 200, _get("/api/acceptance")),
    ("POST", "/api/acceptance"): Route("planner", 201, _record),
    ("GET", "/api/acceptance/{record_id}"): Route("planner", 200, _acceptance("/api/acceptance/{id}")),
    ("GET", "/api/acceptance/{record_id}/sheet.xlsx"): Route(
        "planner", 200, _acceptance("/api/acceptance/{id}/sheet.xlsx")
    ),
    ("GET", "/api/acceptance/{record_id}/sheet.html"): Route(
        "planner", 200, _acceptance("/api/acceptance/{id}/sheet.html")
    ),
    ("GET", "/api/findings"): Route("planner", 200, _get("/api/findings")),
    ("POST", "/api/findings"): Route("planner", 201, _new_finding),
    ("GET", "/api/findings/bulletin.html"): Route("planner", 200, _get("/api/findings/bulletin.html")),
    ("GET", "/api/findings/bulletin.xlsx"): Route("planner", 200, _get("/api/findings/bulletin.xlsx")),
    ("GET", "/api/findings/{finding_id}"): Route("planner", 200, _finding),
    ("POST", "/api/findings/{finding_id}/close"): Route("planner", 200, _close_finding),
    ("GET", "/api/funds/breaches"): Route("planner", 200, _get("/api/funds/breaches"), hidden=True),
    ("GET", "/api/funds/rules"): Route("planner", 200, _get("/api/funds/rules"), hidden=True),
    ("GET", "/api/funds/streets"): Route("planner", 200, _get("/api/funds/streets"), hidden=True),
    ("GET", "/api/funds/pack.xlsx"): Route("planner", 200, _fund_pack, hidden=True),
    ("GET", "/api/funds/{compound_id}"): Route("planner", 200, _funds("/api/funds/{id}"), hidden=True),
    ("POST", "/api/funds/{compound_id}/entries"): Route("planner", 201, _fund_entry, hidden=True),
    ("POST", "/api/consultations"): Route(
        "planner",
        201,
        lambda s, _: Call(
            "POST",
            "/api/consultations",
            json={
                "compound_id": _project(s),
                "topic": "other",
                "channel": "meeting",
                "title": "矩阵",
                "opens_on": str(date.today()),
                "closes_on": str(date.today()),
                "total_area": 10,
                "total_owners": 2,
            },
        ),
    ),
    ("GET", "/api/consultations"): Route("planner", 200, _get("/api/consultations")),
    ("GET", "/api/consultations/{consultation_id}"): Route(
        "planner", 200, lambda s, _: Call("GET", f"/api/consultations/{_consultation(s)}")
    ),
    ("POST", "/api/consultations/{consultation_id}/results"): Route("planner", 201, _results),
    ("POST", "/api/consultations/{consultation_id}/outcome"): Route(
        "planner", 201, lambda s, _: Call("POST", f"/api/consultations/{_consultation(s)}/outcome", json={})
    ),
    ("GET", "/api/notices/public"): Route("public", 200, _get("/api/notices/public")),
    ("GET", "/api/notices"): Route("planner", 200, _get("/api/notices")),
    ("POST", "/api/notices"): Route("planner", 201, lambda s, _: Call("POST", "/api/notices", json=_notice_body(s))),
    ("POST", "/api/notices/{notice_id}/close"): Route(
        "planner", 200, lambda s, _: Call("POST", f"/api/notices/{_notice(s)}/close")
    ),
    ("POST", "/api/feedback"): Route(
        "public", 202, lambda s, _: Call("POST", "/api/feedback", json={"compound_id": _project(s), "text": "矩阵测试"})
    ),
    ("GET", "/api/feedback/published"): Route("public", 200, _get("/api/feedback/published")),
    ("GET", "/api/feedback"): Route("planner", 200, _get("/api/feedback")),
    ("GET", "/api/feedback/{feedback_id}"): Route(
        "planner", 200, lambda s, _: Call("GET", f"/api/feedback/{_fresh_feedback(s)}")
    ),
    ("POST", "/api/feedback/{feedback_id}/answer"): Route(
        "planner", 200, _feedback_step("answer", {"reply": "已处理"})
    ),
    ("POST", "/api/feedback/{feedback_id}/publish"): Route("planner", 200, _feedback_step("publish", {})),
    ("POST", "/api/feedback/{feedback_id}/reject"): Route("planner", 200, _feedback_step("reject")),
    ("POST", "/api/feedback/{feedback_id}/close"): Route("planner", 200, _feedback_step("close")),
    ("GET", "/api/assessment/scheme"): Route("planner", 200, _get("/api/assessment/scheme")),
    ("GET", "/api/assessment/{quarter}"): Route("planner", 200, _get("/api/assessment/2026Q3")),
    ("GET", "/api/assessment/{quarter}.xlsx"): Route("planner", 200, _get("/api/assessment/2026Q3.xlsx")),
    ("GET", "/api/assessment/{quarter}/ranking"): Route("public", 200, _published_quarter),
    ("POST", "/api/assessment/{quarter}/manual"): Route("planner", 201, _manual_score),
    ("POST", "/api/assessment/{quarter}/publish"): Route(
        "admin", 201, lambda _s, _c: Call("POST", "/api/assessment/2026Q2/publish")
    ),
    ("GET", "/api/users"): Route("admin", 200, _get("/api/users")),
    ("POST", "/api/users/{name}/disable"): Route("admin", 200, _disable),
}
# The same routes with a flag that asks for more than the public gets.
VARIANTS: list[tuple[str, Route]] = [
    ("restricted map", Route("planner", 200, _get("/api/exports/map.html", restricted="true"))),
    ("progress map", Route("planner", 200, _get("/api/exports/map.html", colour="progress"))),
    ("restricted GeoPackage", Route("planner", 200, _get("/api/exports/gisplan.gpkg", restricted="true"))),
    (
        "restricted report",
        Route("planner", 200, _compound("/api/exports/reports/{id}.html", restricted="true")),
    ),
]
# Pages outside the OpenAPI document: the web map and its scripts, the API's own documents.
PAGES = ["/", "/static/app.js", "/docs", "/static/vendor/swagger-ui-dist/swagger-ui.css", "/openapi.json"]


@pytest.fixture
def site(ws: Workspace, tmp_path: Any) -> Iterator[Site]:
    for layer in ws.registry.layers:
        assert len(ws.layer(layer)) > 0, f"the sample has no {layer}: its routes would not be tried"
    tokens = {caller: add_user(ws.engine, f"m-{caller}", caller) for caller in ("public", "planner", "admin")}
    ws.settings.auth_failures = 100_000
    ws.settings.job_queue = 1_000  # the matrix starts a job per call of three routes
    with TestClient(create_app(workspace=ws)) as client:
        yield Site(ws, client, tokens)


def expected(route: Route, caller: str, restricted: bool, read_only: bool = False) -> int:
    """``read_only``: an edit of a layer only its own commands write (evidence), 405 once allowed."""
    if restricted and LEVEL[caller] == 0:
        return 404
    if LEVEL[caller] >= max(NEED[route.need], 1 if restricted else 0):
        return 405 if read_only else route.ok
    return 401 if caller == "anonymous" else 403


EDITS = ("POST", "PUT", "PATCH", "DELETE")


def cases(site: Site) -> list[tuple[str, Route, str | None, bool, bool]]:
    out: list[tuple[str, Route, str | None, bool, bool]] = []
    for (method, path), route in ROUTES.items():
        if "{collection_id}" in path or path.startswith(C):
            for layer in site.ws.registry.layers.values():
                read_only = layer.read_only and method in EDITS
                out.append((f"{method} {path} [{layer.id}]", route, layer.id, layer.restricted, read_only))
        else:
            out.append((f"{method} {path}", route, None, route.hidden, False))
    out += [(name, route, None, False, False) for name, route in VARIANTS]
    return out


def state(site: Site) -> dict[str, Any]:
    with site.ws.engine.connect() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("audit_log", "programme_events", "programme_submissions", "gap_runs", "users")
        }
        counts["enabled users"] = conn.execute(text("SELECT count(*) FROM users WHERE disabled_at IS NULL")).scalar()
    for layer in site.ws.registry.layers:
        counts[layer] = len(site.ws.layer(layer))
    return counts


def call(site: Site, c: Call, caller: str) -> Any:
    headers = {**c.headers, **site.headers(caller)}
    return site.client.request(
        c.method, c.path, params=c.params, json=c.json, content=c.content, headers=headers, files=c.files, data=c.data
    )


def test_every_route_for_every_caller(site: Site) -> None:
    documented = {
        (m.upper(), p.replace("{collection_id}", "{c}"))
        for p, item in site.client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for m in item
    }
    assert documented == set(ROUTES), (
        f"routes without a rule: {documented - set(ROUTES)}; gone: {set(ROUTES) - documented}"
    )
    all_cases = cases(site)
    wrong: list[str] = []
    tried = 0
    before = state(site)
    for name, route, collection, restricted, read_only in all_cases:  # the refusals first: they change nothing
        for caller in CALLERS:
            want = expected(route, caller, restricted, read_only)
            if want == route.ok:
                continue
            r = call(site, route.build(site, collection or ""), caller)
            tried += 1
            problem = r.headers.get("content-type") == "application/problem+json"
            challenged = want != 401 or "WWW-Authenticate" in r.headers
            if r.status_code != want or not problem or not challenged:
                wrong.append(f"{name} as {caller}: {r.status_code} (want {want}) {r.text[:120]}")
    assert state(site) == before, "a refused call changed something"
    site.refusing = False
    for name, route, collection, restricted, read_only in all_cases:
        for caller in CALLERS:
            want = expected(route, caller, restricted, read_only)
            if want != route.ok:
                continue
            r = call(site, route.build(site, collection or ""), caller)
            tried += 1
            if r.status_code != want:
                wrong.append(f"{name} as {caller}: {r.status_code} (want {want}) {r.text[:200]}")
            elif caller in ("planner", "admin") and r.headers.get("Cache-Control") != "no-store":
                wrong.append(f"{name} as {caller}: Cache-Control {r.headers.get('Cache-Control')!r}")
    for path in PAGES:
        for caller in CALLERS:
            tried += 1
            if (r := site.client.get(path, headers=site.headers(caller))).status_code != 200:
                wrong.append(f"GET {path} as {caller}: {r.status_code}")
    print(f"matrix: {len(all_cases) + len(PAGES)} routes × {len(CALLERS)} callers = {tried} calls, {len(wrong)} wrong")
    assert not wrong, "\n".join(wrong)
    assert tried >= 4 * (len(ROUTES) + 5 * len(site.ws.registry.layers))
