"""The platform's own jobs (beside each domain's): the calendar's coverage check, and
``core.mail``, which sends the outbox every minute (:mod:`tinhso.core.mail`) when a mail host
is set.

``core.calendar_coverage`` runs daily and fails, with the year to add, while the decided
calendar (days off and make-up days of the government's yearly notice) covers less than a year
ahead: the failure shows on the jobs page and in ``tinhso jobs list`` until an operator adds the
notice with ``tinhso calendar add``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tinhso.core import mail
from tinhso.core.calendar import VIETNAM, load_calendar
from tinhso.core.db import make_sessionmaker
from tinhso.core.jobs.runner import Job, JobContext
from tinhso.core.jobs.schedule import Schedule

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

CALENDAR_COVERAGE = "core.calendar_coverage"
MAIL = "core.mail"


class CalendarRunsShort(RuntimeError):
    """The decided calendar ends within a year."""


class MailNotSent(RuntimeError):
    """Some queued mail could not be sent (it is tried again, up to its attempts)."""


def platform_jobs(engine: Engine, settings: Settings) -> tuple[list[Job], list[str]]:
    sessions = make_sessionmaker(engine)

    async def check_coverage(context: JobContext) -> str:
        today = datetime.now(VIETNAM).date()
        with sessions() as session:
            calendar = load_calendar(session)
        until = calendar.decided_until()
        gap = calendar.coverage_gap(today)
        if gap is not None:
            msg = (
                f"Lịch nghỉ đã quyết định chỉ đến {until:%d/%m/%Y}: thêm thông báo năm "
                f"{gap.first_missing_year} bằng `tinhso calendar add` / the decided calendar "
                f"ends {until:%d/%m/%Y}: add the {gap.first_missing_year} notice"
                if until
                else "Chưa có lịch nghỉ đã quyết định / no decided calendar"
            )
            raise CalendarRunsShort(msg)
        return f"decided until {until:%d/%m/%Y}" if until else "no decided days"

    coverage = Job(
        name=CALENDAR_COVERAGE,
        schedule=Schedule.daily(7, 0),
        handler=check_coverage,
        title_vi="Kiểm tra lịch nghỉ đã quyết định còn đủ một năm",
        title_en="Check that the decided calendar covers a year ahead",
        max_attempts=1,
    )

    async def send_mail(context: JobContext) -> str:
        with sessions.begin() as session:
            sent, failed = mail.send_pending(session, settings.mail, settings.base_url)
        if failed:
            msg = f"{failed} e-mails not sent ({sent} sent); they are tried again"
            raise MailNotSent(msg)
        return f"{sent} e-mails sent"

    if not settings.mail.host:
        reason = f"{MAIL}: no mail host (TINHSO_MAIL_HOST) / chưa cấu hình máy chủ thư"
        return [coverage], [reason]
    sender = Job(
        name=MAIL,
        schedule=Schedule.every(1),
        handler=send_mail,
        title_vi="Gửi thư điện tử",
        title_en="Send e-mail",
    )
    return [coverage, sender], []
