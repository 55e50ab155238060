"""Read models of the monitoring catalogue: the API shapes of elements, indicators, plans,
targets and methodologies, built in a constant number of queries, and whole lists of them
for the portal (the API pages the same shapes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from tinhso.monitoring import repository
from tinhso.monitoring.computation import formula as formulas
from tinhso.monitoring.models import DataElement, Indicator, Methodology, Pillar, Plan, Target
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.schemas import (
    ComponentOut,
    ElementOut,
    IndicatorOut,
    MethodologyOut,
    PillarOut,
    PlanOut,
    TargetOut,
)
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def elements_out(session: Session, elements: list[DataElement]) -> list[ElementOut]:
    weights = repository.element_codes(
        session, {e.weight_element_id for e in elements if e.weight_element_id}
    )
    return [
        ElementOut.model_validate(
            {
                **{c: getattr(e, c) for c in ElementOut.model_fields if hasattr(e, c)},
                "weight_element_code": weights.get(e.weight_element_id or 0),
            }
        )
        for e in elements
    ]


def indicators_out(session: Session, indicators: list[Indicator]) -> list[IndicatorOut]:
    pillars = repository.codes_by_id(
        session, Pillar, {i.pillar_id for i in indicators if i.pillar_id}
    )
    publishers = organisation_service.codes(
        session, {i.open_data_publisher_id for i in indicators if i.open_data_publisher_id}
    )
    return [
        IndicatorOut(
            code=i.code,
            name_vi=i.name_vi,
            name_en=i.name_en,
            description_vi=i.description_vi,
            description_en=i.description_en,
            formula=i.formula,
            elements=sorted(formulas.parse(i.formula).elements),
            unit_of_measure=i.unit_of_measure,
            unit_of_measure_en=i.unit_of_measure_en,
            direction=i.direction,
            pillar_code=pillars.get(i.pillar_id or 0),
            decimals=i.decimals,
            open_data_publisher=publishers.get(i.open_data_publisher_id or 0),
        )
        for i in indicators
    ]


def plans_out(session: Session, plans: list[Plan]) -> list[PlanOut]:
    counts = repository.target_counts(session, {p.id for p in plans})
    organisations = organisation_service.codes(
        session, {p.organisation_id for p in plans if p.organisation_id}
    )
    return [
        PlanOut(
            code=p.code,
            number=p.number,
            kind=p.kind,
            title_vi=p.title_vi,
            title_en=p.title_en,
            issuing_body=p.issuing_body,
            issued_on=p.issued_on,
            legal_reference=p.legal_reference,
            start_year=p.start_year,
            end_year=p.end_year,
            source_reference=p.source_reference,
            organisation_code=organisations.get(p.organisation_id or 0),
            targets=counts.get(p.id, 0),
        )
        for p in plans
    ]


def targets_out(session: Session, plan: Plan, targets: list[Target]) -> list[TargetOut]:
    indicators = repository.codes_by_id(session, Indicator, {t.indicator_id for t in targets})
    units = repository.unit_rows(session, {t.scope_unit_id for t in targets if t.scope_unit_id})
    out = []
    for t in targets:
        unit = units.get(t.scope_unit_id or 0)
        out.append(
            TargetOut(
                id=t.id,
                plan_code=plan.code,
                indicator_code=indicators[t.indicator_id],
                scope_unit=UnitRef(unit_set=unit[0], code=unit[1]) if unit else None,
                scope_unit_set=t.scope_unit_set,
                scope_level=t.scope_level,
                year=t.year,
                comparison=t.comparison,
                target_value=t.target_value,
                target_low=t.target_low,
                target_high=t.target_high,
                baseline_value=t.baseline_value,
                baseline_year=t.baseline_year,
                note=t.note,
                source_reference=t.source_reference,
            )
        )
    return out


def methodology_out(session: Session, methodology: Methodology) -> MethodologyOut:
    return methodologies_out(session, [methodology])[0]


def methodologies_out(session: Session, methodologies: list[Methodology]) -> list[MethodologyOut]:
    """Methodologies with their components: three queries however many there are."""
    by_methodology = repository.components_by_methodology(session, [m.id for m in methodologies])
    every = [c for components in by_methodology.values() for c in components]
    pillars = repository.codes_by_id(session, Pillar, {c.pillar_id for c in every if c.pillar_id})
    indicators = repository.codes_by_id(
        session, Indicator, {c.indicator_id for c in every if c.indicator_id}
    )
    found = []
    for methodology in methodologies:
        components = by_methodology[methodology.id]
        codes = {c.id: c.code for c in components}
        found.append(
            MethodologyOut(
                code=methodology.code,
                name_vi=methodology.name_vi,
                name_en=methodology.name_en,
                legal_reference=methodology.legal_reference,
                issuing_body=methodology.issuing_body,
                issued_on=methodology.issued_on,
                unit_level=methodology.unit_level,
                normalisation=methodology.normalisation,
                max_points=methodology.max_points,
                components=[
                    ComponentOut(
                        code=c.code,
                        parent_code=codes.get(c.parent_id or 0),
                        name_vi=c.name_vi,
                        name_en=c.name_en,
                        group_code=c.group_code,
                        pillar_code=pillars.get(c.pillar_id or 0),
                        indicator_code=indicators.get(c.indicator_id or 0),
                        weight=c.weight,
                        max_points=c.max_points,
                        scoring=c.scoring,
                        reference_value=c.reference_value,
                        thresholds=c.thresholds,
                    )
                    for c in components
                ],
            )
        )
    return found


class CatalogueReader:
    """Whole lists of the catalogue, for pages that show everything (a province's catalogue is
    hundreds of rows, not millions)."""

    def pillars(self, session: Session) -> list[PillarOut]:
        rows = session.scalars(select(Pillar).order_by(Pillar.position, Pillar.code))
        return [PillarOut.model_validate(p, from_attributes=True) for p in rows]

    def indicators(self, session: Session) -> list[IndicatorOut]:
        return indicators_out(
            session, list(session.scalars(select(Indicator).order_by(Indicator.code)))
        )

    def plans(self, session: Session) -> list[PlanOut]:
        return plans_out(session, list(session.scalars(select(Plan).order_by(Plan.code))))

    def targets(self, session: Session, plan_code: str) -> list[TargetOut]:
        plan = plan_service.get(session, plan_code)
        return targets_out(session, plan, list(repository.targets_of(session, plan.id)))

    def methodologies(self, session: Session) -> list[MethodologyOut]:
        rows = session.scalars(select(Methodology).order_by(Methodology.code))
        return methodologies_out(session, list(rows))


catalogue_reader = CatalogueReader()
