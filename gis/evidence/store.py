"""The evidence tables (migration 0014): the files by their SHA-256, and the items that cite them.

The one owner of ``evidence_files`` and ``evidence`` in SQL. Values are always bound. The rules (who
may withdraw, which flags an item carries) are :mod:`gis.evidence.service`'s; this module stores and
reads what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from gis.evidence.files import FileFacts

INSERT_FILE = text(
    "INSERT INTO evidence_files (sha256, media_type, size_bytes, width, height, content, thumbnail, added_by) "
    "VALUES (:sha256, :media_type, :size, :width, :height, :content, :thumbnail, :actor) "
    "ON CONFLICT (sha256) DO NOTHING"
)
INSERT_ITEM = text(
    """
    INSERT INTO evidence (source, source_key, compound_id, building_id, project_id, stage, acceptance_id,
        finding_id, category, sha256, filename, media_type, size_bytes, note, actor, added_at, taken_at, month,
        flags, pair, side, published, synthetic, geom)
    VALUES ('evidence', :key, :compound_id, :building_id, :project_id, :stage, :acceptance_id, :finding_id,
        :category, :sha256, :filename, :media_type, :size_bytes, :note, :actor, :added_at, :taken_at, :month,
        CAST(:flags AS text[]), :pair, :side, false, :synthetic,
        CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
             ELSE ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), CAST(:srid AS integer)) END)
    RETURNING fid
    """
)
ITEM_COLUMNS = """
    e.fid AS id, e.compound_id, e.building_id, e.project_id, e.stage, e.acceptance_id, e.finding_id, e.category,
    e.sha256, e.filename, e.media_type, e.size_bytes, e.note, e.actor, e.added_at, e.taken_at, e.month, e.flags,
    e.pair, e.side, e.published, e.withdrawn_at, e.withdrawn_by, e.withdraw_reason, e.synthetic,
    ST_X(ST_Transform(e.geom, 4326)) AS lon, ST_Y(ST_Transform(e.geom, 4326)) AS lat
"""
ITEMS = f"""
    SELECT {ITEM_COLUMNS} FROM evidence e
    WHERE (CAST(:c AS bigint) IS NULL OR e.compound_id = :c)
      AND (CAST(:f AS bigint[]) IS NULL OR e.fid = ANY(CAST(:f AS bigint[])))
      AND (:withdrawn OR e.withdrawn_at IS NULL)
      AND (NOT :published_only OR e.published)
    ORDER BY e.fid
"""
ITEM_FOR_UPDATE = text(f"SELECT {ITEM_COLUMNS} FROM evidence e WHERE e.fid = :f FOR UPDATE")
WITHDRAW = text(
    "UPDATE evidence SET withdrawn_at = clock_timestamp(), withdrawn_by = :actor, withdraw_reason = :reason, "
    "published = false, version = version + 1, updated_at = now() WHERE fid = :f"
)
PUBLISH = text("UPDATE evidence SET published = :p, version = version + 1, updated_at = now() WHERE fid = :f")
PAIR = text("UPDATE evidence SET pair = :pair, side = :side, version = version + 1, updated_at = now() WHERE fid = :f")
CONTENT = text("SELECT media_type, content FROM evidence_files WHERE sha256 = :s")
THUMBNAIL = text("SELECT thumbnail FROM evidence_files WHERE sha256 = :s")
# Every item's file: there (the foreign key says it must be, unless someone with the power to switch
# it off removed it) and with the bytes its name promises. The hashes are taken in the server: only
# the verdicts travel.
VERIFY = text(
    """
    SELECT e.fid AS id, e.compound_id, e.sha256, e.filename,
           f.sha256 IS NULL AS missing,
           f.sha256 IS NOT NULL AND encode(sha256(f.content), 'hex') <> e.sha256 AS changed
    FROM evidence e LEFT JOIN evidence_files f ON f.sha256 = e.sha256
    ORDER BY e.fid
    """
)
FILES_COUNT = text("SELECT count(*), coalesce(sum(size_bytes), 0) FROM evidence_files")
STAGES_EVIDENCED = text(
    "SELECT DISTINCT project_id, stage FROM evidence "
    "WHERE withdrawn_at IS NULL AND project_id IS NOT NULL AND stage IS NOT NULL AND added_at <= :until"
)


@dataclass(frozen=True)
class NewItem:
    """An item to store: what it is attached to and says, beside its file's facts."""

    compound_id: int
    category: str
    month: str
    actor: str
    added_at: datetime
    flags: list[str]
    filename: str | None = None
    note: str | None = None
    stage: str | None = None
    project_id: int | None = None
    building_id: int | None = None
    acceptance_id: int | None = None
    finding_id: int | None = None
    pair: str | None = None
    side: str | None = None
    synthetic: str | None = None


