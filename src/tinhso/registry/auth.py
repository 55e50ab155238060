"""Who may do what in the registry, and how officials are identified on each request.

API clients send ``Authorization: Bearer <token>``; the portal uses a session
cookie, and unsafe requests made with the cookie must also carry the session's
CSRF token. Roles are scoped to an organisation and reach its whole subtree for
organisation admins; platform administrators are separate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from tinhso.core.errors import Forbidden, InvalidInput, Unauthenticated
from tinhso.core.http_semantics import SAFE_METHODS
from tinhso.core.security import same_secret
from tinhso.core.web import DbSession
from tinhso.registry import repository
from tinhso.registry.accounts import account_service
from tinhso.registry.models import CredentialKind, Role
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.models import User
    from tinhso.registry.schemas import UserCreate

SESSION_COOKIE = "tinhso_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    full_name: str
    is_platform_admin: bool
    roles: Mapping[int, Role] = field(default_factory=dict)
    credential: CredentialKind = CredentialKind.API_TOKEN


def csrf_token_for(secret_key: str, session_token: str) -> str:
    """The CSRF token bound to a portal session (no storage needed).

    The only place it is computed: the API, the portal's check and the pages' forms all
    go through `request_csrf_token` / `csrf_token_valid`, which call this."""
    return hmac.new(secret_key.encode(), session_token.encode(), hashlib.sha256).hexdigest()


def request_csrf_token(request: Request) -> str:
    """The CSRF token of the request's portal session cookie ("" without one)."""
    session_token = request.cookies.get(SESSION_COOKIE)
    if not session_token:
        return ""
    return csrf_token_for(request.app.state.settings.secret_key.get_secret_value(), session_token)


_TOKEN_BYTES = 32  # a SHA-256 HMAC


def masked_csrf_token(request: Request) -> str:
    """The session's CSRF token under a fresh random mask (hex of mask + token XOR mask).

    Every page carries different bytes for the same token, so a compressed page cannot be
    used as an oracle to guess it byte by byte (BREACH); `csrf_token_valid` takes it back."""
    token = request_csrf_token(request)
    if not token:
        return ""
    raw = bytes.fromhex(token)
    mask = secrets.token_bytes(len(raw))
    return (mask + bytes(a ^ b for a, b in zip(raw, mask, strict=True))).hex()


def _unmasked(submitted: str) -> str:
    """A masked token's token; any other text as it is (it then simply does not match)."""
    if len(submitted) != 4 * _TOKEN_BYTES:
        return submitted
    try:
        data = bytes.fromhex(submitted)
    except ValueError:
        return submitted
    mask, masked = data[:_TOKEN_BYTES], data[_TOKEN_BYTES:]
    return bytes(a ^ b for a, b in zip(masked, mask, strict=True)).hex()


def csrf_token_valid(request: Request, submitted: str) -> bool:
    """Whether a submitted token (masked, as pages carry it, or not) is the one of the
    request's session cookie."""
    expected = request_csrf_token(request)
    return bool(expected) and bool(submitted) and same_secret(_unmasked(submitted), expected)


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _unauthenticated() -> Unauthenticated:
    return Unauthenticated(
        "Cần đăng nhập hoặc mã truy cập hợp lệ",
        "A valid login or bearer token is required",
        headers={"WWW-Authenticate": 'Bearer realm="tinhso"'},
    )


