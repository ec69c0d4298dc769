"""What a gap analysis starts from, gathered from a database: the standard, the facility types, the
parameters and a reader of the layers (:class:`gis.gaps.analysis.GapInputs`).

The workspace's analyses and ``gisplan gaps`` both start here; the command does without the rest of
the workspace (maps, imports, the programme), so that it loads only what an analysis uses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
from pyproj import CRS
from sqlalchemy import Connection, Engine

from gis.errors import InvalidRequestError, NotFoundError
from gis.gaps.analysis import GapInputs, GapParameters, default_types
from gis.registry import Registry
from gis.standards import load_standard
from gis.store import layers
from gis.store.database import Database

Box = tuple[float, float, float, float]
LayerReader = Callable[[str, list[str], tuple[str, ...]], gpd.GeoDataFrame]


def facility_type(registry: Registry, name: str) -> str:
    """The facility type code of a name in any accepted spelling (``"幼儿园"`` → ``"kindergarten"``).

    Raises
    ------
    NotFoundError
        No such type; the message lists the valid ones.
    """
    codes = registry.code_list("facility_type")
    code = codes.resolve(name)
    if code is None:
        raise NotFoundError(f"unknown facility type {name!r}; valid: {', '.join(codes.ids)}")
    return code


def layer_reader(source: Engine | Connection, registry: Registry, working: CRS, box: Box | None = None) -> LayerReader:
    """What :class:`GapInputs` reads layers with: ``read(layer_id, columns, extra_keys)`` gives ``fid``,
    the named columns the layer has, ``extra_<key>`` per key and the geometry (working CRS), from
    ``source`` (an engine, or a connection in a snapshot of the caller's); ``box``: only what
    intersects it (working CRS)."""

    def read(layer_id: str, columns: list[str], extra_keys: tuple[str, ...]) -> gpd.GeoDataFrame:
        layer = registry.layer(layer_id)
        known = {f.id for f in layer.fields} | set(layers.READ_COLUMNS)
        picked = [c for c in columns if c in known]
        srid = int(working.to_epsg() or 0)
        return layers.read(source, layer, working, columns=picked, extra_keys=extra_keys, bbox=box, bbox_crs=srid)

    return read


def gap_inputs(
    db: Database,
    registry: Registry,
    facility: str | list[str] | None,
    *,
    standard: str,
    params: GapParameters | None,
    standards_dir: Path,
) -> GapInputs:
    """The set-up every analysis shares: the standard (``standards_dir``: the county rule files), the
    working CRS, the facility types (``None``: every type the standard gives a radius), the
    parameters, and the layers, read when first used (compounds, facilities and the walkable roads).

    Raises
    ------
    InvalidRequestError
        A type asked for has no radius in the standard.
    NotFoundError
        Nothing was loaded yet, or a type is unknown.
    """
    std = load_standard(standard, extra_dirs=[standards_dir])
    working = db.require_schema()
    skipped: list[str] = []
    if facility is None:
        types, skipped = default_types(std, registry)
    else:
        types = []
        for name in [facility] if isinstance(facility, str) else facility:
            code = facility_type(registry, name)
            if std.rule(code).radius_m is None:
                raise InvalidRequestError(
                    f"standard {std.id} sets no service radius for {code}; a county rule file can"
                )
            if code not in types:  # 幼儿园 and kindergarten are one type, analysed once
                types.append(code)

    return GapInputs(
        standard=std,
        working_crs=working,
        types=types,
        params=params or GapParameters(),
        read=layer_reader(db.engine, registry, working),
        not_walkable=registry.layer("roads").not_walkable,
        skipped=skipped,
    )
