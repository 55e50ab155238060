"""Two alert rules for the demo, on Bắc Ninh (current province 24, where the demo's legacy
Bắc Giang values are re-aggregated): e-payment accounts below 50 % of the population and
mobile data below 15 GB a month per subscription in 2024. Both hold in the demo's synthetic
2024 values (44 % and about 12.4 GB), so the demo's alert page and map badge show open alerts once evaluated."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from tinhso.monitoring.alerts.models import AlertRule
from tinhso.monitoring.alerts.schemas import RuleCreate
from tinhso.monitoring.alerts.service import alert_service
from tinhso.monitoring.repository import indicator_by_code

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DEMO_RULES = [
    {
        "code": "demo-thanh-toan-dien-tu",
        "name_vi": "Tài khoản thanh toán điện tử dưới 50% dân số",
        "name_en": "E-payment accounts below 50% of the population",
        "kind": "threshold",
        "indicator_code": "e_payment_account_rate",
        "scope_unit": {"unit_set": "current", "code": "24"},
        "period": "2024",
        "operator": "<",
        "threshold": 50,
        "cooldown_hours": 24,
    },
    {
        "code": "demo-du-lieu-di-dong",
        "name_vi": "Dữ liệu di động bình quân dưới 15 GB/tháng/thuê bao",
        "name_en": "Mobile data below 15 GB a month per subscription",
        "kind": "threshold",
        "indicator_code": "mobile_data_per_subscriber",
        "scope_unit": {"unit_set": "current", "code": "24"},
        "period": "2024",
        "operator": "<",
        "threshold": 15,
        "cooldown_hours": 24,
    },
]


REPORT_RULE = {
    "code": "demo-phan-anh-tre-han",
    "name_vi": "Phản ánh hiện trường trễ hạn trên 20% trong tháng",
    "name_en": "More than 20% of field reports late this month",
    "kind": "reports_late_share",
    "scope_unit": {"unit_set": "current", "code": "24"},
    "scope_level": "commune",
    "threshold": 20,
    "cooldown_hours": 24,
}


def load_report_alert_demo(session: Session) -> int:
    """The demo's late-share rule on Bắc Ninh's communes (idempotent; needs the reports
    domain's figures registered: ``tinhso.demo.load_demo`` does it), evaluated once: the
    number of alerts opened."""
    if session.scalar(select(AlertRule.id).where(AlertRule.code == REPORT_RULE["code"])) is None:
        alert_service.create_rule(session, RuleCreate.model_validate(REPORT_RULE))
    return alert_service.evaluate(session).opened


def load_alert_demo(session: Session) -> int:
    """The demo's rules (idempotent), evaluated once: the number of alerts opened."""
    for rule in DEMO_RULES:
        if indicator_by_code(session, str(rule["indicator_code"])) is None:
            continue
        if session.scalar(select(AlertRule.id).where(AlertRule.code == rule["code"])) is None:
            alert_service.create_rule(session, RuleCreate.model_validate(rule))
    return alert_service.evaluate(session).opened
