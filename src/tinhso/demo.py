"""Demo data for a first look: every domain's demo loader, in dependency order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.exchange.demo import load_exchange_demo
from tinhso.monitoring.alerts.demo import load_report_alert_demo
from tinhso.monitoring.dashboards.demo import load_dashboard_demo
from tinhso.monitoring.demo import load_monitoring_demo
from tinhso.opendata.demo import load_opendata_demo
from tinhso.registry.demo import load_registry_demo
from tinhso.reports.demo import load_reports_demo
from tinhso.reports.figures.provider import install as install_report_figures

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from tinhso.core.storage import FileStore


def load_demo(
    session: Session,
    admin_password: str,
    progress: Callable[[str, int], None] | None = None,
    files: FileStore | None = None,
) -> None:
    """``files``: where the open data demo stores its files (None: no file datasets)."""
    load_registry_demo(session, admin_password, progress)
    load_exchange_demo(session, progress)
    load_monitoring_demo(session, progress)
    load_opendata_demo(session, files, progress)
    load_reports_demo(session, progress)
    install_report_figures()  # the dashboards' field-report panel and the demo's late-share rule
    load_dashboard_demo(session, progress)  # its panels show field reports and exchanges
    opened = load_report_alert_demo(session)  # the late share of field reports per commune
    if progress:
        progress("monitoring: field-report alert rule (alerts opened)", opened)
