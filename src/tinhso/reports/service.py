"""Field reports: submitting, the officers' actions, the reporter's rating and reopening.

Every change is one :class:`ReportEvent` in the same transaction as the change itself, so
the timeline is exactly what happened. Deadlines come from :mod:`tinhso.reports.handling.deadlines`
on the working calendar the caller passes in (``core.calendar.load_calendar``).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy import func, select

from tinhso.core.calendar import VIETNAM
from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tinhso.core.text import control_character
from tinhso.monitoring.maps.boundaries import unit_at
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import require_administrator, require_officer
from tinhso.registry.organisations import organisation_service
from tinhso.reports import notifications
from tinhso.reports.handling import routing
from tinhso.reports.handling.states import CLOSED_STATES, STATE_NAMES, TRANSITIONS, Action, Who
from tinhso.reports.models import (
    Channel,
    Rating,
    Report,
    ReportCategory,
    ReportEvent,
    ReportState,
)
from tinhso.reports.open311.attributes import checked_attributes
from tinhso.reports.places import place_of

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

    from tinhso.core.calendar import WorkingCalendar
    from tinhso.registry.auth import Principal
    from tinhso.reports.handling.deadlines import DeadlinePolicy

MAX_DESCRIPTION = 4000
# What the operations centre does with a report no route matched.
TRIAGE_ACTIONS = frozenset({Action.REROUTE, Action.REFUSE, Action.MARK_DUPLICATE})
MAX_NOTE = 4000


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Submission:
    category_code: str
    description: str
    channel: Channel
    latitude: float | None = None
    longitude: float | None = None
    address: str = ""
    unit_code: str | None = None
    unit_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    reporter_name: str = ""
    reporter_email: str = ""
    reporter_phone: str = ""
    reporter_public: bool = False
    api_key_id: int | None = None
    synthetic: bool = False


@dataclass(frozen=True)
class Submitted:
    report: Report
    reporter_key: str  # shown once: it lets the reporter rate the answer or reopen


@dataclass(frozen=True)
class Step:
    """An officer's action on a report, with what it needs."""

    action: Action
    note: str = ""  # the reason, or the public answer
    assignee: str | None = None  # a username (assign)
    organisation_code: str | None = None  # the new organisation (reroute)
    duplicate_of: str | None = None  # a report code (mark_duplicate)
    extra_working_days: int | None = None  # extend


def _text(value: str, limit: int, field_name: str, vi: str, en: str) -> str:
    """Plain text, stripped, at most ``limit`` characters, with no control character (line
    breaks and tabs allowed)."""
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(
            f"{vi} dài quá {limit} ký tự ({len(value)})",
            f"{en} is longer than {limit} characters ({len(value)})",
            field=field_name,
        )
    found = control_character(value, multiline=True)
    if found is not None:
        raise InvalidInput(
            f"{vi} chứa ký tự điều khiển {found}",
            f"{en} contains the control character {found}",
            field=field_name,
        )
    return value


_EMAIL = TypeAdapter(EmailStr)


def email_address(value: str) -> str:
    value = _text(value, 254, "email", "Thư điện tử", "The e-mail address")
    if not value:
        return ""
    try:
        _EMAIL.validate_python(value)
    except ValidationError:
        raise InvalidInput(
            f"“{value}” không phải địa chỉ thư điện tử",
            f"“{value}” is not an e-mail address",
            field="email",
        ) from None
    return value


