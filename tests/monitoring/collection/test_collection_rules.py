"""Collection rules: JSON paths into a service's answer, period rules and query placeholders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tinhso.core.errors import InvalidInput
from tinhso.monitoring.collection.models import PeriodRule
from tinhso.monitoring.collection.rules import (
    PathMissing,
    extract,
    parse_json_path,
    period_for,
    resolve_query,
)
from tinhso.monitoring.models import PeriodType
from tinhso.monitoring.periods import Period


# -- JSON paths -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$", ()),
        ("$.data.total", ("data", "total")),
        ("$.items[0].value", ("items", 0, "value")),
        ("$.items[-1]", ("items", -1)),
        ("$['số liệu'][\"tổng\"]", ("số liệu", "tổng")),
        ("$.so-lieu_2", ("so-lieu_2",)),
    ],
)
def test_json_path_subset_parses(path: str, steps: tuple[Any, ...]) -> None:
    assert parse_json_path(path) == steps


@pytest.mark.parametrize(
    "path",
    ["data.total", "$..total", "$.items[*]", "$[?(@.x)]", "$.a b", "$.a[1:2]", "$." + ".a" * 40],
)
def test_json_path_outside_the_subset_is_refused(path: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_json_path(path)
    assert caught.value.errors[0].field == "value_path"
    assert "$" in caught.value.message.vi


def test_extract_follows_keys_and_indexes_only() -> None:
    document = {"data": {"items": [{"v": 1}, {"v": 2}], "n": None}}
    assert extract(document, "$.data.items[1].v") == 2
    assert extract(document, "$.data.items[-2].v") == 1
    assert extract(document, "$.data.n") is None
    for missing in ("$.data.x", "$.data.items[2]", "$.data.items.v", "$.data.n.v", "$[0]"):
        with pytest.raises(PathMissing):
            extract(document, missing)
    # A key that looks like an index is not one.
    with pytest.raises(PathMissing):
        extract({"0": 5}, "$[0]")


# -- periods and queries --------------------------------------------------------------------------
def test_period_rules_follow_the_date_in_vietnam() -> None:
    # 31/12/2025 18:30 UTC is already 01/01/2026 in Vietnam.
    moment = datetime(2025, 12, 31, 18, 30, tzinfo=UTC)
    assert period_for(PeriodRule.CURRENT_MONTH, moment).code == "2026-01"
    assert period_for(PeriodRule.PREVIOUS_MONTH, moment).code == "2025-12"
    assert period_for(PeriodRule.CURRENT_QUARTER, moment).code == "2026-Q1"
    assert period_for(PeriodRule.PREVIOUS_QUARTER, moment).code == "2025-Q4"
    assert period_for(PeriodRule.CURRENT_YEAR, moment).code == "2026"
    assert period_for(PeriodRule.PREVIOUS_YEAR, moment).code == "2025"
    earlier = datetime(2025, 12, 31, 16, 59, tzinfo=UTC)
    assert period_for(PeriodRule.CURRENT_MONTH, earlier).code == "2025-12"
    assert period_for(PeriodRule.PREVIOUS_QUARTER, datetime(2025, 8, 1, tzinfo=UTC)).code == (
        "2025-Q2"
    )


def test_query_placeholders_are_filled_from_the_period() -> None:
    month = Period(2025, 8, PeriodType.MONTH)
    query = {"ky": "{period}", "tu": "{year}-{month}-01", "q": "Q{quarter}", "x": "{{literal}}"}
    assert resolve_query(query, month) == {
        "ky": "2025-08",
        "tu": "2025-08-01",
        "q": "Q3",
        "x": "{{literal}}",
    }
    assert resolve_query({"ky": "{period}"}, Period(2025, 0, PeriodType.YEAR)) == {"ky": "2025"}
