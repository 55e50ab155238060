"""Monitoring catalogue: pillars, data elements, indicators, validation rules, plans and
targets, methodologies. Values are in `values.py`, computed results in `progress.py`.

Services flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import keyword
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tinhso.core.errors import Conflict, InvalidInput, NotFound, require_values
from tinhso.monitoring import formula as formulas
from tinhso.monitoring import repository
from tinhso.monitoring.models import (
    Aggregation,
    DataElement,
    DataValue,
    Indicator,
    Methodology,
    MethodologyComponent,
    Pillar,
    Plan,
    Scoring,
    Target,
    ValidationRule,
)
from tinhso.registry.service import organisation_service, unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.schemas import (
        ElementCreate,
        ElementUpdate,
        IndicatorCreate,
        IndicatorUpdate,
        MethodologyCreate,
        PillarCreate,
        PlanCreate,
        PlanUpdate,
        RuleCreate,
        TargetCreate,
    )


def _flush(session: Session, what_vi: str, what_en: str, field: str = "code") -> None:
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"Không thể lưu {what_vi}: dữ liệu trùng hoặc đang được sử dụng",
            f"{what_en} could not be saved: duplicate, or still in use",
            field=field,
        ) from error


class CatalogueService:
    # --- pillars ---
    def create_pillar(self, session: Session, data: PillarCreate) -> Pillar:
        if repository.pillar_by_code(session, data.code) is not None:
            raise Conflict(
                f"Trụ cột {data.code} đã tồn tại",
                f"Pillar {data.code} already exists",
                field="code",
            )
        pillar = Pillar(**data.model_dump())
        session.add(pillar)
        _flush(session, f"trụ cột {data.code}", f"Pillar {data.code}")
        return pillar

    def pillar(self, session: Session, code: str, field: str = "pillar_code") -> Pillar:
        pillar = repository.pillar_by_code(session, code)
        if pillar is None:
            raise InvalidInput(
                f"Trụ cột {code} không tồn tại", f"Pillar {code} does not exist", field=field
            )
        return pillar

    # --- data elements ---
    def element(self, session: Session, code: str) -> DataElement:
        element = repository.element_by_code(session, code)
        if element is None:
            raise NotFound(
                f"Không tìm thấy chỉ tiêu dữ liệu {code}",
                f"Data element {code} not found",
                field="code",
            )
        return element

    def _weight(
        self, session: Session, aggregation: Aggregation, weight_code: str | None, own_code: str
    ) -> int | None:
        if aggregation is not Aggregation.WEIGHTED_AVERAGE:
            if weight_code:
                raise InvalidInput(
                    "Chỉ phép bình quân gia quyền mới cần chỉ tiêu trọng số",
                    "A weight element is only used with the weighted average",
                    field="weight_element_code",
                )
            return None
        if not weight_code:
            raise InvalidInput(
                "Bình quân gia quyền cần chỉ tiêu trọng số (weight_element_code)",
                "A weighted average needs a weight element (weight_element_code)",
                field="weight_element_code",
            )
        if weight_code == own_code:
            raise InvalidInput(
                "Chỉ tiêu không thể là trọng số của chính nó",
                "An element cannot weight itself",
                field="weight_element_code",
            )
        weight = repository.element_by_code(session, weight_code)
        if weight is None:
            raise InvalidInput(
                f"Chỉ tiêu trọng số {weight_code} không tồn tại",
                f"Weight element {weight_code} does not exist",
                field="weight_element_code",
            )
        return weight.id

    @staticmethod
    def _check_bounds(minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and maximum is not None and minimum > maximum:
            raise InvalidInput(
                "Giá trị nhỏ nhất lớn hơn giá trị lớn nhất",
                "min_value is greater than max_value",
                field="min_value",
            )

    def create_element(self, session: Session, data: ElementCreate) -> DataElement:
        if repository.element_by_code(session, data.code) is not None:
            raise Conflict(
                f"Chỉ tiêu dữ liệu {data.code} đã tồn tại",
                f"Data element {data.code} already exists",
                field="code",
            )
        if (
            data.code in formulas.FUNCTIONS
            or keyword.iskeyword(data.code)
            or keyword.issoftkeyword(data.code)
        ):
            raise InvalidInput(
                f"Mã {data.code} trùng từ khóa hoặc tên hàm trong công thức",
                f"Code {data.code} is a formula keyword or function name",
                field="code",
            )
        self._check_bounds(data.min_value, data.max_value)
        weight_id = self._weight(session, data.aggregation, data.weight_element_code, data.code)
        element = DataElement(
            **data.model_dump(exclude={"weight_element_code"}), weight_element_id=weight_id
        )
        session.add(element)
        _flush(session, f"chỉ tiêu dữ liệu {data.code}", f"Data element {data.code}")
        return element

    def update_element(
        self, session: Session, element: DataElement, data: ElementUpdate
    ) -> DataElement:
        changes = data.model_dump(exclude_unset=True)
        aggregation = changes.get("aggregation") or element.aggregation
        if "aggregation" in changes or "weight_element_code" in changes:
            weight_code = changes.pop("weight_element_code", None)
            if weight_code is None and "weight_element_code" not in data.model_fields_set:
                weight_code = self._weight_code(session, element)
            element.weight_element_id = self._weight(
                session, aggregation, weight_code, element.code
            )
        changes.pop("weight_element_code", None)
        require_values(changes, ("name_vi", "unit_of_measure", "aggregation", "period_aggregation"))
        self._check_bounds(
            changes.get("min_value", element.min_value), changes.get("max_value", element.max_value)
        )
        for name, value in changes.items():
            setattr(element, name, value)
        _flush(session, f"chỉ tiêu dữ liệu {element.code}", f"Data element {element.code}")
        return element

    def _weight_code(self, session: Session, element: DataElement) -> str | None:
        if element.weight_element_id is None:
            return None
        return repository.element_codes(session, [element.weight_element_id]).get(
            element.weight_element_id
        )

    def delete_element(self, session: Session, element: DataElement) -> None:
        has_values = session.scalar(
            select(DataValue.id).where(DataValue.data_element_id == element.id).limit(1)
        )
        readers = [
            indicator.code
            for indicator in repository.indicators_reading(session, element.code)
            if element.code in formulas.parse(indicator.formula).elements
        ]
        if has_values or readers:
            raise Conflict(
                f"Không thể xóa chỉ tiêu dữ liệu {element.code}: đã có số liệu hoặc được dùng "
                f"trong chỉ số {', '.join(readers)}",
                f"Data element {element.code} cannot be deleted: it has values or is used by "
                f"indicators {', '.join(readers)}",
                field="code",
            )
        session.delete(element)
        _flush(session, f"chỉ tiêu dữ liệu {element.code}", f"Data element {element.code}")

    # --- indicators ---
    def indicator(self, session: Session, code: str) -> Indicator:
        indicator = repository.indicator_by_code(session, code)
        if indicator is None:
            raise NotFound(
                f"Không tìm thấy chỉ số {code}", f"Indicator {code} not found", field="code"
            )
        return indicator

    def check_formula(self, session: Session, text: str, field: str) -> formulas.Formula:
        """Parse a formula and check every element it names exists."""
        parsed = formulas.parse(text, field)
        known = repository.elements_by_codes(session, parsed.elements)
        missing = sorted(parsed.elements - set(known))
        if missing:
            raise InvalidInput(
                f"Công thức dùng chỉ tiêu dữ liệu chưa có: {', '.join(missing)}",
                f"The formula uses unknown data elements: {', '.join(missing)}",
                field=field,
            )
        return parsed

    def create_indicator(self, session: Session, data: IndicatorCreate) -> Indicator:
        if repository.indicator_by_code(session, data.code) is not None:
            raise Conflict(
                f"Chỉ số {data.code} đã tồn tại",
                f"Indicator {data.code} already exists",
                field="code",
            )
        parsed = self.check_formula(session, data.formula, "formula")
        pillar = self.pillar(session, data.pillar_code) if data.pillar_code else None
        indicator = Indicator(
            **data.model_dump(exclude={"pillar_code", "formula"}),
            formula=parsed.text,
            pillar_id=pillar.id if pillar else None,
        )
        session.add(indicator)
        _flush(session, f"chỉ số {data.code}", f"Indicator {data.code}")
        return indicator

    def update_indicator(
        self, session: Session, indicator: Indicator, data: IndicatorUpdate
    ) -> Indicator:
        changes = data.model_dump(exclude_unset=True)
        if "formula" in changes:
            if changes["formula"] is None:
                raise InvalidInput("Công thức là bắt buộc", "formula is required", field="formula")
            changes["formula"] = self.check_formula(session, changes["formula"], "formula").text
        if "pillar_code" in changes:
            code = changes.pop("pillar_code")
            indicator.pillar_id = self.pillar(session, code).id if code else None
        require_values(changes, ("name_vi", "unit_of_measure", "direction", "decimals"))
        for name, value in changes.items():
            setattr(indicator, name, value)
        _flush(session, f"chỉ số {indicator.code}", f"Indicator {indicator.code}")
        return indicator

    def delete_indicator(self, session: Session, indicator: Indicator) -> None:
        session.delete(indicator)
        _flush(session, f"chỉ số {indicator.code}", f"Indicator {indicator.code}")

    # --- validation rules ---
    def create_rule(self, session: Session, data: RuleCreate) -> ValidationRule:
        if repository.rule_by_code(session, data.code) is not None:
            raise Conflict(
                f"Quy tắc {data.code} đã tồn tại", f"Rule {data.code} already exists", field="code"
            )
        left = self.check_formula(session, data.left_expression, "left_expression")
        right = self.check_formula(session, data.right_expression, "right_expression")
        rule = ValidationRule(
            **data.model_dump(exclude={"left_expression", "right_expression"}),
            left_expression=left.text,
            right_expression=right.text,
        )
        session.add(rule)
        _flush(session, f"quy tắc {data.code}", f"Rule {data.code}")
        return rule

    def rule(self, session: Session, code: str) -> ValidationRule:
        rule = repository.rule_by_code(session, code)
        if rule is None:
            raise NotFound(f"Không tìm thấy quy tắc {code}", f"Rule {code} not found", field="code")
        return rule


class PlanService:
    def get(self, session: Session, code: str) -> Plan:
        plan = repository.plan_by_code(session, code)
        if plan is None:
            raise NotFound(
                f"Không tìm thấy kế hoạch {code}", f"Plan {code} not found", field="code"
            )
        return plan

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
        _flush(session, f"kế hoạch {data.code}", f"Plan {data.code}")
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
        _flush(session, f"kế hoạch {plan.code}", f"Plan {plan.code}")
        return plan

    def delete(self, session: Session, plan: Plan) -> None:
        session.delete(plan)
        _flush(session, f"kế hoạch {plan.code}", f"Plan {plan.code}")

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
        _flush(session, "mục tiêu", "Target", field="indicator_code")
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


class MethodologyService:
    def get(self, session: Session, code: str) -> Methodology:
        methodology = repository.methodology_by_code(session, code)
        if methodology is None:
            raise NotFound(
                f"Không tìm thấy bộ chỉ số {code}", f"Methodology {code} not found", field="code"
            )
        return methodology

    def create(self, session: Session, data: MethodologyCreate) -> Methodology:
        if repository.methodology_by_code(session, data.code) is not None:
            raise Conflict(
                f"Bộ chỉ số {data.code} đã tồn tại",
                f"Methodology {data.code} already exists",
                field="code",
            )
        methodology = Methodology(**data.model_dump(exclude={"components"}))
        session.add(methodology)
        session.flush()
        pillars = repository.ids_by_code(
            session, Pillar, {c.pillar_code for c in data.components if c.pillar_code}
        )
        indicators = repository.ids_by_code(
            session, Indicator, {c.indicator_code for c in data.components if c.indicator_code}
        )
        created: dict[str, MethodologyComponent] = {}
        for position, component in enumerate(data.components):
            field = f"components.{position}"
            self._check_component(component, created, pillars, indicators, field)
            row = MethodologyComponent(
                methodology_id=methodology.id,
                parent_id=created[component.parent_code].id if component.parent_code else None,
                code=component.code,
                name_vi=component.name_vi,
                name_en=component.name_en,
                group_code=component.group_code,
                pillar_id=pillars[component.pillar_code] if component.pillar_code else None,
                indicator_id=(
                    indicators[component.indicator_code] if component.indicator_code else None
                ),
                weight=component.weight,
                max_points=component.max_points,
                scoring=component.scoring,
                reference_value=component.reference_value,
                thresholds=component.thresholds,
                position=position,
            )
            session.add(row)
            session.flush()
            created[component.code] = row
        return methodology

    @staticmethod
    def _check_component(
        component: Any,
        created: dict[str, MethodologyComponent],
        pillars: dict[str, int],
        indicators: dict[str, int],
        field: str,
    ) -> None:
        def invalid(vi: str, en: str, name: str) -> InvalidInput:
            return InvalidInput(vi, en, field=f"{field}.{name}")

        if component.code in created:
            raise invalid(
                f"Thành phần {component.code} bị lặp",
                f"Duplicate component {component.code}",
                "code",
            )
        if component.parent_code and component.parent_code not in created:
            raise invalid(
                f"Thành phần cha {component.parent_code} phải đứng trước",
                f"Parent component {component.parent_code} must come first",
                "parent_code",
            )
        if component.pillar_code and component.pillar_code not in pillars:
            raise invalid(
                f"Trụ cột {component.pillar_code} không tồn tại",
                f"Pillar {component.pillar_code} does not exist",
                "pillar_code",
            )
        if component.indicator_code and component.indicator_code not in indicators:
            raise invalid(
                f"Chỉ số {component.indicator_code} không tồn tại",
                f"Indicator {component.indicator_code} does not exist",
                "indicator_code",
            )
        if component.scoring is not Scoring.SUM and not component.indicator_code:
            raise invalid(
                "Thành phần chấm điểm theo tỷ lệ/ngưỡng cần một chỉ số",
                "A ratio or threshold component needs an indicator",
                "indicator_code",
            )
        if component.scoring is Scoring.THRESHOLDS:
            bands = component.thresholds or []
            if not bands or any(
                "points" not in band or ("min" in band) == ("max" in band) for band in bands
            ):
                raise invalid(
                    "Mỗi ngưỡng cần 'points' và đúng một trong 'min' hoặc 'max'",
                    "Each threshold needs 'points' and exactly one of 'min' or 'max'",
                    "thresholds",
                )

    def delete(self, session: Session, methodology: Methodology) -> None:
        session.delete(methodology)
        session.flush()


catalogue_service = CatalogueService()
plan_service = PlanService()
methodology_service = MethodologyService()
