"""The demo's dashboards, with every domain's demo loaded as ``tinhso demo`` loads it: "Tổng
quan tỉnh" and the field-report and exchange dashboard of Bắc Ninh, every panel computed
(none with an error), the map coloured by the field reports the reports demo published per
commune, the live field-report panel; the late-share alert rule; loading again adds nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tinhso.demo import load_demo
from tinhso.monitoring.alerts.demo import REPORT_RULE
from tinhso.monitoring.alerts.models import AlertKind
from tinhso.monitoring.alerts.service import alert_service
from tinhso.monitoring.dashboards.demo import OVERVIEW, REPORTS
from tinhso.monitoring.dashboards.models import Dashboard, KioskLink
from tinhso.monitoring.dashboards.service import dashboard_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def test_the_demo_dashboards_show_every_panel(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        load_demo(session, "mat-khau-demo-thu-nghiem-1")
    with sessions.begin() as session:
        load_demo(session, "mat-khau-demo-thu-nghiem-1")  # idempotent
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Dashboard)) == 2
        # No kiosk link: a live link in demo data would open the screens to anyone.
        assert session.scalar(select(func.count()).select_from(KioskLink)) == 0
        overview = dashboard_service.get(session, OVERVIEW)
        assert overview.title_vi == "Tổng quan tỉnh"
        for slug in (OVERVIEW, REPORTS):
            found = dashboard_service.view(session, dashboard_service.get(session, slug))
            assert found.unit.code == "24"
            assert [p.error for p in found.panels if p.error] == [], slug
            kinds = [p.panel.kind for p in found.panels]
            assert "map" in kinds and "exchange" in kinds, kinds
        shown = dashboard_service.view(session, overview)
        mapped = next(p for p in shown.panels if p.panel.kind == "map").data
        assert mapped is not None and mapped["synthetic"] is True
        values = [f["properties"]["value"] for f in mapped["geojson"]["features"]]
        assert sum(1 for v in values if v) >= 5  # field reports received in many communes
        kpi = next(p for p in shown.panels if p.panel.kind == "kpi").data
        assert kpi is not None and kpi["value"] is not None and kpi["status"] is not None
        # Live field-report counts (the reports domain's figures, registered by load_demo)
        # and the demo's late-share rule over Bắc Ninh's communes.
        reports = next(p for p in shown.panels if p.panel.kind == "field_reports").data
        assert reports is not None and len(reports["trend"]) == 6
        assert sum(month["received"] for month in reports["trend"]) > 0
        rule = alert_service.rule(session, str(REPORT_RULE["code"]))
        assert rule.kind is AlertKind.REPORTS_LATE_SHARE and rule.indicator_id is None
