"""Officials and their roles: administrators list the officials of the organisations they
administer and create accounts (a commune officer, a department viewer...) without the API.

The rules are the API's (``registry.auth.require_may_create_user``): a platform admin creates
anyone; an organisation admin creates officials with a role in their own tree. The new
official's first password is generated here, shown to the administrator once and never stored
in clear, to be handed over in person or by phone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import EmailStr, TypeAdapter, ValidationError
from starlette.responses import Response

from tinhso.core.db import utcnow
from tinhso.core.errors import DomainError, Forbidden
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render
from tinhso.registry import repository
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import (
    administered_organisation_ids,
    require_may_create_user,
    require_may_manage_user,
)
from tinhso.registry.models import Role
from tinhso.registry.schemas import Name, RoleGrant, UserCreate, Username

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal
    from tinhso.registry.models import Organisation

router = APIRouter()

_FIELDS = ("username", "full_name", "email", "organisation", "role")


def role_label(role: Role) -> str:
    labels = {
        Role.ORGANISATION_ADMIN: _("Organisation administrator"),
        Role.OFFICER: _("Officer"),
        Role.VIEWER: _("Viewer"),
    }
    return labels[role]


@dataclass
class AccountForm:
    username: str = ""
    full_name: str = ""
    email: str = ""
    organisation: str = ""
    role: str = Role.OFFICER.value
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OfficialRow:
    username: str
    full_name: str
    email: str | None
    roles: list[tuple[str, str]]  # (organisation name, role label)
    active: bool
    locked: bool


def _require_some_administrator(principal: Principal) -> None:
    if principal.is_platform_admin or Role.ORGANISATION_ADMIN in principal.roles.values():
        return
    raise Forbidden(
        "Chỉ quản trị viên (nền tảng hoặc tổ chức) được quản lý người dùng",
        "Only platform or organisation administrators may manage officials",
    )


def _organisation_name(organisation: Organisation) -> str:
    if current_locale.get() == "en" and organisation.name_en:
        return organisation.name_en
    return organisation.name_vi


def _context(session: Session, principal: Principal, form: AccountForm) -> dict[str, object]:
    administered = administered_organisation_ids(session, principal)
    every = repository.all_organisations(session)
    organisations = [o for o in every if administered is None or o.id in administered]
    names = {o.id: _organisation_name(o) for o in every}
    users, assignments = repository.officials(session, administered)
    roles_of: dict[int, list[tuple[str, str]]] = {}
    for assignment in assignments:
        roles_of.setdefault(assignment.user_id, []).append(
            (names.get(assignment.organisation_id, "?"), role_label(assignment.role))
        )
    now = utcnow()
    rows = [
        OfficialRow(
            username=user.username,
            full_name=user.full_name,
            email=user.email,
            roles=sorted(roles_of.get(user.id, [])),
            active=user.is_active,
            locked=user.locked_until is not None and user.locked_until > now,
        )
        for user in users
    ]
    return {
        "form": form,
        "created": None,
        "managed": None,
        "reset": None,
        "error": None,
        "me": principal.username,
        "officials": rows,
        "organisations": [(o.code, _organisation_name(o)) for o in organisations],
        "roles": [(role.value, role_label(role)) for role in Role],
    }


@router.get(
    "/admin/users",
    summary="Officials of the organisations one administers, and a new-account form (admins)",
)
def users_page(request: Request, session: DbSession, principal: PortalUser) -> Response:
    _require_some_administrator(principal)
    return render(request, "admin/users.html", _context(session, principal, AccountForm()))


_FORMATS: dict[str, TypeAdapter[Any]] = {
    "username": TypeAdapter(Username),
    "full_name": TypeAdapter(Name),
    "email": TypeAdapter(EmailStr),
}


def _format_message(name: str) -> str:
    messages = {
        "username": _(
            "3–64 characters: lower-case letters without diacritics, digits, "
            "dot, dash or underscore, starting with a letter or digit."
        ),
        "full_name": _("Write the full name (at least 2 characters)."),
        "email": _("This is not an e-mail address."),
    }
    return messages[name]


def _checked(form: AccountForm) -> UserCreate | None:
    """The account the form asks for, or None with every field's problem in ``form.errors``."""
    for name in ("username", "full_name", "organisation"):
        if not getattr(form, name):
            form.errors[name] = _("This field is required.")
    for name, adapter in _FORMATS.items():
        if getattr(form, name) and name not in form.errors:
            try:
                adapter.validate_python(getattr(form, name))
            except ValidationError:
                form.errors[name] = _format_message(name)
    if form.role not in {role.value for role in Role}:
        form.errors["role"] = _("Choose a role from the list.")
    if form.errors:
        return None
    try:
        return UserCreate(
            username=form.username,
            full_name=form.full_name,
            email=form.email or None,
            password=secrets.token_urlsafe(12),  # 16 characters; shown once below
            roles=[RoleGrant(organisation_code=form.organisation, role=Role(form.role))],
        )
    except ValidationError:  # only the organisation code is left unchecked above
        form.errors["organisation"] = _("Choose an organisation from the list.")
        return None


