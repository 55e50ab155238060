"""Methodologies of a composite index (DTI-style): a tree of components (pillars,
groups, indicators) with weights, maximum points and a scoring rule each. The index
itself is computed in `computation/composite_index.py`.

Services flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinhso.core.errors import Conflict, InvalidInput, NotFound
from tinhso.monitoring import repository
from tinhso.monitoring.models import (
    Indicator,
    Methodology,
    MethodologyComponent,
    Pillar,
    Scoring,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.schemas import MethodologyCreate


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


methodology_service = MethodologyService()
