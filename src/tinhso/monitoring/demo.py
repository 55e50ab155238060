"""Monitoring demo data (Plan 324/KH-UBND and the reported figures of the seed articles).

Loads ``demo/seed_figures.yaml`` (shipped inside the package): pillars, data elements,
indicators, plans with targets, reported values (each citing its seed file and quote)
and two DTI methodology versions. Unit references are symbolic (``{set: legacy,
province: "Bắc Giang", district: "Việt Yên"}``) and are resolved by name through the
registry. Idempotent: what exists is kept, values already recorded are unchanged.
"""

from __future__ import annotations

import logging
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from tinhso.core.errors import InvalidInput
from tinhso.monitoring import repository
from tinhso.monitoring.alerts.demo import load_alert_demo
from tinhso.monitoring.methodologies import methodology_service
from tinhso.monitoring.models import Normalisation, Scoring, ValueSource
from tinhso.monitoring.plans import plan_service
from tinhso.monitoring.schemas import (
    ComponentIn,
    ElementCreate,
    IndicatorCreate,
    MethodologyCreate,
    PillarCreate,
    PlanCreate,
    TargetCreate,
    ValueIn,
)
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry import repository as registry_repository
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_OPERATORS = {">=": ">=", "<=": "<=", ">": ">", "<": "<", "=": "=="}


def _demo_file(name: str) -> dict[str, Any]:
    text = resources.files("tinhso.monitoring").joinpath(f"demo/{name}").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def seed_figures() -> dict[str, Any]:
    """The catalogue, plans and reported figures of the seed articles (each citing its seed)."""
    return _demo_file("seed_figures.yaml")


def synthetic_values() -> list[dict[str, Any]]:
    """Invented, labelled values so Plan 324's progress can be shown (never reported figures)."""
    values: list[dict[str, Any]] = _demo_file("synthetic_plan324.yaml")["values"]
    return values


SYNTHETIC_LABEL = (
    "Dữ liệu mô phỏng, không phải số liệu báo cáo / synthetic demo data, not a reported figure"
)


class UnitResolver:
    """Symbolic unit references -> unit refs, by name within the given unit set."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple[str, ...], UnitRef | None] = {}

    def _find(
        self, unit_set: UnitSet, level: UnitLevel, parent_id: int | None, name: str
    ) -> tuple[int, str] | None:
        query = registry_repository.units_query(unit_set, level, parent_id, name)
        for unit in self.session.scalars(query):
            if unit.name == name or unit.name.endswith(f" {name}"):
                return unit.id, unit.code
        return None

    def resolve(self, ref: dict[str, str]) -> UnitRef | None:
        key = tuple(str(ref.get(k, "")) for k in ("set", "province", "district", "commune"))
        if key in self.cache:
            return self.cache[key]
        unit_set = UnitSet(ref.get("set", "legacy"))
        found = self._find(unit_set, UnitLevel.PROVINCE, None, ref["province"])
        for level, name in ((UnitLevel.DISTRICT, "district"), (UnitLevel.COMMUNE, "commune")):
            if found is not None and ref.get(name):
                found = self._find(unit_set, level, found[0], ref[name])
        result = UnitRef(unit_set=unit_set, code=found[1]) if found else None
        self.cache[key] = result
        return result


def cite(source: dict[str, str] | None, sources: dict[str, dict[str, Any]]) -> str | None:
    """A figure's source as a reader can find it: title, outlet and date, then the quote.

    ``sources`` is the file's ``meta.sources`` keyed by seed; the seed key itself is an
    internal name and never shown.
    """
    if not source:
        return None
    document = sources.get(source.get("seed", ""), {})
    details = [str(document["publisher"])] if document.get("publisher") else []
    if document.get("published"):
        details.append(date.fromisoformat(str(document["published"])).strftime("%d/%m/%Y"))
    title = str(document.get("title") or "")
    if details:
        title = f"{title} ({', '.join(details)})"
    quote = source.get("quote")
    return f"{title}: «{quote}»" if quote else title


def source_documents(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The seed documents the demo figures cite, keyed by their internal seed name."""
    return {str(item["seed"]): item for item in data.get("meta", {}).get("sources", [])}


