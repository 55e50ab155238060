"""The control plane's web layer: request-scoped sessions and problem+json answers.

FastAPI lives here and in the domains' ``api`` modules, never in ``tinhso.core.db`` or
``tinhso.core.errors``, so the gateway (which has its own HTTP server) imports no web framework.

- :data:`DbSession`: one session per request, committed after the endpoint returned and before
  its answer is sent (a failed commit is answered as a problem, never as a success);
- :class:`Problem` and :func:`install_problem_handlers`: every error as RFC 9457
  ``application/problem+json`` with a Vietnamese and an English message;
- :func:`stored_file`: a file of the platform's store (:mod:`tinhso.core.storage`) as an
  answer, sent from the disk or streamed from S3, with Range requests either way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from tinhso.core.db import NotSaved, brief_error, storage_problem
from tinhso.core.errors import (
    PROBLEM_JSON,
    DatabaseUnavailable,
    DomainError,
    FieldError,
    Message,
    is_database_unavailable,
)
from tinhso.core.i18n import parse_locale

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tinhso.core.storage import FileStore

log = logging.getLogger(__name__)


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


def _roll_back(session: Session) -> None:
    try:
        session.rollback()
    except sa_exc.SQLAlchemyError as error:  # the connection is gone: close() discards it
        log.debug("request session: rollback failed: %s", error)


def request_session(request: Request) -> Iterator[Session]:
    """One session per request: commit once if the endpoint succeeded, roll back otherwise.

    Function-scoped (see :data:`DbSession`): the commit runs when the endpoint has returned
    and its answer is built, BEFORE the answer is sent, so a client told 200/201 can read its
    write at once, and a commit that fails is answered as a problem (409, 503 or 500), never
    as a success.
    """
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    session = factory()
    try:
        try:
            yield session
        except sa_exc.SQLAlchemyError as error:
            _roll_back(session)
            problem = storage_problem(error)
            if problem is None:
                raise
            log.warning(
                "request %s %s: database error: %s",
                request.method,
                request.url.path,
                brief_error(error),
            )
            raise problem from error
        except BaseException:
            _roll_back(session)
            raise
        try:
            session.commit()
        except sa_exc.SQLAlchemyError as error:
            _roll_back(session)
            log.warning(
                "request %s %s: commit failed: %s",
                request.method,
                request.url.path,
                brief_error(error),
            )
            # Any other failure of the commit is still a problem+json: nothing was saved.
            raise storage_problem(error) or NotSaved(
                "Không lưu được thay đổi; vui lòng thử lại",
                "The change was not saved; please retry",
            ) from error
    finally:
        session.close()


# scope="function": FastAPI runs the teardown (the commit) before sending the response; the
# default ("request") would run it after the response has left.
DbSession = Annotated[Session, Depends(request_session, scope="function")]


def stored_file(
    request: Request,
    files: FileStore,
    key: str,
    *,
    media_type: str | None,
    missing: DomainError,
    filename: str | None = None,
    sha256: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """A stored file as the answer: from this machine's disk with the OS's sendfile, as a
    redirect to a presigned URL when the S3 store is set so, or streamed from the store.
    ``missing`` is raised when the file is not in the store (never a 500). With a
    ``filename`` the file is sent as an attachment of that name, else inline."""
    extra = dict(headers or {})
    path = files.local_path(key)
    if path is not None:
        return FileResponse(path, filename=filename, media_type=media_type, headers=extra)
    size = files.size(key)
    if size is None:
        raise missing
    url = files.download_url(key, filename or key.rsplit("/", 1)[-1], media_type)
    if url is not None:
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    if filename:
        extra["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _streamed(request, files, key, size, media_type, sha256, extra)


def _streamed(
    request: Request,
    files: FileStore,
    key: str,
    size: int,
    media_type: str | None,
    sha256: str,
    headers: dict[str, str],
) -> Response:
    """A stored file streamed from the store, the whole of it or one byte range (RFC 9110:
    one range is answered with 206; several ranges, or an If-Range that no longer matches,
    with the whole file; a range outside it with 416)."""
    etag = f'"{sha256}"' if sha256 else None
    headers["Accept-Ranges"] = "bytes"
    if etag:
        headers["ETag"] = etag
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted and (if_range is None or if_range == etag):
        span = byte_range(wanted, size)
        if span == "unsatisfiable":
            return Response(
                status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"}
            )
        if isinstance(span, tuple):
            start, end = span
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            headers["Content-Length"] = str(end - start + 1)
            return StreamingResponse(
                files.iterate(key, start, end),
                status_code=206,
                media_type=media_type,
                headers=headers,
            )
    headers["Content-Length"] = str(size)
    return StreamingResponse(files.iterate(key), media_type=media_type, headers=headers)


def byte_range(header: str, size: int) -> tuple[int, int] | str | None:
    """The one range of a Range header as (first, last) byte, "unsatisfiable", or None (not
    one byte range we answer: the whole file is sent)."""
    found = _ONE_RANGE.fullmatch(header.strip())
    if found is None or not (found["first"] or found["last"]):
        return None
    if not found["first"]:  # the last N bytes
        length = int(found["last"])
        return (max(size - length, 0), size - 1) if length and size else "unsatisfiable"
    start = int(found["first"])
    end = min(int(found["last"]), size - 1) if found["last"] else size - 1
    if start >= size:
        return "unsatisfiable"
    return (start, end) if end >= start else None


_ONE_RANGE = re.compile(r"bytes=(?P<first>[0-9]*)-(?P<last>[0-9]*)", re.IGNORECASE)
