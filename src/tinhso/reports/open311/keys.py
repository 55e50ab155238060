"""Open311 API keys of client applications (a city app, the hotline's system).

A key is shown once, when it is made; only its sha256 is stored, with a short prefix that
tells keys apart in lists. Operators (platform administrators) issue and revoke keys.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, InvalidInput, NotFound
from tinhso.reports.models import ReportApiKey
from tinhso.reports.service import key_hash

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

KEY_PREFIX = "pa_"


@dataclass(frozen=True)
class IssuedKey:
    record: ReportApiKey
    key: str  # shown once


def issue(session: Session, name: str) -> IssuedKey:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput(
            "Tên ứng dụng cần từ 1 đến 200 ký tự",
            "The application's name needs 1 to 200 characters",
            field="name",
        )
    if session.scalar(select(ReportApiKey.id).where(ReportApiKey.name == name)) is not None:
        raise Conflict(
            f"Đã có khoá cho ứng dụng “{name}”",
            f"There is already a key for “{name}”",
            field="name",
        )
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    record = ReportApiKey(name=name, key_hash=key_hash(key), prefix=key[:10])
    session.add(record)
    session.flush()
    return IssuedKey(record, key)


def revoke(session: Session, key_id: int) -> ReportApiKey:
    record = session.get(ReportApiKey, key_id)
    if record is None:
        raise NotFound(f"Không có khoá số {key_id}", f"There is no key {key_id}", field="id")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.flush()
    return record


def listed(session: Session) -> list[ReportApiKey]:
    return list(session.scalars(select(ReportApiKey).order_by(ReportApiKey.id)))


def valid_key(session: Session, key: str) -> ReportApiKey | None:
    """The live key ``key`` is (None: unknown or revoked)."""
    if not key or len(key) > 200:
        return None
    record = session.scalar(select(ReportApiKey).where(ReportApiKey.key_hash == key_hash(key)))
    if record is None or record.revoked_at is not None:
        return None
    record.last_used_at = utcnow()
    return record
