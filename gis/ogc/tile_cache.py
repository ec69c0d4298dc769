"""Rendered tiles kept in memory under their layer's change count: a cache a change invalidates.

A tile is rendered by PostGIS (:func:`gis.ogc.tiles.render`) and kept, with its ETag, under the
database, the layer, the role, the tile and the layer's change count as read *before* rendering
(:func:`gis.store.layers.stamp`, bumped in the writer's transaction): a tile kept is never newer
than the count it is kept under, and any import or edit of the layer changes the count, so the
next request renders again. Nothing expires by time. Each request pays one small statement (the
count); a kept tile costs no more.

Bounded in bytes (least recently used first out), and one render per tile at a time: sixteen
requests for the same cold low-zoom tile wait for one render instead of making sixteen.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

import cachetools
from sqlalchemy import Engine

from gis.ogc import tiles
from gis.registry import LayerDef
from gis.roles import Role
from gis.store import layers

ENTRY_OVERHEAD = 256  # bytes a kept tile costs besides its own (key, ETag, the cache's bookkeeping)


@dataclass(frozen=True)
class Tile:
    """A rendered tile: its MVT bytes and its ETag (the same for the same bytes and role)."""

    data: bytes
    etag: str


def etag(data: bytes, role: Role) -> str:
    return '"' + hashlib.sha1(data + role.encode()).hexdigest() + '"'


class TileCache:
    """Tiles of every layer and role, at most ``max_bytes`` of them (0: none kept, every tile rendered).

    Thread-safe: the server's reading lane calls it from several threads.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._kept: cachetools.LRUCache[tuple[Any, ...], Tile] = cachetools.LRUCache(
            maxsize=max(self.max_bytes, 1), getsizeof=lambda t: len(t.data) + ENTRY_OVERHEAD
        )
        self._counts: dict[tuple[str, str], int] = {}  # (database, table) -> the newest count seen
        self._lock = threading.Lock()
        self._rendering: dict[tuple[Any, ...], threading.Lock] = {}
        self.hits = 0
        self.renders = 0

    def tile(self, engine: Engine, layer: LayerDef, role: Role, z: int, x: int, y: int, *, working_srid: int) -> Tile:
        """The tile, kept or rendered now (a :class:`gis.errors.TileError` for a tile outside the matrix)."""
        tiles.tile_bounds(z, x, y)  # a tile that cannot exist costs no statement
        if not self.max_bytes:
            self.renders += 1
            data = tiles.render(engine, layer, role, z, x, y, working_srid=working_srid)
            return Tile(data, etag(data, role))
        db = engine.url.render_as_string(hide_password=True)
        (count,) = layers.stamp(engine, [layer])
        key = (db, layer.table, layer.id, role, working_srid, z, x, y, count)
        self._forget_older(db, layer.table, count)
        kept = self._get(key)
        if kept is not None:
            return kept
        with self._lock:
            flight = self._rendering.setdefault(key, threading.Lock())
        with flight:  # the first renders; the others find its tile kept
            kept = self._get(key)
            if kept is None:
                data = tiles.render(engine, layer, role, z, x, y, working_srid=working_srid)
                kept = Tile(data, etag(data, role))
                with self._lock:
                    self.renders += 1
                    if len(data) + ENTRY_OVERHEAD <= self.max_bytes:
                        self._kept[key] = kept
            with self._lock:
                self._rendering.pop(key, None)
        return kept

    @property
    def size(self) -> int:
        """The bytes kept now."""
        with self._lock:
            return int(self._kept.currsize)

    def _get(self, key: tuple[Any, ...]) -> Tile | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self.hits += 1
            return kept

    def _forget_older(self, db: str, table: str, count: int) -> None:
        """Drop a layer's tiles kept under an older count as soon as a newer one is seen (the LRU
        would drop them in time; an edit should free their memory now)."""
        with self._lock:
            seen = self._counts.get((db, table))
            if seen == count:
                return
            self._counts[(db, table)] = count
            if seen is None:
                return
            for key in [k for k in self._kept if k[0] == db and k[1] == table and k[-1] != count]:
                del self._kept[key]
