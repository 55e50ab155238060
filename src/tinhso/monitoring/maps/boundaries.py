"""Stored boundaries of units for the maps, and the map of an indicator over a unit's
children.

An upload is checked whole (:func:`read_boundary_upload`) before anything is written: a
refused file changes nothing and the boundaries in use stay. Synthetic boundaries (Voronoi
cells of the centroids ``vietnamadminunits`` ships) are stored with their flag, and every
map drawn with them says so. Units are the current set's (since 01/07/2025); values come
from monitoring's own ranking computation, so legacy data shows on current units through
the same re-aggregation as the rankings page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shapely.geometry import Point, shape
from sqlalchemy import delete, func, select

from tinhso.core.db import utcnow
from tinhso.core.errors import InvalidInput
from tinhso.core.generations import GenerationCache
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.maps.boundary_upload import (
    MAX_UPLOAD_BYTES,
    OVERVIEW_TOLERANCE,
    SIMPLIFY_TOLERANCE,
    read_boundary_upload,
    simplified_geojson,
)
from tinhso.monitoring.maps.synthetic_boundaries import (
    commune_centroids,
    province_centroids,
    voronoi_boundaries,
)
from tinhso.monitoring.models import BOUNDARIES_GENERATION, FIGURES_GENERATION, UnitBoundary
from tinhso.monitoring.progress.service import (
    AchievementsAsked,
    RankingAsked,
    progress_service,
)
from tinhso.registry.models import UNITS_GENERATION, UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry
    from sqlalchemy.orm import Session

    from tinhso.monitoring.models import Indicator
    from tinhso.monitoring.schemas import Achievement, RankedUnit

SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class StoredBoundaries:
    stored: int
    messages: list[tuple[str, str]]  # (vi, en): codes skipped or missing, shapes repaired


def _unit_ids(
    session: Session,
    level: UnitLevel,
    parent_code: str | None,
    unit_set: UnitSet = UnitSet.CURRENT,
) -> dict[str, int]:
    """Code -> id of a set's units of a level (under a parent, if given)."""
    unit_service.check_level(unit_set, level)
    if parent_code is None:
        key = (unit_set, level, None)
        ids = unit_service.ids_at_levels(session, [key])[key]
        return {node.code: node.id for node in unit_service.nodes(session, ids).values()}
    parent = unit_service.get(session, unit_set, parent_code)
    return {
        node.code: node.id
        for node in unit_service.subtree(session, parent.id)
        if node.level is level
    }


def _replace(
    session: Session,
    shapes: Mapping[int, tuple[str, str]],
    *,
    synthetic: bool,
    source: str,
    uploaded_by_id: int | None = None,
) -> int:
    """Store the shapes (unit id -> GeoJSON geometry text, and its overview's) in place of
    those units' boundaries."""
    if shapes:
        session.execute(delete(UnitBoundary).where(UnitBoundary.unit_id.in_(list(shapes))))
    now = utcnow()
    for unit_id, (text, overview) in shapes.items():
        min_lon, min_lat, max_lon, max_lat = shape(json.loads(text)).bounds
        session.add(
            UnitBoundary(
                unit_id=unit_id,
                geometry=text,
                geometry_overview=overview or text,
                uploaded_by_id=uploaded_by_id,
                min_lon=min_lon,
                min_lat=min_lat,
                max_lon=max_lon,
                max_lat=max_lat,
                synthetic=synthetic,
                source=source,
                loaded_at=now,
            )
        )
    session.flush()
    return len(shapes)


