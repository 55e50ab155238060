"""Column types are inferred from every cell, and cells convert to exactly what they say."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.opendata.datastore.columns import (
    CellProblem,
    ColumnEvidence,
    FieldType,
    convert,
    infer_type,
)


def _type_of(*cells: object) -> FieldType:
    evidence = ColumnEvidence()
    for row, cell in enumerate(cells, start=2):
        evidence.see(row, cell)
    return infer_type(evidence)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (("1", "25", "-3"), FieldType.INT),
        (("1", "2,5"), FieldType.NUMERIC),
        (("0.125", "3"), FieldType.NUMERIC),
        (("00004", "00123"), FieldType.TEXT),  # unit codes keep their leading zeros
        (("+84912345678",), FieldType.TEXT),
        (("01/07/2025", "2025-12-31"), FieldType.DATE),
        (("01/07/2025 08:30", "2025-07-02T17:00:05"), FieldType.TIMESTAMP),
        (("31/02/2025",), FieldType.TEXT),  # no such day
        (("1.5", "2,5"), FieldType.TEXT),  # two conventions in one column: not a number
        (("", None, " "), FieldType.TEXT),
        ((12, 3.5), FieldType.NUMERIC),
        ((datetime(2025, 7, 1),), FieldType.DATE),  # noqa: DTZ001 - a spreadsheet's cell
        ((True,), FieldType.TEXT),
    ],
)
def test_a_column_takes_the_narrowest_type_every_cell_fits(
    cells: tuple[object, ...], expected: FieldType
) -> None:
    assert _type_of(*cells) is expected


def test_a_column_shows_its_number_format_by_an_unambiguous_cell() -> None:
    evidence = ColumnEvidence()
    for row, cell in enumerate(("1.234", "12,5"), start=2):
        evidence.see(row, cell)
    assert evidence.settled_format() is NumberFormat.VI
    assert evidence.ambiguous is not None and evidence.ambiguous[0] == 2


def test_an_ambiguous_number_is_refused_without_a_format_and_read_with_one() -> None:
    with pytest.raises(CellProblem) as raised:
        convert("1.234", FieldType.NUMERIC, None)
    assert "1234" in raised.value.message.vi and "1,234" in raised.value.message.vi
    assert convert("1.234", FieldType.NUMERIC, NumberFormat.VI) == 1234
    assert convert("1.234", FieldType.NUMERIC, NumberFormat.EN) == 1.234
    assert convert("98765432109876543", FieldType.INT, None) == 98765432109876543
    assert convert("01/07/2025", FieldType.DATE, None) == date(2025, 7, 1)
    with pytest.raises(CellProblem):
        convert("2,5", FieldType.INT, NumberFormat.VI)


@given(
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).map(lambda x: round(x, 3)),
    st.sampled_from(list(NumberFormat)),
)
def test_numbers_written_in_either_convention_read_back_exactly(
    number: float, fmt: NumberFormat
) -> None:
    whole, _, fraction = f"{abs(number):,.3f}".partition(".")
    fraction = fraction.rstrip("0")
    if fmt is NumberFormat.VI:
        whole = whole.replace(",", ".")
        text = whole + ("," + fraction if fraction else "")
    else:
        text = whole + ("." + fraction if fraction else "")
    text = ("-" if number < 0 else "") + text
    assert convert(text, FieldType.NUMERIC, fmt) == pytest.approx(
        abs(number) * (1 if number >= 0 else -1), abs=1e-9
    )


def test_an_ambiguous_cell_read_as_a_fraction_makes_the_column_numeric() -> None:
    from tinhso.opendata.datastore.loading import Scan, settle_fields  # noqa: PLC0415

    evidence = ColumnEvidence()
    for row, cell in enumerate(("42", "42,028", "7"), start=2):
        evidence.see(row, cell)
    found = Scan(["Giá trị"], [evidence], rows=3)
    (vietnamese,) = settle_fields(found, {}, NumberFormat.VI)
    assert vietnamese.type is FieldType.NUMERIC
    (english,) = settle_fields(found, {}, NumberFormat.EN)
    assert english.type is FieldType.INT
