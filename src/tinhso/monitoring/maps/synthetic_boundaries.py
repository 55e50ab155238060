"""Synthetic boundaries for demo and tests: a Voronoi tessellation of unit centroids.

The polygons are not real borders; every caller stores them with the synthetic flag.
Centroids come from ``vietnamadminunits`` (the registry stores no coordinates).
"""

from __future__ import annotations

from collections.abc import Mapping

import shapely
from shapely.geometry import MultiPoint
from shapely.geometry.base import BaseGeometry
from vietnamadminunits.database import get_data

# Degrees added around the centroids' convex hull before clipping.
CLIP_BUFFER = 0.05


def commune_centroids(province_code: str) -> dict[str, tuple[float, float]]:
    """Current-set (since 01/07/2025) communes of a province: code -> (lon, lat)."""
    rows = get_data(fields=["provinceCode", "wardCode", "wardLon", "wardLat"])
    return {
        str(row["wardCode"]): (float(row["wardLon"]), float(row["wardLat"]))
        for row in rows
        if str(row["provinceCode"]) == province_code
        and row["wardLon"] is not None
        and row["wardLat"] is not None
    }


def province_centroids() -> dict[str, tuple[float, float]]:
    """Current-set provinces: code -> (lon, lat)."""
    rows = get_data(fields=["provinceCode", "provinceLon", "provinceLat"])
    return {
        str(row["provinceCode"]): (float(row["provinceLon"]), float(row["provinceLat"]))
        for row in rows
        if row["provinceLon"] is not None and row["provinceLat"] is not None
    }


def clip_area(centroids: Mapping[str, tuple[float, float]]) -> BaseGeometry:
    """The convex hull of the centroids, buffered by :data:`CLIP_BUFFER` degrees."""
    return MultiPoint(list(centroids.values())).convex_hull.buffer(CLIP_BUFFER)


def voronoi_boundaries(centroids: Mapping[str, tuple[float, float]]) -> dict[str, BaseGeometry]:
    """One valid polygon per centroid, the cell holding it, clipped to :func:`clip_area`.

    Units sharing the exact same centroid cannot be told apart and are left out.
    """
    by_position: dict[tuple[float, float], str] = {}
    for code, position in sorted(centroids.items()):
        by_position.setdefault(position, code)
    if not by_position:
        return {}
    area = clip_area(centroids)
    if len(by_position) == 1:
        ((_, code),) = by_position.items()
        return {code: area}
    positions = list(by_position)
    # ordered=True: the n-th cell is the n-th input point's.
    cells = shapely.voronoi_polygons(MultiPoint(positions), extend_to=area, ordered=True)
    return {
        by_position[position]: shapely.make_valid(cell.intersection(area))
        for position, cell in zip(positions, cells.geoms, strict=True)
    }
