"""``ws.evidence``: add, list, verify, export, withdraw and publish evidence (资料留存).

An item is added in one transaction with its file (stored once per SHA-256), flagged when it does
not prove what it is attached to (:mod:`gis.evidence.checks`), and never deleted. A withdrawal needs
a reason; once the month the item belongs to is submitted (统计月报 上报, :meth:`Programme.submit`),
only an admin may withdraw it. Writes take the programme's lock, so a withdrawal and a submission
never cross.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import Transformer

from gis import clock
from gis.cells import safe_csv
from gis.errors import AdminRequiredError, EvidenceError, NotFoundError, ProjectNotFoundError
from gis.evidence import store
from gis.evidence.checks import flags, stage_window
from gis.evidence.definitions import EvidenceDefs, evidence_defs
from gis.evidence.files import FileFacts, inspect, thumbnail
from gis.programme import store as programme
from gis.programme.dates import month_end, month_of
from gis.programme.definitions import programme_defs
from gis.programme.rules import require_planner
from gis.registry import registry
from gis.roles import Role
from gis.store import layers
from gis.store.database import Database

SAFE_NAME = re.compile(r"[^\w.\-]+", re.UNICODE)
# What the public sees of a published item (before/after photos of a finished compound, 公示).
PUBLIC_COLUMNS = ["id", "compound_id", "category", "stage", "side", "pair", "taken_at", "lon", "lat"]


@dataclass
class Attachment:
    """What an item is attached to and says, besides its file."""

    compound_id: int
    category: str = "other"
    stage: str | None = None
    note: str | None = None
    building_id: int | None = None
    acceptance_id: int | None = None
    finding_id: int | None = None
    side: str | None = None
    pair: str | None = None
    synthetic: str | None = None


@dataclass(frozen=True)
class PhotoPair:
    """A before and an after photo of the same place (改造前后对比): their ids, days and thumbnails."""

    compound_id: int
    before_id: int
    after_id: int
    before: bytes
    after: bytes
    before_taken: str | None
    after_taken: str | None


@dataclass(frozen=True)
class Prepared:
    """An attachment with its codes resolved and its files checked (:meth:`Evidence.prepare`)."""

    attachment: Attachment
    files: list[tuple[str, bytes, FileFacts]]


@dataclass
class VerifyReport:
    """``gisplan evidence verify``: every item's file present and matching its SHA-256."""

    items: int
    files: int
    bytes: int
    missing: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.changed


