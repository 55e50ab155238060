"""The monitoring catalogue as the SQL computation's specs: data elements, indicators and
the threshold bands of a methodology component's scoring."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.monitoring import repository
from tinhso.monitoring.computation import formula as formulas
from tinhso.monitoring.computation import indicators as computation
from tinhso.monitoring.computation.aggregation import ElementSpec

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.models import Indicator


def element_specs(session: Session) -> list[ElementSpec]:
    return [
        ElementSpec(
            id=element.id,
            code=element.code,
            aggregation=element.aggregation,
            period_type=element.period_type,
            weight_element_id=element.weight_element_id,
            period_aggregation=element.period_aggregation,
        )
        for element in repository.all_elements(session)
    ]


def indicator_spec(indicator: Indicator) -> computation.IndicatorSpec:
    return computation.IndicatorSpec(
        id=indicator.id,
        code=indicator.code,
        formula=formulas.parse(indicator.formula),
        direction=indicator.direction,
    )


def bands(thresholds: list[dict[str, float]] | None) -> tuple[tuple[str, float, float], ...]:
    bands = []
    for band in thresholds or []:
        kind = "min" if "min" in band else "max"
        bands.append((kind, float(band[kind]), float(band["points"])))
    return tuple(bands)
