"""Reporters' own space, with no password: a citizen proves an e-mail address by a link sent to
it, and is then signed in on that device to see every report sent with that address, and to
rate or reopen them without each report's key.

The link carries a token signed with the platform's secret (HMAC-SHA256): the address, what
the token is for (``link``: valid ``LINK_HOURS``, or ``session``: the signed-in cookie, valid
``SESSION_DAYS``) and its expiry. Nothing is stored for it but the outbox mail. Asking for a
link always gets the same answer whether or not the address has sent reports (no one learns
who reported what), and an address receives at most ``LINKS_PER_DAY`` links a day.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tinhso.core import mail
from tinhso.core.db import utcnow
from tinhso.core.errors import InvalidInput
from tinhso.reports.models import Report
from tinhso.reports.service import email_address

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

LINK_HOURS = 24
SESSION_DAYS = 30
LINKS_PER_DAY = 5
MAIL_KIND = "sign-in"
MAX_ADDRESS = 120  # the link (core_mail.link_path, 300 characters) carries it


def _signature(secret: bytes, body: str) -> str:
    return hmac.new(secret, f"reporter:{body}".encode(), hashlib.sha256).hexdigest()


def token_for(secret: bytes, email: str, purpose: str, *, now: float | None = None) -> str:
    """A signed token for the address: ``link`` (a day) or ``session`` (the cookie)."""
    lifetime = LINK_HOURS * 3600 if purpose == "link" else SESSION_DAYS * 86400
    expires = int((now if now is not None else time.time()) + lifetime)
    address = base64.urlsafe_b64encode(email.encode()).decode().rstrip("=")
    body = f"{purpose}.{address}.{expires}"
    return f"{body}.{_signature(secret, body)}"


def address_of(secret: bytes, token: str, purpose: str, *, now: float | None = None) -> str:
    """The address a valid, unexpired token of that purpose was made for, else ''."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != purpose or not parts[2].isdigit():
        return ""
    body = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3], _signature(secret, body)):
        return ""
    if int(parts[2]) < (now if now is not None else time.time()):
        return ""
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def normal_address(value: str) -> str:
    """The address as reports are matched to it (checked, lower-case); refused when invalid
    or too long to travel in a link (``MAX_ADDRESS`` characters)."""
    address = email_address(value).lower()
    if len(address) > MAX_ADDRESS:
        raise InvalidInput(
            f"Địa chỉ thư điện tử dài quá {MAX_ADDRESS} ký tự",
            f"The e-mail address is longer than {MAX_ADDRESS} characters",
            field="email",
        )
    return address


def send_link(session: Session, secret: bytes, email: str) -> bool:
    """Queue a sign-in link to the (already checked) address, unless it had enough today."""
    since = utcnow() - timedelta(days=1)
    if mail.count_since(session, "reports", MAIL_KIND, email, since) >= LINKS_PER_DAY:
        return False
    token = token_for(secret, email, "link")
    mail.queue(
        session,
        mail.Mail(
            "reports",
            email[:100],
            MAIL_KIND,
            email,
            "Đăng nhập xem phản ánh của bạn / Sign in to see your reports",
            (
                "Mở đường liên kết dưới đây (trong 24 giờ) để xem các phản ánh bạn đã gửi với "
                "địa chỉ này. Nếu bạn không yêu cầu, hãy bỏ qua thư này.\n\n"
                "Open the link below (within 24 hours) to see the reports you sent with this "
                "address. If you did not ask for it, ignore this mail.\n"
            ),
            f"/reports/mine/sign-in?token={token}",
        ),
    )
    return True


def reports_of(session: Session, email: str) -> list[Report]:
    """The reports sent with the address, newest first (not those moderators hid)."""
    return list(
        session.scalars(
            select(Report)
            .where(func.lower(Report.reporter_email) == email, Report.hidden.is_(False))
            .order_by(Report.created_at.desc(), Report.id.desc())
            .limit(500)
        )
    )