@router.post(
    "/admin/users",
    summary="Create an official with a role and a one-time password (admins, in their tree; CSRF)",
)
def create_user(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    username: Annotated[str, Form(max_length=64)] = "",
    full_name: Annotated[str, Form(max_length=300)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    organisation: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    _require_some_administrator(principal)
    form = AccountForm(
        username.strip().lower(), full_name.strip(), email.strip(), organisation.strip(), role
    )
    data = _checked(form)
    if data is not None:
        try:
            require_may_create_user(session, principal, data)
            user = account_service.create(session, data)
            session.commit()
        except DomainError as error:
            session.rollback()
            message = error.message.vi if current_locale.get() == "vi" else error.message.en
            field_name = error.errors[0].field if error.errors else ""
            target = {"organisation_code": "organisation", "roles": "organisation"}.get(
                field_name, field_name
            )
            form.errors[target if target in _FIELDS else "organisation"] = message
        else:
            context = _context(session, principal, AccountForm())
            context["created"] = {
                "username": user.username,
                "full_name": user.full_name,
                "password": data.password,
            }
            return render(request, "admin/users.html", context, status_code=201)
    return render(request, "admin/users.html", _context(session, principal, form), status_code=422)


def _managed_page(
    request: Request, session: Session, principal: Principal, **extra: object
) -> Response:
    context = _context(session, principal, AccountForm())
    context.update(extra)
    status = 422 if extra.get("error") else 200
    answer = render(request, "admin/users.html", context, status_code=status)
    if extra.get("reset"):
        answer.headers["Cache-Control"] = "no-store"
    return answer


def _manage(
    request: Request, session: Session, principal: Principal, username: str, change: str
) -> Response:
    """Disable, enable, unlock or reset under the API's rule (``require_may_manage_user``)."""
    _require_some_administrator(principal)
    user = account_service.get(session, username)
    require_may_manage_user(session, principal, user)
    reset = None
    if change in ("disable", "enable"):
        account_service.set_active(session, user, active=change == "enable")
    elif change == "unlock":
        account_service.unlock(session, user)
    elif change == "password":
        reset = {
            "username": user.username,
            "password": account_service.reset_password(session, user),
        }
    else:
        return _managed_page(request, session, principal, error=_("Choose an action."))
    session.commit()
    done = {
        "disable": _("The account %(username)s is disabled; its sessions have ended."),
        "enable": _("The account %(username)s is enabled again."),
        "unlock": _("The account %(username)s can sign in again."),
        "password": _("The password of %(username)s was reset; its sessions have ended."),
    }[change] % {"username": user.username}
    return _managed_page(request, session, principal, managed=done, reset=reset)


@router.post(
    "/admin/users/{username}/manage",
    summary="Disable, enable, unlock an official or reset their password (their admins; CSRF)",
)
def manage_user(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    username: str,
    change: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    return _manage(request, session, principal, username, change)
