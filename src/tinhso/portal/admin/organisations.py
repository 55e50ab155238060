"""The organisation tree for administrators: the organisations they administer (platform
admins: all), each with its parent, kind and administrative unit; create one under an
organisation they administer, change it, move it, or delete an empty one. The rules are the
API's (``registry.auth.require_administrator`` and ``require_may_place_organisation``); the
unit is picked by typing its name (diacritics optional; a name that fits several units is
refused with every reading) in the current or the legacy set."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError, Forbidden
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.portal.auth import PortalUser
from tinhso.portal.organisations import kind_label
from tinhso.portal.rendering import render
from tinhso.portal.units import unit_typed
from tinhso.registry import repository
from tinhso.registry.auth import (
    administered_organisation_ids,
    require_administrator,
    require_may_place_organisation,
)
from tinhso.registry.models import OrganisationKind, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate, OrganisationUpdate, UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal
    from tinhso.registry.models import Organisation

router = APIRouter()
_FIELDS = ("code", "name_vi", "name_en", "kind", "parent", "unit")


@dataclass
class OrganisationForm:
    code: str = ""
    name_vi: str = ""
    name_en: str = ""
    kind: str = OrganisationKind.COMMUNE_COMMITTEE.value
    parent: str = ""
    unit_set: str = UnitSet.CURRENT.value
    unit: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def _say(error: DomainError) -> str:
    return error.message.vi if current_locale.get() == "vi" else error.message.en


def _administered(session: Session, principal: Principal) -> list[Organisation]:
    if not principal.is_platform_admin and not administered_organisation_ids(session, principal):
        raise Forbidden(
            "Chỉ quản trị viên (nền tảng hoặc tổ chức) được quản lý tổ chức",
            "Only platform or organisation administrators may manage organisations",
        )
    administered = administered_organisation_ids(session, principal)
    every = repository.all_organisations(session)
    return [o for o in every if administered is None or o.id in administered]


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    form: OrganisationForm,
    *,
    editing: Organisation | None = None,
    status: int = 200,
) -> Response:
    organisations = _administered(session, principal)
    every = {o.id: o for o in repository.all_organisations(session)}
    units = unit_service.names(
        session, {o.administrative_unit_id for o in organisations if o.administrative_unit_id}
    )
    rows = [
        {
            "organisation": o,
            "kind": kind_label(o.kind),
            "parent": every[o.parent_id].name_vi if o.parent_id in every else "—",
            "unit": units[o.administrative_unit_id][0]
            if o.administrative_unit_id in units
            else "—",
            "legacy": o.administrative_unit_id in units
            and units[o.administrative_unit_id][1] is UnitSet.LEGACY,
        }
        for o in organisations
    ]
    return render(
        request,
        "admin/organisations.html",
        {
            "rows": rows,
            "form": form,
            "errors": form.errors,
            "editing": editing,
            "kinds": [(k.value, kind_label(k)) for k in OrganisationKind],
            "parents": [
                (o.code, o.name_vi) for o in organisations if editing is None or o.id != editing.id
            ],
            "top_level": principal.is_platform_admin,
            "may_disable": principal.is_platform_admin,
        },
        status_code=status,
    )


@router.get("/admin/organisations", summary="The organisations one administers (admins)")
def organisations_page(request: Request, session: DbSession, principal: PortalUser) -> Response:
    return _page(request, session, principal, OrganisationForm())


def _unit(session: Session, form: OrganisationForm) -> UnitRef | None:
    if form.unit_set not in {s.value for s in UnitSet}:
        form.errors["unit"] = _("Choose a unit set from the list.")
        return None
    code, problem = unit_typed(session, UnitSet(form.unit_set), form.unit)
    if problem:
        form.errors["unit"] = problem
    return UnitRef(unit_set=UnitSet(form.unit_set), code=code) if code else None


def _validation_errors(form: OrganisationForm, error: ValidationError) -> None:
    names = {"parent_code": "parent", "administrative_unit": "unit"}
    for problem in error.errors():
        where = str(problem["loc"][0]) if problem["loc"] else "code"
        target = names.get(where, where)
        target = target if target in _FIELDS else "code"
        form.errors.setdefault(
            target,
            _("Lower-case letters without diacritics, digits and dashes; e.g. ubnd-xa-tam-tien")
            if target == "code"
            else _("This value is not valid."),
        )


@router.post("/admin/organisations", summary="Create an organisation (admins; CSRF)")
def create_organisation(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    code: Annotated[str, Form(max_length=100)] = "",
    name_vi: Annotated[str, Form(max_length=400)] = "",
    name_en: Annotated[str, Form(max_length=400)] = "",
    kind: Annotated[str, Form(max_length=40)] = "",
    parent: Annotated[str, Form(max_length=100)] = "",
    unit_set: Annotated[str, Form(max_length=16)] = "current",
    unit: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    _administered(session, principal)
    form = OrganisationForm(
        code.strip(), name_vi.strip(), name_en.strip(), kind, parent, unit_set, unit
    )
    for name in ("code", "name_vi"):
        if not getattr(form, name):
            form.errors[name] = _("This field is required.")
    reference = _unit(session, form)
    if form.errors:
        return _page(request, session, principal, form, status=422)
    try:
        data = OrganisationCreate(
            code=form.code,
            name_vi=form.name_vi,
            name_en=form.name_en or None,
            kind=form.kind,  # type: ignore[arg-type]
            parent_code=form.parent or None,
            administrative_unit=reference,
        )
    except ValidationError as error:
        _validation_errors(form, error)
        return _page(request, session, principal, form, status=422)
    try:
        require_may_place_organisation(session, principal, data.parent_code)
        organisation_service.create(session, data)
    except DomainError as error:
        session.rollback()
        if isinstance(error, Forbidden):
            form.errors["parent"] = _say(error)
        else:
            target = error.errors[0].field if error.errors else "code"
            target = {"parent_code": "parent"}.get(target, target)
            form.errors[target if target in _FIELDS else "code"] = _say(error)
        return _page(request, session, principal, form, status=error.status)
    session.commit()
    return RedirectResponse(f"/admin/organisations/{data.code}?saved=1", status_code=303)


def _editable(session: Session, principal: Principal, code: str) -> Organisation:
    organisation = organisation_service.get(session, code)
    require_administrator(session, principal, organisation.id)
    return organisation


def _form_of(session: Session, organisation: Organisation) -> OrganisationForm:
    """The edit form filled with what is stored."""
    parent = (
        organisation_service.codes(session, {organisation.parent_id}).get(
            organisation.parent_id, ""
        )
        if organisation.parent_id is not None
        else ""
    )
    unit_id = organisation.administrative_unit_id
    node = unit_service.nodes(session, [unit_id]).get(unit_id) if unit_id is not None else None
    return OrganisationForm(
        code=organisation.code,
        name_vi=organisation.name_vi,
        name_en=organisation.name_en or "",
        kind=organisation.kind.value,
        parent=parent,
        unit_set=node.unit_set.value if node else UnitSet.CURRENT.value,
        unit=node.code if node else "",
    )


@router.get("/admin/organisations/{code}", summary="Change one organisation (its admins)")
def organisation_page(
    request: Request, session: DbSession, principal: PortalUser, code: str
) -> Response:
    organisation = _editable(session, principal, code)
    form = _form_of(session, organisation)
    return _page(request, session, principal, form, editing=organisation)


@router.post("/admin/organisations/{code}", summary="Change one organisation (its admins; CSRF)")
def update_organisation(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    code: str,
    name_vi: Annotated[str, Form(max_length=400)] = "",
    name_en: Annotated[str, Form(max_length=400)] = "",
    kind: Annotated[str, Form(max_length=40)] = "",
    parent: Annotated[str, Form(max_length=100)] = "",
    unit_set: Annotated[str, Form(max_length=16)] = "current",
    unit: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    organisation = _editable(session, principal, code)
    form = OrganisationForm(code, name_vi.strip(), name_en.strip(), kind, parent, unit_set, unit)
    if not form.name_vi:
        form.errors["name_vi"] = _("This field is required.")
    reference = _unit(session, form)
    if form.errors:
        return _page(request, session, principal, form, editing=organisation, status=422)
    try:
        data = OrganisationUpdate(
            name_vi=form.name_vi,
            name_en=form.name_en or None,
            kind=form.kind,  # type: ignore[arg-type]
            parent_code=form.parent or None,
            administrative_unit=reference,
        )
    except ValidationError as error:
        _validation_errors(form, error)
        return _page(request, session, principal, form, editing=organisation, status=422)
    current_parent = _form_of(session, organisation).parent or None
    try:
        if data.parent_code != current_parent:
            require_may_place_organisation(session, principal, data.parent_code)
        organisation_service.update(session, organisation, data)
    except DomainError as error:
        session.rollback()
        form.errors["parent" if isinstance(error, Forbidden) else "name_vi"] = _say(error)
        organisation = organisation_service.get(session, code)
        return _page(request, session, principal, form, editing=organisation, status=error.status)
    session.commit()
    return RedirectResponse(f"/admin/organisations/{code}?saved=1", status_code=303)


@router.post(
    "/admin/organisations/{code}/disabled",
    summary="Disable or re-enable an organisation (platform admins; CSRF)",
)
def set_organisation_disabled(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    code: str,
    disabled: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """A disabled organisation's systems are refused at the token endpoint and the gateway
    (the change notice reaches every gateway within 2 s); re-enabling restores them."""
    organisation = _editable(session, principal, code)
    if not principal.is_platform_admin:
        raise Forbidden(
            "Chỉ quản trị nền tảng được vô hiệu hoá hoặc kích hoạt lại tổ chức",
            "Only platform administrators may disable or re-enable an organisation",
        )
    organisation_service.update(session, organisation, OrganisationUpdate(disabled=disabled == "1"))
    session.commit()
    return RedirectResponse(f"/admin/organisations/{code}?saved=1", status_code=303)


@router.post(
    "/admin/organisations/{code}/delete",
    summary="Delete an empty organisation (admins of its parent; CSRF)",
)
def delete_organisation(
    request: Request, session: DbSession, principal: PortalUser, code: str
) -> Response:
    organisation = organisation_service.get(session, code)
    if organisation.parent_id is None:
        require_may_place_organisation(session, principal, None)
    else:
        require_administrator(session, principal, organisation.parent_id)
    try:
        organisation_service.delete(session, organisation)
    except DomainError as error:
        session.rollback()
        form = OrganisationForm(code=code)
        form.errors["code"] = _say(error)
        organisation = organisation_service.get(session, code)
        return _page(request, session, principal, form, editing=organisation, status=error.status)
    session.commit()
    return RedirectResponse("/admin/organisations?deleted=1", status_code=303)
