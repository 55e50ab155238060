"""Reporting periods: ``2025`` (year), ``2025-Q1`` (quarter), ``2025-03`` (month)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from tinhso.core.errors import InvalidInput
from tinhso.monitoring.models import PeriodType

_PATTERNS = {
    PeriodType.YEAR: re.compile(r"^(\d{4})$"),
    PeriodType.QUARTER: re.compile(r"^(\d{4})-Q([1-4])$"),
    PeriodType.MONTH: re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
}
_ORDER = {PeriodType.MONTH: 0, PeriodType.QUARTER: 1, PeriodType.YEAR: 2}
_EXAMPLES = {PeriodType.YEAR: "2025", PeriodType.QUARTER: "2025-Q1", PeriodType.MONTH: "2025-03"}
MIN_YEAR, MAX_YEAR = 1990, 2100


@dataclass(frozen=True, order=True)
class Period:
    year: int
    # Quarter (1-4) or month (1-12); 0 for a year.
    index: int
    type: PeriodType

    @property
    def code(self) -> str:
        if self.type is PeriodType.YEAR:
            return f"{self.year:04d}"
        if self.type is PeriodType.QUARTER:
            return f"{self.year:04d}-Q{self.index}"
        return f"{self.year:04d}-{self.index:02d}"

    @property
    def position(self) -> float:
        """When the period ends, in years: 2021 -> 2021.0, 2022-Q2 -> 2021.5, 2022-03 -> 2021.25."""
        if self.type is PeriodType.YEAR:
            return float(self.year)
        if self.type is PeriodType.QUARTER:
            return self.year - 1 + self.index / 4
        return self.year - 1 + self.index / 12

    @property
    def start(self) -> date:
        """The first day of the period."""
        if self.type is PeriodType.YEAR:
            return date(self.year, 1, 1)
        if self.type is PeriodType.QUARTER:
            return date(self.year, 3 * self.index - 2, 1)
        return date(self.year, self.index, 1)

    @property
    def end(self) -> date:
        """The last day of the period."""
        last_month = {PeriodType.YEAR: 12, PeriodType.QUARTER: 3 * self.index}.get(
            self.type, self.index
        )
        if last_month == 12:
            return date(self.year, 12, 31)
        return date(self.year, last_month + 1, 1) - timedelta(days=1)

    def within(self, period_type: PeriodType) -> Period | None:
        """The period of a coarser (or the same) type that contains this one; None if finer."""
        if _ORDER[period_type] < _ORDER[self.type]:
            return None
        if period_type is self.type:
            return self
        if period_type is PeriodType.YEAR:
            return Period(self.year, 0, PeriodType.YEAR)
        return Period(self.year, (self.index - 1) // 3 + 1, PeriodType.QUARTER)

    def parts(self, period_type: PeriodType) -> list[Period]:
        """The periods of a finer type that make up this one (months of a quarter...)."""
        if _ORDER[period_type] >= _ORDER[self.type]:
            return []
        if period_type is PeriodType.QUARTER:
            return [Period(self.year, q, PeriodType.QUARTER) for q in range(1, 5)]
        first, last = (
            (1, 12) if self.type is PeriodType.YEAR else (3 * self.index - 2, 3 * self.index)
        )
        return [Period(self.year, m, PeriodType.MONTH) for m in range(first, last + 1)]


def parse_period(text: str, period_type: PeriodType | None = None, field: str = "period") -> Period:
    """Parse a period code; with ``period_type``, the period must be of that type."""
    types = [period_type] if period_type else list(_PATTERNS)
    for candidate in types:
        match = _PATTERNS[candidate].match(text.strip())
        if match:
            year = int(match.group(1))
            if not MIN_YEAR <= year <= MAX_YEAR:
                break
            index = int(match.group(2)) if candidate is not PeriodType.YEAR else 0
            return Period(year, index, candidate)
    if period_type:
        raise InvalidInput(
            f"Kỳ báo cáo '{text}' không hợp lệ: phải là kỳ {_VI_TYPE[period_type]} "
            f"dạng {_EXAMPLES[period_type]} (năm {MIN_YEAR}-{MAX_YEAR})",
            f"Period '{text}' is not valid: it must be a {period_type.value} like "
            f"{_EXAMPLES[period_type]} (years {MIN_YEAR}-{MAX_YEAR})",
            field=field,
        )
    raise InvalidInput(
        f"Kỳ báo cáo '{text}' không hợp lệ: dùng dạng 2025, 2025-Q1 hoặc 2025-03",
        f"Period '{text}' is not valid: use 2025, 2025-Q1 or 2025-03",
        field=field,
    )


_VI_TYPE = {PeriodType.YEAR: "năm", PeriodType.QUARTER: "quý", PeriodType.MONTH: "tháng"}
