"""Citizens' pages, open to everyone and made for a phone first (390 px): send a report with
photos, follow it by its code, rate the answer or reopen it, and browse the public list.

Anonymous forms carry a signed form token (no cookie): a token older than two hours, or a
form sent within 3 seconds of being shown, is refused (bots fill forms at once), and a hidden
field that people do not see must stay empty (a honeypot, no CAPTCHA). Each address may send
at most ``SUBMISSIONS_PER_HOUR`` reports an hour (counted on a keyed hash of the address, so
the address itself is not stored).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from sqlalchemy import func, select
from starlette.responses import RedirectResponse, Response

from tinhso.core.calendar import load_calendar, office_hours
from tinhso.core.db import utcnow
from tinhso.core.errors import DomainError, NotFound, TooManyRequests
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.portal.rendering import render
from tinhso.portal.reports.questions import asked, chosen, sent_answers
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.units import unit_service
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.handling.states import CLOSED_STATES, EVENT_NAMES, RATING_NAMES, STATE_NAMES
from tinhso.reports.media.photos import (
    MAX_PHOTO_BYTES,
    MAX_PHOTOS,
    gps_position,
    photos_of,
    store_photo,
)
from tinhso.reports.media.storage import discard_report_files
from tinhso.reports.media.videos import (
    MAX_SECONDS,
    MAX_VIDEO_BYTES,
    MAX_VIDEOS,
    store_video,
    videos_of,
)
from tinhso.reports.models import Channel, Rating, Report
from tinhso.reports.reporters import address_of
from tinhso.reports.service import Submission, report_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.core.errors import Message

router = APIRouter()
FORM_SECONDS = 2 * 60 * 60
MIN_FILL_SECONDS = 3
SUBMISSIONS_PER_HOUR = 10
PUBLIC_LIST = 50


def say(message: Message) -> str:
    return message.vi if current_locale.get() == "vi" else message.en


def _secret(request: Request) -> bytes:
    secret: str = request.app.state.settings.secret_key.get_secret_value()
    return secret.encode()


reporter_secret = _secret
REPORTER_COOKIE = "tinhso_reporter"


def signed_in_reporter(request: Request) -> str:
    """The address a reporter signed in with on this device (``/reports/mine``), or ''."""
    token = request.cookies.get(REPORTER_COOKIE, "")
    return address_of(_secret(request), token, "session") if token else ""


def signed_form_token(secret: bytes, issued: int) -> str:
    nonce = secrets.token_hex(8)
    mac = hmac.new(secret, f"report-form:{issued}:{nonce}".encode(), hashlib.sha256)
    return f"{issued}.{nonce}.{mac.hexdigest()}"


def form_token(request: Request) -> str:
    return signed_form_token(_secret(request), int(time.time()))


def form_token_problem(request: Request, token: str) -> str | None:
    """Why the form token is refused (None: it is good)."""
    issued, _dot, rest = token.partition(".")
    nonce, _dot, mac = rest.partition(".")
    expected = hmac.new(_secret(request), f"report-form:{issued}:{nonce}".encode(), hashlib.sha256)
    if not issued.isdigit() or not hmac.compare_digest(mac, expected.hexdigest()):
        return _("The form has expired. Please try again.")
    age = time.time() - int(issued)
    if age > FORM_SECONDS:
        return _("The form has expired. Please try again.")
    if age < MIN_FILL_SECONDS:
        return _("The form was sent too quickly. Please check it and send it again.")
    return None


def _source_hash(request: Request) -> str:
    address = request.client.host if request.client else ""
    return hmac.new(
        _secret(request), f"report-source:{address}".encode(), hashlib.sha256
    ).hexdigest()


def _communes(session: Session) -> list[tuple[str, str]]:
    """(code, name) of the communes of every province the routing covers (current set)."""
    from tinhso.reports.handling.routing import routed_unit_ids  # noqa: PLC0415

    provinces = [
        node
        for node in unit_service.nodes(session, routed_unit_ids(session)).values()
        if node.level is UnitLevel.PROVINCE and node.unit_set is UnitSet.CURRENT
    ]
    found: list[tuple[str, str]] = []
    for province in provinces:
        found += [
            (node.code, f"{node.name} ({province.name})")
            for node in unit_service.subtree(session, province.id)
            if node.level is UnitLevel.COMMUNE
        ]
    return sorted(found, key=lambda item: item[1])


@dataclass
class ReportForm:
    category: str = ""
    description: str = ""
    unit_code: str = ""
    unit_name: str = ""
    address: str = ""
    latitude: str = ""
    longitude: str = ""
    use_photo_position: bool = False
    name: str = ""
    email: str = ""
    phone: str = ""
    public_name: bool = False
    answers: dict[str, str | list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _form_page(request: Request, session: Session, form: ReportForm, status: int = 200) -> Response:
    categories = [
        (c.code, c.name_vi if current_locale.get() == "vi" else c.name_en)
        for c in report_service.categories(session)
    ]
    return render(
        request,
        "reports/new.html",
        {
            "form": form,
            "errors": form.errors,
            "categories": categories,
            "questions": asked(chosen(session, form.category), form.answers, form.errors),
            "communes": _communes(session),
            "form_token": form_token(request),
            "max_photos": MAX_PHOTOS,
            "max_videos": MAX_VIDEOS,
            "max_video_seconds": MAX_SECONDS,
            "max_video_mb": MAX_VIDEO_BYTES // 1024 // 1024,
        },
        status_code=status,
    )


@router.get("/reports/new", summary="Send a field report (public)")
def new_report(request: Request, session: DbSession) -> Response:
    # A reporter signed in on this device sends with their address, so the report is theirs.
    return _form_page(request, session, ReportForm(email=signed_in_reporter(request)))


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ".")) if text.strip() else None
    except ValueError:
        return None


_FIELD_OF = {
    "service_code": "category",
    "lat": "location",
    "long": "location",
    "unit": "unit_code",
    "first_name": "name",
    "address_string": "address",
    "photo": "photos",
    "video": "videos",
}


@router.post("/reports/new", summary="Send a field report (public, form token and honeypot)")
async def send_report(
    request: Request,
    session: DbSession,
    form_token_value: Annotated[str, Form(alias="form_token")] = "",
    website: Annotated[str, Form()] = "",
    category: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=8000)] = "",
    unit_code: Annotated[str, Form(max_length=16)] = "",
    unit_name: Annotated[str, Form(max_length=200)] = "",
    address: Annotated[str, Form(max_length=1000)] = "",
    latitude: Annotated[str, Form(max_length=32)] = "",
    longitude: Annotated[str, Form(max_length=32)] = "",
    use_photo_position: Annotated[str, Form(max_length=8)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    phone: Annotated[str, Form(max_length=64)] = "",
    public_name: Annotated[str, Form(max_length=8)] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
    videos: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    form = ReportForm(
        category,
        description,
        unit_code,
        unit_name,
        address,
        latitude,
        longitude,
        bool(use_photo_position),
        name,
        email,
        phone,
        bool(public_name),
    )
    form.answers = sent_answers(await request.form(), chosen(session, category))
    files = [photo for photo in (photos or []) if photo.filename]
    # At most one byte more than a photo may have: a bigger one is refused without reading it.
    images = [await photo.read(MAX_PHOTO_BYTES + 1) for photo in files[: MAX_PHOTOS + 1]]
    # Videos stay in their spooled temporary files (on disk past 1 MB), not in memory.
    clips = [video.file for video in (videos or []) if video.filename][: MAX_VIDEOS + 1]
    problem = form_token_problem(request, form_token_value) or (
        _("The form could not be sent.") if website else None
    )
    if problem:
        form.errors["form"] = problem
        return _form_page(request, session, form, 403 if website else 400)
    return _submitted(request, session, form, images, clips)


def _refuse_a_flood(session: Session, source: str) -> None:
    """429 once one source has sent SUBMISSIONS_PER_HOUR reports within the last hour."""
    since = utcnow() - timedelta(hours=1)
    recent = session.scalar(
        select(func.count(Report.id)).where(
            Report.source_hash == source, Report.created_at >= since
        )
    )
    if (recent or 0) >= SUBMISSIONS_PER_HOUR:
        raise TooManyRequests(
            "Bạn đã gửi nhiều phản ánh trong một giờ; vui lòng thử lại sau",
            "You have sent many reports within an hour; please try again later",
            headers={"Retry-After": "3600"},
        )


def _submitted(
    request: Request,
    session: Session,
    form: ReportForm,
    images: list[bytes],
    clips: list[BinaryIO],
) -> Response:
    settings = request.app.state.settings
    source = _source_hash(request)
    _refuse_a_flood(session, source)
    if len(images) > MAX_PHOTOS:
        form.errors["photos"] = _("At most %(count)s photos.") % {"count": MAX_PHOTOS}
        return _form_page(request, session, form, 422)
    if len(clips) > MAX_VIDEOS:
        form.errors["videos"] = _("At most %(count)s videos.") % {"count": MAX_VIDEOS}
        return _form_page(request, session, form, 422)
    latitude, longitude = _number(form.latitude), _number(form.longitude)
    if latitude is None and form.use_photo_position:
        position = next((p for p in map(gps_position, images) if p), None)
        if position:
            latitude, longitude = position
    files = request.app.state.report_files
    stored: int | None = None  # the report whose files are removed if it is not stored
    try:
        submitted = report_service.submit(
            session,
            Submission(
                category_code=form.category,
                description=form.description,
                channel=Channel.WEB,
                latitude=latitude,
                longitude=longitude,
                address=form.address,
                unit_code=form.unit_code or None,
                unit_name=form.unit_name or None,
                reporter_name=form.name,
                reporter_email=form.email,
                reporter_phone=form.phone,
                reporter_public=form.public_name,
                attributes=dict(form.answers),
            ),
            load_calendar(session, office_hours(settings)),
            DeadlinePolicy.from_settings(settings.reports),
        )
        submitted.report.source_hash = source
        stored = submitted.report.id
        for image in images:
            store_photo(session, submitted.report, image, files)
        for clip in clips:
            store_video(session, submitted.report, clip, files)
    except DomainError as error:
        session.rollback()
        if stored is not None:
            discard_report_files(files, stored)
        for problem in error.errors or []:
            form.errors.setdefault(
                _FIELD_OF.get(problem.field, problem.field), say(problem.message)
            )
        if not error.errors:
            form.errors["form"] = say(error.message)
        return _form_page(request, session, form, 422)
    session.commit()  # the code is shown only once the report is stored
    answer = render(
        request,
        "reports/sent.html",
        {"report": submitted.report, "key": submitted.reporter_key},
        status_code=201,
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


# -- following a report --------------------------------------------------------------------


def _public_report(session: Session, code: str) -> Report:
    report = report_service.get(session, code.strip().upper()[:32])
    if report.hidden:
        raise NotFound(f"Không có phản ánh mã {code}", f"There is no report with the code {code}")
    return report


def track_context(session: Session, report: Report) -> dict[str, Any]:
    from tinhso.registry.organisations import organisation_service  # noqa: PLC0415

    category = report_service.category_by_id(session, report.category_id)
    organisation = (
        organisation_service.by_ids(session, {report.organisation_id}).get(report.organisation_id)
        if report.organisation_id is not None
        else None
    )
    unit = (
        unit_service.nodes(session, [report.unit_id]).get(report.unit_id)
        if report.unit_id
        else None
    )
    events = report_service.timeline(session, report, public_only=True)
    return {
        "report": report,
        "category": say_category(category),
        "organisation": organisation,
        "unit": unit,
        "state": say(STATE_NAMES[report.state]),
        "closed": report.state in CLOSED_STATES,
        "late": report_service.is_late(report),
        "events": [
            (event, say(EVENT_NAMES.get(event.action, STATE_NAMES[event.to_state])))
            for event in events
        ],
        "photos": photos_of(session, report),
        "videos": videos_of(session, report, released_only=True),
        "ratings": [(rating.value, say(name)) for rating, name in RATING_NAMES.items()],
        "rating": say(RATING_NAMES[report.rating]) if report.rating else "",
        "error": "",
    }


def say_category(category: Any) -> str:
    return str(category.name_vi if current_locale.get() == "vi" else category.name_en)


@router.get("/reports/nearby", summary="Open reports of a category near a point (public, HTMX)")
def nearby(
    request: Request,
    session: DbSession,
    category: Annotated[str, Query(max_length=64)] = "",
    latitude: Annotated[str, Query(max_length=32)] = "",
    longitude: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    lat, lon = _number(latitude), _number(longitude)
    found: list[tuple[Report, float]] = []
    if category and lat is not None and lon is not None:
        try:
            found = report_service.nearby_open(session, category, lat, lon)
        except DomainError:
            found = []
    return render(request, "reports/_nearby.html", {"found": found})


@router.get("/reports/track", summary="Find a report by its code (public)")
def find_report(code: Annotated[str, Query(max_length=40)] = "") -> Response:
    return RedirectResponse(f"/reports/{code.strip().upper()[:32] or 'x'}", status_code=303)


@router.get("/reports/{code}", summary="A report, its answer and timeline (public)")
def track(request: Request, session: DbSession, code: str) -> Response:
    report = _public_report(session, code)
    context = track_context(session, report)
    context["form_token"] = form_token(request)
    context["is_reporter"] = _is_reporter(request, report)
    return render(request, "reports/track.html", context)


def _is_reporter(request: Request, report: Report) -> bool:
    signed_in = signed_in_reporter(request)
    return bool(signed_in) and report.reporter_email.strip().lower() == signed_in


@router.post("/reports/{code}/rating", summary="The reporter rates the answer (reporter key)")
def rate(
    request: Request,
    session: DbSession,
    code: str,
    key: Annotated[str, Form(max_length=100)] = "",
    rating: Annotated[str, Form(max_length=16)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    report = _public_report(session, code)
    try:
        report_service.rate(
            session,
            report.code,
            key,
            Rating(rating),
            comment,
            verified_email=signed_in_reporter(request),
        )
    except ValueError:
        return _track_error(request, session, report, _("Choose satisfied or not satisfied."))
    except DomainError as error:
        session.rollback()
        return _track_error(request, session, report, say(error.message))
    session.commit()
    return RedirectResponse(f"/reports/{report.code}?rated=1", status_code=303)


@router.post("/reports/{code}/reopen", summary="The reporter rejects the answer (reporter key)")
def reopen(
    request: Request,
    session: DbSession,
    code: str,
    key: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    report = _public_report(session, code)
    settings = request.app.state.settings
    calendar = load_calendar(session, office_hours(settings))
    policy = DeadlinePolicy.from_settings(settings.reports)
    try:
        report_service.reopen(
            session,
            report.code,
            key,
            reason,
            calendar,
            policy,
            verified_email=signed_in_reporter(request),
        )
    except DomainError as error:
        session.rollback()
        return _track_error(request, session, report, say(error.message))
    session.commit()
    return RedirectResponse(f"/reports/{report.code}?reopened=1", status_code=303)


def _track_error(request: Request, session: Session, report: Report, message: str) -> Response:
    session.refresh(report)
    context = track_context(session, report)
    context.update(
        error=message, form_token=form_token(request), is_reporter=_is_reporter(request, report)
    )
    return render(request, "reports/track.html", context, status_code=422)


# -- the public list ------------------------------------------------------------------------


@dataclass(frozen=True)
class ListFilters:
    category: str = ""
    unit: str = ""
    status: str = ""  # open | closed
    late: bool = False


def public_reports(
    session: Session, filters: ListFilters, limit: int = PUBLIC_LIST
) -> list[Report]:
    query = select(Report).where(Report.hidden.is_(False))
    if filters.category:
        category = report_service.category(session, filters.category, "category")
        query = query.where(Report.category_id == category.id)
    if filters.unit:
        unit = unit_service.get(session, UnitSet.CURRENT, filters.unit)
        query = query.where(Report.unit_id.in_(unit_service.descendant_ids(session, [unit.id])))
    if filters.status in ("open", "closed"):
        closed = Report.state.in_(list(CLOSED_STATES))
        query = query.where(closed if filters.status == "closed" else ~closed)
    query = query.order_by(Report.created_at.desc(), Report.id.desc())
    if not filters.late:
        return list(session.scalars(query.limit(limit)))
    late = [r for r in session.scalars(query.limit(2000)) if report_service.is_late(r)]
    return late[:limit]


@router.get("/reports", summary="Field reports: the public list (public)")
def public_list(
    request: Request,
    session: DbSession,
    category: Annotated[str, Query(max_length=64)] = "",
    unit: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=8)] = "",
    late: Annotated[str, Query(max_length=4)] = "",
) -> Response:
    filters = ListFilters(category, unit, status, late == "1")
    try:
        reports = public_reports(session, filters)
        error = ""
    except DomainError as problem:
        reports, error = [], say(problem.message)
    categories = {c.id: c for c in report_service.categories(session, active_only=False)}
    units = unit_service.nodes(session, {r.unit_id for r in reports if r.unit_id is not None})
    rows = [
        {
            "report": r,
            "category": say_category(categories[r.category_id]),
            "unit": units[r.unit_id].name if r.unit_id in units else "",
            "state": say(STATE_NAMES[r.state]),
            "closed": r.state in CLOSED_STATES,
            "late": report_service.is_late(r),
        }
        for r in reports
    ]
    return render(
        request,
        "reports/index.html",
        {
            "rows": rows,
            "filters": filters,
            "error": error,
            "categories": [(c.code, say_category(c)) for c in categories.values() if c.active],
            "communes": _communes(session),
        },
    )
