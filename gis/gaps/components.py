"""The walking network's components (its islands) found tile by tile, so that no one task holds the
whole network: what a partitioned run needs of the whole area's roads.

The roads are cut into tiles that cover the plane without overlap (a tile's *core*, half-open).
Each tile reads every road line touching its core widened by the joining tolerance, whole, and
builds the graph of those lines as :func:`gis.gaps.analysis.build_network` does, but joins a gap
only from a dangling end inside its core (:class:`~gis.gaps.network.WalkNetwork`'s ``core``).

**Why the union of the tiles' components is the whole network's.** Every link of the whole graph
lies in some tile's core: a segment is on its line, which every tile touching it reads whole; a
shared vertex or a crossing is a point, and the tile whose core holds it reads both lines; a gap is
joined from a dangling end, and the tile whose core holds that end reads every line through it
(so knows it dangles) and every line within the tolerance of it. And a tile adds no link the whole
graph lacks: its vertices and crossings are the lines' own, and it joins gaps only where it knows
the degree. So two lines are in one component of the whole network exactly when a chain of tiles'
components, linked by the lines two tiles both read, joins them: :func:`merge` unites them so.

Lengths and counts are each a tile's core's share: its nodes, the segments that start in it, the
gaps it joins (a gap found from both of its ends, in two tiles, is counted once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gis.gaps.analysis import GapParameters, build_network
from gis.gaps.network import in_box, isin_keys, node_keys

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TileParts:
    """One tile's share of the whole network: small arrays, never its graph."""

    line_fids: np.ndarray  # the lines it read
    line_part: np.ndarray  # each line's component within the tile
    part_nodes: np.ndarray  # per component: its nodes in the core
    part_length: np.ndarray  # per component: the length of its segments that start in the core
    segments: int  # segments that start in the core
    length_m: float  # their length
    gaps: np.ndarray  # (n, 4) int64: the gaps joined from the core's ends, as both ends' keys, lower first
    gap_length: np.ndarray
    gap_part: np.ndarray  # each gap's component within the tile
    crossings: int  # vertices noding added in the core


def tiles(bounds: Box, segments: int, max_edges: int, margin: float) -> list[Box]:
    """Square tiles over ``bounds`` (the roads' extent), each about ``max_edges`` segments of the
    ``segments`` if they were spread evenly, the outer ones reaching ``margin`` past the extent."""
    xmin, ymin, xmax, ymax = bounds[0] - margin, bounds[1] - margin, bounds[2] + margin, bounds[3] + margin
    area = max((xmax - xmin) * (ymax - ymin), 1.0)
    side = max(np.sqrt(area * max_edges / max(segments, 1)), 1.0)
    nx, ny = int(np.ceil((xmax - xmin) / side)), int(np.ceil((ymax - ymin) / side))
    return [
        (xmin + i * side, ymin + j * side, xmin + (i + 1) * side, ymin + (j + 1) * side)
        for i in range(max(nx, 1))
        for j in range(max(ny, 1))
    ]


def tile_parts(roads: gpd.GeoDataFrame, params: GapParameters, core: Box) -> TileParts:
    """A tile's components: ``roads`` are the lines touching ``core`` widened by the tolerance."""
    if not len(roads):
        empty = np.array([], dtype=np.int64)
        return TileParts(empty, empty, empty, np.array([]), 0, 0.0, np.empty((0, 4), np.int64), np.array([]), empty, 0)
    net = build_network(roads, params, index=False, core=core)
    lines = np.asarray(roads.geometry.values, dtype=object)
    first = node_keys(shapely.get_coordinates(shapely.get_point(lines, 0)))
    keys = node_keys(net.xy)
    index = pd.MultiIndex.from_arrays([*keys.T])
    line_node = index.get_indexer(pd.MultiIndex.from_arrays([*first.T]))
    n_parts = int(net.component.max(initial=-1)) + 1
    inside = in_box(net.xy, core)
    given = node_keys(shapely.get_coordinates(lines))
    added = ~isin_keys(keys, given)  # vertices of crossings, not of the lines themselves
    seg = slice(0, net.segment_count)
    starts = inside[net.u[seg]]
    gu, gv = net.u[net.segment_count :], net.v[net.segment_count :]
    ku, kv = node_keys(net.xy[gu]), node_keys(net.xy[gv])
    swap = (ku[:, 0] > kv[:, 0]) | ((ku[:, 0] == kv[:, 0]) & (ku[:, 1] > kv[:, 1]))
    lo, hi = np.where(swap[:, None], kv, ku), np.where(swap[:, None], ku, kv)
    return TileParts(
        line_fids=roads["fid"].to_numpy(dtype=np.int64),
        line_part=net.component[line_node],
        part_nodes=np.bincount(net.component[inside], minlength=n_parts),
        part_length=np.bincount(net.component[net.u[seg]][starts], weights=net.length[seg][starts], minlength=n_parts),
        segments=int(starts.sum()),
        length_m=float(net.length[seg][starts].sum()),
        gaps=np.c_[lo, hi].astype(np.int64),
        gap_length=net.length[net.segment_count :],
        gap_part=net.component[gu],
        crossings=int((added & inside).sum()),
    )


