"""Walking catchments (life circles): where a facility type's service radius reaches on foot.

The catchment is drawn from the same walking network and access legs as the gap analysis: the
streets within the radius of the nearest facility of the type, widened by the access-leg search
distance (a compound whose boundary is that close to a reached street is within the radius, less
its leg). As in the gap analysis, a facility with no road nearby serves only where it stands.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from gis.gaps.analysis import GapParameters, build_network


def walking_catchment(
    facilities: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None, radius_m: float, params: GapParameters
) -> shapely.Geometry:
    """One (multi)polygon: the area within ``radius_m`` of walking from any of ``facilities``.

    Without roads it is the straight-line buffer (the euclidean basis of the gap analysis).
    """
    geoms = np.asarray(facilities.geometry.values, dtype=object)
    if not len(geoms):
        return shapely.Polygon()
    if roads is None or not len(roads):
        return shapely.union_all(shapely.buffer(geoms, radius_m))
    network = build_network(roads, params)
    points = network.access(geoms, search_m=params.search_m, max_leg_m=params.max_leg_m, mode=params.access)
    pieces = network.reach(points, len(geoms), limit=radius_m)
    streets = shapely.buffer(shapely.linestrings(pieces), params.search_m, quad_segs=4, cap_style="round")
    parts = [*streets, *shapely.buffer(geoms, params.search_m)]
    return shapely.union_all(np.asarray(parts, dtype=object))
