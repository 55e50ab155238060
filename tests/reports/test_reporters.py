"""Reporters' sign-in tokens: the address comes back only from an unexpired, untampered token
of the right purpose; links are rate-limited per address; a reporter's list is matched
without regard to case and leaves out what moderators hid."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tinhso.core.calendar import shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.core.errors import InvalidInput
from tinhso.core.models import OutgoingMail
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.models import Channel
from tinhso.reports.reporters import (
    LINKS_PER_DAY,
    MAX_ADDRESS,
    address_of,
    normal_address,
    reports_of,
    send_link,
    token_for,
)
from tinhso.reports.service import Submission, report_service

from .conftest import WARD

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from .conftest import ReportsWorld

SECRET = b"a-test-secret-of-enough-length-000"


def test_tokens_come_back_only_whole_fresh_and_for_their_purpose() -> None:
    token = token_for(SECRET, "an@example.vn", "link")
    assert address_of(SECRET, token, "link") == "an@example.vn"
    assert address_of(SECRET, token, "session") == ""  # a link is not a session
    assert address_of(b"another-secret-of-enough-length-0000", token, "link") == ""
    purpose, address, expires, signature = token.split(".")
    forged = ".".join([purpose, "YmlAZXhhbXBsZS52bg", expires, signature])  # bi@example.vn
    assert address_of(SECRET, forged, "link") == ""
    longer = ".".join([purpose, address, str(int(expires) + 86400), signature])
    assert address_of(SECRET, longer, "link") == ""
    assert address_of(SECRET, token, "link", now=time.time() + 25 * 3600) == ""  # expired
    for odd in ("", ".", "link...", "link.@@.1.x", "x" * 600, "link.YQ.9999999999.zz"):
        assert address_of(SECRET, odd, "link") == ""
    session = token_for(SECRET, "an@example.vn", "session")
    assert address_of(SECRET, session, "session", now=time.time() + 29 * 86400)
    assert not address_of(SECRET, session, "session", now=time.time() + 31 * 86400)


def test_links_are_limited_per_address_and_lists_match_any_case(
    sessions: sessionmaker[Session], reports_world: ReportsWorld
) -> None:
    assert normal_address("  An@Example.VN ") == "an@example.vn"
    longest = "a" * (MAX_ADDRESS - len("@example.vn")) + "@example.vn"
    with pytest.raises(InvalidInput):
        normal_address("a" + longest)
    with sessions.begin() as session:
        for text in ("Mất điện", "Cột điện nghiêng", "Ẩn đi"):
            report_service.submit(
                session,
                Submission(
                    category_code="dien-nuoc",
                    description=text,
                    channel=Channel.WEB,
                    unit_code=WARD,
                    reporter_email="An@Example.vn",
                ),
                shipped_calendar(),
                DeadlinePolicy.from_settings(ReportsSection()),
            )
        report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Của người khác",
                channel=Channel.WEB,
                unit_code=WARD,
                reporter_email="bi@example.vn",
            ),
            shipped_calendar(),
            DeadlinePolicy.from_settings(ReportsSection()),
        )
    with sessions.begin() as session:
        mine = reports_of(session, "an@example.vn")
        assert [r.description for r in mine] == ["Ẩn đi", "Cột điện nghiêng", "Mất điện"]
        mine[0].hidden = True
    with sessions.begin() as session:
        assert len(reports_of(session, "an@example.vn")) == 2
        sent = [send_link(session, SECRET, "an@example.vn") for _ in range(LINKS_PER_DAY + 2)]
        assert sent == [True] * LINKS_PER_DAY + [False, False]
        assert send_link(session, SECRET, "bi@example.vn")  # another address is not held up
        assert send_link(session, SECRET, normal_address(longest))  # its link fits the outbox
    with sessions() as session:
        links = session.query(OutgoingMail).filter_by(kind="sign-in").all()
        assert len(links) == LINKS_PER_DAY + 2
        assert all("/reports/mine/sign-in?token=" in row.link_path for row in links)
