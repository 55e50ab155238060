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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal
from xml.etree import ElementTree as etree  # noqa: N813 - building documents only, never parsing

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from tinhso.core.calendar import load_calendar, office_hours
from tinhso.core.db import utcnow
from tinhso.core.errors import DomainError, Forbidden, Unavailable
from tinhso.core.i18n import parse_locale
from tinhso.core.web import DbSession
from tinhso.registry.organisations import organisation_service
from tinhso.registry.units import unit_service
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.handling.states import EVENT_NAMES, STATE_NAMES, open311_status
from tinhso.reports.media.photos import first_photos
from tinhso.reports.models import Channel, Report, ReportCategory, ReportEvent, ReportState
from tinhso.reports.open311 import keys
from tinhso.reports.service import Submission, report_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.core.config import Settings
    from tinhso.core.i18n import Locale

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"])
Format = Literal["json", "xml"]


class Open311Error(Exception):
    def __init__(self, status: int, vi: str, en: str) -> None:
        super().__init__(en)
        self.status = status
        self.vi = vi
        self.en = en


# -- rendering ------------------------------------------------------------------------------


def _xml(root: str, item: str, rows: list[dict[str, Any]]) -> bytes:
    top = etree.Element(root)
    for row in rows:
        _xml_fields(etree.SubElement(top, item), row)
    return _document(top)


def _document(top: etree.Element) -> bytes:
    return bytes(etree.tostring(top, xml_declaration=True, encoding="utf-8"))


def _xml_fields(parent: etree.Element, row: dict[str, Any]) -> None:
    for name, value in row.items():
        child = etree.SubElement(parent, name)
        if isinstance(value, dict):
            _xml_fields(child, value)
        elif isinstance(value, list):
            singular = {"attributes": "attribute", "values": "value", "notes": "note"}.get(
                name, "item"
            )
            for entry in value:
                element = etree.SubElement(child, singular)
                if isinstance(entry, dict):
                    _xml_fields(element, entry)
                else:
                    element.text = str(entry)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)


def _answer(
    fmt: Format, root: str, item: str, rows: list[dict[str, Any]], status: int = 200
) -> Response:
    if fmt == "xml":
        return Response(_xml(root, item, rows), status, media_type="application/xml")
    return JSONResponse(rows, status)


def _error(fmt: str, status: int, description: str) -> Response:
    rows = [{"code": status, "description": description}]
    if fmt == "xml":
        return Response(_xml("errors", "error", rows), status, media_type="application/xml")
    return JSONResponse(rows, status)


def _locale(request: Request) -> Locale:
    return parse_locale(request.headers.get("accept-language"))


async def _run(request: Request, fmt: str, work: Any, *args: Any) -> Response:
    """Run ``work`` in a thread; every refusal becomes Open311's ``errors`` document."""
    locale = _locale(request)
    if fmt not in ("json", "xml"):
        vi, en = "Định dạng chỉ có thể là json hoặc xml", "The format is json or xml"
        return _error("json", 404, vi if locale == "vi" else en)
    try:
        return await run_in_threadpool(work, *args)
    except Open311Error as error:
        return _error(fmt, error.status, error.vi if locale == "vi" else error.en)
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
        return _error(fmt, status, text)


# -- services -------------------------------------------------------------------------------


def _service(category: ReportCategory, locale: Locale) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name_vi if locale == "vi" else category.name_en,
        "description": category.description_vi if locale == "vi" else category.description_en,
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": category.keywords,
        "group": category.group_vi,
    }


def _attribute(attribute: dict[str, Any], locale: Locale) -> dict[str, Any]:
    description = attribute.get("description", "")
    if locale != "vi" and attribute.get("description_en"):
        description = attribute["description_en"]
    found = {
        "variable": attribute.get("variable", True),
        "code": attribute["code"],
        "datatype": attribute["datatype"],
        "required": bool(attribute.get("required", False)),
        "datatype_description": attribute.get("datatype_description", ""),
        "order": attribute["order"],
        "description": description,
    }
    if attribute["datatype"] in ("singlevaluelist", "multivaluelist"):
        found["values"] = [
            {"key": value["key"], "name": value["name"]} for value in attribute.get("values", [])
        ]
    return found


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
        rows = [_service(c, locale) for c in report_service.categories(session)]
        return _answer(fmt, "services", "service", rows)

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
            "attributes": [_attribute(a, locale) for a in sorted(category.attributes, key=_order)],
        }
        if fmt == "xml":
            top = etree.Element("service_definition")
            _xml_fields(top, definition)
            return Response(_document(top), media_type="application/xml")
        return JSONResponse(definition)

    return await _run(request, fmt, work)


