"""A reporter's own reports (``/reports/mine``), with no password: they ask for a sign-in link
by e-mail, open it, and the device keeps them signed in (:mod:`tinhso.reports.reporters`).

The cookie holds a signed ``session`` token of the address, HttpOnly and SameSite=Strict (no
other site's form ever carries it, so rating and reopening with it need no CSRF token). The
link's token travels in the query, which the request log does not write, and the sign-in
answers with a redirect at once, so the token appears on no page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.portal.rendering import render
from tinhso.portal.reports.citizen import (
    REPORTER_COOKIE,
    form_token,
    form_token_problem,
    reporter_secret,
    say,
    say_category,
    signed_in_reporter,
)
from tinhso.reports.handling.states import STATE_NAMES
from tinhso.reports.reporters import (
    LINK_HOURS,
    SESSION_DAYS,
    address_of,
    normal_address,
    reports_of,
    send_link,
    token_for,
)
from tinhso.reports.service import report_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter()


def _page(
    request: Request,
    session: Session,
    *,
    email: str = "",
    errors: dict[str, str] | None = None,
    sent: bool = False,
    status: int = 200,
) -> Response:
    reporter = signed_in_reporter(request)
    rows = []
    if reporter:
        reports = reports_of(session, reporter)
        categories = report_service.categories_by_id(session, {r.category_id for r in reports})
        for report in reports:
            category = categories[report.category_id]
            rows.append((report, say(STATE_NAMES[report.state]), say_category(category)))
    answer = render(
        request,
        "reports/mine.html",
        {
            "reporter": reporter,
            "rows": rows,
            "email": email,
            "errors": errors or {},
            "sent": sent,
            "link_hours": LINK_HOURS,
            "form_token": form_token(request),
        },
        status_code=status,
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


@router.get("/reports/mine", summary="A reporter's own reports, or the form to sign in (public)")
def mine(request: Request, session: DbSession) -> Response:
    return _page(request, session)


@router.post(
    "/reports/mine", summary="Send a sign-in link to an address (public, form token, honeypot)"
)
def ask_for_link(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form(max_length=400)] = "",
    form_token_value: Annotated[str, Form(alias="form_token")] = "",
    website: Annotated[str, Form()] = "",
) -> Response:
    problem = form_token_problem(request, form_token_value) or (
        _("The form could not be sent.") if website else None
    )
    if problem:
        return _page(
            request, session, email=email, errors={"form": problem}, status=403 if website else 400
        )
    try:
        address = normal_address(email)
    except DomainError as error:
        return _page(
            request, session, email=email, errors={"email": say(error.message)}, status=422
        )
    if not address:
        message = _("Enter the e-mail address you sent your reports with.")
        return _page(request, session, email=email, errors={"email": message}, status=422)
    send_link(
        session, reporter_secret(request), address
    )  # the same answer when the limit is reached
    session.commit()
    return _page(request, session, email=address, sent=True)


@router.get("/reports/mine/sign-in", summary="Open a sign-in link (public, signed token)")
def sign_in(
    request: Request, session: DbSession, token: Annotated[str, Query(max_length=600)] = ""
) -> Response:
    address = address_of(reporter_secret(request), token, "link")
    if not address:
        message = _("This link is not valid or has expired. Ask for a new one below.")
        return _page(request, session, errors={"form": message}, status=400)
    answer = RedirectResponse("/reports/mine", status_code=303)
    answer.set_cookie(
        REPORTER_COOKIE,
        token_for(reporter_secret(request), address, "session"),
        max_age=SESSION_DAYS * 86400,
        path="/reports",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.secure_cookies,
    )
    answer.headers["Cache-Control"] = "no-store"
    answer.headers["Referrer-Policy"] = "no-referrer"
    return answer


@router.post("/reports/mine/sign-out", summary="Forget the reporter on this device (public)")
def sign_out(request: Request) -> Response:
    answer = RedirectResponse("/reports/mine", status_code=303)
    answer.delete_cookie(
        REPORTER_COOKIE,
        path="/reports",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.secure_cookies,
    )
    return answer
