"""``ws.findings``: inspection findings (督查问题): open, close with evidence, list, and the 督查通报.

A finding is a point (where the inspector stood, or the compound's representative point): what was
found, its category, the unit responsible and a deadline; photos may come with it (evidence items of
category ``inspection`` citing the finding). It is closed once, with at least one rectification file
(an evidence item of category ``rectification``, 整改): never without. Both are one audited transaction
each, serialised with the programme's writes; the layer is restricted (planners only) and never edited
or deleted otherwise (migration 0016's guard).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import Transformer
from sqlalchemy import Connection

from gis import clock
from gis.errors import FindingClosedError, FindingError, NotFoundError, ProjectNotFoundError
from gis.evidence import findings_store, inspection
from gis.evidence import store as evidence_store
from gis.evidence.service import Attachment, Evidence, Prepared
from gis.programme import store as programme
from gis.programme.monthly import MonthEvidence
from gis.programme.rules import require_planner
from gis.registry import registry
from gis.roles import Role
from gis.store import layers
from gis.store.database import Database

# a finding as listed: the stored columns, its status on the day and where it is (WGS84)
LIST_COLUMNS = [
    *("id", "compound_id", "compound_name", "district", "street", "category", "what", "responsible_unit"),
    *("inspector", "found_on", "deadline", "closed_on", "closed_by", "closing_note", "status", "days_overdue"),
    *("lon", "lat", "synthetic"),
]


@dataclass
class Opening:
    """What a finding says when it is opened (besides its photos)."""

    compound_id: int
    what: str
    responsible_unit: str
    deadline: date
    category: str = "other"
    found_on: date | None = None  # default today
    lon: float | None = None  # where, WGS84; default the compound's representative point
    lat: float | None = None
    inspector: str | None = None
    synthetic: str | None = None


@dataclass
class Bulletin:
    """The 督查通报 of a day: streets ranked, the findings standing then, their photos' thumbnails."""

    on: date
    title: str
    ranking: pd.DataFrame
    findings: pd.DataFrame
    thumbnails: dict[int, list[bytes]] = field(default_factory=dict)  # finding id -> JPEG thumbnails
    closing: dict[int, list[bytes]] = field(default_factory=dict)  # finding id -> rectification thumbnails


