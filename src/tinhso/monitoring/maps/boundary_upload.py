"""Validation of an uploaded GeoJSON FeatureCollection of administrative boundaries.

Features are keyed by the official unit code held in a property the operator names
(default ``ma`` then ``code``). Geometry is checked with shapely: an invalid shape is
repaired with ``make_valid`` when the repair still yields an area, otherwise refused;
every kept shape is simplified with topology preserved.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from tinhso.core.errors import FieldError, InvalidInput, Message

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_CODE_PROPERTIES = ("ma", "code")
# Degrees; about 100 m at Vietnam's latitudes, enough for a province-wide choropleth.
SIMPLIFY_TOLERANCE = 0.001
# Degrees; about 1 km, for the map of the whole country (34 provinces on one screen).
OVERVIEW_TOLERANCE = 0.01


@dataclass(frozen=True)
class BoundaryShape:
    """One unit's accepted boundary, as GeoJSON geometry text at two zoom levels."""

    unit_code: str
    geometry_geojson: str  # simplified by the upload's tolerance
    repaired: bool
    overview_geojson: str = ""  # simplified by OVERVIEW_TOLERANCE (or the tolerance if larger)


def simplified_geojson(geometry: BaseGeometry, tolerance: float) -> str:
    """The geometry simplified (topology kept) as compact GeoJSON geometry text."""
    simplified = geometry.simplify(tolerance, preserve_topology=True)
    return json.dumps(mapping(simplified), separators=(",", ":"))


@dataclass
class BoundaryUploadReport:
    """What an upload holds once checked against the registry's codes."""

    shapes: list[BoundaryShape] = field(default_factory=list)
    unknown_codes: list[str] = field(default_factory=list)
    missing_codes: list[str] = field(default_factory=list)
    repaired_codes: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


def _areal(geometry: BaseGeometry) -> BaseGeometry | None:
    """The polygonal part of a geometry (make_valid may return a collection), if any."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry if not geometry.is_empty else None
    parts = [
        part
        for part in getattr(geometry, "geoms", [])
        if isinstance(part, Polygon | MultiPolygon) and not part.is_empty
    ]
    if not parts:
        return None
    return shapely.union_all(parts)


def _feature_code(properties: object, code_properties: tuple[str, ...]) -> str | None:
    if not isinstance(properties, dict):
        return None
    for name in code_properties:
        value = properties.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _features(content: bytes) -> list[object]:
    """The feature list of an upload, or :class:`InvalidInput` naming what is wrong."""
    if len(content) > MAX_UPLOAD_BYTES:
        limit = MAX_UPLOAD_BYTES // (1024 * 1024)
        raise InvalidInput(
            f"Tệp ranh giới vượt quá {limit} MB",
            f"The boundary file exceeds {limit} MB",
            field="file",
        )
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(
            f"Tệp không phải JSON hợp lệ: {error}",
            f"The file is not valid JSON: {error}",
            field="file",
        ) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InvalidInput(
            "Tệp phải là một GeoJSON FeatureCollection",
            "The file must be a GeoJSON FeatureCollection",
            field="type",
        )
    features = document.get("features")
    if not isinstance(features, list):
        raise InvalidInput(
            "Thiếu danh sách features", "The features list is missing", field="features"
        )
    return features


def _accepted_shape(
    geometry_json: object, where: str, code: str, tolerance: float
) -> BoundaryShape | FieldError:
    """The simplified, valid area of one feature, or the error naming its geometry."""
    try:
        geometry = shape(geometry_json or {})
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError):
        return FieldError(
            f"{where}.geometry", Message("Hình học không đọc được", "The geometry cannot be read")
        )
    repaired = not geometry.is_valid
    areal = _areal(shapely.make_valid(geometry) if repaired else geometry)
    if areal is None:
        return FieldError(
            f"{where}.geometry",
            Message(
                "Hình học không phải vùng (đa giác) và không sửa được",
                "The geometry is not an area (polygon) and cannot be repaired",
            ),
        )
    return BoundaryShape(
        code,
        simplified_geojson(areal, tolerance),
        repaired,
        simplified_geojson(areal, max(tolerance, OVERVIEW_TOLERANCE)),
    )


def _summarise(report: BoundaryUploadReport) -> None:
    if report.unknown_codes:
        listed = ", ".join(report.unknown_codes)
        report.messages.append(
            Message(
                f"Mã không có trong danh mục, bị bỏ qua: {listed}",
                f"Codes unknown to the registry, skipped: {listed}",
            )
        )
    if report.missing_codes:
        listed = ", ".join(report.missing_codes)
        report.messages.append(
            Message(f"Thiếu ranh giới của: {listed}", f"Boundaries missing for: {listed}")
        )


def read_boundary_upload(
    content: bytes,
    *,
    expected_codes: Collection[str],
    code_property: str | None = None,
    tolerance: float = SIMPLIFY_TOLERANCE,
) -> BoundaryUploadReport:
    """Check an uploaded FeatureCollection; raise :class:`InvalidInput` naming the field.

    Codes not in ``expected_codes`` are skipped and reported, expected codes without a
    feature are reported as missing; neither refuses the upload.
    """
    code_properties = (code_property,) if code_property else DEFAULT_CODE_PROPERTIES
    expected = {str(code) for code in expected_codes}
    report = BoundaryUploadReport()
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, feature in enumerate(_features(content)):
        where = f"features[{index}]"
        code_field = f"{where}.properties.{code_properties[0]}"
        if not isinstance(feature, dict):
            errors.append(
                FieldError(where, Message("Feature không phải đối tượng", "Not an object"))
            )
            continue
        code = _feature_code(feature.get("properties"), code_properties)
        if code is None:
            errors.append(
                FieldError(
                    code_field, Message("Thiếu mã đơn vị hành chính", "The unit code is missing")
                )
            )
            continue
        if code in seen:
            errors.append(
                FieldError(code_field, Message(f"Mã {code} bị lặp", f"Code {code} appears twice"))
            )
            continue
        seen.add(code)
        if code not in expected:
            report.unknown_codes.append(code)
            continue
        accepted = _accepted_shape(feature.get("geometry"), where, code, tolerance)
        if isinstance(accepted, FieldError):
            errors.append(accepted)
            continue
        if accepted.repaired:
            report.repaired_codes.append(code)
        report.shapes.append(accepted)
    if errors:
        raise InvalidInput("Tệp ranh giới có lỗi", "The boundary file has errors", errors=errors)
    report.missing_codes = sorted(expected - seen)
    report.unknown_codes.sort()
    _summarise(report)
    return report
