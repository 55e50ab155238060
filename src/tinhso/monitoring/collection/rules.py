"""The rules a collection source is read by: JSON paths into the service's answer, and
period rules (the period a run collects for, and the query placeholders it fills).

JSON paths are a small, safe subset: ``$``, ``.name``, ``['name']`` and ``[index]``
(negative counts from the end), e.g. ``$.data.total`` or ``$.items[0].value``.
Periods follow the date in Vietnam; query values may name ``{period}``, ``{year}``,
``{quarter}`` and ``{month}`` as far as the rule's period type has them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tinhso.core.calendar import VIETNAM
from tinhso.core.errors import InvalidInput
from tinhso.monitoring.collection.models import PeriodRule
from tinhso.monitoring.models import PeriodType
from tinhso.monitoring.periods import Period

# Vietnam has kept UTC+7 without daylight saving since 1975: periods follow the local date.
MAX_PATH_STEPS = 32

# -- JSON paths -----------------------------------------------------------------------------------
_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_][A-Za-z0-9_-]*)
      | \[\s*(?P<index>-?\d{1,9})\s*\]
      | \[\s*'(?P<single>[^'\\]*)'\s*\]
      | \[\s*"(?P<double>[^"\\]*)"\s*\]""",
    re.VERBOSE,
)
Step = str | int


def parse_json_path(text: str, field: str = "value_path") -> tuple[Step, ...]:
    """``$.a.b[0]['c d']`` -> ``("a", "b", 0, "c d")``; InvalidInput names the bad position."""
    if not text.startswith("$"):
        raise InvalidInput(
            f"Đường dẫn JSON '{text}' phải bắt đầu bằng $ (ví dụ $.data.total)",
            f"JSON path '{text}' must start with $ (e.g. $.data.total)",
            field=field,
        )
    steps: list[Step] = []
    position = 1
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None or len(steps) >= MAX_PATH_STEPS:
            raise InvalidInput(
                f"Đường dẫn JSON '{text}' không hợp lệ tại vị trí {position + 1}: chỉ dùng "
                ".ten, ['ten'] hoặc [so] (tối đa {MAX_PATH_STEPS} bước)",
                f"JSON path '{text}' is not valid at position {position + 1}: use only .name, "
                f"['name'] or [index] (at most {MAX_PATH_STEPS} steps)",
                field=field,
            )
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(match.group("name") or match.group("single") or match.group("double"))
        position = match.end()
    return tuple(steps)


class PathMissing(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def extract(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``; PathMissing when any step does not exist."""
    current = document
    for step in parse_json_path(path):
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                raise PathMissing(path)
            current = current[step]
        else:
            if not isinstance(current, dict) or step not in current:
                raise PathMissing(path)
            current = current[step]
    return current


# -- periods --------------------------------------------------------------------------------------
RULE_TYPE = {
    PeriodRule.CURRENT_MONTH: PeriodType.MONTH,
    PeriodRule.PREVIOUS_MONTH: PeriodType.MONTH,
    PeriodRule.CURRENT_QUARTER: PeriodType.QUARTER,
    PeriodRule.PREVIOUS_QUARTER: PeriodType.QUARTER,
    PeriodRule.CURRENT_YEAR: PeriodType.YEAR,
    PeriodRule.PREVIOUS_YEAR: PeriodType.YEAR,
}
_PLACEHOLDERS = {
    PeriodType.MONTH: {"period", "year", "quarter", "month"},
    PeriodType.QUARTER: {"period", "year", "quarter"},
    PeriodType.YEAR: {"period", "year"},
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def period_for(rule: PeriodRule, moment: datetime) -> Period:
    """The period ``rule`` names at ``moment`` (by the date in Vietnam)."""
    local = moment.astimezone(VIETNAM)
    year, month = local.year, local.month
    kind = RULE_TYPE[rule]
    previous = rule.value.startswith("previous")
    if kind is PeriodType.MONTH:
        if previous:
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return Period(year, month, kind)
    if kind is PeriodType.QUARTER:
        quarter = (month - 1) // 3 + 1
        if previous:
            year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
        return Period(year, quarter, kind)
    return Period(year - 1 if previous else year, 0, kind)


def resolve_query(query: dict[str, str], period: Period) -> dict[str, str]:
    """Query values with ``{period}``, ``{year}``, ``{quarter}``, ``{month}`` filled in."""
    month = period.index if period.type is PeriodType.MONTH else 0
    quarter = (
        period.index if period.type is PeriodType.QUARTER else (month - 1) // 3 + 1 if month else 0
    )
    values = {
        "period": period.code,
        "year": f"{period.year:04d}",
        "quarter": str(quarter),
        "month": f"{month:02d}",
    }
    return {
        name: _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), value)
        for name, value in query.items()
    }


def check_query(query: dict[str, str], rule: PeriodRule) -> None:
    """InvalidInput if a query value names a placeholder the period rule does not fill."""
    allowed = _PLACEHOLDERS[RULE_TYPE[rule]]
    for name, value in query.items():
        for placeholder in _PLACEHOLDER.findall(value):
            if placeholder not in allowed:
                listed = ", ".join("{" + p + "}" for p in sorted(allowed))
                raise InvalidInput(
                    f"Tham số {name}: không có {{{placeholder}}} cho quy tắc kỳ "
                    f"{rule.value}; dùng {listed}",
                    f"Query parameter {name}: {{{placeholder}}} is not available for "
                    f"period rule {rule.value}; use {listed}",
                    field=f"query.{name}",
                )
