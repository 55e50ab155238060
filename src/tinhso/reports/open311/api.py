"""Open311 GeoReport v2 at ``/open311/v2/``: services, service definitions and requests.

Shapes follow the specification (open311.github.io, GeoReport/v2): JSON is the spec's bare
arrays, XML its ``services/service``, ``service_definition``, ``service_requests/request``
and ``errors/error`` documents; errors carry the HTTP status in their body's ``code``. POST
``requests`` is form-encoded and needs an ``api_key`` issued by an operator; reading is open
to everyone, and shows a reporter's name only if they agreed to it. Messages are in
Vietnamese, or in English when the caller's Accept-Language prefers it (one language each).

Extensions: ``page``/``page_size`` on ``requests``; ``extensions=true`` adds the Vietnamese
state, deadlines, the unit and the public timeline; POST also takes ``unit_code`` (a current
administrative unit) or ``unit_name`` (a commune's name, a pre-2025 one included) and answers
a ``reporter_key`` with which the reporter rates or reopens.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any
from xml.etree import ElementTree as etree  # noqa: N813 - building documents only, never parsing

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData

from tinhso.core.calendar import load_calendar, office_hours
from tinhso.core.db import utcnow
from tinhso.core.errors import DomainError, Forbidden, Unavailable
from tinhso.core.i18n import parse_locale
from tinhso.core.web import DbSession
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.models import Channel
from tinhso.reports.open311 import keys
from tinhso.reports.open311.documents import (
    Format,
    Open311Error,
    answer_document,
    attribute_order,
    attribute_row,
    document,
    error_document,
    names_of,
    request_row,
    service_row,
    xml_fields,
)
from tinhso.reports.open311.queries import filters_of, matching
from tinhso.reports.service import Submission, report_service

if TYPE_CHECKING:
    from tinhso.core.config import Settings
    from tinhso.core.i18n import Locale

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"])


def _locale(request: Request) -> Locale:
    return parse_locale(request.headers.get("accept-language"))


async def _run(request: Request, fmt: str, work: Any, *args: Any) -> Response:
    """Run ``work`` in a thread; every refusal becomes Open311's ``errors`` document."""
    locale = _locale(request)
    if fmt not in ("json", "xml"):
        vi, en = "Định dạng chỉ có thể là json hoặc xml", "The format is json or xml"
        return error_document("json", 404, vi if locale == "vi" else en)
    try:
        return await run_in_threadpool(work, *args)
    except Open311Error as error:
        return error_document(fmt, error.status, error.vi if locale == "vi" else error.en)
    except Unavailable:
        raise
    except DomainError as error:
        messages = [error.message] + [problem.message for problem in error.errors[1:]]
        fields = [problem.field for problem in error.errors]
        text = "; ".join(m.vi if locale == "vi" else m.en for m in messages)
        if fields and fields[0]:
            text = f"{fields[0]}: {text}"
        # The specification's statuses: 403 (key), 404 (unknown), 400 for anything else.
        status = 403 if isinstance(error, Forbidden) else 404 if error.status == 404 else 400
        return error_document(fmt, status, text)


# -- services -------------------------------------------------------------------------------


_FORMAT = Path(description="json hoặc xml / json or xml")
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Open311 document (JSON bare array, or XML)",
        "content": {"application/json": {}, "application/xml": {"schema": {"type": "string"}}},
    },
    "4XX": {
        "description": "Open311 errors [{code, description}] (or problem+json / the portal's "
        "page when the request cannot be read)",
        "content": {
            "application/json": {},
            "application/xml": {"schema": {"type": "string"}},
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
            "text/html": {"schema": {"type": "string"}},
        },
    },
}


@router.get(
    "/services.{fmt}",
    summary="Loại phản ánh (Open311) / Report categories (Open311 services)",
    responses=_RESPONSES,
    response_class=Response,
)
async def services(request: Request, session: DbSession, fmt: Format = _FORMAT) -> Response:
    def work() -> Response:
        locale = _locale(request)
        rows = [service_row(c, locale) for c in report_service.categories(session)]
        return answer_document(fmt, "services", "service", rows)

    return await _run(request, fmt, work)


@router.get(
    "/services/{service_code}.{fmt}",
    summary="Câu hỏi của một loại phản ánh / A category's definition (Open311)",
    responses=_RESPONSES,
    response_class=Response,
)
async def service_definition(
    request: Request,
    session: DbSession,
    service_code: str = Path(max_length=64),
    fmt: Format = _FORMAT,
) -> Response:
    def work() -> Response:
        category = report_service.category(session, service_code)
        locale = _locale(request)
        definition = {
            "service_code": category.code,
            "attributes": [
                attribute_row(a, locale) for a in sorted(category.attributes, key=attribute_order)
            ],
        }
        if fmt == "xml":
            top = etree.Element("service_definition")
            xml_fields(top, definition)
            return Response(document(top), media_type="application/xml")
        return JSONResponse(definition)

    return await _run(request, fmt, work)


# -- requests -------------------------------------------------------------------------------


Text = Annotated[str | None, Query(max_length=200)]


