"""Monitoring catalogue: pillars, data elements, indicators, validation rules. Plans and
targets are in `plans.py`, methodologies in `methodologies.py`, values in `values/service.py`,
computed results in `progress/service.py`.

Services flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import keyword
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tinhso.core.errors import Conflict, InvalidInput, NotFound, require_values
from tinhso.monitoring import repository
from tinhso.monitoring.computation import formula as formulas
from tinhso.monitoring.models import (
    Aggregation,
    DataElement,
    DataValue,
    Indicator,
    Pillar,
    ValidationRule,
)
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

    from tinhso.monitoring.schemas import (
        ElementCreate,
        ElementUpdate,
        IndicatorCreate,
        IndicatorUpdate,
        PillarCreate,
        RuleCreate,
    )


def flush_or_conflict(session: Session, what_vi: str, what_en: str, field: str = "code") -> None:
    """Flush; a duplicate or a row still in use becomes a Conflict naming ``field``."""
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
        flush_or_conflict(session, f"trụ cột {data.code}", f"Pillar {data.code}")
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
        flush_or_conflict(session, f"chỉ tiêu dữ liệu {data.code}", f"Data element {data.code}")
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
        require_values(
            changes,
            (
                "name_vi",
                "unit_of_measure",
                "aggregation",
                "period_aggregation",
                "non_negative",
                "allows_estimates",
            ),
        )
        self._check_bounds(
            changes.get("min_value", element.min_value), changes.get("max_value", element.max_value)
        )
        for name, value in changes.items():
            setattr(element, name, value)
        flush_or_conflict(
            session, f"chỉ tiêu dữ liệu {element.code}", f"Data element {element.code}"
        )
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
        flush_or_conflict(
            session, f"chỉ tiêu dữ liệu {element.code}", f"Data element {element.code}"
        )

    # --- indicators ---
    def indicator(self, session: Session, code: str) -> Indicator:
        indicator = repository.indicator_by_code(session, code)
        if indicator is None:
            raise self.no_indicator(code)
        return indicator

    @staticmethod
    def no_indicator(code: str) -> NotFound:
        """``indicator``'s refusal of a code that names none."""
        return NotFound(
            f"Không tìm thấy chỉ số {code}", f"Indicator {code} not found", field="code"
        )

    def indicators(self, session: Session, codes: Iterable[str]) -> dict[str, Indicator]:
        """The indicators of these codes that exist, by code, in one query."""
        return repository.indicators_by_codes(session, codes)

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
            **data.model_dump(exclude={"pillar_code", "formula", "open_data_publisher"}),
            formula=parsed.text,
            pillar_id=pillar.id if pillar else None,
            open_data_publisher_id=self._publisher_id(session, data.open_data_publisher),
        )
        session.add(indicator)
        flush_or_conflict(session, f"chỉ số {data.code}", f"Indicator {data.code}")
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
        if "open_data_publisher" in changes:
            publisher = changes.pop("open_data_publisher")
            indicator.open_data_publisher_id = self._publisher_id(session, publisher)
        require_values(changes, ("name_vi", "unit_of_measure", "direction", "decimals"))
        for name, value in changes.items():
            setattr(indicator, name, value)
        flush_or_conflict(session, f"chỉ số {indicator.code}", f"Indicator {indicator.code}")
        return indicator

    @staticmethod
    def _publisher_id(session: Session, code: str | None) -> int | None:
        """The organisation that publishes an indicator as open data (its code given)."""
        if code is None:
            return None
        try:
            return organisation_service.get(session, code).id
        except NotFound:
            raise InvalidInput(
                f"Không có tổ chức {code} để công bố chỉ số là dữ liệu mở",
                f"No organisation {code} to publish the indicator as open data",
                field="open_data_publisher",
            ) from None

    def indicators_with_values(self, session: Session) -> list[Indicator]:
        """The indicators with at least one stored value of one of their elements, by code."""
        with_values = set(repository.elements_with_values(session))
        return [
            indicator
            for indicator in repository.all_indicators(session)
            if formulas.parse(indicator.formula).elements & with_values
        ]

    def published_indicators(self, session: Session) -> list[Indicator]:
        """The indicators published as open data, by code."""
        return list(repository.published_indicators(session))

    def delete_indicator(self, session: Session, indicator: Indicator) -> None:
        session.delete(indicator)
        flush_or_conflict(session, f"chỉ số {indicator.code}", f"Indicator {indicator.code}")

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
        flush_or_conflict(session, f"quy tắc {data.code}", f"Rule {data.code}")
        return rule

    def rule(self, session: Session, code: str) -> ValidationRule:
        rule = repository.rule_by_code(session, code)
        if rule is None:
            raise NotFound(f"Không tìm thấy quy tắc {code}", f"Rule {code} not found", field="code")
        return rule


catalogue_service = CatalogueService()
