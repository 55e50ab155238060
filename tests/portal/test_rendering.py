"""Vietnamese number and date formats, and the language of rendered templates."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tinhso.core.i18n import current_locale
from tinhso.core.text import fold
from tinhso.portal.auth import safe_next
from tinhso.portal.rendering import environment


def render_string(source: str, **values: object) -> str:
    return environment().from_string(source).render(values)


def test_numbers_are_formatted_the_vietnamese_way() -> None:
    assert render_string("{{ 1380.5|number }}") == "1.380,5"
    assert render_string("{{ 1234567|number }}") == "1.234.567"
    assert render_string("{{ value|number(2) }}", value=Decimal("1380.456")) == "1.380,46"
    assert render_string("{{ 12.5|number(0) }}") == "13"  # half up, as officials round
    assert render_string("{{ 87.25|number(1) }}") == "87,3"
    assert render_string("{{ none|number }}", none=None) == "–"
    assert render_string("{{ 87.26|percent }}") == "87,3\u00a0%"
    assert render_string("{{ 5|percent(0) }}") == "5\u00a0%"


def test_numbers_read_their_format_once_and_write_what_babel_writes() -> None:
    """``format_number`` keeps each locale's parsed pattern; what it writes is still exactly
    what ``babel.numbers.format_decimal`` writes (half up) for each language and precision."""
    from decimal import ROUND_HALF_UP, localcontext  # noqa: PLC0415

    from babel.numbers import format_decimal  # noqa: PLC0415 - the reference only

    from tinhso.core.i18n import _number_format, format_number  # noqa: PLC0415

    values: list[float | int | Decimal] = [0, -0.0, 1, -1, 12.5, 87.25, -87.25, 1380.456,
        1234567, 0.0005, 999999.995, 1e-7, 123456789012.345, Decimal("2.675"), -3]  # fmt: skip
    for locale in ("vi", "en"):
        token = current_locale.set(locale)
        try:
            for value in values:
                for decimals in (None, 0, 1, 2, 3):
                    with localcontext(rounding=ROUND_HALF_UP):
                        if decimals is None:
                            expected = format_decimal(value, locale=locale)
                        else:
                            pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
                            expected = format_decimal(
                                Decimal(str(value)), format=pattern, locale=locale
                            )
                    assert format_number(value, decimals) == expected, (locale, value, decimals)
        finally:
            current_locale.reset(token)
    read = _number_format.cache_info()
    assert read.currsize >= 10 and read.hits >= len(values) * 10 - read.currsize


def test_dates_are_day_month_year_in_vietnam_time() -> None:
    assert render_string("{{ d|date }}", d=date(2025, 7, 1)) == "01/07/2025"
    # 17:30 UTC is already the next day in Hà Nội (UTC+7)
    moment = datetime(2026, 11, 21, 17, 30, tzinfo=UTC)
    assert render_string("{{ d|date }}", d=moment) == "22/11/2026"
    assert render_string("{{ d|datetime }}", d=moment) == "22/11/2026 00:30"


def test_templates_translate_with_the_request_language() -> None:
    token = current_locale.set("vi")
    try:
        assert render_string('{{ _("Log in") }}') == "Đăng nhập"
        assert render_string('{{ _("Information systems of %(name)s", name="<b>") }}') == (
            "Hệ thống thông tin của &lt;b&gt;"
        )
    finally:
        current_locale.reset(token)
    token = current_locale.set("en")
    try:
        assert render_string('{{ _("Log in") }}') == "Log in"
    finally:
        current_locale.reset(token)


def test_autoescape_is_on() -> None:
    assert render_string("{{ x }}", x="<script>") == "&lt;script&gt;"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/", "/"),
        ("/monitoring?year=2026", "/monitoring?year=2026"),
        ("https://evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next_keeps_only_local_paths(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_fold_ignores_vietnamese_diacritics() -> None:
    assert fold("Sở Y tế Đắk Lắk") == "so y te dak lak"


def test_a_chart_with_a_map_is_written_as_tojson_writes_it_its_geojson_encoded_once() -> None:
    """``chart_json`` writes the text ``tojson`` writes (keys sorted, ``<>&'`` escaped); a
    map's collection, shared between requests, is encoded once and its text reused."""
    from tinhso.portal import rendering  # noqa: PLC0415

    geojson = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": "26734", "properties": {"name": "Phường <Bến> & 'Thành'",
             "value": 1380.5, "status": None}, "geometry": {"type": "Point",
             "coordinates": [106.7, 10.77]}},
        ],
    }  # fmt: skip
    charts = [
        {"mode": "value", "geojson": geojson, "labels": {"percent": "% kế hoạch"}, "unit": "<"},
        {"type": "timeseries", "values": [1, None, 2.5], "periods": ["T1 & T2"]},
        None,
    ]
    for chart in charts:
        expected = render_string("{{ c|tojson }}", c=chart)
        assert render_string("{{ c|chart_json }}", c=chart) == expected
        assert render_string("{{ c|chart_json }}", c=chart) == expected  # the kept text
    kept = rendering._ENCODED[id(geojson)]
    assert kept[0] is geojson
    # another collection with the same content: its own entry, the same text
    copy = json.loads(json.dumps(geojson))
    assert render_string("{{ c|chart_json }}", c={"geojson": copy}) == render_string(
        "{{ c|tojson }}", c={"geojson": copy}
    )
    assert rendering._ENCODED[id(copy)][1] == kept[1]


def test_a_map_given_as_json_text_is_put_in_as_it_is_escaped_for_the_page() -> None:
    """A kept map's collection text (``UnitMap.collection_text``) goes in unparsed: the same
    JSON value as ``tojson`` of the parsed collection, as safe in a ``<script>`` element."""
    from tinhso.portal.rendering import JSONText  # noqa: PLC0415

    text = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","id":"1","properties":'
        '{"name":"Phường <Bến> & \'Thành\'","value":1.5},"geometry":{"type":"Point",'
        '"coordinates":[106.7,10.77]}}]}'
    )
    chart = {"mode": "value", "geojson": JSONText(text), "unit": "<%>"}
    written = render_string("{{ c|chart_json }}", c=chart)
    assert "<" not in written and ">" not in written and "'" not in written
    assert "&" not in written.replace("&#", "")  # nothing unescaped, nothing HTML-escaped
    assert json.loads(written) == {**chart, "geojson": json.loads(text)}
    parsed = {**chart, "geojson": json.loads(text)}
    assert json.loads(render_string("{{ c|tojson }}", c=parsed)) == json.loads(written)