def _order(attribute: dict[str, Any]) -> int:
    return int(attribute["order"])


# -- requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    categories: dict[int, ReportCategory]
    organisations: dict[int, str]
    units: dict[int, tuple[str, str]]  # id -> (code, name)
    photos: dict[int, int]  # report id -> its first photo's id
    base_url: str
    timelines: dict[int, list[ReportEvent]]  # only when the extensions are asked for


def _names(
    session: Session,
    reports: list[Report],
    locale: Locale,
    base_url: str,
    *,
    extensions: bool = False,
) -> Names:
    categories = {c.id: c for c in report_service.categories(session, active_only=False)}
    organisations = organisation_service.by_ids(
        session, {r.organisation_id for r in reports if r.organisation_id is not None}
    )
    nodes = unit_service.nodes(session, {r.unit_id for r in reports if r.unit_id is not None})
    return Names(
        categories,
        {
            key: (o.name_vi if locale == "vi" or not o.name_en else o.name_en)
            for key, o in organisations.items()
        },
        {key: (node.code, node.name) for key, node in nodes.items()},
        first_photos(session, [r.id for r in reports]),
        base_url.rstrip("/"),
        report_service.timelines(session, [r.id for r in reports]) if extensions else {},
    )


def _w3c(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _request_row(
    session: Session, report: Report, names: Names, locale: Locale, extensions: bool
) -> dict[str, Any]:
    category = names.categories[report.category_id]
    state = STATE_NAMES[report.state]
    unit = names.units.get(report.unit_id) if report.unit_id is not None else None
    address = report.address or (unit[1] if unit else "")
    row: dict[str, Any] = {
        "service_request_id": report.code,
        "status": open311_status(report.state),
        "status_notes": report.answer or (state.vi if locale == "vi" else state.en),
        "service_name": category.name_vi if locale == "vi" else category.name_en,
        "service_code": category.code,
        "description": report.description,
        "agency_responsible": names.organisations.get(report.organisation_id or 0, ""),
        "service_notice": "",
        "requested_datetime": _w3c(report.created_at),
        "updated_datetime": _w3c(report.closed_at or report.updated_at),
        "expected_datetime": _w3c(report.resolve_due_at or report.accept_due_at),
        "address": address,
        "address_id": "",
        "zipcode": "",
        "lat": report.latitude,
        "long": report.longitude,
        "media_url": (
            f"{names.base_url}/reports/photos/{names.photos[report.id]}"
            if report.id in names.photos
            else ""
        ),
    }
    if report.reporter_public and report.reporter_name:
        row["requestor_name"] = report.reporter_name
    if extensions:
        row["extended_attributes"] = _extended(session, report, unit, locale)
        row["notes"] = [
            {
                "datetime": _w3c(event.at),
                "description": event.note
                or (
                    EVENT_NAMES.get(event.action, STATE_NAMES[event.to_state]).vi
                    if locale == "vi"
                    else EVENT_NAMES.get(event.action, STATE_NAMES[event.to_state]).en
                ),
                "type": event.action,
            }
            for event in names.timelines.get(report.id, [])
            if event.public
        ]
    return row


def _extended(
    session: Session, report: Report, unit: tuple[str, str] | None, locale: Locale
) -> dict[str, Any]:
    state = STATE_NAMES[report.state]
    return {
        "state": report.state.value,
        "state_name": state.vi if locale == "vi" else state.en,
        "severity": report.severity.value,
        "channel": report.channel.value,
        "accept_due_datetime": _w3c(report.accept_due_at),
        "resolve_due_datetime": _w3c(report.resolve_due_at),
        "late": report_service.is_late(report),
        "extended": report.extended,
        "unit_code": unit[0] if unit else "",
        "unit_name": unit[1] if unit else "",
        "rating": report.rating.value if report.rating else "",
        "synthetic": report.synthetic,
    }


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400,
            f"{name}: “{value}” không phải thời điểm W3C (ví dụ 2026-01-01T00:00:00Z)",
            f"{name}: “{value}” is not a W3C datetime (e.g. 2026-01-01T00:00:00Z)",
        ) from None
    if moment.tzinfo is None:
        raise Open311Error(
            400,
            f"{name}: cần múi giờ (ví dụ 2026-01-01T00:00:00+07:00)",
            f"{name}: a time zone is needed (e.g. 2026-01-01T00:00:00+07:00)",
        )
    return moment


