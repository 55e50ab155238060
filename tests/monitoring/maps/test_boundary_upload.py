"""Upload validation of GeoJSON boundaries: codes, geometry repair, refusals naming the field."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import shape

from tinhso.core.errors import InvalidInput
from tinhso.monitoring.maps.boundary_upload import MAX_UPLOAD_BYTES, read_boundary_upload

SQUARE = [[[106.0, 21.0], [106.1, 21.0], [106.1, 21.1], [106.0, 21.1], [106.0, 21.0]]]
# A self-intersecting "bow tie": invalid, make_valid turns it into two triangles.
BOW_TIE = [[[106.0, 21.0], [106.1, 21.1], [106.1, 21.0], [106.0, 21.1], [106.0, 21.0]]]


def _collection(*features: tuple[dict[str, object], object]) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": properties, "geometry": geometry}
                for properties, geometry in features
            ],
        }
    ).encode()


def _polygon(coordinates: object) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": coordinates}


def test_missing_and_unknown_codes_are_reported() -> None:
    content = _collection(({"ma": "09187"}, _polygon(SQUARE)), ({"ma": "99999"}, _polygon(SQUARE)))
    report = read_boundary_upload(content, expected_codes={"09187", "09190"})
    assert [item.unit_code for item in report.shapes] == ["09187"]
    assert report.unknown_codes == ["99999"]
    assert report.missing_codes == ["09190"]
    assert any("09190" in message.vi and "09190" in message.en for message in report.messages)


def test_code_property_named_by_the_operator() -> None:
    content = _collection(({"MA_XA": 9187, "ma": "x"}, _polygon(SQUARE)))
    report = read_boundary_upload(content, expected_codes={"9187"}, code_property="MA_XA")
    assert [item.unit_code for item in report.shapes] == ["9187"]
    assert report.missing_codes == []


def test_invalid_geometry_is_repaired() -> None:
    assert not shape(_polygon(BOW_TIE)).is_valid
    report = read_boundary_upload(
        _collection(({"code": "09187"}, _polygon(BOW_TIE))), expected_codes={"09187"}
    )
    assert report.repaired_codes == ["09187"]
    repaired = shape(json.loads(report.shapes[0].geometry_geojson))
    assert repaired.is_valid
    assert repaired.area > 0


def test_simplification_preserves_a_valid_area() -> None:
    ring = [[106.0 + 0.1 * (i % 2) * 1e-5 + i * 1e-4, 21.0] for i in range(200)]
    ring += [[106.02, 21.05], [106.0, 21.0]]
    report = read_boundary_upload(
        _collection(({"ma": "1"}, _polygon([ring]))), expected_codes={"1"}
    )
    simplified = json.loads(report.shapes[0].geometry_geojson)
    assert len(simplified["coordinates"][0]) < len(ring)
    assert shape(simplified).is_valid


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", "file"),
        (json.dumps({"type": "Feature"}).encode(), "type"),
        (json.dumps({"type": "FeatureCollection"}).encode(), "features"),
        (_collection(({"name": "no code"}, _polygon(SQUARE))), "features[0].properties.ma"),
        (
            _collection(({"ma": "1"}, {"type": "Point", "coordinates": [1, 2]})),
            "features[0].geometry",
        ),
        (_collection(({"ma": "1"}, {"type": "Nonsense"})), "features[0].geometry"),
        (
            _collection(({"ma": "1"}, _polygon(SQUARE)), ({"ma": "1"}, _polygon(SQUARE))),
            "features[1].properties.ma",
        ),
    ],
)
def test_bad_uploads_are_refused_naming_the_field(content: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        read_boundary_upload(content, expected_codes={"1"})
    assert field in [error.field for error in raised.value.errors]
    assert raised.value.message.vi and raised.value.message.en


def test_oversized_upload_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        read_boundary_upload(b" " * (MAX_UPLOAD_BYTES + 1), expected_codes=set())
    assert raised.value.errors[0].field == "file"