def put_file(conn: Connection, facts: FileFacts, data: bytes, thumbnail: bytes | None, actor: str) -> None:
    """Store a file under its SHA-256 (a file stored already is kept as it is: same hash, same bytes)."""
    conn.execute(
        INSERT_FILE,
        {
            "sha256": facts.sha256,
            "media_type": facts.media_type,
            "size": facts.size,
            "width": facts.width,
            "height": facts.height,
            "content": data,
            "thumbnail": thumbnail,
            "actor": actor,
        },
    )


def insert_item(conn: Connection, item: NewItem, facts: FileFacts, *, key: str, srid: int) -> int:
    """Store one item citing ``facts``'s file, a point where the photo says it was taken; its fid."""
    params: dict[str, Any] = {
        **{k: getattr(item, k) for k in item.__dataclass_fields__},
        "key": key,
        "sha256": facts.sha256,
        "media_type": facts.media_type,
        "size_bytes": facts.size,
        "taken_at": facts.taken_at,
        "lon": facts.lon,
        "lat": facts.lat,
        "srid": srid,
    }
    return int(conn.execute(INSERT_ITEM, params).scalar_one())


def items(
    conn: Connection,
    *,
    compound_id: int | None = None,
    ids: list[int] | None = None,
    withdrawn: bool = True,
    published_only: bool = False,
) -> pd.DataFrame:
    """Items (with ``lon``, ``lat`` in WGS84), by id; ``withdrawn`` False leaves the withdrawn out."""
    params = {"c": compound_id, "f": ids, "withdrawn": withdrawn, "published_only": published_only}
    return pd.read_sql(text(ITEMS), conn, params=params)


def item_for_update(conn: Connection, fid: int) -> dict[str, Any] | None:
    """One item, locked for the transaction (a withdrawal and a publication never cross)."""
    row = conn.execute(ITEM_FOR_UPDATE, {"f": fid}).mappings().first()
    return dict(row) if row is not None else None


def withdraw(conn: Connection, fid: int, *, actor: str, reason: str) -> None:
    conn.execute(WITHDRAW, {"f": fid, "actor": actor, "reason": reason})


def publish(conn: Connection, fid: int, published: bool) -> None:
    conn.execute(PUBLISH, {"f": fid, "p": published})


def pair(conn: Connection, fid: int, key: str | None, side: str | None) -> None:
    conn.execute(PAIR, {"f": fid, "pair": key, "side": side})


def content(conn: Connection, sha256: str) -> tuple[str, bytes] | None:
    """A file's media type and bytes, or None when it is not stored."""
    row = conn.execute(CONTENT, {"s": sha256}).first()
    return (str(row.media_type), bytes(row.content)) if row is not None else None


def thumbnail(conn: Connection, sha256: str) -> bytes | None:
    found = conn.execute(THUMBNAIL, {"s": sha256}).scalar()
    return bytes(found) if found is not None else None


def verify(conn: Connection) -> pd.DataFrame:
    """Each item's file checked: ``missing`` (no stored file) and ``changed`` (bytes no longer match)."""
    return pd.read_sql(VERIFY, conn)


def files_count(conn: Connection) -> tuple[int, int]:
    """How many files are stored and their bytes."""
    row = conn.execute(FILES_COUNT).one()
    return int(row[0]), int(row[1])


def stages_evidenced(conn: Connection, until: datetime) -> set[tuple[int, str]]:
    """(project, stage) pairs that some standing item added by ``until`` documents."""
    return {(int(r.project_id), str(r.stage)) for r in conn.execute(STAGES_EVIDENCED, {"until": until})}
