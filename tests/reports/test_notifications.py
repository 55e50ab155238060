"""Mail about reports, on both databases, through a real SMTP server (aiosmtpd on loopback):
the outbox is written with the change it tells about, deadline reminders and overdue notices go
out once per deadline, and the mail job sends them with the link to the page."""

from __future__ import annotations

from datetime import datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import TYPE_CHECKING, Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from tests.support.services import free_port
from tinhso.core import mail as outbox
from tinhso.core.calendar import VIETNAM, shipped_calendar
from tinhso.core.config import MailSection, ReportsSection
from tinhso.core.jobs.platform import MAIL, platform_jobs
from tinhso.core.models import OutgoingMail
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import principal_of
from tinhso.registry.models import Role, User
from tinhso.reports import notifications
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.handling.states import Action
from tinhso.reports.models import Channel
from tinhso.reports.service import Step, Submission, report_service

from .conftest import WARD

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tinhso.core.config import Settings

    from .conftest import ReportsWorld

CALENDAR = shipped_calendar()
POLICY = DeadlinePolicy.from_settings(ReportsSection())
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=VIETNAM)


class Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def _with_email(sessions: sessionmaker[Session], username: str, email: str) -> None:
    with sessions.begin() as session:
        session.execute(update(User).where(User.username == username).values(email=email))


def _outbox(session: Session) -> list[tuple[str, str]]:
    rows = session.scalars(select(OutgoingMail).order_by(OutgoingMail.id))
    return [(row.kind, row.recipient) for row in rows]


def test_the_outbox_follows_the_report_and_the_job_sends_it(
    sessions: sessionmaker[Session],
    reports_world: ReportsWorld,
    make_official: MakeOfficial,
    smtp: tuple[Sink, int],
) -> None:
    sink, port = smtp
    officer = make_official(Role.OFFICER, reports_world.ward_org).username
    colleague = make_official(Role.OFFICER, reports_world.ward_org).username
    head = make_official(Role.ORGANISATION_ADMIN, reports_world.ward_org).username
    _with_email(sessions, colleague, "dong.nghiep@phuongvietyen.gov.vn")
    _with_email(sessions, head, "chu.tich@phuongvietyen.gov.vn")
    with sessions.begin() as session:
        code = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Mất điện",
                channel=Channel.WEB,
                unit_code=WARD,
                reporter_email="dan@example.org",
            ),
            CALENDAR,
            POLICY,
            now=MONDAY,
        ).report.code
        acting = principal_of(session, account_service.get(session, officer))
        report_service.act(session, acting, code, Step(Action.ACCEPT), CALENDAR, POLICY, MONDAY)
        report_service.act(
            session, acting, code, Step(Action.ASSIGN, assignee=colleague), CALENDAR, POLICY, MONDAY
        )
        assert _outbox(session) == [
            ("state", "dan@example.org"),  # received
            ("state", "dan@example.org"),  # accepted
            ("state", "dan@example.org"),  # assigned
            ("assigned", "dong.nghiep@phuongvietyen.gov.vn"),
        ]
        # Urgent: resolve by Monday 14:30 (4 working hours after 09:00, lunch skipped).
        # At 13:00 1.5 working hours remain: a reminder to the assignee, once.
        assert notifications.deadlines(session, CALENDAR, MONDAY.replace(hour=10)) == (0, 0)
        assert notifications.deadlines(session, CALENDAR, MONDAY.replace(hour=13)) == (1, 0)
        assert notifications.deadlines(session, CALENDAR, MONDAY.replace(hour=13, minute=30)) == (
            0,
            0,
        )
        late = MONDAY + timedelta(hours=8)
        assert notifications.deadlines(session, CALENDAR, late) == (0, 1)
        assert notifications.deadlines(session, CALENDAR, late + timedelta(hours=1)) == (0, 0)
        assert _outbox(session)[4:] == [
            ("reminder", "dong.nghiep@phuongvietyen.gov.vn"),
            ("overdue", "chu.tich@phuongvietyen.gov.vn"),
        ]
    mail = MailSection(host="127.0.0.1", port=port, sender="phananh@tinhso.vn", security="none")
    with sessions.begin() as session:
        assert outbox.send_pending(session, mail, "https://tinhso.bacninh.gov.vn") == (6, 0)
        assert all(row.sent_at for row in session.scalars(select(OutgoingMail)))
    assert len(sink.messages) == 6
    overdue = sink.messages[-1]
    assert overdue["To"] == "chu.tich@phuongvietyen.gov.vn"
    assert f"Phản ánh {code} đã quá hạn" in str(make_header(decode_header(overdue["Subject"])))
    assert (
        f"https://tinhso.bacninh.gov.vn/reports/{code}/handle"
        in overdue.get_payload(decode=True).decode()
    )
    with sessions.begin() as session:  # nothing is sent twice
        assert outbox.send_pending(session, mail, "https://x") == (0, 0)


def test_a_failing_server_keeps_the_mail(
    sessions: sessionmaker[Session], reports_world: ReportsWorld
) -> None:
    with sessions.begin() as session:
        report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Mất điện",
                channel=Channel.WEB,
                unit_code=WARD,
                reporter_email="dan@example.org",
            ),
            CALENDAR,
            POLICY,
            now=MONDAY,
        )
    dead = MailSection(
        host="127.0.0.1", port=free_port(), sender="a@b.vn", security="none", timeout_seconds=2
    )
    with pytest.raises(OSError), sessions.begin() as session:
        outbox.send_pending(session, dead, "https://x")
    with sessions() as session:
        [row] = session.scalars(select(OutgoingMail))
        assert row.sent_at is None


def test_the_mail_job_runs_only_with_a_mail_host(engine: Engine, settings: Settings) -> None:
    jobs, reasons = platform_jobs(engine, settings)
    assert MAIL not in {job.name for job in jobs} and "TINHSO_MAIL_HOST" in reasons[0]
    with_mail = settings.model_copy(
        update={"mail": MailSection(host="127.0.0.1", sender="a@b.vn", security="none")}
    )
    jobs, reasons = platform_jobs(engine, with_mail)
    assert MAIL in {job.name for job in jobs} and reasons == []
