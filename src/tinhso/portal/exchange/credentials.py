"""Client credentials in the portal: a system's administrators create a client secret (shown
once, to copy or download), a private_key_jwt public key or an mTLS certificate fingerprint,
and rotate, unlock or revoke them, seeing each one's last use and lock. The rules and effects
are the API's (``exchange.auth.require_credential_admin``, ``credential_service``): the
gateways learn of a revocation within the same notice as through the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from tinhso.core.db import utcnow
from tinhso.core.errors import DomainError
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.exchange import auth, repository
from tinhso.exchange.models import ClientAuthKind
from tinhso.exchange.oauth.credentials import credential_service
from tinhso.exchange.schemas import CredentialCreate
from tinhso.portal.auth import PortalUser
from tinhso.portal.exchange.systems import administered_systems
from tinhso.portal.rendering import render

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.exchange.models import SystemCredential
    from tinhso.registry.auth import Principal

router = APIRouter()
_NO_STORE = {"Cache-Control": "no-store"}


def kind_label(kind: ClientAuthKind) -> str:
    labels = {
        ClientAuthKind.CLIENT_SECRET: _("Client secret"),
        ClientAuthKind.PRIVATE_KEY_JWT: _("Public key (private_key_jwt)"),
        ClientAuthKind.MTLS: _("Client certificate (mTLS)"),
    }
    return labels[kind]


@dataclass(frozen=True)
class CredentialRow:
    client_id: str
    kind: str
    kind_label: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    locked_until: datetime | None
    state: str  # active, locked, revoked, expired
    state_label: str


@dataclass(frozen=True)
class SystemCredentials:
    id: int
    key: str
    name: str
    credentials: list[CredentialRow]


def _state(credential: SystemCredential, now: datetime) -> tuple[str, str]:
    if credential.revoked_at is not None:
        return "revoked", _("Revoked")
    if credential.expires_at is not None and credential.expires_at <= now:
        return "expired", _("Expired")
    if credential.locked_until is not None and credential.locked_until > now:
        return "locked", _("Locked after failed attempts")
    return "active", _("Active")


def _row(credential: SystemCredential, now: datetime) -> CredentialRow:
    state, state_label = _state(credential, now)
    return CredentialRow(
        client_id=credential.client_id,
        kind=credential.kind.value,
        kind_label=kind_label(credential.kind),
        label=credential.label or "",
        created_at=credential.created_at,
        expires_at=credential.expires_at,
        last_used_at=credential.last_used_at,
        locked_until=credential.locked_until if state == "locked" else None,
        state=state,
        state_label=state_label,
    )


def _overview(session: Session, principal: Principal) -> list[SystemCredentials]:
    """The systems the official administers, each with its credentials (two queries)."""
    systems = administered_systems(session, principal)
    labels = repository.system_labels(session, {system.id for system in systems})
    by_system = repository.credentials_of_systems(session, {system.id for system in systems})
    now = utcnow()
    return [
        SystemCredentials(
            id=system.id,
            key="/".join(labels[system.id]),
            name=system.name_vi,
            credentials=[_row(credential, now) for credential in by_system.get(system.id, [])],
        )
        for system in sorted(systems, key=lambda system: labels[system.id])
    ]


def _message(error: DomainError) -> str:
    return error.message.vi if current_locale.get() == "vi" else error.message.en


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    notice: str = "",
) -> Response:
    return render(
        request,
        "exchange/credentials.html",
        {
            "systems": _overview(session, principal),
            "kinds": [(kind.value, kind_label(kind)) for kind in ClientAuthKind],
            "form": form
            or {
                "system": "",
                "kind": "client_secret",
                "label": "",
                "public_jwk": "",
                "certificate_sha256": "",
                "expires_on": "",
            },
            "errors": errors or {},
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get(
    "/exchange/credentials",
    summary="Client credentials of the systems one administers: create, rotate, unlock, revoke (organisation admins)",
)
def credentials_page(
    request: Request, session: DbSession, principal: PortalUser, done: str = ""
) -> Response:
    notices = {
        "revoked": _(
            "The credential was revoked; tokens it obtained stop working at the gateways."
        ),
        "unlocked": _("The credential was unlocked."),
    }
    return _page(request, session, principal, notice=notices.get(done, ""))


def _expiry(text: str) -> datetime | None:
    """The end of a day given as yyyy-mm-dd (a date field) or dd/mm/yyyy, in UTC."""
    if not text.strip():
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(text.strip(), pattern).replace(tzinfo=UTC).date()
        except ValueError:
            continue
        return datetime.combine(day, time(16, 59, 59), tzinfo=UTC)  # 23:59:59 in Vietnam
    raise ValueError(text)


def _credential_input(form: dict[str, str], errors: dict[str, str]) -> CredentialCreate | None:
    try:
        expires_at = _expiry(form["expires_on"])
    except ValueError:
        errors["expires_on"] = _("Write the date as dd/mm/yyyy.")
        expires_at = None
    public_jwk = None
    if form["kind"] == ClientAuthKind.PRIVATE_KEY_JWT.value:
        try:
            public_jwk = json.loads(form["public_jwk"]) if form["public_jwk"].strip() else None
        except ValueError:
            errors["public_jwk"] = _("Paste the public key as a JSON Web Key (JSON).")
    if errors:
        return None
    try:
        return CredentialCreate.model_validate(
            {
                "kind": form["kind"],
                "label": form["label"] or None,
                "public_jwk": public_jwk,
                "certificate_sha256": form["certificate_sha256"] or None
                if form["kind"] == ClientAuthKind.MTLS.value
                else None,
                "expires_at": expires_at,
            }
        )
    except ValidationError as error:
        for detail in error.errors():
            name = str(detail["loc"][0]) if detail["loc"] else "kind"
            if name == "certificate_sha256":
                errors[name] = _("The SHA-256 fingerprint is 64 hexadecimal digits.")
            elif name == "label":
                errors[name] = _("At most 200 characters.")
            else:
                errors.setdefault("kind", _("Choose a kind of credential."))
        return None


def _issued(
    request: Request,
    session: Session,
    credential: SystemCredential,
    secret: str | None,
    *,
    rotated: bool,
) -> Response:
    key = "/".join(repository.system_labels(session, {credential.system_id})[credential.system_id])
    download = json.dumps(
        {"client_id": credential.client_id, "client_secret": secret, "system": key}, indent=2
    )
    return render(
        request,
        "exchange/credential_issued.html",
        {
            "credential": _row(credential, utcnow()),
            "system": key,
            "secret": secret,
            "download": download,
            "rotated": rotated,
        },
        headers=_NO_STORE,
    )


def _blank(value: str) -> str:
    return value.strip()


@router.post(
    "/exchange/credentials",
    summary="Create a client credential; a secret is shown once (organisation admins of the system; CSRF)",
)
def create_credential(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    system: Annotated[str, Form(max_length=20)] = "",
    kind: Annotated[str, Form(max_length=32)] = "client_secret",
    label: Annotated[str, Form(max_length=300)] = "",
    public_jwk: Annotated[str, Form(max_length=20_000)] = "",
    certificate_sha256: Annotated[str, Form(max_length=200)] = "",
    expires_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    form = {
        "system": system,
        "kind": kind,
        "label": _blank(label),
        "public_jwk": public_jwk,
        "certificate_sha256": _blank(certificate_sha256),
        "expires_on": _blank(expires_on),
    }
    errors: dict[str, str] = {}
    chosen = next(
        (s for s in administered_systems(session, principal) if str(s.id) == system), None
    )
    if chosen is None:
        errors["system"] = _("Choose one of the systems you administer.")
    data = _credential_input(form, errors)
    if chosen is not None and data is not None:
        try:
            auth.require_credential_admin(session, principal, chosen.id)
            credential, secret = credential_service.create(session, chosen, data, principal.user_id)
            session.commit()
        except DomainError as error:
            session.rollback()
            field = error.errors[0].field if error.errors else "kind"
            errors[field if field in form else "kind"] = _message(error)
        else:
            return _issued(request, session, credential, secret, rotated=False)
    return _page(request, session, principal, form, errors, 422)


def _acted(
    request: Request,
    session: Session,
    principal: Principal,
    client_id: str,
    act: str,
    data: CredentialCreate | None = None,
) -> Response:
    try:
        credential = credential_service.get(session, client_id)
        auth.require_credential_admin(session, principal, credential.system_id)
        secret = None
        if act == "rotate":
            credential, secret = credential_service.rotate(session, credential, data)
        elif act == "unlock":
            credential_service.unlock(session, credential)
        else:
            credential_service.revoke(session, credential)
        session.commit()
    except DomainError as error:
        session.rollback()
        return _page(
            request,
            session,
            principal,
            errors={"action": _message(error)},
            status_code=error.status,
        )
    if act == "rotate":
        return _issued(request, session, credential, secret, rotated=True)
    done = "unlocked" if act == "unlock" else "revoked"
    return RedirectResponse(f"/exchange/credentials?done={done}", status_code=303)


@router.post(
    "/exchange/credentials/{client_id}/rotate",
    summary="Rotate a credential: a new secret (shown once) or a new key or certificate (organisation admins; CSRF)",
)
def rotate_credential(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    client_id: str,
    public_jwk: Annotated[str, Form(max_length=20_000)] = "",
    certificate_sha256: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    data = None
    if public_jwk.strip() or certificate_sha256.strip():
        errors: dict[str, str] = {}
        kind = (
            ClientAuthKind.PRIVATE_KEY_JWT.value
            if public_jwk.strip()
            else ClientAuthKind.MTLS.value
        )
        data = _credential_input(
            {
                "kind": kind,
                "label": "",
                "public_jwk": public_jwk,
                "certificate_sha256": _blank(certificate_sha256),
                "expires_on": "",
            },
            errors,
        )
        if data is None:
            message = " ".join(errors.values())
            return _page(request, session, principal, errors={"action": message}, status_code=422)
    return _acted(request, session, principal, client_id, "rotate", data)


@router.post(
    "/exchange/credentials/{client_id}/unlock",
    summary="Unlock a credential locked after failed authentications (organisation admins; CSRF)",
)
def unlock_credential(
    request: Request, session: DbSession, principal: PortalUser, client_id: str
) -> Response:
    return _acted(request, session, principal, client_id, "unlock")


@router.post(
    "/exchange/credentials/{client_id}/revoke",
    summary="Revoke a credential after confirmation; its tokens stop working (organisation admins; CSRF)",
)
def revoke_credential(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    client_id: str,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if confirm != "yes":
        return _page(
            request,
            session,
            principal,
            errors={"action": _("Tick the box to confirm the revocation.")},
            status_code=422,
        )
    return _acted(request, session, principal, client_id, "revoke")