def _positive(value: str | None, name: str, default: int, most: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= most:
        raise Open311Error(
            400, f"{name} phải là số nguyên từ 1 đến {most}", f"{name} must be 1 to {most}"
        )
    return int(value)


@dataclass(frozen=True)
class Filters:
    ids: list[str] | None
    codes: list[str] | None
    statuses: set[str] | None
    start: datetime
    end: datetime
    page: int
    page_size: int


def _filters(request: Request, settings: Settings) -> Filters:
    params = request.query_params
    section = settings.reports
    ids = [part.strip() for part in params.get("service_request_id", "").split(",") if part.strip()]
    codes = [part.strip() for part in params.get("service_code", "").split(",") if part.strip()]
    statuses = {part.strip() for part in params.get("status", "").split(",") if part.strip()}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status chỉ là open hoặc closed", "status is open or closed")
    end = _moment(params.get("end_date"), "end_date") or utcnow()
    start = _moment(params.get("start_date"), "start_date") or end - timedelta(
        days=section.open311_default_days
    )
    if end < start:
        raise Open311Error(400, "end_date trước start_date", "end_date is before start_date")
    if end - start > timedelta(days=section.open311_default_days):
        days = section.open311_default_days
        raise Open311Error(
            400,
            f"Khoảng thời gian không được quá {days} ngày",
            f"The date range may not span more than {days} days",
        )
    most = section.open311_max_requests
    return Filters(
        ids or None,
        codes or None,
        statuses or None,
        start,
        end,
        _positive(params.get("page"), "page", 1, 1_000_000),
        _positive(params.get("page_size"), "page_size", most, most),
    )


def _matching(session: Session, filters: Filters) -> list[Report]:
    query = (
        select(Report)
        .where(Report.hidden.is_(False))
        .order_by(Report.created_at.desc(), Report.id.desc())
    )
    if filters.ids is not None:  # overrides every other filter, as the specification says
        query = query.where(Report.code.in_(filters.ids[:1000]))
    else:
        query = query.where(Report.created_at >= filters.start, Report.created_at <= filters.end)
        if filters.codes is not None:
            category_ids = select(ReportCategory.id).where(ReportCategory.code.in_(filters.codes))
            query = query.where(Report.category_id.in_(category_ids))
        if filters.statuses is not None and len(filters.statuses) == 1:
            closed = [ReportState.REFUSED, ReportState.RESOLVED, ReportState.DUPLICATE]
            wanted = Report.state.in_(closed)
            query = query.where(wanted if "closed" in filters.statuses else ~wanted)
    offset = (filters.page - 1) * filters.page_size
    return list(session.scalars(query.offset(offset).limit(filters.page_size)))


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
        filters = _filters(request, request.app.state.settings)
        reports = _matching(session, filters)
        wanted = extensions == "true"
        names = _names(session, reports, locale, str(request.base_url), extensions=wanted)
        rows = [_request_row(session, r, names, locale, wanted) for r in reports]
        return _answer(fmt, "service_requests", "request", rows)

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
        names = _names(session, [report], locale, str(request.base_url), extensions=wanted)
        row = _request_row(session, report, names, locale, wanted)
        return _answer(fmt, "service_requests", "request", [row])

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
        return _error(fmt if fmt in ("json", "xml") else "json", 400, "form-encoded body expected")

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
        return _answer(fmt, "service_requests", "request", [row], status=201)

    answer = await _run(request, fmt, work)
    if answer.status_code >= 400:
        await run_in_threadpool(session.rollback)
    return answer
