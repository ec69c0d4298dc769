"""The walking network: a graph of road segments, access legs, and nearest-facility distances.

Every road vertex is a node and every pair of consecutive vertices an edge, so ways that share a
vertex (OSM intersections) are joined and ways that only cross (bridges) are not. Line ends that
nearly touch another node are joined within a stated tolerance, by an edge of the real gap length.
Compounds and facilities reach the network by access legs: the straight line from the geometry (a
polygon's boundary, a point) to the nearest point of a nearby road segment; the leg counts in the
distance. Distances are Dijkstra's (scipy) from all facilities of a type at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

# the distance rows a chunk of the 2SFCA's per-source Dijkstra may hold at once
CHUNK_BYTES = 64 * 1024 * 1024


def node_lines(lines: np.ndarray, levels: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Split lines where they cross another line of the same level; returns the lines and how many
    vertices that added.

    Only the lines that cross another are noded (``crosses``: their interiors meet; a line ending
    on another's interior gives it its end as a vertex, like any touch it is joined by the graph
    already when the vertex is shared). ``levels`` (one per line; None: one level for all) keeps a
    bridge from being joined to the road it passes over.
    """
    lines = np.asarray(lines, dtype=object)
    if not len(lines):
        return lines, 0
    # the index finds the pairs that meet (prepared geometries: fast), then the pairs that cross are
    # picked out of those alone: a third of the time of asking the index for "crosses" directly
    left, right = shapely.STRtree(lines).query(lines, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    crossing = shapely.crosses(lines[left], lines[right])
    left, right = left[crossing], right[crossing]
    if levels is not None:
        same = levels[left] == levels[right]
        left, right = left[same], right[same]
    touched = np.unique(np.r_[left, right])
    if not len(touched):
        return lines, 0
    kept = np.delete(lines, touched)
    group = np.zeros(len(lines), dtype=np.int64) if levels is None else pd.factorize(levels)[0]
    parts, added = [kept], 0
    for level in np.unique(group[touched]):
        chosen = touched[group[touched] == level]
        before = len(shapely.get_coordinates(lines[chosen]))
        noded = np.asarray(shapely.get_parts(shapely.node(shapely.multilinestrings(lines[chosen]))), dtype=object)
        added += max(0, len(shapely.get_coordinates(noded)) - before)
        parts.append(noded)
    return np.concatenate(parts), added


def node_keys(xy: np.ndarray) -> np.ndarray:
    """Nodes' keys: their coordinates in whole millimetres, as the graph joins vertices (``(n, 2)``
    int64)."""
    return np.round(np.asarray(xy, dtype=float).reshape(-1, 2) * 1000).astype(np.int64)


def in_box(xy: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Per point, whether it lies in ``box`` taken half-open (``[xmin, xmax)`` × ``[ymin, ymax)``:
    boxes that tile the plane share no point)."""
    x, y = xy[:, 0], xy[:, 1]
    return (x >= box[0]) & (x < box[2]) & (y >= box[1]) & (y < box[3])


def isin_keys(keys: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Per row of ``keys`` (``(n, 2)`` int64), whether it is a row of ``among``."""
    if not len(keys) or not len(among):
        return np.zeros(len(keys), dtype=bool)
    found = pd.MultiIndex.from_arrays([keys[:, 0], keys[:, 1]]).isin(
        pd.MultiIndex.from_arrays([among[:, 0], among[:, 1]])
    )
    return np.asarray(found, dtype=bool)


def line_levels(bridge: pd.Series, tunnel: pd.Series, layer: pd.Series) -> np.ndarray:
    """Each road's vertical level: its ``layer``, else 1 on a bridge, -1 in a tunnel, else 0 (OSM's
    convention: ``layer`` orders what passes over what; a bridge without one is above the ground)."""
    level = pd.to_numeric(layer, errors="coerce").to_numpy(dtype=float, copy=True)  # written below
    on_bridge = bridge.fillna(False).astype(bool).to_numpy()
    in_tunnel = tunnel.fillna(False).astype(bool).to_numpy()
    unknown = np.isnan(level)
    level[unknown & on_bridge] = 1.0
    level[unknown & in_tunnel & ~on_bridge] = -1.0
    level[np.isnan(level)] = 0.0
    return level.astype(np.int64)


@dataclass
class AccessPoints:
    """Where features meet the network: one row per (feature, nearby segment)."""

    owner: np.ndarray  # index of the feature
    edge: np.ndarray  # index of the segment
    offset: np.ndarray  # metres from the segment's first node
    leg: np.ndarray  # metres from the feature to that point

    def __len__(self) -> int:
        return len(self.owner)

    def subset(self, owners: np.ndarray) -> AccessPoints:
        """The access points of the given features, renumbered 0..len(owners)-1."""
        # a feature asked for may have no access point (no road within reach): size for both
        new_id = np.full(max(int(self.owner.max(initial=-1)), int(np.max(owners, initial=-1))) + 1, -1)
        new_id[owners] = np.arange(len(owners))
        keep = np.isin(self.owner, owners)
        return AccessPoints(new_id[self.owner[keep]], self.edge[keep], self.offset[keep], self.leg[keep])


@dataclass
class NetworkSummary:
    nodes: int
    edges: int
    length_km: float
    tolerance_m: float
    joined_gaps: int
    noded_crossings: int
    components: int
    main_component_share: float  # of the total length
    islands: list[dict[str, float]] = field(default_factory=list)  # the other components


class WalkNetwork:
    """A walking graph built from road lines in a metric CRS.

    Parameters
    ----------
    lines
        LineStrings (metres).
    tolerance_m
        Line ends closer than this to another node are joined.
    node_crossings
        Split lines where they cross (for road files not noded at junctions, unlike OSM).
    noded
        Vertices already added by noding the lines beforehand (for the summary).
    index
        Build the segments' spatial index for access legs (a pass that only wants the components
        and the summary, such as a partitioned run's road tiles, does without: it is most of the
        memory).
    core
        Join line ends across a gap only from the dangling ends inside this box (``[xmin, xmax)`` ×
        ``[ymin, ymax)``): a road tile of a larger network knows the degree of its own nodes only.
    """

    def __init__(
        self,
        lines: np.ndarray,
        *,
        tolerance_m: float = 1.0,
        node_crossings: bool = False,
        noded: int = 0,
        index: bool = True,
        core: tuple[float, float, float, float] | None = None,
    ) -> None:
        lines = np.asarray([g for g in lines if g is not None and not g.is_empty], dtype=object)
        if node_crossings and len(lines):
            lines, added = node_lines(lines)
            noded += added
        coords, owner = shapely.get_coordinates(lines, return_index=True)
        same = owner[1:] == owner[:-1]
        a, b = coords[:-1][same], coords[1:][same]
        # millimetres: the same vertex written twice is one node (hashing, not sorting: fast)
        keys = node_keys(np.vstack([a, b]))
        inverse = pd.DataFrame({"x": keys[:, 0], "y": keys[:, 1]}).groupby(["x", "y"], sort=False).ngroup().to_numpy()
        first = np.zeros(int(inverse.max(initial=-1)) + 1, dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(inverse))[::-1]
        uniq = keys[first] / 1000.0
        u, v = inverse[: len(a)], inverse[len(a) :]
        length = np.hypot(*(b - a).T)
        keep = u != v
        self.xy = uniq
        self.u, self.v, self.length = u[keep], v[keep], length[keep]

        # line ends that nearly touch another node: joined by an edge of the gap's real length
        is_first = np.r_[True, owner[1:] != owner[:-1]]
        is_last = np.r_[owner[1:] != owner[:-1], True]
        ends = np.round(coords[is_first | is_last], 3)
        tree = cKDTree(self.xy)
        end_ids = tree.query(ends)[1]
        degree = np.bincount(np.r_[self.u, self.v], minlength=len(self.xy))
        dangling = np.unique(end_ids[degree[end_ids] == 1])
        if core is not None:
            dangling = dangling[in_box(self.xy[dangling], core)]
        near = tree.query_ball_point(self.xy[dangling], tolerance_m) if len(dangling) and tolerance_m > 0 else []
        counts = np.array([len(found) for found in near], dtype=np.int64)
        gu = np.repeat(dangling, counts) if len(counts) else np.array([], dtype=np.int64)
        gv = np.fromiter((o for found in near for o in found), dtype=np.int64, count=int(counts.sum()))
        lo, hi = np.minimum(gu, gv), np.maximum(gu, gv)
        n_nodes = len(self.xy)
        # not itself, not a node it already has an edge to: one key per unordered pair
        edge_keys = np.minimum(self.u, self.v) * n_nodes + np.maximum(self.u, self.v)
        pair_keys = np.unique((lo * n_nodes + hi)[lo != hi])
        pair_keys = pair_keys[~np.isin(pair_keys, edge_keys)]
        gu, gv = pair_keys // n_nodes, pair_keys % n_nodes
        self.gap_edges = len(pair_keys)
        self.segment_count = len(self.u)
        if len(pair_keys):
            self.u = np.r_[self.u, gu]
            self.v = np.r_[self.v, gv]
            self.length = np.r_[self.length, np.hypot(*(self.xy[gu] - self.xy[gv]).T)]
        self.tolerance_m = tolerance_m
        self.noded = noded
        self.graph = self._graph(len(self.xy), self.u, self.v, self.length)
        n_comp, self.component = connected_components(self.graph, directed=False)
        comp_length = np.bincount(self.component[self.u], weights=self.length, minlength=n_comp)
        self.main = int(np.argmax(comp_length)) if n_comp else 0
        self._comp_length = comp_length
        self._node_on_main = self.component == self.main
        if index:
            self._segments = shapely.linestrings(np.stack([self.xy[self.u], self.xy[self.v]], axis=1))
            self._tree = shapely.STRtree(self._segments)

    def take_main_from(self, off_main: np.ndarray) -> None:
        """Whether a node is on the main component, from a network over a larger area: every node
        but those in ``off_main`` (:func:`node_keys` of the larger network's island nodes). Within a
        partition's read area the nodes are the larger network's, so its islands are the larger
        network's."""
        self._node_on_main = ~isin_keys(node_keys(self.xy), off_main)

    @staticmethod
    def _graph(
        n: int,
        u: np.ndarray,
        v: np.ndarray,
        w: np.ndarray,
        one_way: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> csr_matrix:
        """Edges both ways (plus ``one_way`` edges in one direction); of parallel edges the shortest
        is kept (a sparse matrix would add them up)."""
        a, b, ww = np.r_[u, v], np.r_[v, u], np.r_[w, w]
        if one_way is not None:
            a, b, ww = np.r_[a, one_way[0]], np.r_[b, one_way[1]], np.r_[ww, one_way[2]]
        frame = pd.DataFrame({"a": a, "b": b, "w": ww})
        frame = frame.groupby(["a", "b"], sort=False)["w"].min().reset_index()
        # a zero weight would vanish from a sparse matrix: the smallest positive stands in for it
        weights = np.maximum(frame["w"].to_numpy(), 1e-9)
        return coo_matrix((weights, (frame["a"], frame["b"])), shape=(n, n)).tocsr()

    def summary(self) -> NetworkSummary:
        total = float(self._comp_length.sum())
        islands = [
            {
                "component": int(c),
                "length_m": round(float(self._comp_length[c]), 1),
                "nodes": int((self.component == c).sum()),
            }
            for c in np.argsort(-self._comp_length)
            if c != self.main and self._comp_length[c] > 0
        ]
        return NetworkSummary(
            nodes=len(self.xy),
            edges=self.segment_count,
            length_km=round(float(self.length[: self.segment_count].sum()) / 1000, 3),
            tolerance_m=self.tolerance_m,
            joined_gaps=self.gap_edges,
            noded_crossings=self.noded,
            components=len(self._comp_length),
            main_component_share=round(float(self._comp_length[self.main]) / total, 4) if total else 0.0,
            islands=islands,
        )

    # -- access legs -----------------------------------------------------------------------------
    def access(
        self, geoms: np.ndarray, *, search_m: float = 30.0, max_leg_m: float = 300.0, mode: str = "all"
    ) -> AccessPoints:
        """Access points of each geometry: with ``mode="all"`` every segment within ``search_m`` of
        it, or else the nearest segment within ``max_leg_m``; with ``mode="nearest"`` the nearest
        segment alone (the first found of equally near ones), within ``max_leg_m``, as desktop
        network tools snap. A geometry with none cannot reach the network."""
        geoms = np.asarray(geoms, dtype=object)
        if mode == "nearest":
            near_owner, near_edge = np.array([], dtype=np.int64), np.array([], dtype=np.int64)
        else:
            near_owner, near_edge = self._tree.query(geoms, predicate="dwithin", distance=search_m)
        has = np.zeros(len(geoms), dtype=bool)
        has[near_owner] = True
        rest = np.flatnonzero(~has)
        if len(rest):
            (far_owner, far_edge), _ = self._tree.query_nearest(
                geoms[rest], max_distance=max_leg_m, return_distance=True, all_matches=mode != "nearest"
            )
            near_owner = np.r_[near_owner, rest[far_owner]]
            near_edge = np.r_[near_edge, far_edge]
        if not len(near_owner):
            empty = np.array([], dtype=int)
            return AccessPoints(empty, empty, np.array([]), np.array([]))
        link = shapely.shortest_line(self._segments[near_edge], geoms[near_owner])  # segment -> feature
        ends = shapely.get_coordinates(link).reshape(-1, 2, 2)
        at, to = ends[:, 0], ends[:, 1]
        return AccessPoints(
            owner=near_owner,
            edge=near_edge,
            offset=np.hypot(*(at - self.xy[self.u[near_edge]]).T),
            leg=np.hypot(*(to - at).T),
        )

    def on_main(self, points: AccessPoints, count: int) -> np.ndarray:
        """Per feature: whether any of its access points is on the main component."""
        main = self._node_on_main[self.u[points.edge]]
        out = np.zeros(count, dtype=bool)
        out[points.owner[main]] = True
        return out

    # -- distances ------------------------------------------------------------------------------
    def _with_sources(self, sources: AccessPoints, n_sources: int) -> tuple[csr_matrix, np.ndarray]:
        """The graph with one virtual node per source, joined one way (source -> road) to both ends
        of each of its segments, so that no path passes through a facility.

        The road graph is built once (``self.graph``); the virtual nodes are rows appended to its
        CSR arrays, so a facility type costs its legs, not a rebuild of the network."""
        n = len(self.xy)
        e = sources.edge
        legs = pd.DataFrame(
            {
                "a": np.r_[sources.owner, sources.owner],
                "b": np.r_[self.u[e], self.v[e]],
                "w": np.r_[sources.leg + sources.offset, sources.leg + self.length[e] - sources.offset],
            }
        )
        legs = legs.groupby(["a", "b"], sort=True)["w"].min().reset_index()  # a sparse matrix would add them up
        base = self.graph
        rows = np.bincount(legs["a"].to_numpy(), minlength=n_sources)
        indptr = np.r_[base.indptr, base.indptr[-1] + np.cumsum(rows)]
        indices = np.r_[base.indices, legs["b"].to_numpy()]
        data = np.r_[base.data, np.maximum(legs["w"].to_numpy(), 1e-9)]
        graph = csr_matrix((data, indices, indptr), shape=(n + n_sources, n + n_sources))
        return graph, n + np.unique(sources.owner)

    def costs(
        self, sources: AccessPoints, n_sources: int, targets: AccessPoints, n_targets: int, *, limit: float
    ) -> pd.DataFrame:
        """Every (source, target) pair within ``limit`` metres of walking, with its distance.

        One Dijkstra per source, cut off at ``limit``; targets take the best of their access points,
        as in :meth:`nearest`. Returns columns ``source``, ``target``, ``cost``.
        """
        columns = {"source": pd.Series(dtype=int), "target": pd.Series(dtype=int), "cost": pd.Series(dtype=float)}
        if not len(sources) or not len(targets):
            return pd.DataFrame(columns)
        n = len(self.xy)
        graph, starts = self._with_sources(sources, n_sources)
        te = targets.edge
        # only the nodes at the ends of the targets' segments are read: one column each
        ends, at = np.unique(np.r_[self.u[te], self.v[te]], return_inverse=True)
        at_u, at_v = at[: len(te)], at[len(te) :]
        found: list[pd.DataFrame] = []
        # a Dijkstra per source, in chunks whose rows (one float per node) stay within CHUNK_BYTES:
        # memory grows with the pairs within reach, not with sources x nodes
        step = max(1, CHUNK_BYTES // (8 * graph.shape[0]))
        for first in range(0, len(starts), step):
            chunk = starts[first : first + step]
            dist = dijkstra(graph, directed=True, indices=chunk, limit=limit)[:, ends]
            via_u = dist[:, at_u] + targets.offset + targets.leg
            via_v = dist[:, at_v] + (self.length[te] - targets.offset) + targets.leg
            best = np.minimum(via_u, via_v)  # (chunk, target access points)
            s_i, t_i = np.nonzero(best <= limit)
            found.append(pd.DataFrame({"source": chunk[s_i] - n, "target": targets.owner[t_i], "cost": best[s_i, t_i]}))
        same = pd.DataFrame(
            {"edge": sources.edge, "s": sources.offset, "sl": sources.leg, "source": sources.owner}
        ).merge(pd.DataFrame({"edge": te, "t": targets.offset, "tl": targets.leg, "target": targets.owner}), on="edge")
        if len(same):
            same["cost"] = (same["s"] - same["t"]).abs() + same["sl"] + same["tl"]
            found.append(same.loc[same["cost"] <= limit, ["source", "target", "cost"]])
        frame = pd.concat(found, ignore_index=True)
        return frame.groupby(["source", "target"])["cost"].min().reset_index()

    def reach(self, sources: AccessPoints, n_sources: int, *, limit: float) -> np.ndarray:
        """The parts of the segments within ``limit`` metres of walking from any source, as
        straight pieces ``(n, 2, 2)`` (start and end coordinates).

        A node at distance ``d`` reaches ``limit - d`` metres into each of its segments; a source's
        own segment is reached ``limit - leg`` metres either side of its access point.
        """
        if not len(sources):
            return np.empty((0, 2, 2))
        graph, starts = self._with_sources(sources, n_sources)
        dist = dijkstra(graph, directed=True, indices=starts, min_only=True, limit=limit)[: len(self.xy)]
        length = self.length
        from_u = np.clip(limit - dist[self.u], 0.0, None)  # metres reached from the first node
        from_v = np.clip(limit - dist[self.v], 0.0, None)
        pieces = [
            np.c_[np.zeros(len(length)), np.minimum(from_u, length)],
            np.c_[length - np.minimum(from_v, length), length],
        ]
        left = np.clip(limit - sources.leg, 0.0, None)
        e = sources.edge
        pieces.append(np.c_[np.clip(sources.offset - left, 0, length[e]), np.clip(sources.offset + left, 0, length[e])])
        edge = np.r_[np.arange(len(length)), np.arange(len(length)), e]
        span = np.vstack(pieces)
        keep = span[:, 1] > span[:, 0]
        edge, span = edge[keep], span[keep]
        a, b = self.xy[self.u[edge]], self.xy[self.v[edge]]
        unit = (b - a) / np.maximum(length[edge], 1e-9)[:, None]
        return np.stack([a + unit * span[:, :1], a + unit * span[:, 1:]], axis=1)

    def nearest(
        self, sources: AccessPoints, n_sources: int, targets: AccessPoints, n_targets: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Network distance from each target to its nearest source, and which source.

        Every source gets a virtual node joined to both ends of each of its segments (leg plus the
        way along the segment); one multi-source Dijkstra then gives every node its distance and the
        source it came from. A target on a segment takes the better of its two ends; a target on the
        same segment as a source may also go straight along it.
        """
        n = len(self.xy)
        dist_t = np.full(n_targets, np.inf)
        src_t = np.full(n_targets, -1)
        if not len(sources) or not len(targets):
            return dist_t, src_t
        graph, starts = self._with_sources(sources, n_sources)
        dist, _pred, origin = dijkstra(graph, directed=True, indices=starts, min_only=True, return_predecessors=True)
        te = targets.edge
        via_u = dist[self.u[te]] + targets.offset + targets.leg
        via_v = dist[self.v[te]] + (self.length[te] - targets.offset) + targets.leg
        best = np.minimum(via_u, via_v)
        best_src = np.where(via_u <= via_v, origin[self.u[te]], origin[self.v[te]])
        # the same segment: straight along it
        same = pd.DataFrame({"edge": sources.edge, "s": sources.offset, "sl": sources.leg, "src": sources.owner}).merge(
            pd.DataFrame({"edge": te, "t": targets.offset, "tl": targets.leg, "row": np.arange(len(te))}), on="edge"
        )
        if len(same):
            direct = (same["s"] - same["t"]).abs() + same["sl"] + same["tl"]
            for row, d, s in zip(same["row"], direct, same["src"], strict=True):
                if d < best[row]:
                    best[row] = d
                    best_src[row] = n + s
        # per target: the best of its access points
        order = np.lexsort((best, targets.owner))
        owners = targets.owner[order]
        first = np.r_[True, owners[1:] != owners[:-1]]
        chosen = order[first]
        dist_t[targets.owner[chosen]] = best[chosen]
        src = best_src[chosen]
        src_t[targets.owner[chosen]] = np.where(src >= n, src - n, -1)
        unreachable = ~np.isfinite(dist_t)
        src_t[unreachable] = -1
        return dist_t, src_t
