"""Domain errors and their RFC 9457 problem+json rendering.

Every error a user can see carries a Vietnamese and an English message. Services
raise subclasses of :class:`DomainError`; the API turns them into problem+json
with the HTTP status the error carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from tinhso.core.i18n import parse_locale

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from fastapi import FastAPI
    from starlette.requests import Request

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


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


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


@dataclass
class Problem:
    status: int
    code: str
    message: Message
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def response(self, request: Request) -> JSONResponse:
        locale = parse_locale(
            request.cookies.get("tinhso_lang") or request.headers.get("accept-language")
        )
        body: dict[str, Any] = {
            "type": f"urn:tinhso:problem:{self.code}",
            "title": self.message.en,
            "status": self.status,
            "detail": self.message.vi if locale == "vi" else self.message.en,
            "code": self.code,
            "message": self.message.as_dict(),
            "instance": request.url.path,
        }
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        return JSONResponse(
            body, status_code=self.status, media_type=PROBLEM_JSON, headers=self.headers
        )


# Vietnamese wording for the validation errors pydantic reports most often.
_VALIDATION_VI = {
    "missing": "Thiếu trường bắt buộc",
    "string_too_short": "Chuỗi quá ngắn",
    "string_too_long": "Chuỗi quá dài",
    "string_pattern_mismatch": "Không đúng định dạng",
    "string_type": "Phải là chuỗi ký tự",
    "int_parsing": "Phải là số nguyên",
    "int_type": "Phải là số nguyên",
    "float_parsing": "Phải là số",
    "float_type": "Phải là số",
    "decimal_parsing": "Phải là số",
    "bool_parsing": "Phải là giá trị đúng/sai",
    "greater_than_equal": "Giá trị quá nhỏ",
    "less_than_equal": "Giá trị quá lớn",
    "greater_than": "Giá trị quá nhỏ",
    "less_than": "Giá trị quá lớn",
    "literal_error": "Giá trị không nằm trong danh sách cho phép",
    "enum": "Giá trị không nằm trong danh sách cho phép",
    "date_from_datetime_parsing": "Ngày không hợp lệ",
    "date_parsing": "Ngày không hợp lệ",
    "url_parsing": "Địa chỉ URL không hợp lệ",
    "url_scheme": "Giao thức URL không được phép",
    "json_invalid": "JSON không hợp lệ",
    "extra_forbidden": "Trường không được phép",
    "value_error": "Giá trị không hợp lệ",
    "dict_type": "Phải là đối tượng JSON",
    "list_type": "Phải là danh sách",
}


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:] or parts
    return ".".join(parts)


def validation_problem(exc: RequestValidationError) -> Problem:
    errors = []
    for error in exc.errors():
        vi = _VALIDATION_VI.get(str(error.get("type")), "Giá trị không hợp lệ")
        errors.append(
            FieldError(_field_path(error.get("loc", ())), Message(vi, str(error.get("msg", ""))))
        )
    fields = ", ".join(e.field for e in errors)
    return Problem(
        422,
        "invalid_input",
        Message(f"Dữ liệu gửi lên không hợp lệ: {fields}", f"The request is not valid: {fields}"),
        errors,
    )


_HTTP_MESSAGES = {
    401: Message("Chưa xác thực", "Not authenticated"),
    403: Message("Không có quyền", "Forbidden"),
    404: Message("Không tìm thấy", "Not found"),
    405: Message("Phương thức không được hỗ trợ", "Method not allowed"),
    413: Message("Dữ liệu gửi lên quá lớn", "Request body too large"),
    429: Message("Quá nhiều yêu cầu", "Too many requests"),
}


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


def database_unavailable_problem() -> Problem:
    error = DatabaseUnavailable()
    return Problem(error.status, error.code, error.message, headers=error.headers)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, DomainError):  # pragma: no cover - registered for DomainError only
            raise exc
        return Problem(exc.status, exc.code, exc.message, exc.errors, exc.headers).response(request)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # pragma: no cover
            raise exc
        return validation_problem(exc).response(request)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
            raise exc
        message = _HTTP_MESSAGES.get(
            exc.status_code, Message("Yêu cầu không hợp lệ", str(exc.detail or "Bad request"))
        )
        return Problem(
            exc.status_code, f"http_{exc.status_code}", message, headers=dict(exc.headers or {})
        ).response(request)

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        if not is_database_unavailable(exc):
            raise exc  # any other database error is a bug: the server error handler answers
        return database_unavailable_problem().response(request)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(PoolTimeoutError, on_database_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
