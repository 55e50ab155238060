"""Operators' pages (platform administrators, the operations centre): the Open311 keys of
client applications (issue, shown once; revoke) and the routing of categories by unit; and
moderation of a report (hide from the public or show again) for operators and the
administrators of its organisation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError, Forbidden
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render
from tinhso.portal.reports.citizen import say, say_category
from tinhso.registry.models import UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service
from tinhso.reports.handling import routing
from tinhso.reports.open311 import keys
from tinhso.reports.service import report_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal

router = APIRouter()


def operator_only(principal: Principal) -> None:
    if not principal.is_platform_admin:
        raise Forbidden(
            "Chỉ quản trị viên nền tảng (trung tâm điều hành) được làm việc này",
            "Only platform administrators (the operations centre) may do this",
        )


def _page(
    request: Request, session: Session, issued: str = "", error: str = "", status: int = 200
) -> Response:
    categories = {
        c.id: say_category(c) for c in report_service.categories(session, active_only=False)
    }
    organisations = {o.id: o for o in organisation_service.list_all(session)}
    route_rows = routing.routes(session)
    units = unit_service.nodes(session, {r.unit_id for r in route_rows if r.unit_id is not None})
    routes = [
        {
            "category": categories.get(r.category_id, "") if r.category_id else _("Every category"),
            "unit": units[r.unit_id].name if r.unit_id in units else _("Everywhere"),
            "organisation": organisations[r.organisation_id].name_vi,
        }
        for r in route_rows
    ]
    return render(
        request,
        "reports/operators.html",
        {
            "keys": keys.listed(session),
            "issued": issued,
            "error": error,
            "routes": routes,
            "categories": [(c.code, say_category(c)) for c in report_service.categories(session)],
            "organisations": [(o.code, o.name_vi) for o in organisations.values()],
        },
        status_code=status,
    )


@router.get("/reports/operators", summary="Open311 keys and routing (platform admins)")
def operators(request: Request, session: DbSession, principal: PortalUser) -> Response:
    operator_only(principal)
    return _page(request, session)


@router.post("/reports/operators/keys", summary="Issue an Open311 key (platform admins, CSRF)")
def issue_key(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    operator_only(principal)
    try:
        issued = keys.issue(session, name)
    except DomainError as error:
        session.rollback()
        return _page(request, session, error=say(error.message), status=error.status)
    session.commit()
    answer = _page(request, session, issued=issued.key, status=201)
    answer.headers["Cache-Control"] = "no-store"
    return answer


@router.post(
    "/reports/operators/keys/{key_id:int}/revoke",
    summary="Revoke an Open311 key (platform admins, CSRF)",
)
def revoke_key(
    request: Request, session: DbSession, principal: PortalUser, key_id: int
) -> Response:
    operator_only(principal)
    keys.revoke(session, key_id)
    session.commit()
    return RedirectResponse("/reports/operators", status_code=303)


@router.post(
    "/reports/operators/routes", summary="Route a category in a unit (platform admins, CSRF)"
)
def add_route(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    category: Annotated[str, Form(max_length=64)] = "",
    unit_code: Annotated[str, Form(max_length=16)] = "",
    organisation: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    operator_only(principal)
    try:
        found = report_service.category(session, category, "category").id if category else None
        unit = (
            unit_service.resolve(
                session, UnitRef(unit_set=UnitSet.CURRENT, code=unit_code.strip()), "unit_code"
            ).id
            if unit_code.strip()
            else None
        )
        if found is None and unit is None:
            return _page(
                request, session, error=_("Choose a category, a unit or both."), status=422
            )
        target = organisation_service.get(session, organisation)
        routing.set_route(session, found, unit, target.id)
    except DomainError as error:
        session.rollback()
        return _page(request, session, error=say(error.message), status=error.status)
    session.commit()
    return RedirectResponse("/reports/operators", status_code=303)


@router.post("/reports/{code}/moderate", summary="Hide or show a report (operators, org admins)")
def moderate(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    code: str,
    hidden: Annotated[str, Form(max_length=4)] = "",
    note: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    try:
        report_service.moderate(session, principal, code, hidden=hidden == "1", reason=note)
    except DomainError as error:
        session.rollback()
        if isinstance(error, Forbidden):
            raise
        from tinhso.portal.reports.officer import handle_page  # noqa: PLC0415

        report = report_service.get(session, code)
        return handle_page(request, session, principal, report, say(error.message), error.status)
    session.commit()
    return RedirectResponse(f"/reports/{code}/handle", status_code=303)


@router.post("/reports/{code}/edit", summary="A moderator rewrites a report's text (CSRF)")
def edit(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    code: str,
    description: Annotated[str, Form(max_length=8000)] = "",
    note: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    try:
        report_service.edit_description(
            session, principal, code, description=description, reason=note
        )
    except DomainError as error:
        session.rollback()
        if isinstance(error, Forbidden):
            raise
        from tinhso.portal.reports.officer import handle_page  # noqa: PLC0415

        report = report_service.get(session, code)
        return handle_page(request, session, principal, report, say(error.message), error.status)
    session.commit()
    return RedirectResponse(f"/reports/{code}/handle", status_code=303)