def _load_catalogue(session: Session, data: dict[str, Any]) -> int:
    created = 0
    for position, pillar in enumerate(data.get("pillars", [])):
        if repository.pillar_by_code(session, pillar["code"]) is None:
            catalogue_service.create_pillar(
                session, PillarCreate.model_validate({**pillar, "position": position})
            )
            created += 1
    elements = sorted(data.get("data_elements", []), key=lambda e: bool(e.get("weight_element")))
    for element in elements:
        if repository.element_by_code(session, element["code"]) is not None:
            continue
        catalogue_service.create_element(
            session,
            ElementCreate(
                code=element["code"],
                name_vi=element["name_vi"],
                name_en=element.get("name_en"),
                unit_of_measure=element["unit_vi"],
                unit_of_measure_en=element.get("unit_en"),
                value_type=element["value_type"],
                aggregation=element["aggregation"],
                weight_element_code=element.get("weight_element"),
                period_type=element["period_type"],
            ),
        )
        created += 1
    for indicator in data.get("indicators", []):
        if repository.indicator_by_code(session, indicator["code"]) is not None:
            continue
        catalogue_service.create_indicator(
            session,
            IndicatorCreate(
                code=indicator["code"],
                name_vi=indicator["name_vi"],
                name_en=indicator.get("name_en"),
                description_vi=indicator.get("description_vi"),
                description_en=indicator.get("description_en"),
                formula=indicator["formula"],
                unit_of_measure=indicator["unit_vi"],
                unit_of_measure_en=indicator.get("unit_en"),
                direction=indicator["direction"],
                pillar_code=indicator.get("pillar"),
            ),
        )
        created += 1
    return created


def _load_plans(session: Session, data: dict[str, Any], units: UnitResolver) -> int:
    created = 0
    sources = source_documents(data)
    for plan in data.get("plans", []):
        if repository.plan_by_code(session, plan["code"]) is not None:
            continue
        period = plan.get("period") or {}
        notes = []
        if plan.get("issued_on_or_before"):
            notes.append(
                f"Ban hành không muộn hơn / issued on or before {plan['issued_on_or_before']}"
            )
        citation = cite(plan.get("source"), sources)
        if citation:
            notes.append(citation)
        issued = plan.get("issue_date")
        row = plan_service.create(
            session,
            PlanCreate(
                code=plan["code"],
                number=plan.get("number") or "(không số / unnumbered)",
                kind=plan.get("kind") or "plan",
                title_vi=plan["title_vi"],
                title_en=plan.get("title_en"),
                issuing_body=plan["issuing_body"],
                issued_on=date.fromisoformat(str(issued)) if issued else None,
                legal_reference=plan.get("legal_reference"),
                start_year=period.get("start"),
                end_year=period.get("end"),
                source_reference="\n".join(notes) or None,
            ),
        )
        for target in plan.get("targets", []):
            scope = units.resolve(target["scope"])
            if scope is None:
                log.warning("demo target skipped: unknown unit %s", target["scope"])
                continue
            low, high = (target.get("range") or [None, None])[:2]
            note = target.get("note")
            if target.get("approximate"):
                note = f"{note or ''} (xấp xỉ / approximate)".strip()
            plan_service.add_target(
                session,
                row,
                TargetCreate(
                    indicator_code=target["indicator"],
                    scope_unit=scope,
                    year=target["year"],
                    comparison=_OPERATORS.get(target.get("operator") or ""),  # type: ignore[arg-type]
                    target_value=None if target.get("range") else target.get("value"),
                    target_low=low,
                    target_high=high,
                    baseline_value=(target.get("baseline") or {}).get("value")
                    if isinstance(target.get("baseline"), dict)
                    else None,
                    baseline_year=(target.get("baseline") or {}).get("year")
                    if isinstance(target.get("baseline"), dict)
                    else None,
                    note=note,
                    source_reference=cite(target.get("source"), sources),
                ),
            )
        created += 1
    return created