def load_upload(
    session: Session,
    content: bytes,
    file_name: str,
    level: UnitLevel,
    parent_code: str | None,
    *,
    unit_set: UnitSet = UnitSet.CURRENT,
    uploaded_by_id: int | None = None,
) -> StoredBoundaries:
    """An operator's GeoJSON of a set's units of a level (under a parent): checked whole,
    then stored in place of those units' boundaries; a refused file stores nothing."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            "Tệp ranh giới lớn hơn 20 MB", "The boundary file is larger than 20 MB", field="file"
        )
    ids = _unit_ids(session, level, parent_code, unit_set)
    report = read_boundary_upload(content, expected_codes=ids)
    stored = _replace(
        session,
        {
            ids[shape.unit_code]: (shape.geometry_geojson, shape.overview_geojson)
            for shape in report.shapes
        },
        synthetic=False,
        source=file_name[:300] or "upload",
        uploaded_by_id=uploaded_by_id,
    )
    return StoredBoundaries(stored, [(m.vi, m.en) for m in report.messages])


def _geojson(geometry: BaseGeometry) -> tuple[str, str]:
    return (
        simplified_geojson(geometry, SIMPLIFY_TOLERANCE),
        simplified_geojson(geometry, OVERVIEW_TOLERANCE),
    )


def load_synthetic(session: Session, province_code: str) -> StoredBoundaries:
    """Synthetic boundaries for the current provinces and for one province's communes, where
    a unit has no uploaded boundary (an uploaded one is never replaced by a synthetic one)."""
    uploaded = set(
        session.scalars(select(UnitBoundary.unit_id).where(UnitBoundary.synthetic.is_(False)))
    )
    shapes: dict[int, tuple[str, str]] = {}
    for level, parent, centroids in (
        (UnitLevel.PROVINCE, None, province_centroids()),
        (UnitLevel.COMMUNE, province_code, commune_centroids(province_code)),
    ):
        ids = _unit_ids(session, level, parent)
        for code, cell in voronoi_boundaries(
            {code: point for code, point in centroids.items() if code in ids}
        ).items():
            if ids[code] not in uploaded:
                shapes[ids[code]] = _geojson(cell)
    return StoredBoundaries(_replace(session, shapes, synthetic=True, source=SYNTHETIC), [])


def _json(value: Any) -> str:
    """Compact JSON text, as the API's responses write it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass(frozen=True)
class UnitMap:
    """An indicator over a unit's children (the provinces when no parent is given)."""

    # each unit in code order: its code, its feature's properties and its geometry as
    # GeoJSON text (None: neither a boundary nor a centroid, in the table only)
    units: list[tuple[str, dict[str, Any], str | None]]
    parent: tuple[str, str] | None  # (code, name)
    level: UnitLevel
    synthetic: bool
    without_boundary: list[str]  # names of units with no stored boundary (drawn as points)
    with_target: bool = False  # some unit has a target for the indicator

    @cached_property
    def collection(self) -> dict[str, Any]:
        """The units as a GeoJSON FeatureCollection (geometries parsed for this reader)."""
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": code,
                    "properties": properties,
                    "geometry": json.loads(geometry) if geometry is not None else None,
                }
                for code, properties, geometry in self.units
            ],
        }

    @cached_property
    def collection_text(self) -> str:
        """:attr:`collection` as JSON text, the stored geometries' text put in as it is
        (nothing parsed or encoded again: a province's 168 communes are ~100 KB); made once
        for this map, which is kept and shared (the map page writes it as it is)."""
        features = ",".join(
            f'{{"type":"Feature","id":{_json(code)},"properties":{_json(properties)},'
            f'"geometry":{geometry if geometry is not None else "null"}}}'
            for code, properties, geometry in self.units
        )
        return f'{{"type":"FeatureCollection","features":[{features}]}}'


def target_properties(found: Achievement | None) -> dict[str, Any]:
    """A feature's target, achievement and status (all None without a target)."""
    if found is None:
        return {
            "target": None,
            "target_year": None,
            "comparison": None,
            "percent": None,
            "status": None,
            "status_vi": None,
            "status_en": None,
        }
    return {
        "target": found.goal,
        "target_year": found.year,
        "comparison": found.comparison.value,
        "percent": found.achievement_percent,
        "status": found.status,
        "status_vi": found.status_vi,
        "status_en": found.status_en,
    }


def _centroids(level: UnitLevel, parent_code: str | None) -> dict[str, tuple[float, float]]:
    if level is UnitLevel.PROVINCE:
        return province_centroids()
    return commune_centroids(parent_code or "")


# Boundaries per set of units as compact GeoJSON text, kept until a boundary is stored again.
_STORED: GenerationCache[dict[int, tuple[str, bool]]] = GenerationCache(
    (BOUNDARIES_GENERATION,), max_weight=20_000
)


