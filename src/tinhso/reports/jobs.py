"""The reports domain's scheduled jobs, run by ``tinhso worker`` on the durable job table:

- ``reports.deadlines`` (every 15 minutes): reminders before a deadline and notices once it
  has passed (:func:`tinhso.reports.notifications.deadlines`);
- ``reports.mail`` (every minute): sends the outbox through the ``mail`` settings' SMTP
  server; skipped, with the reason, when no mail host is set;
- ``reports.statistics`` (the 1st of each month, 06:00): last month's figures per commune
  as monitoring values (:mod:`tinhso.reports.indicators`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.calendar import load_calendar, office_hours
from tinhso.core.db import make_sessionmaker
from tinhso.core.jobs.runner import Job, JobContext
from tinhso.core.jobs.schedule import Schedule
from tinhso.reports import indicators, notifications

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

DEADLINES = "reports.deadlines"
STATISTICS = "reports.statistics"
MAIL = "reports.mail"


class MailNotSent(RuntimeError):
    """Some queued mail could not be sent (it is tried again, up to its attempts)."""


def reports_jobs(engine: Engine, settings: Settings) -> tuple[list[Job], list[str]]:
    sessions = make_sessionmaker(engine)

    async def check_deadlines(context: JobContext) -> str:
        with sessions.begin() as session:
            calendar = load_calendar(session, office_hours(settings))
            reminders, overdue = notifications.deadlines(session, calendar)
        return f"{reminders} reminders, {overdue} overdue notices"

    async def send_mail(context: JobContext) -> str:
        with sessions.begin() as session:
            sent, failed = notifications.send_pending(session, settings.mail, settings.base_url)
        if failed:
            msg = f"{failed} e-mails not sent ({sent} sent); they are tried again"
            raise MailNotSent(msg)
        return f"{sent} e-mails sent"

    async def publish_statistics(context: JobContext) -> str:
        month = indicators.previous_month()
        with sessions.begin() as session:
            written = indicators.publish_month(session, month)
        return f"{written} values for {month:%m/%Y}"

    jobs = [
        Job(
            name=STATISTICS,
            schedule=Schedule.monthly(1, 6, 0),
            handler=publish_statistics,
            title_vi="Đưa số liệu phản ánh hiện trường tháng trước vào giám sát",
            title_en="Last month's field report figures into monitoring",
        ),
        Job(
            name=DEADLINES,
            schedule=Schedule.every(15),
            handler=check_deadlines,
            title_vi="Nhắc hạn và báo quá hạn phản ánh hiện trường",
            title_en="Field report deadline reminders and overdue notices",
        ),
    ]
    if not settings.mail.host:
        return jobs, [f"{MAIL}: no mail host (TINHSO_MAIL_HOST) / chưa cấu hình máy chủ thư"]
    jobs.append(
        Job(
            name=MAIL,
            schedule=Schedule.every(1),
            handler=send_mail,
            title_vi="Gửi thư điện tử về phản ánh",
            title_en="Send field report e-mail",
        )
    )
    return jobs, []