def _coordinates(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        raise InvalidInput(
            "Vị trí cần cả vĩ độ và kinh độ",
            "A location needs both latitude and longitude",
            field="lat" if latitude is None else "long",
        )
    if latitude is None or longitude is None:
        return
    if not (math.isfinite(latitude) and -90 <= latitude <= 90):
        raise InvalidInput(
            "Vĩ độ phải trong khoảng -90 đến 90", "Latitude must be within -90 and 90", field="lat"
        )
    if not (math.isfinite(longitude) and -180 <= longitude <= 180):
        raise InvalidInput(
            "Kinh độ phải trong khoảng -180 đến 180",
            "Longitude must be within -180 and 180",
            field="long",
        )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


class ReportService:
    # -- categories ---------------------------------------------------------------------------
    def categories(self, session: Session, *, active_only: bool = True) -> list[ReportCategory]:
        query = select(ReportCategory).order_by(ReportCategory.id)
        if active_only:
            query = query.where(ReportCategory.active.is_(True))
        return list(session.scalars(query))

    def category(
        self, session: Session, code: str, field_name: str = "service_code"
    ) -> ReportCategory:
        found = session.scalar(select(ReportCategory).where(ReportCategory.code == code))
        if found is None or not found.active:
            raise NotFound(
                f"Không có loại phản ánh “{code}”",
                f"There is no report category “{code}”",
                field=field_name,
            )
        return found

    def category_by_id(self, session: Session, category_id: int) -> ReportCategory:
        return session.get_one(ReportCategory, category_id)

    def categories_by_id(
        self, session: Session, category_ids: Iterable[int]
    ) -> dict[int, ReportCategory]:
        """The categories of many reports, in one query (retired ones too)."""
        wanted = set(category_ids)
        if not wanted:
            return {}
        found = session.scalars(select(ReportCategory).where(ReportCategory.id.in_(wanted)))
        return {category.id: category for category in found}

    # -- reports ------------------------------------------------------------------------------
    def get(self, session: Session, code: str) -> Report:
        found = session.scalar(select(Report).where(Report.code == code))
        if found is None:
            raise NotFound(
                f"Không có phản ánh mã {code}",
                f"There is no report with the code {code}",
                field="service_request_id",
            )
        return found

    def submit(
        self,
        session: Session,
        submission: Submission,
        calendar: WorkingCalendar,
        policy: DeadlinePolicy,
        now: datetime | None = None,
    ) -> Submitted:
        now = now or utcnow()
        category = self.category(session, submission.category_code)
        description = _text(
            submission.description, MAX_DESCRIPTION, "description", "Nội dung", "The description"
        )
        if not description:
            raise InvalidInput(
                "Hãy mô tả nội dung phản ánh", "Please describe the problem", field="description"
            )
        _coordinates(submission.latitude, submission.longitude)
        address = _text(submission.address, 500, "address_string", "Địa chỉ", "The address")
        place = place_of(session, submission.unit_code, submission.unit_name)
        if place is None and submission.latitude is None and not address:
            raise InvalidInput(
                "Cần vị trí: chọn trên bản đồ, nhập địa chỉ hoặc chọn đơn vị hành chính",
                "A location is needed: a point, an address or an administrative unit",
                field="lat",
            )
        attributes = checked_attributes(category.attributes, submission.attributes)
        unit_id = place.unit.id if place else None
        if unit_id is None and submission.latitude is not None and submission.longitude is not None:
            # A point only: the commune whose uploaded boundary holds it (never a synthetic one).
            unit_id = unit_at(session, submission.longitude, submission.latitude)
        key = secrets.token_urlsafe(18)
        report = Report(
            code=f"tmp-{secrets.token_hex(8)}",
            category_id=category.id,
            description=description,
            latitude=submission.latitude,
            longitude=submission.longitude,
            address=address,
            unit_id=unit_id,
            unit_as_typed=place.as_typed if place else "",
            attributes=attributes,
            channel=submission.channel,
            api_key_id=submission.api_key_id,
            reporter_name=_text(submission.reporter_name, 200, "first_name", "Họ tên", "The name"),
            reporter_email=email_address(submission.reporter_email),
            reporter_phone=_text(submission.reporter_phone, 32, "phone", "Số điện thoại", "Phone"),
            reporter_public=submission.reporter_public,
            reporter_key_hash=key_hash(key),
            severity=category.severity,
            state=ReportState.SUBMITTED,
            organisation_id=routing.route(session, category.id, unit_id),
            accept_due_at=policy.accept_due(calendar, now),
            synthetic=submission.synthetic,
            created_at=now,
            updated_at=now,
        )
        session.add(report)
        session.flush()
        report.code = f"PA-{now.astimezone(VIETNAM).year}-{report.id:06d}"
        self._record(session, report, "submit", None, None, "", now, actor_label="reporter")
        notifications.state_changed(session, report, "")
        session.flush()
        return Submitted(report, key)

    def _record(
        self,
        session: Session,
        report: Report,
        action: str,
        from_state: ReportState | None,
        actor: Principal | None,
        note: str,
        now: datetime,
        *,
        actor_label: str = "",
        public: bool = True,
    ) -> None:
        session.add(
            ReportEvent(
                report_id=report.id,
                at=now,
                action=action,
                from_state=from_state,
                to_state=report.state,
                actor_id=actor.user_id if actor else None,
                actor_label=actor_label or (actor.full_name if actor else ""),
                organisation_id=report.organisation_id,
                note=note,
                public=public,
            )
        )

    def _may_act(
        self, session: Session, principal: Principal, report: Report, action: Action
    ) -> None:
        who = TRANSITIONS[action].who
        if report.organisation_id is None:  # the operations centre's triage queue
            if not principal.is_platform_admin:
                raise Forbidden(
                    "Phản ánh đang chờ trung tâm điều hành phân loại",
                    "The report waits for the operations centre's triage",
                )
            if action not in TRIAGE_ACTIONS:
                raise Conflict(
                    "Phản ánh chưa có đơn vị xử lý: hãy chuyển cho một đơn vị, "
                    "từ chối hoặc đánh dấu trùng",
                    "The report has no responsible organisation yet: re-route, refuse "
                    "or mark it as a duplicate",
                    field="action",
                )
            return
        if who is Who.ADMINISTRATOR:
            require_administrator(session, principal, report.organisation_id)
        else:
            require_officer(session, principal, report.organisation_id)

    def act(
        self,
        session: Session,
        principal: Principal,
        code: str,
        step: Step,
        calendar: WorkingCalendar,
        policy: DeadlinePolicy,
        now: datetime | None = None,
    ) -> Report:
        now = now or utcnow()
        report = self.get(session, code)
        transition = TRANSITIONS[step.action]
        self._may_act(session, principal, report, step.action)
        if report.state not in transition.sources:
            allowed = ", ".join(STATE_NAMES[state].vi for state in sorted(transition.sources))
            allowed_en = ", ".join(STATE_NAMES[state].en for state in sorted(transition.sources))
            raise Conflict(
                f"Không thể “{transition.name.vi}” phản ánh đang ở trạng thái "
                f"“{STATE_NAMES[report.state].vi}” (chỉ khi: {allowed})",
                f"Cannot “{transition.name.en}” a report that is "
                f"“{STATE_NAMES[report.state].en}” (only when: {allowed_en})",
                field="action",
            )
        note = _text(step.note, MAX_NOTE, "note", "Nội dung", "The text")
        if transition.needs_note and not note:
            raise InvalidInput(
                "Cần ghi lý do (hoặc nội dung trả lời)",
                "A reason (or the answer) is needed",
                field="note",
            )
        from_state = report.state
        getattr(self, f"_{step.action.value}")(session, report, step, calendar, policy, now)
        if transition.target is not None:
            report.state = transition.target
        if report.state in CLOSED_STATES:
            report.closed_at = now
        report.updated_at = now
        self._record(session, report, step.action.value, from_state, principal, note, now)
        if report.state is not from_state or step.action is Action.EXTEND:
            notifications.state_changed(session, report, note)
        if step.action is Action.ASSIGN:
            notifications.assigned(session, report)
        session.flush()
        return report

    # The effects of each action beyond the change of state ----------------------------------
    def _accept(
        self,
        session: Session,
        report: Report,
        step: Step,
        calendar: WorkingCalendar,
        policy: DeadlinePolicy,
        now: datetime,
    ) -> None:
        report.accepted_at = now
        report.resolve_due_at = policy.resolve_due(calendar, now, report.severity)
        report.reminded_at = report.overdue_notified_at = None

    def _refuse(self, *_: Any) -> None:
        return None

    def _start(self, *_: Any) -> None:
        return None

    def _assign(self, session: Session, report: Report, step: Step, *_: Any) -> None:
        if not step.assignee:
            raise InvalidInput("Hãy chọn cán bộ", "Choose an official", field="assignee")
        user = account_service.get(session, step.assignee)
        member = set(organisation_service.ancestor_ids(session, report.organisation_id or 0))
        if not set(account_service.roles(session, user)) & member:
            raise InvalidInput(
                f"{user.full_name} không thuộc đơn vị xử lý phản ánh này",
                f"{user.full_name} is not an official of the organisation handling this report",
                field="assignee",
            )
        report.assignee_id = user.id

    def _answer(self, session: Session, report: Report, step: Step, *_: Any) -> None:
        report.answer = step.note.strip()

    def _mark_duplicate(self, session: Session, report: Report, step: Step, *_: Any) -> None:
        if not step.duplicate_of:
            raise InvalidInput(
                "Hãy nhập mã phản ánh gốc", "Give the original report's code", field="duplicate_of"
            )
        original = self.get(session, step.duplicate_of)
        if report.id in (original.id, original.duplicate_of_id):
            raise InvalidInput(
                "Phản ánh không thể trùng với chính nó",
                "A report cannot duplicate itself",
                field="duplicate_of",
            )
        report.duplicate_of_id = original.id

    def _reroute(
        self,
        session: Session,
        report: Report,
        step: Step,
        calendar: WorkingCalendar,
        policy: DeadlinePolicy,
        now: datetime,
    ) -> None:
        if not step.organisation_code:
            raise InvalidInput(
                "Hãy chọn đơn vị nhận", "Choose the organisation", field="organisation_code"
            )
        target = organisation_service.get(session, step.organisation_code)
        if target.id == report.organisation_id:
            raise InvalidInput(
                "Phản ánh đã thuộc đơn vị này",
                "The report is already with this organisation",
                field="organisation_code",
            )
        report.organisation_id = target.id
        report.assignee_id = None
        report.accepted_at = None
        report.resolve_due_at = None
        report.accept_due_at = policy.accept_due(calendar, now)
        report.reminded_at = report.overdue_notified_at = None

    def _extend(
        self,
        session: Session,
        report: Report,
        step: Step,
        calendar: WorkingCalendar,
        policy: DeadlinePolicy,
        now: datetime,
    ) -> None:
        if report.extended:
            raise Conflict(
                "Phản ánh chỉ được gia hạn một lần",
                "A report's deadline may be extended only once",
                field="action",
            )
        days = step.extra_working_days
        if days is None or not 1 <= days <= 30:
            raise InvalidInput(
                "Số ngày làm việc gia hạn phải từ 1 đến 30",
                "The extension is 1 to 30 working days",
                field="extra_working_days",
            )
        due = report.resolve_due_at or policy.resolve_due(calendar, now, report.severity)
        report.resolve_due_at = calendar.add_working_hours(due, calendar.hours.per_day * days)
        report.extended = True
        report.reminded_at = report.overdue_notified_at = None

    def moderate(
        self,
        session: Session,
        principal: Principal,
        code: str,
        *,
        hidden: bool,
        reason: str,
        now: datetime | None = None,
    ) -> Report:
        """Hide a report from every public view (abuse, personal data), or show it again:
        platform admins and the administrators of its organisation; the reason is kept in the
        (internal) timeline."""
        now = now or utcnow()
        report = self.get(session, code)
        self._may_moderate(session, principal, report)
        reason = _text(reason, MAX_NOTE, "note", "Lý do", "The reason")
        if not reason:
            raise InvalidInput("Cần ghi lý do", "A reason is needed", field="note")
        report.hidden = hidden
        report.updated_at = now
        action = "hide" if hidden else "unhide"
        self._record(session, report, action, report.state, principal, reason, now, public=False)
        session.flush()
        return report

    def edit_description(
        self,
        session: Session,
        principal: Principal,
        code: str,
        *,
        description: str,
        reason: str,
        now: datetime | None = None,
    ) -> Report:
        """Moderators rewrite a report's public text (personal data, insults); the text as
        it was and the reason stay in the internal timeline."""
        now = now or utcnow()
        report = self.get(session, code)
        self._may_moderate(session, principal, report)
        text = _text(description, MAX_DESCRIPTION, "description", "Nội dung", "The description")
        reason = _text(reason, MAX_NOTE, "note", "Lý do", "The reason")
        if not text or not reason:
            raise InvalidInput(
                "Cần nội dung mới và lý do sửa",
                "The new text and the reason are needed",
                field="description" if not text else "note",
            )
        before = report.description
        report.description = text
        report.updated_at = now
        note = f"{reason}\n— Nội dung trước khi sửa / text before the edit:\n{before}"
        self._record(session, report, "edit", report.state, principal, note, now, public=False)
        session.flush()
        return report

    def _may_moderate(self, session: Session, principal: Principal, report: Report) -> None:
        if principal.is_platform_admin:
            return
        if report.organisation_id is None:
            raise Forbidden(
                "Chỉ trung tâm điều hành kiểm duyệt phản ánh chưa phân loại",
                "Only the operations centre moderates reports not yet routed",
            )
        require_administrator(session, principal, report.organisation_id)

    # -- the reporter -------------------------------------------------------------------------
    def _reporter(self, session: Session, code: str, key: str, verified_email: str) -> Report:
        """The report, when the caller is its reporter: they hold its key, or they signed in
        with the address the report was sent with (:mod:`tinhso.reports.reporters`)."""
        report = self.get(session, code)
        if verified_email and report.reporter_email.strip().lower() == verified_email:
            return report
        if not key or not secrets.compare_digest(key_hash(key), report.reporter_key_hash):
            raise Forbidden(
                "Mã bí mật của người phản ánh không đúng",
                "The reporter's key is wrong",
                field="key",
            )
        return report

    def rate(
        self,
        session: Session,
        code: str,
        key: str,
        rating: Rating,
        comment: str = "",
        now: datetime | None = None,
        *,
        verified_email: str = "",
    ) -> Report:
        now = now or utcnow()
        report = self._reporter(session, code, key, verified_email)
        if report.state is not ReportState.RESOLVED:
            raise Conflict(
                "Chỉ đánh giá được phản ánh đã có trả lời",
                "Only an answered report can be rated",
                field="rating",
            )
        report.rating = rating
        report.rating_comment = _text(comment, 2000, "comment", "Nhận xét", "The comment")
        report.updated_at = now
        self._record(
            session,
            report,
            "rate",
            report.state,
            None,
            report.rating_comment,
            now,
            actor_label="reporter",
        )
        session.flush()
        return report

    def reopen(
        self,
        session: Session,
        code: str,
        key: str,
        reason: str,
        calendar: WorkingCalendar,
        policy: DeadlinePolicy,
        now: datetime | None = None,
        *,
        verified_email: str = "",
    ) -> Report:
        now = now or utcnow()
        report = self._reporter(session, code, key, verified_email)
        if report.state is not ReportState.RESOLVED or report.closed_at is None:
            raise Conflict(
                "Chỉ mở lại được phản ánh đã có trả lời",
                "Only an answered report can be reopened",
                field="reason",
            )
        if now - report.closed_at > timedelta(days=policy.reopen_days):
            raise Conflict(
                f"Đã quá {policy.reopen_days} ngày kể từ khi trả lời",
                f"More than {policy.reopen_days} days have passed since the answer",
                field="reason",
            )
        reason = _text(reason, MAX_NOTE, "reason", "Lý do", "The reason")
        if not reason:
            raise InvalidInput("Cần ghi lý do", "A reason is needed", field="reason")
        report.state = ReportState.REOPENED
        report.closed_at = None
        # Handled again, with a new resolution deadline counted from now.
        report.resolve_due_at = policy.resolve_due(calendar, now, report.severity)
        report.reminded_at = report.overdue_notified_at = None
        report.updated_at = now
        self._record(
            session,
            report,
            "reopen",
            ReportState.RESOLVED,
            None,
            reason,
            now,
            actor_label="reporter",
        )
        session.flush()
        return report

    # -- reading ------------------------------------------------------------------------------
    def timeline(self, session: Session, report: Report, *, public_only: bool) -> list[ReportEvent]:
        query = select(ReportEvent).where(ReportEvent.report_id == report.id)
        if public_only:
            query = query.where(ReportEvent.public.is_(True))
        return list(session.scalars(query.order_by(ReportEvent.id)))

    def sent_by_key_since(self, session: Session, key_id: int, since: datetime) -> int:
        """Reports an application key has sent since a moment."""
        count = session.scalar(
            select(func.count(Report.id)).where(
                Report.api_key_id == key_id, Report.created_at >= since
            )
        )
        return int(count or 0)

    def nearby_open(
        self,
        session: Session,
        category_code: str,
        latitude: float,
        longitude: float,
        limit: int = 5,
    ) -> list[tuple[Report, float]]:
        """Open reports of the category within its duplicate radius of a point, nearest first,
        with their distance in metres: offered to a reporter as "follow this one instead"."""
        category = self.category(session, category_code, "category")
        _coordinates(latitude, longitude)
        radius = category.duplicate_radius_m
        # A box around the point narrows the rows in SQL; the distance decides.
        dlat = radius / 111_320
        dlon = radius / (111_320 * max(math.cos(math.radians(latitude)), 0.01))
        candidates = session.scalars(
            select(Report).where(
                Report.category_id == category.id,
                Report.state.not_in(list(CLOSED_STATES)),
                Report.hidden.is_(False),
                Report.latitude.between(latitude - dlat, latitude + dlat),
                Report.longitude.between(longitude - dlon, longitude + dlon),
            )
        )
        found = [
            (report, distance_m(latitude, longitude, report.latitude, report.longitude))
            for report in candidates
            if report.latitude is not None and report.longitude is not None
        ]
        found = [(report, metres) for report, metres in found if metres <= radius]
        return sorted(found, key=lambda pair: pair[1])[:limit]

    def timelines(self, session: Session, report_ids: list[int]) -> dict[int, list[ReportEvent]]:
        """Every event of several reports, in one query."""
        found: dict[int, list[ReportEvent]] = {}
        if not report_ids:
            return found
        events = session.scalars(
            select(ReportEvent)
            .where(ReportEvent.report_id.in_(report_ids))
            .order_by(ReportEvent.report_id, ReportEvent.id)
        )
        for event in events:
            found.setdefault(event.report_id, []).append(event)
        return found

    def is_late(self, report: Report, now: datetime | None = None) -> bool:
        """Past its deadline: not accepted in time, or not closed in time."""
        now = now or utcnow()
        if report.state is ReportState.SUBMITTED:
            return now > report.accept_due_at
        if report.accepted_at is not None and report.accepted_at > report.accept_due_at:
            return True
        if report.resolve_due_at is None:
            return False
        return (report.closed_at or now) > report.resolve_due_at


report_service = ReportService()