def _stored_boundaries(
    session: Session, unit_ids: tuple[int, ...], *, overview: bool
) -> dict[int, tuple[str, bool]]:
    """Each unit's stored boundary (compact GeoJSON geometry text) and whether it is
    synthetic; the whole country's map draws the coarser overview (stored since migration
    0037)."""

    def read() -> dict[int, tuple[str, bool]]:
        column = (
            func.coalesce(UnitBoundary.geometry_overview, UnitBoundary.geometry)
            if overview
            else UnitBoundary.geometry
        )
        rows = session.execute(
            select(UnitBoundary.unit_id, column, UnitBoundary.synthetic).where(
                UnitBoundary.unit_id.in_(list(unit_ids))
            )
        ).all()
        # written once in the API's own compact form, whatever the stored text's spacing
        return {unit_id: (_json(json.loads(text)), synthetic) for unit_id, text, synthetic in rows}

    return _STORED.get(session, (unit_ids, overview), read)


# Maps per question, kept until a commit writes the units, the figures or the boundaries;
# shared between requests (their collection too), so never changed by a reader.
_MAPS: GenerationCache[UnitMap] = GenerationCache(
    (UNITS_GENERATION, FIGURES_GENERATION, BOUNDARIES_GENERATION), max_weight=200
)


def unit_map(
    session: Session,
    indicator: Indicator,
    period: str,
    parent_code: str | None,
) -> UnitMap:
    """Each child unit as a feature with its value for the period (None without one); the
    values and targets from what is kept for the period's whole year (``year_figures``), so
    another month of the same indicator computes nothing again."""

    def draw() -> UnitMap:
        frame = _frame(session, parent_code)
        ranked = progress_service.ranking(
            session, indicator, period, Tree.CURRENT, frame.level, frame.parent_ref
        )
        achievements = progress_service.unit_achievements(
            session, indicator, period, Tree.CURRENT, frame.everyone
        )
        return frame.drawn(ranked, achievements)

    return _MAPS.get(session, (indicator.id, period, parent_code), draw)


@dataclass(frozen=True)
class _Frame:
    """What a map over a parent's children is drawn on: the units, their names, boundaries
    and centroids."""

    level: UnitLevel
    parent: tuple[str, str] | None  # (code, name)
    ids: dict[str, int]  # code -> id
    names: dict[int, str]
    boundaries: dict[int, tuple[str, bool]]
    centroids: dict[str, tuple[float, float]]

    @property
    def parent_ref(self) -> UnitRef | None:
        return UnitRef(unit_set=UnitSet.CURRENT, code=self.parent[0]) if self.parent else None

    @property
    def everyone(self) -> frozenset[int]:
        return frozenset(self.ids.values())

    def drawn(self, ranked: list[RankedUnit], achievements: dict[int, Achievement]) -> UnitMap:
        values = {row.unit.code: row.value for row in ranked}
        units: list[tuple[str, dict[str, Any], str | None]] = []
        for code, unit_id in sorted(self.ids.items()):
            if unit_id in self.boundaries:
                geometry: str | None = self.boundaries[unit_id][0]
            elif code in self.centroids:
                geometry = _json({"type": "Point", "coordinates": list(self.centroids[code])})
            else:
                geometry = None  # neither a boundary nor a centroid: in the table only
            units.append(
                (
                    code,
                    {
                        "code": code,
                        "name": self.names[unit_id],
                        "value": values.get(code),
                        "boundary": "polygon" if unit_id in self.boundaries else "point",
                        **target_properties(achievements.get(unit_id)),
                    },
                    geometry,
                )
            )
        return UnitMap(
            units=units,
            parent=self.parent,
            level=self.level,
            synthetic=any(synthetic for _geometry, synthetic in self.boundaries.values()),
            without_boundary=sorted(
                self.names[i] for i in self.ids.values() if i not in self.boundaries
            ),
            with_target=bool(achievements),
        )


# What maps are drawn on, per parent (None: the provinces), kept until a commit writes the
# units or the boundaries: at most the 34 provinces' communes and the country (~100 KB each).
_FRAMES: GenerationCache[_Frame] = GenerationCache(
    (UNITS_GENERATION, BOUNDARIES_GENERATION), max_weight=100
)


def _frame(session: Session, parent_code: str | None) -> _Frame:
    """The frame of the maps over a parent's children (kept: another indicator or period over
    the same units reads one generation instead of the units and their boundaries)."""
    return _FRAMES.get(session, parent_code, lambda: _read_frame(session, parent_code))


