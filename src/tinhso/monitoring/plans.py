"""Plans (kế hoạch, resolutions, decisions that set targets, e.g. Kế hoạch 324/KH-UBND) and
their targets: per indicator and year, a value or a range for one unit or a unit level.

Services flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.errors import Conflict, InvalidInput, NotFound, require_values
from tinhso.monitoring import repository
from tinhso.monitoring.models import Plan, Target
from tinhso.monitoring.service import flush_or_conflict
from tinhso.registry.organisations import organisation_service
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

    from tinhso.monitoring.schemas import PlanCreate, PlanUpdate, TargetCreate


class PlanService:
    def get(self, session: Session, code: str) -> Plan:
        plan = repository.plan_by_code(session, code)
        if plan is None:
            raise self.no_plan(code)
        return plan

    @staticmethod
    def no_plan(code: str) -> NotFound:
        """``get``'s refusal of a code that names no plan."""
        return NotFound(f"Không tìm thấy kế hoạch {code}", f"Plan {code} not found", field="code")

    def by_codes(self, session: Session, codes: Iterable[str]) -> dict[str, Plan]:
        """The plans of these codes that exist, by code, in one query."""
        return dict(repository.plans_by_codes(session, codes))

    def create(self, session: Session, data: PlanCreate) -> Plan:
        if repository.plan_by_code(session, data.code) is not None:
            raise Conflict(
                f"Kế hoạch {data.code} đã tồn tại", f"Plan {data.code} already exists", field="code"
            )
        self._check_years(data.start_year, data.end_year)
        organisation_id = None
        if data.organisation_code:
            try:
                organisation_id = organisation_service.get(session, data.organisation_code).id
            except NotFound as error:
                raise InvalidInput(
                    f"Tổ chức {data.organisation_code} không tồn tại",
                    f"Organisation {data.organisation_code} does not exist",
                    field="organisation_code",
                ) from error
        plan = Plan(
            **data.model_dump(exclude={"organisation_code"}), organisation_id=organisation_id
        )
        session.add(plan)
        flush_or_conflict(session, f"kế hoạch {data.code}", f"Plan {data.code}")
        return plan

    @staticmethod
    def _check_years(start: int | None, end: int | None) -> None:
        if start is not None and end is not None and start > end:
            raise InvalidInput(
                "Năm bắt đầu sau năm kết thúc", "start_year is after end_year", field="start_year"
            )

    def update(self, session: Session, plan: Plan, data: PlanUpdate) -> Plan:
        changes = data.model_dump(exclude_unset=True)
        require_values(changes, ("number", "kind", "title_vi", "issuing_body"))
        self._check_years(
            changes.get("start_year", plan.start_year), changes.get("end_year", plan.end_year)
        )
        for name, value in changes.items():
            setattr(plan, name, value)
        flush_or_conflict(session, f"kế hoạch {plan.code}", f"Plan {plan.code}")
        return plan

    def delete(self, session: Session, plan: Plan) -> None:
        session.delete(plan)
        flush_or_conflict(session, f"kế hoạch {plan.code}", f"Plan {plan.code}")

    def add_target(self, session: Session, plan: Plan, data: TargetCreate) -> Target:
        indicator = repository.indicator_by_code(session, data.indicator_code)
        if indicator is None:
            raise InvalidInput(
                f"Chỉ số {data.indicator_code} không tồn tại",
                f"Indicator {data.indicator_code} does not exist",
                field="indicator_code",
            )
        if data.scope_unit is None and data.scope_level is None:
            raise InvalidInput(
                "Cần phạm vi: một đơn vị (scope_unit) hoặc một cấp đơn vị (scope_level)",
                "A scope is required: a unit (scope_unit) or a unit level (scope_level)",
                field="scope_unit",
            )
        unit_set = data.scope_unit.unit_set if data.scope_unit else data.scope_unit_set
        unit = (
            unit_service.resolve(session, data.scope_unit, "scope_unit")
            if data.scope_unit
            else None
        )
        goals = (data.target_value, data.target_low, data.target_high)
        if all(goal is None for goal in goals):
            raise InvalidInput(
                "Cần giá trị mục tiêu (target_value) hoặc khoảng (target_low, target_high)",
                "A target value (target_value) or a range (target_low, target_high) is required",
                field="target_value",
            )
        if data.target_value is not None and (
            data.target_low is not None or data.target_high is not None
        ):
            raise InvalidInput(
                "Chỉ dùng một giá trị mục tiêu hoặc một khoảng, không dùng cả hai",
                "Give either a target value or a range, not both",
                field="target_value",
            )
        if (
            data.target_low is not None
            and data.target_high is not None
            and data.target_low > data.target_high
        ):
            raise InvalidInput(
                "Cận dưới của khoảng mục tiêu lớn hơn cận trên",
                "The range's low end is above its high end",
                field="target_low",
            )
        if data.baseline_year is not None and data.baseline_year > data.year:
            raise InvalidInput(
                "Năm cơ sở sau năm mục tiêu",
                "The baseline year is after the target year",
                field="baseline_year",
            )
        if (data.baseline_value is None) != (data.baseline_year is None):
            raise InvalidInput(
                "Giá trị cơ sở và năm cơ sở phải đi cùng nhau",
                "baseline_value and baseline_year go together",
                field="baseline_year",
            )
        target = Target(
            plan_id=plan.id,
            indicator_id=indicator.id,
            scope_unit_id=unit.id if unit else None,
            scope_unit_set=unit_set,
            scope_level=data.scope_level,
            year=data.year,
            comparison=data.comparison,
            target_value=data.target_value,
            target_low=data.target_low,
            target_high=data.target_high,
            baseline_value=data.baseline_value,
            baseline_year=data.baseline_year,
            note=data.note,
            source_reference=data.source_reference,
        )
        session.add(target)
        flush_or_conflict(session, "mục tiêu", "Target", field="indicator_code")
        return target

    def target(self, session: Session, plan: Plan, target_id: int) -> Target:
        target = session.get(Target, target_id)
        if target is None or target.plan_id != plan.id:
            raise NotFound(
                f"Không tìm thấy mục tiêu {target_id} của kế hoạch {plan.code}",
                f"Target {target_id} of plan {plan.code} not found",
                field="target_id",
            )
        return target

    def delete_target(self, session: Session, target: Target) -> None:
        session.delete(target)
        session.flush()


plan_service = PlanService()
