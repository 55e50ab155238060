"""Formula parsing under a whitelist; SQL and Python evaluation agree (NULL semantics)."""

from __future__ import annotations

import sqlite3

import duckdb
import pytest

from tinhso.core.errors import InvalidInput
from tinhso.monitoring.computation import formula


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('x')",
        "population.real",
        "population[0]",
        "population if devices else 1",
        "population > devices",
        "'text'",
        "True * population",
        "lambda: 1",
        "population ** 2",
        "population % 3",
        "sum(population)",
        "min(population)",
        "abs(population, devices)",
        "min(*population)",
        "Population",
        "population; devices",
        "",
    ],
)
def test_rejects_anything_but_arithmetic(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        formula.parse(text)
    assert caught.value.errors[0].field == "formula"
    assert caught.value.message.vi.startswith("Công thức không hợp lệ")


def test_reads_element_codes() -> None:
    parsed = formula.parse("(dossiers_online + coalesce(postal, 0)) / dossiers * 100")
    assert parsed.elements == {"dossiers_online", "postal", "dossiers"}


CASES = [
    ("a / b * 100", {"a": 5.0, "b": 20.0}, 25.0),
    ("a / b * 100", {"a": 5.0, "b": 0.0}, None),
    ("a / b * 100", {"a": 5.0, "b": None}, None),
    ("1 / 3", {}, 1 / 3),
    ("-a + +b", {"a": 1.0, "b": 4.0}, 3.0),
    ("coalesce(a, b, 7)", {"a": None, "b": None}, 7.0),
    ("coalesce(a, b)", {"a": None, "b": 2.0}, 2.0),
    ("min(a, b, 3)", {"a": 5.0, "b": 4.0}, 3.0),
    ("max(a, b)", {"a": 5.0, "b": None}, None),
    ("abs(a - b)", {"a": 1.0, "b": 4.5}, 3.5),
    ("a * 1e-3", {"a": 2000.0}, 2.0),
]


@pytest.mark.parametrize(("text", "values", "expected"), CASES)
def test_sql_and_python_agree(
    text: str, values: dict[str, float | None], expected: float | None
) -> None:
    parsed = formula.parse(text)
    python = formula.evaluate(parsed, values)
    columns = ["a", "b"]
    row = [values.get(c) for c in columns]
    sql = formula.to_sql(parsed, lambda code: f"t.{code}")
    with sqlite3.connect(":memory:") as lite:
        lite.execute("CREATE TABLE t (a REAL, b REAL)")
        lite.execute("INSERT INTO t VALUES (?, ?)", row)
        on_sqlite = lite.execute(f"SELECT {sql} FROM t").fetchone()[0]  # noqa: S608
    duck = duckdb.connect()
    duck.execute("CREATE TABLE t (a DOUBLE, b DOUBLE)")
    duck.execute("INSERT INTO t VALUES (?, ?)", row)
    fetched = duck.execute(f"SELECT {sql} FROM t").fetchone()  # noqa: S608
    assert fetched is not None
    on_duckdb = fetched[0]
    duck.close()
    for result in (python, on_sqlite, on_duckdb):
        if expected is None:
            assert result is None
        else:
            assert result == pytest.approx(expected)
