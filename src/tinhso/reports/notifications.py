"""E-mail about reports: to the reporter on every public change of state, to an official
when a report is assigned to them, to the assignee (or the organisation's officers) before a
deadline, and to the organisation's administrators once it has passed.

Messages go to the platform's outbox (:mod:`tinhso.core.mail`) in the transaction of the
change they tell about, and the ``core.mail`` job sends them, so a failed or slow mail server
never loses nor delays a report. The reporter's mail is in Vietnamese with the English below it (they chose no
language); officials get the same.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from tinhso.core import mail
from tinhso.core.calendar import VIETNAM
from tinhso.core.db import utcnow
from tinhso.registry.accounts import account_service
from tinhso.registry.models import Role
from tinhso.reports.handling.states import CLOSED_STATES, STATE_NAMES
from tinhso.reports.models import Report, ReportState

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from tinhso.core.calendar import WorkingCalendar

REMINDER_BEFORE = timedelta(hours=2)  # of office time before a deadline
_OPEN = [s for s in ReportState if s not in CLOSED_STATES]


def _add(
    session: Session,
    report: Report,
    kind: str,
    recipient: str,
    text: tuple[str, str],
    link_path: str,
) -> None:
    subject, body = text
    mail.queue(
        session,
        mail.Mail("reports", report.code, kind, recipient, subject, body, link_path),
    )


def state_changed(session: Session, report: Report, note: str) -> None:
    """Tell the reporter (if they left an address) what happened to their report."""
    if not report.reporter_email:
        return
    state = STATE_NAMES[report.state]
    _add(
        session,
        report,
        "state",
        report.reporter_email,
        (
            f"Phản ánh {report.code}: {state.vi} / Report {report.code}: {state.en}",
            (
                f"Phản ánh {report.code} của bạn: {state.vi}.\n{note}\n\n"
                f"Your report {report.code}: {state.en}.\n"
            ),
        ),
        f"/reports/{report.code}",
    )


def assigned(session: Session, report: Report) -> None:
    email = account_service.email_of(session, report.assignee_id) if report.assignee_id else None
    if not email:
        return
    _add(
        session,
        report,
        "assigned",
        email,
        (
            f"Phân công xử lý phản ánh {report.code} / Report {report.code} assigned to you",
            (
                f"Bạn được phân công xử lý phản ánh {report.code}.\n\n"
                f"You are assigned report {report.code}.\n"
            ),
        ),
        f"/reports/{report.code}/handle",
    )


def _deadline(report: Report) -> datetime:
    return (
        report.resolve_due_at
        if report.accepted_at and report.resolve_due_at
        else report.accept_due_at
    )


def _handlers(session: Session, report: Report, roles: frozenset[Role]) -> list[str]:
    if report.assignee_id and roles != ADMINISTRATORS:
        email = account_service.email_of(session, report.assignee_id)
        if email:
            return [email]
    if report.organisation_id is None:
        return []
    return account_service.emails_in(session, report.organisation_id, roles)


OFFICERS = frozenset({Role.OFFICER, Role.ORGANISATION_ADMIN})
ADMINISTRATORS = frozenset({Role.ORGANISATION_ADMIN})


def deadlines(
    session: Session, calendar: WorkingCalendar, now: datetime | None = None
) -> tuple[int, int]:
    """Queue reminders (a deadline within two working hours) and overdue notices (a deadline
    passed), each once per deadline (the flags are cleared when a deadline is set again):
    (reminders, overdue notices)."""
    now = now or utcnow()
    reminders = overdue = 0
    reports = session.scalars(
        select(Report).where(Report.state.in_(_OPEN), Report.hidden.is_(False))
    )
    for report in reports:
        deadline = _deadline(report)
        link = f"/reports/{report.code}/handle"
        if now > deadline:
            if report.overdue_notified_at is not None:
                continue
            text = (
                f"Phản ánh {report.code} đã quá hạn / Report {report.code} is overdue",
                (
                    f"Phản ánh {report.code} đã quá hạn ({_local(deadline)}).\n\n"
                    f"Report {report.code} is past its deadline ({_local(deadline)}).\n"
                ),
            )
            for email in _handlers(session, report, ADMINISTRATORS):
                _add(session, report, "overdue", email, text, link)
            report.overdue_notified_at = now
            overdue += 1
        elif calendar.working_hours_between(now, deadline) <= REMINDER_BEFORE:
            if report.reminded_at is not None:
                continue
            text = (
                f"Phản ánh {report.code} sắp đến hạn / Report {report.code} is due soon",
                (
                    f"Phản ánh {report.code} đến hạn lúc {_local(deadline)}.\n\n"
                    f"Report {report.code} is due at {_local(deadline)}.\n"
                ),
            )
            for email in _handlers(session, report, OFFICERS):
                _add(session, report, "reminder", email, text, link)
            report.reminded_at = now
            reminders += 1
    session.flush()
    return reminders, overdue


def _local(moment: datetime) -> str:
    return f"{moment.astimezone(VIETNAM):%H:%M %d/%m/%Y}"
