"""Voronoi synthetic boundaries: one valid polygon per centroid, inside the clip area."""

from __future__ import annotations

import random

import pytest
from shapely.geometry import Point

from tinhso.monitoring.maps.synthetic_boundaries import (
    clip_area,
    commune_centroids,
    province_centroids,
    voronoi_boundaries,
)

BAC_NINH = "24"


def _check_tessellation(centroids: dict[str, tuple[float, float]]) -> None:
    polygons = voronoi_boundaries(centroids)
    area = clip_area(centroids)
    assert set(polygons) == set(centroids)
    for code, polygon in polygons.items():
        assert polygon.is_valid, code
        assert polygon.area > 0, code
        assert polygon.covers(Point(centroids[code])), code
        assert area.buffer(1e-9).covers(polygon), code
    # The cells tile the clip area without overlapping.
    total = sum(polygon.area for polygon in polygons.values())
    assert total == pytest.approx(area.area, rel=1e-6)


def test_bac_ninh_communes_tessellate() -> None:
    centroids = commune_centroids(BAC_NINH)
    assert len(centroids) > 50  # Bắc Ninh (current set) has about a hundred communes
    _check_tessellation(centroids)


def test_provinces_tessellate() -> None:
    centroids = province_centroids()
    assert len(centroids) == 34
    _check_tessellation(centroids)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_points_tessellate(seed: int) -> None:
    generator = random.Random(seed)
    count = generator.randint(2, 40)
    centroids = {
        f"{index:05d}": (105 + generator.random(), 21 + generator.random())
        for index in range(count)
    }
    _check_tessellation(centroids)


def test_single_centroid_gets_the_clip_area() -> None:
    polygons = voronoi_boundaries({"00001": (106.0, 21.0)})
    assert polygons["00001"].covers(Point(106.0, 21.0))
    assert voronoi_boundaries({}) == {}
