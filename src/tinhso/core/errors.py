"""Domain errors and their RFC 9457 problem+json rendering.

Every error a user can see carries a Vietnamese and an English message. Services
raise subclasses of :class:`DomainError`; the API turns them into problem+json
with the HTTP status the error carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Message:
    vi: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"vi": self.vi, "en": self.en}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: Message

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message.as_dict()}


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        vi: str,
        en: str,
        *,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(en)
        self.message = Message(vi, en)
        self.errors = list(errors or [])
        if field is not None:
            self.errors.insert(0, FieldError(field, self.message))
        self.headers = headers or {}


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"


def require_values(changes: Mapping[str, object], names: Iterable[str]) -> None:
    """In a partial update, the fields ``names`` may be left out but not set to null."""
    for name in names:
        if name in changes and changes[name] is None:
            raise InvalidInput(
                f"Trường {name} không được để trống", f"Field {name} cannot be null", field=name
            )


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class TooManyAttempts(Unauthenticated):
    status = 429
    code = "too_many_attempts"


class TooManyRequests(DomainError):
    """Too many requests from one source in a while (Retry-After says when to try again)."""

    status = 429
    code = "too_many_requests"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Gone(DomainError):
    """What was asked for existed and has ended for good (revoked, expired)."""

    status = 410
    code = "gone"


class Unavailable(DomainError):
    """A dependency cannot be reached now; the client may retry later."""

    status = 503
    code = "unavailable"


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached or cannot answer now: nothing was done, retry later.

    One answer for every path that meets an outage (a query in an endpoint, the commit after
    it, the portal's pages, the token endpoint): 503, ``database_unavailable``, Retry-After.
    """

    code = "database_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Cơ sở dữ liệu tạm thời không truy cập được; yêu cầu chưa được thực hiện, "
            "vui lòng thử lại sau ít phút",
            "The database cannot be reached right now; nothing was done, please retry shortly",
            headers={"Retry-After": str(DATABASE_RETRY_SECONDS), "Cache-Control": "no-store"},
        )


# The seconds a client is asked to wait when the database cannot be reached.
DATABASE_RETRY_SECONDS = 5

# Errors meaning the database cannot be reached or cannot answer now (an outage, a dropped
# connection, an exhausted pool, a lock held too long): the request may succeed later.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
)


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable for now (not that the request is bad)."""
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
