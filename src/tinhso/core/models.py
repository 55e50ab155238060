"""Tables of the core: the decided days of the working-day calendar, the mail outbox and the
data generations (:mod:`tinhso.core.generations`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tinhso.core.db import Base, UTCDateTime, utcnow


class CalendarDecidedDay(Base):
    """An extra day off or a make-up working day the government decided, with its source."""

    __tablename__ = "calendar_decided_day"
    __table_args__ = (CheckConstraint("kind IN ('off', 'working')", name="kind"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(500))
    issuer: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    url: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutgoingMail(Base):
    """An e-mail to send: an outbox row written in the transaction of what it tells about
    (a report's new state, a reporting reminder), sent by the ``core.mail`` job and kept with
    its outcome (:mod:`tinhso.core.mail`)."""

    __tablename__ = "core_mail"
    __table_args__ = (Index("ix_core_mail_pending", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(32))  # the domain: reports, monitoring
    reference: Mapped[str] = mapped_column(String(100))  # what it is about: a report's code
    kind: Mapped[str] = mapped_column(String(32))  # state, assigned, reminder, overdue...
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # The page the mail points to, joined to the platform's base URL when it is sent.
    link_path: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class Generation(Base):
    """A group of tables' counter, moved on by each commit that writes them; ``token`` is made
    with the row and never changes (:mod:`tinhso.core.generations`)."""

    __tablename__ = "core_generation"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    value: Mapped[int] = mapped_column(BigInteger)