class Findings:
    """The inspection findings of a database. Build it through ``ws.findings``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.evidence = Evidence(db)
        self.layer = registry().layer("inspection_findings")
        self.codes = registry().code_list("finding_category")

    # -- writing ------------------------------------------------------------------------------------
    def open(
        self,
        opening: Opening,
        photos: Sequence[tuple[str, bytes]] = (),
        *,
        actor: str = "notebook",
        role: Role = "planner",
        today: date | None = None,
    ) -> dict[str, Any]:
        """Open a finding (and store its photos) in one transaction; the finding as :meth:`get` gives it.

        Examples
        --------
        >>> ws.findings.open(Opening(12, "脚手架未设防护网", "某建设公司", date(2026, 12, 10), "safety"),
        ...     [("现场.jpg", data)], actor="张三")
        """
        require_planner(role, "opening an inspection finding")
        category = self.codes.resolve(opening.category or "")
        if category is None:
            valid = ", ".join(f"{c.id} {c.zh}" for c in self.codes.codes)
            raise FindingError(f"category {opening.category!r} is not one of: {valid}")
        what, unit = (opening.what or "").strip(), (opening.responsible_unit or "").strip()
        if not what or not unit:
            raise FindingError("a finding says what was found and who must put it right / 须填写问题描述和责任单位")
        found = opening.found_on or clock.today(today)
        if found > clock.today(today):
            raise FindingError(f"found on {found}: that is in the future / 发现日期不能晚于今天")
        if opening.deadline < found:
            raise FindingError(
                f"the deadline {opening.deadline} is before the finding ({found}) / 整改期限早于发现日期"
            )
        prepared = self.evidence.prepare(Attachment(opening.compound_id, "inspection"), photos) if photos else None
        crs = self.db.require_schema()
        srid = int(crs.to_epsg() or 0)
        with programme.transaction(self.db, actor) as conn:
            compound = self._compound(conn, opening.compound_id)
            x, y = self._position(opening, compound, srid)
            new = findings_store.NewFinding(
                compound_id=opening.compound_id,
                compound_name=compound.get("name"),
                district=compound.get("district"),
                street=compound.get("street"),
                project_id=self._project_id(conn, opening.compound_id),
                category=category,
                what=what,
                responsible_unit=unit,
                inspector=opening.inspector,
                found_on=found,
                deadline=opening.deadline,
                actor=actor,
                x=x,
                y=y,
                synthetic=opening.synthetic,
            )
            fid = findings_store.insert(conn, new, key=str(uuid.uuid4()), srid=srid)
            if prepared is not None:
                cited = replace(prepared.attachment, finding_id=fid, synthetic=opening.synthetic)
                self.evidence.store_in(conn, Prepared(cited, prepared.files), actor)
            return self._row(conn, fid, clock.today(today))

    def close(
        self,
        fid: int,
        files: Sequence[tuple[str, bytes]],
        *,
        note: str | None = None,
        closed_on: date | None = None,
        actor: str = "notebook",
        role: Role = "planner",
        today: date | None = None,
    ) -> dict[str, Any]:
        """Close a finding (整改销号) with its rectification evidence, in one transaction.

        Raises
        ------
        FindingError
            No file (a finding is never closed without evidence), or a date before the finding or in the future.
        FindingClosedError
            It was closed already (409).
        """
        require_planner(role, "closing an inspection finding")
        if not files:
            raise FindingError(
                "a finding is closed only with rectification evidence: give a photo or a document / 须提供整改资料"
            )
        day = closed_on or clock.today(today)
        if day > clock.today(today):
            raise FindingError(f"closed on {day}: that is in the future / 整改完成日期不能晚于今天")
        with programme.transaction(self.db, actor) as conn:
            row = findings_store.for_update(conn, fid)
            if row is None:
                raise NotFoundError(f"no inspection finding {fid} / 无此督查问题")
            if row["closed_on"] is not None:
                raise FindingClosedError(f"finding {fid} was closed on {row['closed_on']} by {row['closed_by']}")
            if day < row["found_on"]:
                raise FindingError(f"closed on {day}, before it was found ({row['found_on']}) / 整改日期早于发现日期")
            attach = Attachment(int(row["compound_id"]), "rectification", note=note, finding_id=fid)
            self.evidence.store_in(conn, self.evidence.prepare(attach, files), actor)
            findings_store.close(conn, fid, on=day, actor=actor, note=note.strip() if note else None)
            return self._row(conn, fid, clock.today(today))

    def _compound(self, conn: Connection, compound_id: int) -> dict[str, Any]:
        compounds = registry().layer("compounds")
        columns = ["name", "district", "street"]
        found = layers.read(conn, compounds, self.db.require_schema(), where={"fid": compound_id}, columns=columns)
        if found.empty:
            raise NotFoundError(f"no compound {compound_id} / 无此小区")
        out = {c: found.iloc[0][c] for c in columns}
        return {**out, "geometry": found.geometry.iloc[0]}

    def _position(self, opening: Opening, compound: dict[str, Any], srid: int) -> tuple[float, float]:
        """The finding's point in the working CRS: where it was given, within reach of its compound."""
        shape = compound["geometry"]
        if opening.lon is None or opening.lat is None:
            p = shape.representative_point()
            return float(p.x), float(p.y)
        x, y = Transformer.from_crs(4326, srid, always_xy=True).transform(opening.lon, opening.lat)
        reach = float(self.evidence.defs.max_distance_m.value)
        if shapely.Point(x, y).distance(shape) > reach:
            raise FindingError(
                f"({opening.lon}, {opening.lat}) lies more than {reach:g} m from compound {opening.compound_id}: "
                "a finding is placed at its compound / 问题位置距小区过远"
            )
        return float(x), float(y)

    @staticmethod
    def _project_id(conn: Connection, compound_id: int) -> int | None:
        try:
            return programme.load_project(conn, compound_id, None).id
        except ProjectNotFoundError:
            return None

    def _row(self, conn: Connection, fid: int, on: date) -> dict[str, Any]:
        listed = self._listed(findings_store.rows(conn, [fid]), on)
        if listed.empty:  # found after ``on``: on that day it did not exist yet
            raise NotFoundError(f"inspection finding {fid} was not found yet on {on} / 该日尚无此督查问题")
        return {str(k): v for k, v in listed.iloc[0].items()}

    # -- reading ------------------------------------------------------------------------------------
    def _listed(self, rows: pd.DataFrame, on: date) -> pd.DataFrame:
        return inspection.standing(rows, on).reindex(columns=LIST_COLUMNS)

    def items(self, *, open_only: bool = False, on: date | None = None) -> pd.DataFrame:
        """The findings found by ``on`` (default today) with their ``status`` then (open / overdue /
        closed) and ``days_overdue``, by id; ``open_only``: those not closed (overdue included)."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            listed = self._listed(findings_store.rows(conn), clock.today(on))
        return listed[listed["status"] != "closed"].reset_index(drop=True) if open_only else listed

    def get(self, fid: int, *, on: date | None = None) -> dict[str, Any]:
        """One finding, with its status on ``on`` and the ids of its evidence (photos, rectification)."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            if findings_store.for_update(conn, fid) is None:
                raise NotFoundError(f"no inspection finding {fid} / 无此督查问题")
            row = self._row(conn, fid, clock.today(on))
            cited = evidence_store.items(conn, withdrawn=False)
        cited = cited[cited["finding_id"] == fid]
        row["photos"] = [int(i) for i in cited.loc[cited["category"] == "inspection", "id"]]
        row["rectification"] = [int(i) for i in cited.loc[cited["category"] == "rectification", "id"]]
        return row

    def frame(self) -> gpd.GeoDataFrame:
        """The findings layer as points (working CRS)."""
        return layers.read(self.db.engine, self.layer, self.db.require_schema())

    def for_month(self, conn: Connection, on: date, until: datetime) -> MonthEvidence:
        """What the 月报 of a day reads from here (the facade hands it to :class:`gis.programme.Programme`):
        the findings overdue on ``on`` as they stood at ``until``, and the stages some standing evidence
        item added by ``until`` documents."""
        crs = self.db.require_schema()
        found = layers.read_as_of(conn, self.layer, crs, until).rename(columns={"fid": "id"})
        labels = {c.id: c.zh for c in self.codes.codes}
        late = inspection.overdue(pd.DataFrame(found.drop(columns="geometry")), on, labels)
        return MonthEvidence(late, frozenset(evidence_store.stages_evidenced(conn, until)))

    def bulletin(self, on: date | None = None, *, title: str | None = None) -> Bulletin:
        """The 督查通报 of ``on`` (default today): streets ranked by open, then overdue findings; every
        finding standing then, overdue first; the thumbnails of its photos and rectification files."""
        day = clock.today(on)
        listed = self.items(on=day)
        order = {"overdue": 0, "open": 1, "closed": 2}
        listed = listed.assign(order=listed["status"].map(order))
        listed = listed.sort_values(["order", "days_overdue", "id"], ascending=[True, False, True]).drop(
            columns="order"
        )
        labels = {c.id: c.zh for c in self.codes.codes}
        listed["category_zh"] = listed["category"].map(lambda c: labels.get(c, c))
        thumbs: dict[str, dict[int, list[bytes]]] = {"inspection": {}, "rectification": {}}
        with self.db.engine.connect() as conn:
            cited = evidence_store.items(conn, withdrawn=False)
            cited = cited[cited["finding_id"].isin(listed["id"]) & cited["media_type"].str.startswith("image/")]
            for r in cited.to_dict("records"):
                small = evidence_store.thumbnail(conn, str(r["sha256"]))
                if small is not None and r["category"] in thumbs:
                    thumbs[r["category"]].setdefault(int(r["finding_id"]), []).append(small)
        heading = title or f"督查通报（截至{day.year}年{day.month}月{day.day}日）"
        ranked = inspection.ranking(listed, day)
        return Bulletin(
            day, heading, ranked, listed.reset_index(drop=True), thumbs["inspection"], thumbs["rectification"]
        )