@dataclass(frozen=True)
class Components:
    """The whole network's components, from its tiles."""

    island_lines: frozenset[int]  # the lines off the main component
    summary: dict[str, Any]  # as gis.gaps.network.NetworkSummary's fields


def merge(found: list[TileParts], params: GapParameters) -> Components:
    """The tiles' components united by the lines they share (see the module's note).

    The summary is a single process's (:class:`~gis.gaps.network.NetworkSummary`) but for two
    fields: ``noded_crossings`` counts the crossing vertices noding added (a single process counts
    the coordinates it added, two or more a crossing), and an island's ``component`` is a number of
    this merge's."""
    noded = sum(t.crossings for t in found)
    found = [t for t in found if len(t.line_fids)]
    if not found:
        none = {"nodes": 0, "edges": 0, "length_m": 0.0, "gaps": 0, "noded": noded}
        return Components(frozenset(), _summary(params, none, np.array([]), np.array([]), 0))
    fids, line_id = np.unique(np.concatenate([t.line_fids for t in found]), return_inverse=True)
    offsets = np.cumsum([0, *[len(t.part_nodes) for t in found]])
    part_id = len(fids) + np.concatenate([o + t.line_part for o, t in zip(offsets, found, strict=False)])
    n = len(fids) + int(offsets[-1])
    graph = coo_matrix((np.ones(len(line_id)), (line_id, part_id)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    part_label = label[len(fids) :]
    comps, part_comp = np.unique(part_label, return_inverse=True)
    length = np.bincount(part_comp, weights=np.concatenate([t.part_length for t in found]), minlength=len(comps))
    nodes = np.bincount(part_comp, weights=np.concatenate([t.part_nodes for t in found]), minlength=len(comps))
    gaps = pd.DataFrame(np.concatenate([t.gaps for t in found]), columns=["x0", "y0", "x1", "y1"])
    gaps["length"] = np.concatenate([t.gap_length for t in found])
    gaps["comp"] = part_comp[np.concatenate([o + t.gap_part for o, t in zip(offsets, found, strict=False)])]
    gaps = gaps.drop_duplicates(["x0", "y0", "x1", "y1"])
    length += np.bincount(gaps["comp"].to_numpy(dtype=np.int64), weights=gaps["length"], minlength=len(comps))
    main = int(np.argmax(length))
    line_comps = np.searchsorted(comps, label[: len(fids)])  # every line is in some tile's component
    islands = frozenset(int(f) for f in fids[line_comps != main])
    counts = {
        "nodes": nodes.sum(),
        "edges": sum(t.segments for t in found),
        "length_m": sum(t.length_m for t in found),
        "gaps": len(gaps),
        "noded": noded,
    }
    summary = _summary(params, counts, length, nodes, main)
    return Components(islands, summary)


def _summary(
    params: GapParameters, counts: dict[str, Any], comp_length: np.ndarray, comp_nodes: np.ndarray, main: int
) -> dict[str, Any]:
    """The summary's fields from the whole network's counts (nodes, edges, length_m, gaps, noded)."""
    total = float(comp_length.sum())
    return {
        "nodes": int(counts["nodes"]),
        "edges": int(counts["edges"]),
        "length_km": round(float(counts["length_m"]) / 1000, 3),
        "tolerance_m": params.tolerance_m,
        "joined_gaps": int(counts["gaps"]),
        "noded_crossings": int(counts["noded"]),
        "components": len(comp_length),
        "main_component_share": round(float(comp_length[main]) / total, 4) if total else 0.0,
        "islands": [
            {"component": int(c), "length_m": round(float(comp_length[c]), 1), "nodes": int(comp_nodes[c])}
            for c in np.argsort(-comp_length, kind="stable")
            if c != main and comp_length[c] > 0
        ],
    }
