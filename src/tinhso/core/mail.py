"""Outgoing e-mail for every domain: an outbox written in the transaction of what a mail
tells about, and the ``core.mail`` job that sends it through the SMTP server of the ``mail``
settings (``TINHSO_MAIL_*``).

A failed or slow mail server never loses nor delays the change itself: the row waits and is
tried again, up to ``MAX_ATTEMPTS`` times, with its last error kept. Without a mail host the
job is not scheduled and the rows wait.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tinhso.core.db import utcnow
from tinhso.core.models import OutgoingMail

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from tinhso.core.config import MailSection

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Mail:
    topic: str
    reference: str
    kind: str
    recipient: str
    subject: str
    body: str
    link_path: str


def queue(session: Session, mail: Mail) -> None:
    """Add a mail to the outbox (sent once the caller's transaction commits)."""
    session.add(
        OutgoingMail(
            topic=mail.topic,
            reference=mail.reference,
            kind=mail.kind,
            recipient=mail.recipient,
            subject=mail.subject,
            body=mail.body,
            link_path=mail.link_path,
        )
    )


def count_since(session: Session, topic: str, kind: str, recipient: str, since: datetime) -> int:
    """How many mails of a kind were queued to a recipient since then (for rate limits)."""
    return int(
        session.scalar(
            select(func.count(OutgoingMail.id)).where(
                OutgoingMail.topic == topic,
                OutgoingMail.kind == kind,
                OutgoingMail.recipient == recipient,
                OutgoingMail.created_at >= since,
            )
        )
        or 0
    )


def send_pending(
    session: Session, settings: MailSection, base_url: str, limit: int = 100
) -> tuple[int, int]:
    """Send queued mail: (sent, failed). Without a mail host nothing is sent."""
    if not settings.host or not settings.sender:
        return 0, 0
    pending = list(
        session.scalars(
            select(OutgoingMail)
            .where(OutgoingMail.sent_at.is_(None), OutgoingMail.attempts < MAX_ATTEMPTS)
            .order_by(OutgoingMail.id)
            .limit(limit)
        )
    )
    if not pending:
        return 0, 0
    sent = failed = 0
    with _connect(settings) as smtp:
        for row in pending:
            message = EmailMessage()
            message["From"] = str(settings.sender)
            message["To"] = row.recipient
            message["Subject"] = row.subject
            message.set_content(f"{row.body}\n{base_url.rstrip('/')}{row.link_path}\n")
            row.attempts += 1
            try:
                smtp.send_message(message)
            except smtplib.SMTPException as error:
                row.last_error = str(error)[:500]
                failed += 1
                continue
            row.sent_at = utcnow()
            sent += 1
    session.flush()
    return sent, failed


def _connect(settings: MailSection) -> smtplib.SMTP:
    host = settings.host or ""
    if settings.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host,
            settings.port,
            timeout=settings.timeout_seconds,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(host, settings.port, timeout=settings.timeout_seconds)
        if settings.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if settings.user and settings.password is not None:
        smtp.login(settings.user, settings.password.get_secret_value())
    return smtp
