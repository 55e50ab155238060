"""Goals, achievement and trajectory of plan targets: pure arithmetic, no database.

A target's goal is its value, or the end of its range that matters (`goal_of`). For one
target and unit, given the actual value and a baseline (chosen by `progress/service.py`):
- ``achieved`` (đạt): the actual value meets the target;
- ``not_achieved`` (không đạt): it does not, and the target year has been reached or
  passed (by the actual value's period, or by ``as_of``);
- otherwise the straight line from baseline to target at the actual value's period gives
  the expected value: ``on_track`` (đúng tiến độ) if the actual value is at least as good,
  ``behind`` (chậm tiến độ) if not; ``insufficient_data`` without a baseline, ``no_data``
  without any value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinhso.monitoring.models import Comparison, Direction

if TYPE_CHECKING:
    from tinhso.monitoring.models import Target
    from tinhso.monitoring.schemas import TrajectoryStatus

STATUS_TEXT: dict[TrajectoryStatus, tuple[str, str]] = {
    "achieved": ("Đạt", "Achieved"),
    "on_track": ("Đúng tiến độ", "On track"),
    "behind": ("Chậm tiến độ", "Behind schedule"),
    "not_achieved": ("Không đạt", "Not achieved"),
    "insufficient_data": ("Chưa đủ dữ liệu để đánh giá tiến độ", "Not enough data for a trend"),
    "no_data": ("Chưa có số liệu", "No data"),
}


def meets(actual: float, goal: float, comparison: Comparison) -> bool:
    tolerance = 1e-9 * max(1.0, abs(goal))
    if comparison is Comparison.GE:
        return actual >= goal - tolerance
    if comparison is Comparison.GT:
        return actual > goal
    if comparison is Comparison.LE:
        return actual <= goal + tolerance
    if comparison is Comparison.LT:
        return actual < goal
    return math.isclose(actual, goal, rel_tol=1e-9, abs_tol=1e-9)


@dataclass(frozen=True)
class Goal:
    comparison: Comparison
    value: float


def goal_of(target: Target, direction: Direction) -> Goal:
    """The number a value is compared with: the value, or the range's end that matters."""
    comparison = target.comparison or (
        Comparison.GE if direction is Direction.HIGHER_BETTER else Comparison.LE
    )
    if target.target_value is not None:
        return Goal(comparison, target.target_value)
    low, high = target.target_low, target.target_high
    if comparison in {Comparison.LE, Comparison.LT}:
        return Goal(comparison, high if high is not None else float(low or 0))
    return Goal(comparison, low if low is not None else float(high or 0))


def achievement_percent(actual: float, goal: Goal) -> float | None:
    if goal.comparison in {Comparison.LE, Comparison.LT}:
        if actual <= 0:
            return 100.0 if meets(actual, goal.value, goal.comparison) else None
        return goal.value / actual * 100
    if goal.value == 0:
        return None
    return actual / goal.value * 100


def trajectory_status(
    goal: Goal,
    target_year: int,
    actual: float | None,
    actual_position: float | None,
    baseline: float | None,
    baseline_position: float | None,
    as_of_year: int | None = None,
) -> tuple[TrajectoryStatus, float | None]:
    """The status of one target and the straight line's expected value at the actual period."""
    if actual is None or actual_position is None:
        return "no_data", None
    if meets(actual, goal.value, goal.comparison):
        return "achieved", None
    if actual_position >= target_year or (as_of_year is not None and as_of_year > target_year):
        return "not_achieved", None
    if baseline is None or baseline_position is None or baseline_position >= actual_position:
        return "insufficient_data", None
    span = target_year - baseline_position
    share = 1.0 if span <= 0 else (actual_position - baseline_position) / span
    expected = baseline + (goal.value - baseline) * share
    loose = Comparison.LE if goal.comparison in {Comparison.LE, Comparison.LT} else Comparison.GE
    return ("on_track" if meets(actual, expected, loose) else "behind"), expected