@router.get(
    "/requests.{fmt}",
    summary="Phản ánh (Open311) / Service requests (Open311)",
    responses=_RESPONSES,
    response_class=Response,
)
async def requests_list(
    request: Request,
    session: DbSession,
    fmt: Format = _FORMAT,
    service_request_id: Text = None,
    service_code: Text = None,
    start_date: Text = None,
    end_date: Text = None,
    status: Text = None,
    page: Text = None,
    page_size: Text = None,
    extensions: Text = None,
    jurisdiction_id: Text = None,
) -> Response:
    def work() -> Response:
        locale = _locale(request)
        filters = filters_of(request, request.app.state.settings)
        reports = matching(session, filters)
        wanted = extensions == "true"
        names = names_of(session, reports, locale, str(request.base_url), extensions=wanted)
        rows = [request_row(session, r, names, locale, wanted) for r in reports]
        return answer_document(fmt, "service_requests", "request", rows)

    return await _run(request, fmt, work)


@router.get(
    "/requests/{service_request_id}.{fmt}",
    summary="Một phản ánh (Open311) / One service request (Open311)",
    responses=_RESPONSES,
    response_class=Response,
)
async def request_one(
    request: Request,
    session: DbSession,
    service_request_id: str = Path(max_length=32),
    fmt: Format = _FORMAT,
    extensions: Text = None,
    jurisdiction_id: Text = None,
) -> Response:
    def work() -> Response:
        locale = _locale(request)
        report = report_service.get(session, service_request_id)
        if report.hidden:  # moderated out of every public view
            raise Open311Error(
                404,
                f"Không có phản ánh mã {service_request_id}",
                f"There is no report with the code {service_request_id}",
            )
        wanted = extensions == "true"
        names = names_of(session, [report], locale, str(request.base_url), extensions=wanted)
        row = request_row(session, report, names, locale, wanted)
        return answer_document(fmt, "service_requests", "request", [row])

    return await _run(request, fmt, work)


@router.get(
    "/tokens/{token}.{fmt}",
    summary="Mã chờ (Open311) / Request token (Open311)",
    responses=_RESPONSES,
    response_class=Response,
)
async def token(
    request: Request, token: str = Path(max_length=64), fmt: Format = _FORMAT
) -> Response:
    def work() -> Response:
        # Every category is "realtime": a POST answers the report's code at once and no
        # token is ever issued, so no token exists.
        raise Open311Error(404, f"Không có mã chờ {token}", f"There is no token {token}")

    return await _run(request, fmt, work)


# -- POST requests --------------------------------------------------------------------------


def _float(form: FormData, name: str) -> float | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise Open311Error(
            400, f"{name}: “{raw}” không phải số", f"{name}: “{raw}” is not a number"
        ) from None


def _form_attributes(form: FormData) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in form.multi_items():
        if not name.startswith("attribute[") or isinstance(value, str) is False:
            continue
        inner = name[len("attribute[") :]
        code, _, rest = inner.partition("]")
        if rest == "[]":
            found.setdefault(code, []).append(value)
        elif rest == "":
            found[code] = value
    return found


def _submission(form: FormData, api_key_id: int) -> Submission:
    text = {
        name: str(form.get(name) or "")
        for name in (
            "service_code",
            "description",
            "address_string",
            "unit_code",
            "unit_name",
            "first_name",
            "last_name",
            "email",
            "phone",
        )
    }
    if not text["service_code"]:
        raise Open311Error(400, "Thiếu service_code", "service_code is required")
    return Submission(
        category_code=text["service_code"],
        description=text["description"],
        channel=Channel.API,
        latitude=_float(form, "lat"),
        longitude=_float(form, "long"),
        address=text["address_string"],
        unit_code=text["unit_code"] or None,
        unit_name=text["unit_name"] or None,
        attributes=_form_attributes(form),
        reporter_name=f"{text['first_name']} {text['last_name']}".strip(),
        reporter_email=text["email"],
        reporter_phone=text["phone"],
        reporter_public=str(form.get("public_name") or "") == "true",
        api_key_id=api_key_id,
    )


@router.post(
    "/requests.{fmt}",
    summary="Gửi phản ánh (Open311, cần api_key) / Create a service request (api_key)",
    responses={**_RESPONSES, 201: _RESPONSES[200]},
    response_class=Response,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "additionalProperties": {"type": "string"}}
                }
            },
        }
    },
)
async def requests_create(request: Request, session: DbSession, fmt: Format = _FORMAT) -> Response:
    try:
        form = await request.form(max_files=0, max_fields=200)
    except Exception:
        return error_document(
            fmt if fmt in ("json", "xml") else "json", 400, "form-encoded body expected"
        )

    def work() -> Response:
        settings: Settings = request.app.state.settings
        key = keys.valid_key(session, str(form.get("api_key") or ""))
        if key is None:
            raise Open311Error(
                403,
                "api_key không hợp lệ; không thể tạo phản ánh",
                "Invalid api_key received -- can't proceed with create_request.",
            )
        limit = settings.reports.open311_reports_per_key_hour
        if (
            report_service.sent_by_key_since(session, key.id, utcnow() - timedelta(hours=1))
            >= limit
        ):
            raise Open311Error(
                429,
                f"Khoá này đã gửi {limit} phản ánh trong một giờ; vui lòng thử lại sau",
                f"This key has sent {limit} reports within an hour; please retry later",
            )
        calendar = load_calendar(session, office_hours(settings))
        policy = DeadlinePolicy.from_settings(settings.reports)
        submitted = report_service.submit(session, _submission(form, key.id), calendar, policy)
        session.commit()  # the answer follows the commit
        row = {
            "service_request_id": submitted.report.code,
            "service_notice": "",
            "account_id": None,
            "reporter_key": submitted.reporter_key,
        }
        return answer_document(fmt, "service_requests", "request", [row], status=201)

    answer = await _run(request, fmt, work)
    if answer.status_code >= 400:
        await run_in_threadpool(session.rollback)
    return answer
