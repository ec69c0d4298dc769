"""Writing prepared rows into a layer table inside the caller's transaction.

Rows are streamed with COPY into a temporary staging table, then merged into the layer by its
stable key ``(source, source_key)``: new keys are inserted, changed rows updated (version bumped),
identical rows left alone. With ``replace`` the layer is emptied first, in the same transaction,
so readers see either the old content or the new, never a mix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import psycopg
import shapely
from psycopg import sql
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


# PostgreSQL's type of each kind of field, for the binary COPY
COPY_TYPES = {
    "text": "text",
    "integer": "int4",
    "number": "float8",
    "boolean": "bool",
    "date": "date",
    "datetime": "timestamptz",
    "code": "text",
    "codes": "text[]",
}
# source, source_key, synthetic, extra, geom: the last two as bytes in their binary form (jsonb's is a
# version byte and the text; a geometry's, WKB), made here rather than by psycopg's dumpers row by row
SYSTEM_TYPES = ["text", "text", "text", "bytea", "bytea"]
# one encoder for every row: json.dumps with options builds a new one for each call
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _copy(cur: psycopg.Cursor[Any], statement: sql.Composed, layer: LayerDef, prep: Prepared, source: str) -> None:
    """Stream the rows in PostgreSQL's binary COPY format.

    The geometry goes as plain WKB, which PostGIS's binary input reads, taking the SRID from the
    column's type (every geometry column is typed with the working SRID).
    """
    fields = [f.id for f in layer.fields]
    columns = [prep.values[f].tolist() for f in fields]
    wkb = shapely.to_wkb(prep.geoms).tolist()
    extra = [b"\x01" + _dumps(e).encode() for e in prep.extra]
    with cur.copy(statement) as copy:
        copy.set_types([*SYSTEM_TYPES, *(COPY_TYPES[f.type] for f in layer.fields)])
        for row in zip(repeat(source), prep.keys, prep.synthetic, extra, wkb, *columns):
            copy.write_row(row)


class RowWriter:
    """Merges prepared rows into ``layer``'s table, a part at a time (each part one COPY); the caller
    owns the transaction. :meth:`finish` merges what was staged and gives the counts."""

    def __init__(self, conn: Connection, layer: LayerDef, *, source: str, replace: bool) -> None:
        self.layer, self.source, self.replace = layer, source, replace
        self.cols = ["source", "source_key", "synthetic", "extra", "geom", *[f.id for f in layer.fields]]
        self.table = sql.Identifier(layer.table)
        self.col_ids = sql.SQL(", ").join(map(sql.Identifier, self.cols))
        self.counts = WriteCounts()
        self.cur = dbapi(conn).cursor()
        if replace:
            self.cur.execute(sql.SQL("DELETE FROM {t}").format(t=self.table))
            self.counts.deleted = self.cur.rowcount
        self.cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {t} WHERE source = %s)").format(t=self.table), (source,))
        # Nothing of this source yet: keys are unique within the file, so no row can conflict
        # and the rows go straight into the layer (the same transaction still guards them).
        self.direct = not self.cur.fetchone()[0]  # type: ignore[index]
        if self.direct:
            self.statement = sql.SQL("COPY {t} ({cols}) FROM STDIN (FORMAT BINARY)").format(
                t=self.table, cols=self.col_ids
            )
            return
        self.cur.execute(sql.SQL("DROP TABLE IF EXISTS _stage"))
        self.cur.execute(
            sql.SQL("CREATE TEMP TABLE _stage ON COMMIT DROP AS SELECT {cols} FROM {t} WITH NO DATA").format(
                cols=self.col_ids, t=self.table
            )
        )
        self.statement = sql.SQL("COPY _stage ({cols}) FROM STDIN (FORMAT BINARY)").format(cols=self.col_ids)

    def write(self, prep: Prepared) -> None:
        """COPY one part's rows."""
        if prep.keys:
            _copy(self.cur, self.statement, self.layer, prep, self.source)
            self.counts.inserted += len(prep.keys) if self.direct else 0

    def finish(self, loaded: int) -> WriteCounts:
        """The counts, once the ``loaded`` rows written are merged into the layer."""
        counts, cur, table = self.counts, self.cur, self.table
        if self.direct:
            cur.close()
            return counts
        if not self.replace:
            cur.execute(
                sql.SQL(
                    "SELECT count(*) FROM {t} t WHERE t.source = %s "
                    "AND NOT EXISTS (SELECT 1 FROM _stage s WHERE s.source_key = t.source_key)"
                ).format(t=table),
                (self.source,),
            )
            counts.not_in_file = int(cur.fetchone()[0])  # type: ignore[index]
        data_cols = [c for c in self.cols if c not in ("source", "source_key")]
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
            cols=self.col_ids,
            sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in data_cols),
            old=sql.SQL(", ").join(sql.SQL("t.{c}").format(c=sql.Identifier(c)) for c in data_cols),
            new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in data_cols),
        )
        cur.execute(merge)
        inserted, updated = cur.fetchone()  # type: ignore[misc]
        counts.inserted, counts.updated = int(inserted), int(updated)
        counts.unchanged = loaded - counts.inserted - counts.updated
        cur.execute(sql.SQL("DROP TABLE _stage"))
        cur.close()
        return counts


def write_rows(conn: Connection, layer: LayerDef, prep: Prepared, *, source: str, replace: bool) -> WriteCounts:
    """Merge ``prep`` into ``layer``'s table; the caller owns the transaction."""
    writer = RowWriter(conn, layer, source=source, replace=replace)
    writer.write(prep)
    return writer.finish(len(prep.keys))
