"""An agency's open-data list in the portal (``/opendata/lists/{organisation}``): its
datasets with their declared update frequency, last update and whether they are stale, and
the list's reviews (at least every six months); the organisation's officers record a review.
The rules are the API's (``agency_list_service``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError, Forbidden
from tinhso.core.i18n import current_locale
from tinhso.core.web import DbSession
from tinhso.opendata.access import reader_of
from tinhso.opendata.stewardship.agency_lists import agency_list_service
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render

router = APIRouter()


def _page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    organisation: str,
    *,
    error: str = "",
    note: str = "",
    reviewed: bool = False,
    status_code: int = 200,
) -> Response:
    found = agency_list_service.list_of(session, reader_of(session, principal), organisation)
    return render(
        request,
        "opendata/agency_list.html",
        {"agency": found, "error": error, "note": note, "reviewed": reviewed},
        status_code=status_code,
    )


@router.get(
    "/opendata/lists/{organisation}",
    summary="An agency's open-data list with its reviews (the organisation's officials)",
)
def agency_list_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    organisation: str,
    reviewed: str = "",
) -> Response:
    return _page(request, session, principal, organisation, reviewed=reviewed == "1")


@router.post(
    "/opendata/lists/{organisation}/reviews",
    summary="Record a review of the agency's open-data list (its officers; CSRF)",
)
def review(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    organisation: str,
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    try:
        agency_list_service.review(session, reader_of(session, principal), organisation, note)
        session.commit()
    except Forbidden:
        session.rollback()
        raise
    except DomainError as problem:
        session.rollback()
        message = problem.message.vi if current_locale.get() == "vi" else problem.message.en
        return _page(
            request, session, principal, organisation, error=message, note=note, status_code=422
        )
    return RedirectResponse(f"/opendata/lists/{organisation}?reviewed=1", status_code=303)
