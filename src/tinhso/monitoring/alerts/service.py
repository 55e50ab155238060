"""Alert rules and their evaluation.

`evaluate` runs every enabled rule: it finds the units of the rule's scope whose condition
holds for the rule's period (plan progress's status for ``behind_trajectory``, the computed
indicator value for ``threshold``, the reporting status past the period's end and
``due_days`` working days for ``missing_value``, the field reports' late share over the rule's
window for ``reports_late_share``, read through ``monitoring.field_reports``), opens an alert for each that has none open, unless the
last one for the same (rule, unit, period) was resolved less than the rule's cool-down ago,
resolves the open alerts whose condition has cleared, and queues one e-mail per recipient
when an alert opens (sent by the ``core.mail`` job). Recipients are the officials holding
one of the rule's roles in the organisations tied to the unit, or, where none is tied to it,
to the rule's scope unit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tinhso.core import mail
from tinhso.core.calendar import VIETNAM, load_calendar
from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, InvalidInput, NotFound
from tinhso.core.pagination import PageParams
from tinhso.monitoring import field_reports, repository
from tinhso.monitoring.alerts.models import Alert, AlertKind, AlertRule, AlertState
from tinhso.monitoring.alerts.schemas import AlertOut, Evaluation, RuleCreate, RuleOut, RuleUpdate
from tinhso.monitoring.computation.effective_values import Tree
from tinhso.monitoring.computation.specs import element_specs, indicator_spec
from tinhso.monitoring.models import Comparison, Indicator
from tinhso.monitoring.periods import parse_period
from tinhso.monitoring.progress.service import progress_service
from tinhso.monitoring.progress.trajectory import STATUS_TEXT, meets
from tinhso.monitoring.submissions import reporting_status
from tinhso.registry.accounts import account_service
from tinhso.registry.models import Role, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import UnitNode, unit_service

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

OFF_TRACK = frozenset({"behind", "not_achieved"})
KIND_TEXT: dict[AlertKind, tuple[str, str]] = {
    AlertKind.BEHIND_TRAJECTORY: ("Chậm tiến độ hoặc không đạt chỉ tiêu", "Behind or not achieved"),
    AlertKind.THRESHOLD: ("Vượt ngưỡng", "Threshold crossed"),
    AlertKind.MISSING_VALUE: (
        "Chưa có số liệu khi đã quá hạn báo cáo",
        "No value by the reporting due date",
    ),
    AlertKind.REPORTS_LATE_SHARE: (
        "Tỷ lệ phản ánh hiện trường trễ hạn vượt ngưỡng",
        "Late share of field reports above the threshold",
    ),
}
# What a reports_late_share rule's share is (the rule's help text, the API's description).
LATE_SHARE_DEFINITION = (
    (
        "Tỷ lệ trễ hạn = (phản ánh xử lý trễ hạn trong khoảng thời gian + phản ánh chưa xử lý xong "
        "khi hết khoảng mà đã quá hạn) / (phản ánh đã xử lý trong khoảng + phản ánh chưa xử lý xong "
        "khi hết khoảng), tính trực tiếp từ phản ánh hiện trường của đơn vị và các đơn vị trực thuộc"
    ),
    (
        "Late share = (reports handled late in the window + reports still open at its end past "
        "their deadline) / (reports handled in the window + reports still open at its end), live "
        "from the field reports of the unit and the units below it"
    ),
)


@dataclass(frozen=True)
class Breach:
    value: float | None
    status: str | None


def _rule_not_found(code: str) -> NotFound:
    return NotFound(
        f"Không tìm thấy quy tắc cảnh báo {code}", f"Alert rule {code} not found", field="code"
    )


def _check_threshold(kind: AlertKind, operator: Comparison | None, threshold: float | None) -> None:
    if kind is AlertKind.THRESHOLD and (operator is None or threshold is None):
        raise InvalidInput(
            "Quy tắc ngưỡng cần toán tử (operator) và giá trị ngưỡng (threshold)",
            "A threshold rule needs an operator and a threshold value",
            field="threshold",
        )
    if kind is AlertKind.REPORTS_LATE_SHARE and (threshold is None or not 0 <= threshold < 100):
        raise InvalidInput(
            "Quy tắc tỷ lệ phản ánh trễ hạn cần ngưỡng phần trăm (threshold) từ 0 đến dưới 100",
            "A late-share rule needs a threshold in percent (threshold) from 0 to below 100",
            field="threshold",
        )


def window_of(rule: AlertRule, moment: datetime) -> tuple[str, datetime, datetime]:
    """A reports_late_share rule's window at a moment: its key (the alert's period: the month
    2026-12, or 30d for the last 30 days) and its bounds [start, end) (end: the moment)."""
    local = moment.astimezone(VIETNAM)
    if rule.window_days is None:
        start = datetime(local.year, local.month, 1, tzinfo=VIETNAM)
        return f"{local:%Y-%m}", start, moment
    return f"{rule.window_days}d", moment - timedelta(days=rule.window_days), moment


def missing_value_due(session: Session, period: str, due_days: int) -> date:
    """The last day a missing_value rule waits: the period's end plus ``due_days`` working
    days of the one working calendar (weekends, public holidays, decided days)."""
    return load_calendar(session).add_working_days(parse_period(period).end, due_days)


class AlertService:
    # -- rules -----------------------------------------------------------------------------
    def rule(self, session: Session, code: str) -> AlertRule:
        found = session.scalar(select(AlertRule).where(AlertRule.code == code))
        if found is None:
            raise _rule_not_found(code)
        return found

    def rules(self, session: Session) -> list[RuleOut]:
        found = list(session.scalars(select(AlertRule).order_by(AlertRule.code)))
        indicators = repository.indicators_by_ids(session, _indicator_ids(found))
        nodes = unit_service.nodes(session, {r.scope_unit_id for r in found})
        return [
            self._out(rule, _indicator(indicators, rule), nodes[rule.scope_unit_id])
            for rule in found
        ]

    def rule_out(self, session: Session, rule: AlertRule) -> RuleOut:
        indicators = repository.indicators_by_ids(session, _indicator_ids([rule]))
        node = unit_service.nodes(session, [rule.scope_unit_id])[rule.scope_unit_id]
        return self._out(rule, _indicator(indicators, rule), node)

    def _out(self, rule: AlertRule, indicator: Indicator | None, scope: UnitNode) -> RuleOut:
        return RuleOut(
            code=rule.code,
            name_vi=rule.name_vi,
            name_en=rule.name_en,
            kind=rule.kind,
            indicator_code=indicator.code if indicator else None,
            scope_unit=UnitRef(unit_set=scope.unit_set, code=scope.code),
            scope_level=rule.scope_level,
            period=rule.period,
            operator=rule.operator,
            threshold=rule.threshold,
            cooldown_hours=rule.cooldown_hours,
            due_days=rule.due_days,
            window_days=rule.window_days,
            recipient_roles=list(rule.recipient_roles),
            enabled=rule.enabled,
        )

    def create_rule(self, session: Session, data: RuleCreate) -> AlertRule:
        if session.scalar(select(AlertRule.id).where(AlertRule.code == data.code)) is not None:
            raise Conflict(
                f"Đã có quy tắc cảnh báo {data.code}",
                f"Alert rule {data.code} already exists",
                field="code",
            )
        indicator_id = self._check_subject(session, data)
        if data.scope_unit.unit_set is not UnitSet.CURRENT:
            raise InvalidInput(
                "Phạm vi cảnh báo phải là đơn vị hành chính hiện hành",
                "An alert's scope must be a current administrative unit",
                field="scope_unit",
            )
        scope = unit_service.resolve(session, data.scope_unit, "scope_unit")
        unit_service.check_level(UnitSet.CURRENT, data.scope_level)
        if data.period is not None:
            parse_period(data.period)
        _check_threshold(data.kind, data.operator, data.threshold)
        rule = AlertRule(
            code=data.code,
            name_vi=data.name_vi,
            name_en=data.name_en,
            kind=data.kind,
            indicator_id=indicator_id,
            scope_unit_id=scope.id,
            scope_level=data.scope_level,
            period=data.period,
            operator=data.operator,
            threshold=data.threshold,
            cooldown_hours=data.cooldown_hours,
            due_days=data.due_days,
            window_days=data.window_days,
            recipient_roles=sorted({role.value for role in data.recipient_roles}),
            enabled=data.enabled,
        )
        session.add(rule)
        session.flush()
        return rule

    def _check_subject(self, session: Session, data: RuleCreate) -> int | None:
        """The indicator a rule watches; a field-report rule watches none and needs the
        reports domain's figures in this process."""
        if data.kind is AlertKind.REPORTS_LATE_SHARE:
            field_reports.require(field="kind")
            if data.indicator_code is not None:
                raise InvalidInput(
                    "Quy tắc tỷ lệ phản ánh trễ hạn không theo dõi chỉ số nào: bỏ trống chỉ số",
                    "A late-share rule watches no indicator: leave the indicator out",
                    field="indicator_code",
                )
            if data.period is not None:
                raise InvalidInput(
                    "Quy tắc tỷ lệ phản ánh trễ hạn dùng khoảng thời gian (tháng này hoặc "
                    "window_days ngày gần nhất), không dùng kỳ báo cáo",
                    "A late-share rule uses a window (this month or the last window_days "
                    "days), not a period",
                    field="period",
                )
            return None
        if data.indicator_code is None:
            raise InvalidInput(
                "Quy tắc này cần một chỉ số", "This rule needs an indicator", field="indicator_code"
            )
        indicator = repository.indicator_by_code(session, data.indicator_code)
        if indicator is None:
            raise InvalidInput(
                f"Không tìm thấy chỉ số {data.indicator_code}",
                f"Indicator {data.indicator_code} not found",
                field="indicator_code",
            )
        return indicator.id

    def update_rule(self, session: Session, rule: AlertRule, data: RuleUpdate) -> AlertRule:
        changes = data.model_dump(exclude_unset=True)
        if "recipient_roles" in changes and data.recipient_roles is not None:
            changes["recipient_roles"] = sorted({role.value for role in data.recipient_roles})
        for name, value in changes.items():
            if value is None and name not in {"name_en", "window_days"}:
                continue
            setattr(rule, name, value)
        _check_threshold(rule.kind, rule.operator, rule.threshold)
        session.flush()
        return rule

    def delete_rule(self, session: Session, rule: AlertRule) -> None:
        session.delete(rule)
        session.flush()

    # -- alerts ----------------------------------------------------------------------------
    def alerts(
        self,
        session: Session,
        params: PageParams,
        unit: UnitRef | None = None,
        indicator: str | None = None,
        state: AlertState | None = None,
    ) -> tuple[list[AlertOut], int]:
        """A page of alerts, newest first (of a unit and the units below it, of an indicator,
        in a state), with a constant number of statements."""
        query = select(Alert, AlertRule).join(AlertRule, AlertRule.id == Alert.rule_id)
        if unit is not None:
            node = unit_service.resolve(session, unit, "unit")
            query = query.where(Alert.unit_id.in_(unit_service.descendant_ids(session, [node.id])))
        if indicator is not None:
            found = repository.indicator_by_code(session, indicator)
            if found is None:
                return [], 0
            query = query.where(AlertRule.indicator_id == found.id)
        if state is not None:
            query = query.where(Alert.state == state)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(
            query.order_by(Alert.opened_at.desc(), Alert.id.desc())
            .limit(params.limit)
            .offset(params.offset)
        ).all()
        indicators = repository.indicators_by_ids(session, _indicator_ids(r for _, r in rows))
        nodes = unit_service.nodes(session, {alert.unit_id for alert, _ in rows})
        items = [
            AlertOut(
                id=alert.id,
                rule_code=rule.code,
                rule_name_vi=rule.name_vi,
                rule_name_en=rule.name_en,
                kind=rule.kind,
                indicator_code=getattr(_indicator(indicators, rule), "code", None),
                indicator_name_vi=getattr(_indicator(indicators, rule), "name_vi", None),
                indicator_name_en=getattr(_indicator(indicators, rule), "name_en", None),
                unit=UnitRef(
                    unit_set=nodes[alert.unit_id].unit_set, code=nodes[alert.unit_id].code
                ),
                unit_name=nodes[alert.unit_id].name,
                period=alert.period,
                state=alert.state,
                value_seen=alert.value_seen,
                status_seen=alert.status_seen,
                opened_at=alert.opened_at,
                resolved_at=alert.resolved_at,
            )
            for alert, rule in rows
            if alert.unit_id in nodes
        ]
        return items, total

    def open_count(self, session: Session, unit: UnitRef | None = None) -> int:
        """How many alerts are open for a unit and the units below it, or everywhere (the
        badge on a unit's page)."""
        query = select(func.count(Alert.id)).where(Alert.state == AlertState.OPEN)
        if unit is not None:
            node = unit_service.resolve(session, unit, "unit")
            query = query.where(Alert.unit_id.in_(unit_service.descendant_ids(session, [node.id])))
        return session.scalar(query) or 0

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, session: Session, now: datetime | None = None) -> Evaluation:
        """Evaluate every enabled rule once (see the module's text)."""
        moment = now or utcnow()
        result = Evaluation()
        rules = list(
            session.scalars(
                select(AlertRule).where(AlertRule.enabled.is_(True)).order_by(AlertRule.id)
            )
        )
        if not rules:
            return result
        indicators = repository.indicators_by_ids(session, _indicator_ids(rules))
        tied: dict[int, list[int]] = {}
        for organisation in organisation_service.list_all(session):
            if organisation.administrative_unit_id is not None:
                tied.setdefault(organisation.administrative_unit_id, []).append(organisation.id)
        for rule in rules:
            if rule.kind is AlertKind.REPORTS_LATE_SHARE and field_reports.provider() is None:
                # Refused at creation; a process without the reports domain says so.
                logger.warning("alert rule %s skipped: no field-report figures", rule.code)
                continue
            self._evaluate_rule(session, rule, _indicator(indicators, rule), tied, moment, result)
        session.flush()
        return result

    def _scope(self, session: Session, rule: AlertRule) -> list[int]:
        if rule.scope_level is None:
            return [rule.scope_unit_id]
        key = (UnitSet.CURRENT, rule.scope_level, rule.scope_unit_id)
        return unit_service.ids_at_levels(session, {key})[key]

    def _breaches(
        self,
        session: Session,
        rule: AlertRule,
        indicator: Indicator | None,
        period: str,
        units: list[int],
        moment: datetime,
    ) -> dict[int, Breach]:
        if rule.kind is AlertKind.REPORTS_LATE_SHARE:
            return self._late_share(session, rule, units, moment)
        assert indicator is not None  # noqa: S101 - every other kind names an indicator
        if rule.kind is AlertKind.MISSING_VALUE:
            return self._missing(session, indicator, period, units, rule.due_days, moment)
        if rule.kind is AlertKind.BEHIND_TRAJECTORY:
            achievements = progress_service.unit_achievements(
                session, indicator, period, Tree.CURRENT, units
            )
            return {
                unit_id: Breach(found.actual, found.status)
                for unit_id, found in achievements.items()
                if found.status in OFF_TRACK
            }
        if rule.operator is None or rule.threshold is None:
            return {}
        node = unit_service.nodes(session, [rule.scope_unit_id])[rule.scope_unit_id]
        scope = UnitRef(unit_set=node.unit_set, code=node.code)
        if rule.scope_level is None:
            computed = progress_service.indicator_values(
                session, indicator, [period], Tree.CURRENT, units=[scope]
            )
        else:
            computed = progress_service.indicator_values(
                session, indicator, [period], Tree.CURRENT, level=rule.scope_level, parent=scope
            )
        ids = repository.unit_ids_by_ref(
            session, [(UnitSet(value.unit.unit_set), value.unit.code) for value in computed]
        )
        wanted = set(units)
        found: dict[int, Breach] = {}
        for value in computed:
            unit_id = ids.get((UnitSet(value.unit.unit_set), value.unit.code))
            if (
                unit_id in wanted
                and value.value is not None
                and meets(value.value, rule.threshold, rule.operator)
            ):
                found[unit_id] = Breach(value.value, None)
        return found

    def _late_share(
        self, session: Session, rule: AlertRule, units: list[int], moment: datetime
    ) -> dict[int, Breach]:
        """The units whose field reports' late share over the rule's window is above the
        rule's threshold (see LATE_SHARE_DEFINITION); the value seen is the share in %."""
        if rule.threshold is None:
            return {}
        _key, start, end = window_of(rule, moment)
        counts = field_reports.require().counts(session, units, start, end)
        found: dict[int, Breach] = {}
        for unit_id, counted in counts.items():
            share = counted.late_share
            if share is not None and share > rule.threshold:
                found[unit_id] = Breach(round(share, 2), None)
        return found

    def _missing(
        self,
        session: Session,
        indicator: Indicator,
        period: str,
        units: list[int],
        due_days: int,
        moment: datetime,
    ) -> dict[int, Breach]:
        """The units that have not filled every data element the indicator reads, once the
        period has ended and ``due_days`` more working days have passed (core.calendar's
        working days, Vietnam's date); the value seen is how many of those elements the unit
        has filled."""
        due = missing_value_due(session, period, due_days)
        if moment.astimezone(VIETNAM).date() <= due:
            return {}
        wanted = indicator_spec(indicator).formula.elements
        elements = [spec.id for spec in element_specs(session) if spec.code in wanted]
        return {
            status.unit_id: Breach(float(status.filled), None)
            for status in reporting_status(session, units, period, elements)
            if status.filled < status.expected
        }

    def _evaluate_rule(
        self,
        session: Session,
        rule: AlertRule,
        indicator: Indicator | None,
        tied: dict[int, list[int]],
        moment: datetime,
        result: Evaluation,
    ) -> None:
        period = self._period_of(session, rule, moment, result)
        units = self._scope(session, rule)
        breaches = self._breaches(session, rule, indicator, period, units, moment)
        fresh = self._settle(session, rule, period, breaches, moment, result)
        if fresh:
            self._open(session, rule, indicator, tied, period, fresh, breaches, moment, result)

    def _period_of(
        self, session: Session, rule: AlertRule, moment: datetime, result: Evaluation
    ) -> str:
        """The period the rule looks at. Without a period of its own: this year, or for
        missing values the last year that has ended; field reports: the window's key (this
        month, or the last N days), and a window that has moved on resolves its open alerts."""
        if rule.kind is not AlertKind.REPORTS_LATE_SHARE:
            this_year = moment.astimezone(VIETNAM).year
            return rule.period or str(
                this_year - 1 if rule.kind is AlertKind.MISSING_VALUE else this_year
            )
        period = window_of(rule, moment)[0]
        for stale in session.scalars(
            select(Alert).where(
                Alert.rule_id == rule.id, Alert.period != period, Alert.state == AlertState.OPEN
            )
        ):
            stale.state = AlertState.RESOLVED
            stale.resolved_at = moment
            result.resolved += 1
        return period

    def _settle(
        self,
        session: Session,
        rule: AlertRule,
        period: str,
        breaches: dict[int, Breach],
        moment: datetime,
        result: Evaluation,
    ) -> list[int]:
        """Resolve the open alerts whose unit no longer breaches; answer the breaching units
        that need a new alert (none open, and not inside the cool-down of the last one)."""
        history = list(
            session.scalars(select(Alert).where(Alert.rule_id == rule.id, Alert.period == period))
        )
        open_alerts = {a.unit_id: a for a in history if a.state is AlertState.OPEN}
        last_resolved: dict[int, datetime] = {}
        for alert in history:
            if alert.resolved_at is not None:
                previous = last_resolved.get(alert.unit_id)
                if previous is None or alert.resolved_at > previous:
                    last_resolved[alert.unit_id] = alert.resolved_at
        for unit_id, alert in open_alerts.items():
            if unit_id not in breaches:
                alert.state = AlertState.RESOLVED
                alert.resolved_at = moment
                result.resolved += 1
        cooldown = timedelta(hours=rule.cooldown_hours)
        return [
            unit_id
            for unit_id in breaches
            if unit_id not in open_alerts
            and not (unit_id in last_resolved and moment < last_resolved[unit_id] + cooldown)
        ]

    def _open(
        self,
        session: Session,
        rule: AlertRule,
        indicator: Indicator | None,
        tied: dict[int, list[int]],
        period: str,
        fresh: list[int],
        breaches: dict[int, Breach],
        moment: datetime,
        result: Evaluation,
    ) -> None:
        """Open an alert per fresh unit and mail it to the responsible officials of the
        unit's organisations (or of the rule's scope)."""
        nodes = unit_service.nodes(session, set(fresh) | {rule.scope_unit_id})
        roles = frozenset(Role(role) for role in rule.recipient_roles)
        for unit_id in fresh:
            breach = breaches[unit_id]
            alert = Alert(
                rule_id=rule.id,
                unit_id=unit_id,
                period=period,
                state=AlertState.OPEN,
                value_seen=breach.value,
                status_seen=breach.status,
                opened_at=moment,
            )
            session.add(alert)
            result.opened += 1
            organisations = tied.get(unit_id) or tied.get(rule.scope_unit_id) or []
            recipients = sorted(
                {
                    email
                    for organisation_id in organisations
                    for email in account_service.emails_in(session, organisation_id, roles)
                }
            )
            node = nodes.get(unit_id)
            if node is None:
                continue
            for recipient in recipients:
                mail.queue(session, self._mail(rule, indicator, node, period, breach, recipient))
                alert.notified += 1
                result.mailed += 1

    def _mail(
        self,
        rule: AlertRule,
        indicator: Indicator | None,
        node: UnitNode,
        period: str,
        breach: Breach,
        recipient: str,
    ) -> mail.Mail:
        kind_vi, kind_en = KIND_TEXT[rule.kind]
        seen_vi = seen_en = "—"
        if rule.kind is AlertKind.MISSING_VALUE:
            filled = int(breach.value or 0)
            seen_vi = f"mới nhập {filled} chỉ tiêu dữ liệu, chưa đủ"
            seen_en = f"{filled} data elements filled, not all"
        elif rule.kind is AlertKind.REPORTS_LATE_SHARE:
            seen_en = f"{breach.value or 0:,.1f} % late"
            seen_vi = f"{breach.value or 0:.1f}".replace(".", ",") + " % trễ hạn"
        elif breach.value is not None:
            # Vietnamese 1.380,50; English 1,380.50 (the portal's number formats)
            seen_en = f"{breach.value:,.2f}"
            seen_vi = seen_en.replace(",", " ").replace(".", ",").replace(" ", ".")
        if breach.status is not None:
            status_vi, status_en = STATUS_TEXT.get(breach.status, (breach.status, breach.status))  # type: ignore[call-overload]
            seen_vi, seen_en = f"{seen_vi} ({status_vi})", f"{seen_en} ({status_en})"
        condition_vi = condition_en = ""
        if rule.kind is AlertKind.THRESHOLD:
            condition_vi = f" (ngưỡng {rule.operator} {rule.threshold:g})"
            condition_en = f" (threshold {rule.operator} {rule.threshold:g})"
        if rule.kind is AlertKind.REPORTS_LATE_SHARE:
            threshold = f"{rule.threshold or 0:g}"
            condition_vi = f" (ngưỡng {threshold.replace('.', ',')} %)"
            condition_en = f" (threshold {threshold} %)"
        if indicator is None:  # field reports
            subject_vi, subject_en = "Phản ánh hiện trường", "Field reports"
            window_vi = (
                f"{rule.window_days} ngày gần nhất" if rule.window_days else f"tháng {period}"
            )
            window_en = f"the last {rule.window_days} days" if rule.window_days else period
            return mail.Mail(
                "monitoring",
                f"alert:{rule.code}:{node.code}:{period}",
                "alert_opened",
                recipient,
                f"Cảnh báo: {subject_vi} – {node.name}, {window_vi} / Alert: {subject_en} – "
                f"{node.name}, {window_en}",
                f"Quy tắc «{rule.name_vi}»: {kind_vi}{condition_vi}.\n"
                f"{subject_vi}, {node.name}, {window_vi}: {seen_vi}.\n"
                f"{LATE_SHARE_DEFINITION[0]}.\n\n"
                f"Rule “{rule.name_en or rule.name_vi}”: {kind_en}{condition_en}.\n"
                f"{subject_en}, {node.name}, {window_en}: {seen_en}.\n"
                f"{LATE_SHARE_DEFINITION[1]}.\n",
                f"/monitoring/alerts?unit=current:{node.code}",
            )
        return mail.Mail(
            "monitoring",
            f"alert:{rule.code}:{node.code}:{period}",
            "alert_opened",
            recipient,
            f"Cảnh báo: {indicator.name_vi} – {node.name}, kỳ {period} / Alert: "
            f"{indicator.name_en or indicator.name_vi} – {node.name}, {period}",
            f"Quy tắc «{rule.name_vi}»: {kind_vi}{condition_vi}.\n"
            f"Chỉ số {indicator.name_vi}, {node.name}, kỳ {period}: {seen_vi}.\n\n"
            f"Rule “{rule.name_en or rule.name_vi}”: {kind_en}{condition_en}.\n"
            f"Indicator {indicator.name_en or indicator.name_vi}, {node.name}, {period}: "
            f"{seen_en}.\n",
            f"/monitoring/alerts?unit=current:{node.code}",
        )


def _indicator_ids(rules: Iterable[AlertRule]) -> set[int]:
    return {rule.indicator_id for rule in rules if rule.indicator_id is not None}


def _indicator(indicators: dict[int, Indicator], rule: AlertRule) -> Indicator | None:
    return indicators.get(rule.indicator_id) if rule.indicator_id is not None else None


alert_service = AlertService()