class Evidence:
    """The evidence of a gisplan database. Build it through ``ws.evidence``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.defs: EvidenceDefs = evidence_defs()
        self.layer = registry().layer("evidence")

    # -- adding -------------------------------------------------------------------------------------
    def add(
        self,
        attachment: Attachment,
        files: Sequence[tuple[str, bytes]],
        *,
        actor: str = "notebook",
        role: Role = "planner",
    ) -> pd.DataFrame:
        """Attach files (name, bytes) to a compound, in one transaction: all are stored or none.

        Each file is recognised by its content (a renamed script is refused, 415), stored once under
        its SHA-256 and cited by a new item; a photo becomes a point where its EXIF says it was taken.
        The flags say what the item does not prove (no position or time, too far from the compound,
        outside the stage's dates, a stage not reached).

        Returns
        -------
        DataFrame
            The new items, as :meth:`items` gives them.

        Examples
        --------
        >>> ws.evidence.add(Attachment(12, "construction", stage="construction"), [("a.jpg", data)])
        """
        require_planner(role, "add evidence")
        prepared = self.prepare(attachment, files)
        with programme.transaction(self.db, actor) as conn:
            return self.store_in(conn, prepared, actor)

    def prepare(self, attachment: Attachment, files: Sequence[tuple[str, bytes]]) -> Prepared:
        """Check an attachment and its files before any transaction: codes known, at least one file,
        each under the size limit and recognised by its content (:meth:`add`, and a finding's photos)."""
        category = self._code("evidence_category", attachment.category, "category")
        stage = self._code("stage", attachment.stage, "stage") if attachment.stage else None
        side = self._code("evidence_side", attachment.side, "side") if attachment.side else None
        if not files:
            raise EvidenceError("give at least one file / 请至少提供一个文件")
        cap = int(self.defs.max_bytes.value)
        checked: list[tuple[str, bytes, FileFacts]] = []
        for name, data in files:
            if len(data) > cap:
                raise EvidenceError(f"{name}: {len(data):,} bytes, over the {cap:,}-byte limit / 文件过大")
            checked.append((name, data, inspect(data, allowed=self.defs.media_types, zone=clock.zone())))
        coded = replace(attachment, category=category, stage=stage, side=side)
        return Prepared(coded, checked)

    def store_in(self, conn: Any, prepared: Prepared, actor: str) -> pd.DataFrame:
        """Store prepared items in the caller's programme transaction (:func:`gis.programme.store.transaction`)."""
        attachment, stage, side = prepared.attachment, prepared.attachment.stage, prepared.attachment.side
        srid = int(self.db.require_schema().to_epsg() or 0)
        shape = self._compound_shape(conn, attachment.compound_id)
        project = self._project(conn, attachment.compound_id)
        window = stage_window(stage, project.actual if project else {}, programme_defs().stage_ids) if stage else None
        to_working = Transformer.from_crs(4326, srid, always_xy=True)
        ids = []
        for name, data, facts in prepared.files:
            marks = flags(facts, self.defs, point=_point(facts, to_working), compound=shape, window=window)
            added = clock.now()
            store.put_file(conn, facts, data, thumbnail(data, self.defs.thumbnail_px), actor)
            item = store.NewItem(
                compound_id=attachment.compound_id,
                category=attachment.category,
                month=month_of(self._documents_day(facts, added)),
                actor=actor,
                added_at=added,
                flags=list(marks),
                filename=Path(name).name[:255] or None,
                note=attachment.note,
                stage=stage,
                project_id=project.id if project else None,
                building_id=attachment.building_id,
                acceptance_id=attachment.acceptance_id,
                finding_id=attachment.finding_id,
                pair=attachment.pair,
                side=side,
                synthetic=attachment.synthetic,
            )
            ids.append(store.insert_item(conn, item, facts, key=str(uuid.uuid4()), srid=srid))
        return store.items(conn, ids=ids)

    def _code(self, list_id: str, value: str, what: str) -> str:
        codes = registry().code_list(list_id)
        found = codes.resolve(value)
        if found is None:
            valid = ", ".join(f"{c.id} {c.zh}" for c in codes.codes)
            raise EvidenceError(f"{what} {value!r} is not one of: {valid}")
        return found

    def _compound_shape(self, conn: Any, compound_id: int) -> shapely.Geometry:
        compounds = registry().layer("compounds")
        found = layers.read(conn, compounds, self.db.require_schema(), where={"fid": compound_id}, columns=[])
        if found.empty:
            raise NotFoundError(f"no compound {compound_id} / 无此小区")
        return found.geometry.iloc[0]

    @staticmethod
    def _project(conn: Any, compound_id: int) -> Any:
        try:
            return programme.load_project(conn, compound_id, None)
        except ProjectNotFoundError:
            return None  # a compound with no project yet: survey photos come first

    @staticmethod
    def _documents_day(facts: FileFacts, added: datetime) -> Any:
        """The day an item documents: when the photo was taken (not after it was added), else when added."""
        moment = facts.taken_at if facts.taken_at is not None and facts.taken_at <= added else added
        return moment.astimezone(clock.zone()).date()

    # -- reading ------------------------------------------------------------------------------------
    def items(self, compound_id: int | None = None, *, withdrawn: bool = True) -> pd.DataFrame:
        """The items (of one compound), oldest first: id, compound_id, category, stage, sha256, taken_at,
        lon, lat, flags and the rest; ``withdrawn`` False leaves withdrawn items out."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            return store.items(conn, compound_id=compound_id, withdrawn=withdrawn)

    def frame(self) -> gpd.GeoDataFrame:
        """The evidence layer as points (an item without a position has no geometry)."""
        return layers.read(self.db.engine, self.layer, self.db.require_schema())

    def published(self, compound_id: int | None = None) -> pd.DataFrame:
        """What the public may see: the published items (before/after, 公示), a few fields only."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            found = store.items(conn, compound_id=compound_id, withdrawn=False, published_only=True)
        return found[PUBLIC_COLUMNS]

    def pairs(self, role: Role = "planner") -> list[PhotoPair]:
        """The standing before/after pairs (the public's: both photos published), with thumbnails."""
        self.db.require_schema()
        out = []
        with self.db.engine.connect() as conn:
            found = store.items(conn, withdrawn=False, published_only=role == "public")
            found = found[found["pair"].notna() & found["side"].notna()]
            for _pair, two in found.groupby("pair"):
                sides = {str(r["side"]): r for r in two.to_dict("records")}
                if set(sides) != {"before", "after"}:
                    continue
                b, a = sides["before"], sides["after"]
                thumbs = [store.thumbnail(conn, str(r["sha256"])) for r in (b, a)]
                if thumbs[0] is None or thumbs[1] is None:
                    continue
                day = [None if pd.isna(r["taken_at"]) else str(r["taken_at"])[:10] for r in (b, a)]
                out.append(PhotoPair(int(b["compound_id"]), int(b["id"]), int(a["id"]), thumbs[0], thumbs[1], *day))
        return out

    def item(self, fid: int, role: Role = "planner") -> dict[str, Any]:
        """One item; the public sees a published one only (any other is "not found", not "forbidden")."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            found = store.items(conn, ids=[fid], published_only=role == "public", withdrawn=role != "public")
        if found.empty:
            raise NotFoundError(f"no evidence item {fid}")
        row = {str(k): v for k, v in found.iloc[0].items()}
        return {k: row[k] for k in PUBLIC_COLUMNS} if role == "public" else row

    def file(self, fid: int, role: Role = "planner", *, thumb: bool = False) -> tuple[str, bytes, str]:
        """An item's file (or its JPEG thumbnail): media type, bytes, a safe file name."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            found = store.items(conn, ids=[fid], published_only=role == "public", withdrawn=role != "public")
            if found.empty:  # the public's "not found" for an unpublished item, as :meth:`item`
                raise NotFoundError(f"no evidence item {fid}")
            row = found.iloc[0]
            sha = str(row["sha256"])
            if thumb:
                small = store.thumbnail(conn, sha)
                if small is None:
                    raise NotFoundError(f"evidence item {fid} has no thumbnail (a PDF)")
                return "image/jpeg", small, f"{fid}-thumb.jpg"
            stored = store.content(conn, sha)
        if stored is None:
            raise NotFoundError(f"the file of evidence item {fid} is missing: run gisplan evidence verify")
        media_type, data = stored
        return media_type, data, self._file_name(fid, row["filename"], media_type)

    @staticmethod
    def _file_name(fid: int, name: str | None, media_type: str) -> str:
        suffix = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/tiff": ".tif"}.get(
            media_type, ".pdf"
        )
        stem = SAFE_NAME.sub("_", Path(name or "").stem).strip("._")[:80]
        return f"{fid}-{stem}{suffix}" if stem else f"{fid}{suffix}"

    # -- proving ------------------------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Every item's file is present and its bytes hash to the SHA-256 it is stored under."""
        self.db.require_schema()
        with self.db.engine.connect() as conn:
            checked = store.verify(conn)
            files, size = store.files_count(conn)
        cols = ["id", "compound_id", "sha256", "filename"]
        return VerifyReport(
            items=len(checked),
            files=files,
            bytes=size,
            missing=_records(checked.loc[checked["missing"], cols]),
            changed=_records(checked.loc[checked["changed"].fillna(False).astype(bool), cols]),
        )

    def export(self, compound_id: int, out_dir: str | Path) -> list[Path]:
        """Write a compound's standing items' files and an ``evidence.csv`` listing them into ``out_dir``.

        Each file is checked against its SHA-256 as it is written: a changed one is refused.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        found = self.items(compound_id, withdrawn=False)
        written: list[Path] = []
        with self.db.engine.connect() as conn:
            for row in found.to_dict("records"):
                stored = store.content(conn, str(row["sha256"]))
                if stored is None:
                    raise NotFoundError(
                        f"the file of evidence item {row['id']} is missing: run gisplan evidence verify"
                    )
                media_type, data = stored
                if hashlib.sha256(data).hexdigest() != row["sha256"]:
                    raise EvidenceError(f"the file of evidence item {row['id']} no longer matches its SHA-256")
                path = out / self._file_name(int(row["id"]), row["filename"], media_type)
                path.write_bytes(data)
                written.append(path)
        listing = out / "evidence.csv"
        neutral = found.map(safe_csv)  # a note or a file name never runs as a formula
        neutral.to_csv(listing, index=False, encoding="utf-8-sig")
        return [*written, listing]

    # -- changing -----------------------------------------------------------------------------------
    def withdraw(self, fid: int, reason: str, *, actor: str = "notebook", role: Role = "planner") -> dict[str, Any]:
        """Withdraw an item (撤回), with a reason; kept and audited, never deleted.

        Raises
        ------
        AdminRequiredError
            The month the item belongs to is submitted, and ``role`` is not admin.
        """
        require_planner(role, "withdraw evidence")
        if not reason or not reason.strip():
            raise EvidenceError("a withdrawal needs a reason / 撤回须说明理由")
        with programme.transaction(self.db, actor) as conn:
            row = store.item_for_update(conn, fid)
            if row is None:
                raise NotFoundError(f"no evidence item {fid}")
            if row["withdrawn_at"] is not None:
                raise EvidenceError(f"evidence item {fid} was withdrawn already ({row['withdraw_reason']})")
            locked = programme.locked_until(conn)
            if locked is not None and month_end(row["month"]) <= locked and role != "admin":
                raise AdminRequiredError(
                    f"evidence item {fid} belongs to {row['month']}, which is submitted: only an admin may withdraw it "
                    "/ 所属月份已上报，须由管理员撤回"
                )
            store.withdraw(conn, fid, actor=actor, reason=reason.strip())
            return dict(store.items(conn, ids=[fid]).iloc[0])

    def publish(
        self, fid: int, published: bool = True, *, actor: str = "notebook", role: Role = "planner"
    ) -> dict[str, Any]:
        """Mark an item for the public (公示: before/after of a finished compound), or take it back."""
        require_planner(role, "publish evidence")
        with programme.transaction(self.db, actor) as conn:
            row = store.item_for_update(conn, fid)
            if row is None:
                raise NotFoundError(f"no evidence item {fid}")
            if published and row["withdrawn_at"] is not None:
                raise EvidenceError(f"evidence item {fid} is withdrawn: it is not published")
            if published and not str(row["media_type"]).startswith("image/"):
                raise EvidenceError(f"evidence item {fid} is a document: only photos are published")
            store.publish(conn, fid, published)
            return dict(store.items(conn, ids=[fid]).iloc[0])

    def pair(self, before: int, after: int, *, actor: str = "notebook", role: Role = "planner") -> str:
        """Pair a before and an after photo of the same place (改造前后对比); the pair's key."""
        require_planner(role, "pair evidence")
        key = f"{before}-{after}"
        with programme.transaction(self.db, actor) as conn:
            rows = [store.item_for_update(conn, fid) for fid in (before, after)]
            if any(r is None for r in rows):
                raise NotFoundError(f"no evidence items {before} and {after}")
            if rows[0]["compound_id"] != rows[1]["compound_id"]:  # type: ignore[index]
                raise EvidenceError("a before/after pair shows one compound / 前后对比须为同一小区")
            store.pair(conn, before, key, "before")
            store.pair(conn, after, key, "after")
        return key


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def _point(facts: FileFacts, to_working: Transformer) -> shapely.Point | None:
    """Where a photo says it was taken, in the working CRS; None without a GPS fix."""
    if facts.lon is None or facts.lat is None:
        return None
    x, y = to_working.transform(facts.lon, facts.lat)
    return shapely.Point(x, y)
