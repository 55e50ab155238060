"""Official account routes under /api/v1: API tokens (/auth/tokens: sign in, revoke the
current token) and users with their roles in organisations (/users). Mounted by
`tinhso.registry.api`; who may do what is in `tinhso.registry.auth`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from tinhso.core.config import Settings
from tinhso.core.errors import Forbidden
from tinhso.core.web import DbSession
from tinhso.registry import repository
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import (
    CurrentUser,
    can_administer,
    require_administrator,
    require_may_create_user,
    require_may_manage_user,
)
from tinhso.registry.backoff import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_SECONDS,
    address_of,
    device_address,
    new_device_cookie,
)
from tinhso.registry.models import CredentialKind, User
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import (
    PasswordResetOut,
    RoleGrant,
    TokenOut,
    TokenRequest,
    UserCreate,
    UserOut,
    UserStatusIn,
)

router = APIRouter(prefix="/api/v1")


@router.post(
    "/auth/tokens",
    tags=["auth"],
    summary="Exchange a username and password for a short-lived API token (public)",
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many failed sign-ins from this address: wait Retry-After"},
    },
)
def issue_token(
    request: Request, response: Response, session: DbSession, data: TokenRequest
) -> TokenOut:
    settings: Settings = request.app.state.settings
    secret = settings.secret_key.get_secret_value()
    issued = account_service.login(
        session,
        data.username,
        data.password,
        CredentialKind.API_TOKEN,
        settings.api_token_minutes,
        address=address_of(request.client.host if request.client else None),
        device=(secret, request.cookies.get(DEVICE_COOKIE)),
    )
    set_device_cookie(request, response, settings, issued.user.id)
    return TokenOut(access_token=issued.token, expires_in=issued.expires_in)


def set_device_cookie(
    request: Request, response: Response, settings: Settings, user_id: int
) -> None:
    """After a successful sign-in: the device cookie that is the client's proof next time (see
    :mod:`tinhso.registry.backoff`); a valid one for this user is kept."""
    secret = settings.secret_key.get_secret_value()
    if device_address(secret, request.cookies.get(DEVICE_COOKIE), user_id) is not None:
        return
    response.set_cookie(
        DEVICE_COOKIE,
        new_device_cookie(secret, user_id),
        max_age=DEVICE_COOKIE_SECONDS,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


@router.delete(
    "/auth/tokens/current",
    tags=["auth"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke the bearer token of this request (its holder)",
)
def revoke_token(request: Request, session: DbSession, principal: CurrentUser) -> Response:
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    if principal.credential is CredentialKind.API_TOKEN and token:
        account_service.revoke(session, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _user_out(session: DbSession, user: User) -> UserOut:
    roles = account_service.roles(session, user)
    codes = repository.organisation_codes(session, set(roles))
    return UserOut(
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        is_active=user.is_active,
        is_platform_admin=user.is_platform_admin,
        roles=[
            RoleGrant(organisation_code=codes[org], role=role)
            for org, role in sorted(roles.items())
        ],
    )


@router.get("/users/me", tags=["users"], summary="The official making the request")
def who_am_i(session: DbSession, principal: CurrentUser) -> UserOut:
    return _user_out(session, account_service.get(session, principal.username))


@router.post(
    "/users",
    tags=["users"],
    status_code=status.HTTP_201_CREATED,
    summary="Create an official (platform admin; organisation admins with roles in their tree)",
)
def create_user(session: DbSession, principal: CurrentUser, data: UserCreate) -> UserOut:
    require_may_create_user(session, principal, data)
    return _user_out(session, account_service.create(session, data))


@router.get(
    "/users/{username}",
    tags=["users"],
    summary="One official (themselves, platform admins, or admins of an organisation they belong to)",
)
def get_user(session: DbSession, principal: CurrentUser, username: str) -> UserOut:
    user = account_service.get(session, username)
    if username != principal.username and not principal.is_platform_admin:
        roles = account_service.roles(session, user)
        if not any(can_administer(session, principal, org) for org in roles):
            raise Forbidden("Bạn không có quyền xem người dùng này", "You may not view this user")
    return _user_out(session, user)


@router.put(
    "/users/{username}/roles",
    tags=["users"],
    summary="Give an official a role in an organisation (admins of that organisation)",
)
def assign_role(
    session: DbSession, principal: CurrentUser, username: str, grant: RoleGrant
) -> UserOut:
    user = account_service.get(session, username)
    organisation = organisation_service.get(session, grant.organisation_code)
    require_administrator(session, principal, organisation.id)
    account_service.assign_role(session, user, grant)
    return _user_out(session, user)


@router.delete(
    "/users/{username}/roles/{organisation_code}",
    tags=["users"],
    summary="Remove an official's role in an organisation (admins of that organisation)",
)
def remove_role(
    session: DbSession, principal: CurrentUser, username: str, organisation_code: str
) -> UserOut:
    user = account_service.get(session, username)
    organisation = organisation_service.get(session, organisation_code)
    require_administrator(session, principal, organisation.id)
    account_service.remove_role(session, user, organisation.id)
    return _user_out(session, user)


@router.patch(
    "/users/{username}",
    tags=["users"],
    summary="Disable or enable an official (admins of all their organisations; not oneself)",
)
def set_user_status(
    session: DbSession, principal: CurrentUser, username: str, body: UserStatusIn
) -> UserOut:
    user = account_service.get(session, username)
    require_may_manage_user(session, principal, user)
    account_service.set_active(session, user, active=body.is_active)
    return _user_out(session, user)


@router.post(
    "/users/{username}/password-reset",
    tags=["users"],
    summary="A new one-time password for an official; their sessions end (their admins)",
)
def reset_user_password(
    response: Response, session: DbSession, principal: CurrentUser, username: str
) -> PasswordResetOut:
    user = account_service.get(session, username)
    require_may_manage_user(session, principal, user)
    password = account_service.reset_password(session, user)
    response.headers["Cache-Control"] = "no-store"
    return PasswordResetOut(username=user.username, password=password)


@router.post(
    "/users/{username}/unlock",
    tags=["users"],
    summary="Lift the lock after too many wrong passwords (their admins)",
)
def unlock_user(session: DbSession, principal: CurrentUser, username: str) -> UserOut:
    user = account_service.get(session, username)
    require_may_manage_user(session, principal, user)
    account_service.unlock(session, user)
    return _user_out(session, user)