def identify(request: Request, session: Session) -> Principal | None:
    """The official making this request, or None (no CSRF check: see `current_principal`)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = _bearer_token(request)
    kind = CredentialKind.API_TOKEN
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        kind = CredentialKind.PORTAL_SESSION
    if not token:
        return None
    user = account_service.authenticate(session, token, kind)
    if user is None:
        return None
    principal = principal_of(session, user, kind)
    request.state.principal = principal
    return principal


def principal_of(
    session: Session, user: User, credential: CredentialKind = CredentialKind.API_TOKEN
) -> Principal:
    """``user`` as the official they act as (roles read now); ``credential``: how they signed in."""
    return Principal(
        user_id=user.id,
        username=user.username,
        full_name=user.full_name,
        is_platform_admin=user.is_platform_admin,
        roles=account_service.roles(session, user),
        credential=credential,
    )


def current_principal(request: Request, session: DbSession) -> Principal:
    principal = identify(request, session)
    if principal is None:
        raise _unauthenticated()
    if (
        principal.credential is CredentialKind.PORTAL_SESSION
        and request.method not in SAFE_METHODS
        and not csrf_token_valid(request, request.headers.get(CSRF_HEADER, ""))
    ):
        raise Forbidden(
            "Thiếu hoặc sai mã chống giả mạo yêu cầu (CSRF)",
            "Missing or wrong CSRF token",
            field=CSRF_HEADER,
        )
    return principal


def platform_admin(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_platform_admin:
        raise Forbidden(
            "Chỉ quản trị viên nền tảng được thực hiện thao tác này",
            "Only platform administrators may do this",
        )
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]
PlatformAdmin = Annotated[Principal, Depends(platform_admin)]


def roles_over(session: Session, principal: Principal, organisation_id: int) -> set[Role]:
    """Roles that apply to an organisation: direct roles, and admin roles held above it."""
    found: set[Role] = set()
    for distance, ancestor in enumerate(
        organisation_service.ancestor_ids(session, organisation_id)
    ):
        role = principal.roles.get(ancestor)
        if role is None:
            continue
        if distance == 0 or role is Role.ORGANISATION_ADMIN:
            found.add(role)
    return found


def can_administer(session: Session, principal: Principal, organisation_id: int) -> bool:
    return principal.is_platform_admin or Role.ORGANISATION_ADMIN in roles_over(
        session, principal, organisation_id
    )


def administered_organisation_ids(session: Session, principal: Principal) -> set[int] | None:
    """Every organisation ``can_administer`` allows, in one go (None: all of them)."""
    if principal.is_platform_admin:
        return None
    found: set[int] = set()
    for organisation_id, role in principal.roles.items():
        if role is Role.ORGANISATION_ADMIN:
            found |= organisation_service.subtree_ids(session, organisation_id)
    return found


def require_administrator(session: Session, principal: Principal, organisation_id: int) -> None:
    """Platform admins, and organisation admins of this organisation or one above it."""
    if not can_administer(session, principal, organisation_id):
        raise Forbidden(
            "Bạn không có quyền quản trị tổ chức này",
            "You may not administer this organisation",
        )


def require_officer(session: Session, principal: Principal, organisation_id: int) -> None:
    """Officers of this organisation, and whoever may administer it."""
    if principal.is_platform_admin:
        return
    if not roles_over(session, principal, organisation_id) & {
        Role.ORGANISATION_ADMIN,
        Role.OFFICER,
    }:
        raise Forbidden(
            "Bạn không phải cán bộ của tổ chức này",
            "You are not an officer of this organisation",
        )


def require_may_place_organisation(
    session: Session, principal: Principal, parent_code: str | None
) -> None:
    """Who may put an organisation under ``parent_code`` (creating or moving it): platform
    admins anywhere, top level included; an organisation admin only under an organisation
    they administer."""
    if parent_code is None:
        if not principal.is_platform_admin:
            raise Forbidden(
                "Chỉ quản trị viên nền tảng được đặt tổ chức ở cấp cao nhất",
                "Only platform administrators may place an organisation at the top level",
                field="parent_code",
            )
        return
    parent = repository.organisation_by_code(session, parent_code)
    if parent is None:
        raise InvalidInput(
            f"Tổ chức cấp trên {parent_code} không tồn tại",
            f"Parent organisation {parent_code} does not exist",
            field="parent_code",
        )
    require_administrator(session, principal, parent.id)


def require_may_manage_user(session: Session, principal: Principal, user: User) -> None:
    """Who may disable, enable, unlock an official or reset their password: platform admins;
    an organisation admin only for officials whose every role lies in organisations they
    administer (so nobody manages an official who also works elsewhere), never for a platform
    admin; and nobody disables or resets themselves here."""
    if user.id == principal.user_id:
        raise Forbidden(
            "Không thể tự khoá hoặc đặt lại mật khẩu của chính mình ở đây",
            "You cannot disable or reset your own account here",
        )
    if principal.is_platform_admin:
        return
    roles = account_service.roles(session, user)
    if user.is_platform_admin or not roles:
        raise Forbidden(
            "Chỉ quản trị viên nền tảng quản lý được tài khoản này",
            "Only platform administrators may manage this account",
        )
    administered = administered_organisation_ids(session, principal) or set()
    if not set(roles) <= administered:
        raise Forbidden(
            "Cán bộ này có vai trò ở tổ chức bạn không quản trị",
            "This official has a role in an organisation you do not administer",
        )


def require_may_create_user(session: Session, principal: Principal, data: UserCreate) -> None:
    """Platform admins create anyone; an organisation admin creates officials only with roles
    in organisations they administer (at least one, so nobody is created outside every tree)."""
    if principal.is_platform_admin:
        return
    if not data.roles:
        raise Forbidden(
            "Quản trị viên tổ chức phải gán ít nhất một vai trò trong tổ chức của mình",
            "Organisation admins must give the new user a role in their own tree",
            field="roles",
        )
    for grant in data.roles:
        organisation = organisation_service.get(session, grant.organisation_code)
        require_administrator(session, principal, organisation.id)