def _read_frame(session: Session, parent_code: str | None) -> _Frame:
    level = UnitLevel.COMMUNE if parent_code else UnitLevel.PROVINCE
    parent_name = None
    if parent_code:
        parent_unit = unit_service.get(session, UnitSet.CURRENT, parent_code)
        if parent_unit.level is not UnitLevel.PROVINCE:
            raise InvalidInput(
                "Chỉ xem được bản đồ các xã, phường của một tỉnh, thành phố",
                "A map shows the communes of a province",
                field="parent",
            )
        parent_name = parent_unit.name
    ids = _unit_ids(session, level, parent_code)
    names = {node.id: node.name for node in unit_service.nodes(session, ids.values()).values()}
    boundaries = _stored_boundaries(session, tuple(sorted(ids.values())), overview=not parent_code)
    return _Frame(
        level=level,
        parent=(parent_code, parent_name or parent_code) if parent_code else None,
        ids=ids,
        names=names,
        boundaries=boundaries,
        # A unit with no stored boundary is drawn at its centroid (vietnamadminunits has them).
        centroids=_centroids(level, parent_code) if len(boundaries) < len(ids) else {},
    )


def unit_maps(
    session: Session,
    asked: Sequence[tuple[Indicator, str]],
    parent_code: str | None,
) -> list[UnitMap]:
    """`unit_map` of several (indicator, period) over the same parent's children: the units,
    their boundaries, the values and the targets read once for them all (not kept: the
    dashboards keep their panels, :func:`unit_map` its maps)."""
    frame = _frame(session, parent_code)
    rankings = progress_service.rankings(
        session,
        [
            RankingAsked(indicator, period, Tree.CURRENT, frame.level, frame.parent_ref)
            for indicator, period in asked
        ],
    )
    targets = progress_service.unit_achievements_each(
        session,
        [
            AchievementsAsked(indicator, period, Tree.CURRENT, frame.everyone)
            for indicator, period in asked
        ],
    )
    return [
        frame.drawn(ranked, achievements)
        for ranked, achievements in zip(rankings, targets, strict=True)
    ]


def unit_at(session: Session, longitude: float, latitude: float) -> int | None:
    """The current set's commune whose uploaded boundary holds the point, or None: no
    uploaded boundary holds it, or several do (overlapping files are not guessed between).
    Synthetic boundaries are never used: they are not borders."""
    rows = session.execute(
        select(UnitBoundary.unit_id, UnitBoundary.geometry).where(
            UnitBoundary.synthetic.is_(False),
            UnitBoundary.min_lon <= longitude,
            UnitBoundary.max_lon >= longitude,
            UnitBoundary.min_lat <= latitude,
            UnitBoundary.max_lat >= latitude,
        )
    ).all()
    point = Point(longitude, latitude)
    holding = [unit_id for unit_id, text in rows if shape(json.loads(text)).covers(point)]
    if len(holding) != 1:
        return None
    node = unit_service.nodes(session, holding)[holding[0]]
    return node.id if node.level is UnitLevel.COMMUNE else None


@dataclass(frozen=True)
class BoundaryMap:
    """The boundaries of a province's communes, to draw other things on (field reports)."""

    collection: dict[str, Any]  # a GeoJSON FeatureCollection; properties: code, name
    synthetic: bool


def province_communes(session: Session, province_code: str) -> BoundaryMap:
    """The stored boundaries of a current province's communes."""
    ids = _unit_ids(session, UnitLevel.COMMUNE, province_code)
    names = {node.id: node.name for node in unit_service.nodes(session, ids.values()).values()}
    rows = session.execute(
        select(UnitBoundary.unit_id, UnitBoundary.geometry, UnitBoundary.synthetic).where(
            UnitBoundary.unit_id.in_(list(ids.values()))
        )
    ).all()
    codes = {unit_id: code for code, unit_id in ids.items()}
    features = [
        {
            "type": "Feature",
            "id": codes[unit_id],
            "properties": {"code": codes[unit_id], "name": names[unit_id]},
            "geometry": json.loads(geometry),
        }
        for unit_id, geometry, _synthetic in sorted(rows, key=lambda row: codes[row[0]])
    ]
    return BoundaryMap(
        {"type": "FeatureCollection", "features": features},
        any(synthetic for _unit, _geometry, synthetic in rows),
    )
