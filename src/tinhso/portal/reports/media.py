"""A report's photos and videos: the public copies (photos redacted where staff covered an
area; videos only once an official of the report's organisation released them) and, for the
report's organisation, the copies as sent, covering areas of a photo and releasing a video."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError, Forbidden, NotFound
from tinhso.core.web import DbSession, stored_file
from tinhso.portal.auth import PortalUser
from tinhso.portal.reports.citizen import say
from tinhso.registry.auth import require_officer
from tinhso.reports.auth import require_reader
from tinhso.reports.media.photos import Area, public_path, redact
from tinhso.reports.media.videos import release
from tinhso.reports.models import Report, ReportPhoto, ReportVideo

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal

router = APIRouter()

PUBLIC_CACHE = {"Cache-Control": "public, max-age=86400"}
PRIVATE_CACHE = {"Cache-Control": "private, no-store"}


def _photo_and_report(session: Session, photo_id: int) -> tuple[ReportPhoto, Report]:
    photo = session.get(ReportPhoto, photo_id)
    report = session.get(Report, photo.report_id) if photo else None
    if photo is None or report is None:
        raise NotFound(f"Không có ảnh {photo_id}", f"There is no photo {photo_id}")
    return photo, report


def _video_and_report(session: Session, video_id: int) -> tuple[ReportVideo, Report]:
    video = session.get(ReportVideo, video_id)
    report = session.get(Report, video.report_id) if video else None
    if video is None or report is None:
        raise NotFound(f"Không có video {video_id}", f"There is no video {video_id}")
    return video, report


def _require_handler(session: Session, principal: Principal, report: Report) -> None:
    """The report's officers, or the operations centre for a report no organisation holds."""
    if report.organisation_id is None:
        if not principal.is_platform_admin:
            raise Forbidden("Chỉ trung tâm điều hành", "Only the operations centre")
    else:
        require_officer(session, principal, report.organisation_id)


def _file(request: Request, key: str, media_type: str, headers: dict[str, str]) -> Response:
    """A stored photo or video from the file store (404 when the file is not there)."""
    return stored_file(
        request,
        request.app.state.report_files,
        key,
        media_type=media_type,
        missing=NotFound("Không tìm thấy tệp", "The file is not found"),
        headers=headers,
    )


def _video_file(
    request: Request, video: ReportVideo, *, poster: bool, headers: dict[str, str]
) -> Response:
    if poster:
        return _file(request, video.poster_path, "image/jpeg", headers)
    return _file(request, video.stored_path, video.media_type, headers)


# -- the public copies ----------------------------------------------------------------------


@router.get(
    "/reports/photos/{photo_id:int}", summary="A report's photo, metadata stripped (public)"
)
def photo(request: Request, session: DbSession, photo_id: int) -> Response:
    found = session.get(ReportPhoto, photo_id)
    report = session.get(Report, found.report_id) if found else None
    if found is None or report is None or report.hidden:
        raise NotFound(f"Không có ảnh {photo_id}", f"There is no photo {photo_id}")
    return _file(request, public_path(found), "image/jpeg", PUBLIC_CACHE)


def _released(session: Session, video_id: int) -> ReportVideo:
    found = session.get(ReportVideo, video_id)
    report = session.get(Report, found.report_id) if found else None
    if found is None or report is None or report.hidden or found.released_at is None:
        raise NotFound(f"Không có video {video_id}", f"There is no video {video_id}")
    return found


@router.get(
    "/reports/videos/{video_id:int}",
    summary="A report's video, metadata stripped, once an official released it (public)",
)
def video(request: Request, session: DbSession, video_id: int) -> Response:
    return _video_file(request, _released(session, video_id), poster=False, headers=PUBLIC_CACHE)


@router.get(
    "/reports/videos/{video_id:int}/poster",
    summary="A released video's first frame as a JPEG (public)",
)
def video_poster(request: Request, session: DbSession, video_id: int) -> Response:
    return _video_file(request, _released(session, video_id), poster=True, headers=PUBLIC_CACHE)


# -- the report's organisation --------------------------------------------------------------


@router.get(
    "/reports/photos/{photo_id:int}/original",
    summary="A photo as sent, before redaction (the report's organisation's members)",
)
def original_photo(
    request: Request, session: DbSession, principal: PortalUser, photo_id: int
) -> Response:
    found, report = _photo_and_report(session, photo_id)
    require_reader(session, principal, report.organisation_id)
    return _file(request, found.stored_path, "image/jpeg", PRIVATE_CACHE)


@router.post(
    "/reports/photos/{photo_id:int}/redact",
    summary="Cover an area of a photo for the public (the report's officers, CSRF)",
)
def redact_photo(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    photo_id: int,
    left: Annotated[float, Form(ge=0, le=100)] = 0,
    top: Annotated[float, Form(ge=0, le=100)] = 0,
    width: Annotated[float, Form(ge=0, le=100)] = 0,
    height: Annotated[float, Form(ge=0, le=100)] = 0,
) -> Response:
    found, report = _photo_and_report(session, photo_id)
    _require_handler(session, principal, report)
    try:
        redact(
            session,
            found,
            Area(left, top, width, height),
            request.app.state.report_files,
            principal.user_id,
        )
    except DomainError as error:
        session.rollback()
        from tinhso.portal.reports.officer import handle_page  # noqa: PLC0415

        return handle_page(request, session, principal, report, say(error.message), error.status)
    session.commit()
    return RedirectResponse(f"/reports/{report.code}/handle", status_code=303)


@router.get(
    "/reports/videos/{video_id:int}/original",
    summary="A video as stored, released or not (the report's organisation's members)",
)
def original_video(
    request: Request, session: DbSession, principal: PortalUser, video_id: int
) -> Response:
    found, report = _video_and_report(session, video_id)
    require_reader(session, principal, report.organisation_id)
    return _video_file(request, found, poster=False, headers=PRIVATE_CACHE)


@router.get(
    "/reports/videos/{video_id:int}/original/poster",
    summary="A video's first frame, released or not (the report's organisation's members)",
)
def original_video_poster(
    request: Request, session: DbSession, principal: PortalUser, video_id: int
) -> Response:
    found, report = _video_and_report(session, video_id)
    require_reader(session, principal, report.organisation_id)
    return _video_file(request, found, poster=True, headers=PRIVATE_CACHE)


@router.post(
    "/reports/videos/{video_id:int}/release",
    summary="Let the public see a video once watched (the report's officers, CSRF)",
)
def release_video(
    request: Request, session: DbSession, principal: PortalUser, video_id: int
) -> Response:
    found, report = _video_and_report(session, video_id)
    _require_handler(session, principal, report)
    release(session, found, principal.user_id)
    session.commit()
    return RedirectResponse(f"/reports/{report.code}/handle", status_code=303)
