"""Writing prepared rows into a layer table inside the caller's transaction.

Rows are streamed with COPY into a temporary staging table, then merged into the layer by its
stable key ``(source, source_key)``: new keys are inserted, changed rows updated (version bumped),
identical rows left alone. With ``replace`` the layer is emptied first, in the same transaction,
so readers see either the old content or the new, never a mix.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import psycopg
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy import Connection

from gis.ingest.prepare import Prepared
from gis.registry import LayerDef
from gis.store.engine import dbapi


@dataclass
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    not_in_file: int = 0


def to_ewkb_hex(geoms: Any, srid: int) -> list[str]:
    """Hex EWKB with the SRID, as PostGIS reads it in COPY.

    Splicing the SRID into little-endian WKB is ten times faster than ``shapely.set_srid``, which
    copies every geometry first.
    """
    srid_hex = struct.pack("<I", srid).hex()
    out = []
    for h in shapely.to_wkb(geoms, hex=True, byte_order=1):
        gtype = int.from_bytes(bytes.fromhex(h[2:10]), "little") | 0x20000000  # the "has SRID" flag
        out.append("01" + struct.pack("<I", gtype).hex() + srid_hex + h[10:])
    return out


def _copy(
    cur: psycopg.Cursor[Any], statement: sql.Composed, prep: Prepared, source: str, ewkb: Any, fields: list[str]
) -> None:
    records = prep.values[fields].to_numpy(dtype=object) if fields else None
    with cur.copy(statement) as copy:
        for i, key in enumerate(prep.keys):
            row = [source, key, prep.synthetic[i], Jsonb(prep.extra[i]), ewkb[i]]
            if records is not None:
                row.extend(records[i])
            copy.write_row(row)


def write_rows(
    conn: Connection, layer: LayerDef, prep: Prepared, *, source: str, srid: int, replace: bool
) -> WriteCounts:
    """Merge ``prep`` into ``layer``'s table; the caller owns the transaction."""
    fields = [f.id for f in layer.fields]
    cols = ["source", "source_key", "synthetic", "extra", "geom", *fields]
    table = sql.Identifier(layer.table)
    col_ids = sql.SQL(", ").join(map(sql.Identifier, cols))
    counts = WriteCounts()
    ewkb = to_ewkb_hex(prep.geoms, srid)
    db = dbapi(conn)
    with db.cursor() as cur:
        if replace:
            cur.execute(sql.SQL("DELETE FROM {t}").format(t=table))
            counts.deleted = cur.rowcount
        cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {t} WHERE source = %s)").format(t=table), (source,))
        if not cur.fetchone()[0]:  # type: ignore[index]
            # Nothing of this source yet: keys are unique within the file, so no row can conflict
            # and the rows go straight into the layer (the same transaction still guards them).
            _copy(
                cur, sql.SQL("COPY {t} ({cols}) FROM STDIN").format(t=table, cols=col_ids), prep, source, ewkb, fields
            )
            counts.inserted = len(prep.keys)
            return counts
        cur.execute(sql.SQL("DROP TABLE IF EXISTS _stage"))
        cur.execute(
            sql.SQL("CREATE TEMP TABLE _stage ON COMMIT DROP AS SELECT {cols} FROM {t} WITH NO DATA").format(
                cols=col_ids, t=table
            )
        )
        _copy(cur, sql.SQL("COPY _stage ({cols}) FROM STDIN").format(cols=col_ids), prep, source, ewkb, fields)
        if not replace:
            cur.execute(
                sql.SQL(
                    "SELECT count(*) FROM {t} t WHERE t.source = %s "
                    "AND NOT EXISTS (SELECT 1 FROM _stage s WHERE s.source_key = t.source_key)"
                ).format(t=table),
                (source,),
            )
            counts.not_in_file = int(cur.fetchone()[0])  # type: ignore[index]
        data_cols = [c for c in cols if c not in ("source", "source_key")]
        merge = sql.SQL(
            """
            WITH up AS (
                INSERT INTO {t} AS t ({cols}) SELECT {cols} FROM _stage
                ON CONFLICT (source, source_key) DO UPDATE SET {sets},
                    version = t.version + 1, updated_at = now()
                WHERE ({old}) IS DISTINCT FROM ({new})
                RETURNING (xmax = 0) AS inserted
            )
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
            """
        ).format(
            t=table,
            cols=col_ids,
            sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in data_cols),
            old=sql.SQL(", ").join(sql.SQL("t.{c}").format(c=sql.Identifier(c)) for c in data_cols),
            new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in data_cols),
        )
        cur.execute(merge)
        inserted, updated = cur.fetchone()  # type: ignore[misc]
        counts.inserted, counts.updated = int(inserted), int(updated)
        counts.unchanged = len(prep.keys) - counts.inserted - counts.updated
        cur.execute(sql.SQL("DROP TABLE _stage"))
    return counts