def _load_values(session: Session, data: dict[str, Any], units: UnitResolver) -> int:
    items: list[ValueIn] = []
    sources = source_documents(data)
    reported = {
        (value["data_element"], repr(sorted(value["unit"].items())), str(value["period"]))
        for value in data.get("values", [])
    }
    synthetic = [
        value
        for value in synthetic_values()
        if (value["data_element"], repr(sorted(value["unit"].items())), str(value["period"]))
        not in reported
    ]
    for value in [*data.get("values", []), *synthetic]:
        unit = units.resolve(value["unit"])
        if unit is None:
            log.warning("demo value skipped: unknown unit %s", value["unit"])
            continue
        comments = [str(value[k]) for k in ("note", "period_note") if value.get(k)]
        if value.get("derived"):
            comments.append(f"Tính từ / derived: {value['derived']}")
        items.append(
            ValueIn(
                element_code=value["data_element"],
                unit=unit,
                period=str(value["period"]),
                value=value["value"],
                qualifier=value.get("qualifier"),
                source=ValueSource.FILE,
                source_reference=SYNTHETIC_LABEL
                if value.get("synthetic")
                else cite(value.get("source"), sources),
                comment="\n".join(comments) or None,
            )
        )
    provenance = Provenance(entered_by_id=None, source=ValueSource.FILE)
    try:
        result = value_service.record_many(session, items, provenance)
    except InvalidInput as error:
        # Record what is valid, one by one, and say what was not.
        log.warning("demo values: %s", error.message.en)
        inserted = 0
        for item in items:
            try:
                inserted += value_service.record_many(session, [item], provenance).inserted
            except InvalidInput as single:
                log.warning("demo value skipped: %s", single.message.en)
        return inserted
    return result.inserted


def _load_methodologies(session: Session, data: dict[str, Any]) -> int:
    created = 0
    for methodology in data.get("dti_methodologies", []):
        if repository.methodology_by_code(session, methodology["code"]) is not None:
            continue
        components = [
            ComponentIn(
                code=pillar["code"],
                name_vi=pillar["name_vi"],
                name_en=pillar.get("name_en"),
                group_code=pillar.get("group"),
                pillar_code=pillar.get("platform_pillar"),
                max_points=pillar["max_points"],
                scoring=Scoring.SUM,
            )
            for pillar in methodology.get("pillars", [])
        ]
        for component in methodology.get("components", []):
            scoring = component.get("scoring") or {}
            method = Scoring(scoring.get("method", "ratio"))
            components.append(
                ComponentIn(
                    code=component["code"],
                    parent_code=component.get("pillar"),
                    name_vi=component.get("name_vi") or component["code"],
                    name_en=component.get("name_en"),
                    indicator_code=component["indicator"],
                    max_points=component["max_points"],
                    scoring=method,
                    reference_value=scoring.get("full_score_at")
                    if method is Scoring.RATIO
                    else None,
                    thresholds=scoring.get("bands") if method is Scoring.THRESHOLDS else None,
                )
            )
        issued = methodology.get("issue_date")
        methodology_service.create(
            session,
            MethodologyCreate(
                code=methodology["code"],
                name_vi=methodology["name_vi"],
                name_en=methodology.get("name_en"),
                legal_reference=methodology.get("legal_reference"),
                issuing_body=methodology.get("issuing_body"),
                issued_on=date.fromisoformat(str(issued)) if issued else None,
                unit_level=UnitLevel(methodology.get("level") or "province"),
                normalisation=Normalisation.MODELLED
                if methodology.get("normalise_to_modelled")
                else Normalisation.NONE,
                max_points=methodology["total_points"],
                components=components,
            ),
        )
        created += 1
    return created


DEMO_PROVINCE = "24"  # Bắc Ninh since 01/07/2025 (Bắc Giang is part of it)


def _load_boundaries(session: Session) -> int:
    """Synthetic boundaries (labelled as such on every map) for the provinces and Bắc Ninh's
    communes: no open post-2025 polygons exist to ship."""
    from tinhso.monitoring.maps.boundaries import load_synthetic  # noqa: PLC0415 - shapely

    return load_synthetic(session, DEMO_PROVINCE).stored


def load_monitoring_demo(
    session: Session, progress: Callable[[str, int], None] | None = None
) -> None:
    """Load the monitoring demo data (idempotent)."""
    data = seed_figures()
    units = UnitResolver(session)
    steps: list[tuple[str, Callable[[], int]]] = [
        ("monitoring: catalogue", lambda: _load_catalogue(session, data)),
        ("monitoring: plans", lambda: _load_plans(session, data, units)),
        ("monitoring: values", lambda: _load_values(session, data, units)),
        ("monitoring: methodologies", lambda: _load_methodologies(session, data)),
        ("monitoring: map boundaries (synthetic)", lambda: _load_boundaries(session)),
        ("monitoring: alert rules (alerts opened)", lambda: load_alert_demo(session)),
    ]
    for step, load in steps:
        count = load()
        session.flush()
        if progress:
            progress(step, count)
