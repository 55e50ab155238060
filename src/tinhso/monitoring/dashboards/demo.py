"""The demo's dashboards: "Tổng quan tỉnh" (the province overview of Bắc Ninh: fibre and
e-payment figures of the legacy Bắc Giang against Plan 324's targets, the plan's progress, field reports on the map of
its communes, the live field-report counts and the exchange platform's traffic) and a second one on field reports and data
exchange, for the wall screen to rotate.

Field reports reach monitoring as the six monthly data elements the reports domain publishes
(``field_reports_*``); two demo indicators over them (received, late) give the map, the
ranking and the KPI tiles something per commune. Loaded after the reports demo; idempotent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tinhso.monitoring import repository
from tinhso.monitoring.dashboards.models import Dashboard
from tinhso.monitoring.dashboards.schemas import DashboardCreate, PanelIn, PanelKind
from tinhso.monitoring.dashboards.service import dashboard_service
from tinhso.monitoring.models import Direction
from tinhso.monitoring.schemas import IndicatorCreate
from tinhso.monitoring.service import catalogue_service
from tinhso.registry.models import Organisation

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

DEMO_PROVINCE = "24"  # Bắc Ninh since 01/07/2025
OVERVIEW, REPORTS = "tong-quan-tinh", "phan-anh-va-trao-doi"
RECEIVED, LATE = "phan_anh_tiep_nhan", "phan_anh_tre_han"


def _report_indicators(session: Session) -> bool:
    """Indicators over the field-report elements, when the reports demo published them."""
    elements = repository.elements_by_codes(
        session, {"field_reports_received", "field_reports_late"}
    )
    if len(elements) < 2:
        return False
    for code, element, name_vi, name_en, direction in (
        (RECEIVED, "field_reports_received", "Phản ánh hiện trường tiếp nhận",
         "Field reports received", Direction.LOWER_BETTER),
        (LATE, "field_reports_late", "Phản ánh hiện trường trễ hạn", "Field reports late",
         Direction.LOWER_BETTER),
    ):  # fmt: skip
        if repository.indicator_by_code(session, code) is None:
            catalogue_service.create_indicator(
                session,
                IndicatorCreate(
                    code=code,
                    name_vi=name_vi,
                    name_en=name_en,
                    formula=element,
                    unit_of_measure="phản ánh",
                    unit_of_measure_en="reports",
                    direction=direction,
                    decimals=0,
                ),
            )
    session.flush()
    return True


def _panel(kind: PanelKind, **settings: Any) -> PanelIn:
    return PanelIn(kind=kind, settings=settings)


def load_dashboard_demo(
    session: Session, progress: Callable[[str, int], None] | None = None
) -> None:
    if session.scalars(select(Dashboard.id).where(Dashboard.slug == OVERVIEW)).first():
        return
    reports = _report_indicators(session)
    owner = session.scalars(
        select(Organisation.code).where(Organisation.code == "ubnd-bac-giang")
    ).first()
    fibre, payment = "households_fibre_rate", "e_payment_account_rate"
    # Plan 324's figures are Bắc Giang's (the legacy province, now part of Bắc Ninh): its
    # tiles are pinned to it, where its targets and values are.
    bac_giang = {"unit_set": "legacy", "code": "24"}
    overview = [
        _panel(PanelKind.KPI, indicator=fibre, unit=bac_giang),
        _panel(PanelKind.KPI, indicator=payment, unit=bac_giang),
        _panel(PanelKind.STATUS_COUNTS, plan="bg_kh_324"),
        _panel(PanelKind.TIMESERIES, indicator=fibre, last=6, unit=bac_giang),
        _panel(PanelKind.RANKING, indicator=fibre, level="province", limit=5),
    ]
    second: list[PanelIn] = []
    # Live field-report counts for the chosen unit (monitoring.field_reports; the demo loader
    # registers the reports domain's figures before this runs).
    overview.insert(2, _panel(PanelKind.FIELD_REPORTS, months=6))
    if reports:
        overview.insert(0, _panel(PanelKind.MAP, indicator=RECEIVED))
        second += [
            _panel(PanelKind.MAP, indicator=LATE),
            _panel(PanelKind.KPI, indicator=RECEIVED),
            _panel(PanelKind.KPI, indicator=LATE),
            _panel(PanelKind.RANKING, indicator=LATE, level="commune", limit=10),
        ]
    overview.append(_panel(PanelKind.EXCHANGE, days=30, limit=5))
    second += [
        _panel(PanelKind.TIMESERIES, indicator=payment, unit=bac_giang),
        _panel(PanelKind.EXCHANGE),
    ]
    for slug, title_vi, title_en, panels in (
        (OVERVIEW, "Tổng quan tỉnh", "Province overview", overview),
        (REPORTS, "Phản ánh hiện trường và trao đổi dữ liệu",
         "Field reports and data exchange", second),
    ):  # fmt: skip
        dashboard_service.create(
            session,
            DashboardCreate(
                slug=slug,
                title_vi=title_vi,
                title_en=title_en,
                unit=DEMO_PROVINCE,
                rotation_seconds=30,
                owner_organisation=owner,
                panels=panels,
            ),
        )
    session.flush()
    if progress:
        progress("monitoring: dashboards", 2)
