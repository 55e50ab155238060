"""Who is using the portal, and the CSRF checks on everything that changes state.

- Pages take ``PortalUser``: the logged-in official, or a 303 redirect to
  ``/login?next=<this page>`` (HTMX requests get ``HX-Redirect`` instead).
- Every unsafe request made with the session cookie must carry the session's CSRF
  token, either as the form field ``csrf_token`` or the ``X-CSRF-Token`` header
  (``base.html`` sets the header for every HTMX request through ``hx-headers``).
- The login form has no session yet, so it is protected by a signed, short-lived
  double-submit cookie: the cookie holds a random nonce and its issue time, and
  the form field holds an HMAC of the cookie under the platform's secret key.
- Session cookies are HttpOnly, SameSite=Lax, Secure when ``base_url`` is https,
  and expire with the session (``portal_session_minutes``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from tinhso.core.errors import Forbidden
from tinhso.core.http_semantics import SAFE_METHODS
from tinhso.core.security import new_token, same_secret
from tinhso.core.web import DbSession
from tinhso.registry.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Principal,
    csrf_token_valid,
    identify,
)

if TYPE_CHECKING:
    from starlette.responses import Response

    from tinhso.core.config import Settings

LOGIN_CSRF_COOKIE = "tinhso_login_csrf"
LOGIN_CSRF_SECONDS = 2 * 60 * 60


class LoginRequired(Exception):
    """Raised by ``PortalUser`` when nobody is logged in; answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to, or ``default`` for anything that could leave the site."""
    if not value or len(value) > 2000:
        return default
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(char) < 0x20 or char == "\\" for char in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(safe_next(next_path), safe="/")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _secret(request: Request) -> str:
    return _settings(request).secret_key.get_secret_value()


def _csrf_refused() -> Forbidden:
    return Forbidden(
        "Thiếu hoặc sai mã chống giả mạo yêu cầu (CSRF). Hãy tải lại trang và thử lại.",
        "Missing or wrong CSRF token. Reload the page and try again.",
        field=CSRF_FIELD,
    )


async def submitted_csrf_token(request: Request) -> str:
    """The CSRF token sent with this request: the ``X-CSRF-Token`` header or the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe request that does not carry the CSRF token of its session cookie."""
    if request.method in SAFE_METHODS:
        return
    if not request.cookies.get(SESSION_COOKIE):
        raise _csrf_refused()  # refused before reading a (possibly large) form body
    if not csrf_token_valid(request, await submitted_csrf_token(request)):
        raise _csrf_refused()


async def verify_csrf_if_session(request: Request) -> None:
    """As `verify_csrf`, for requests that do nothing without a session (logging out)."""
    if request.cookies.get(SESSION_COOKIE):
        await verify_csrf(request)


CsrfChecked = Annotated[None, Depends(verify_csrf)]
CsrfCheckedIfSession = Annotated[None, Depends(verify_csrf_if_session)]


def portal_principal(request: Request, session: DbSession, _csrf: CsrfChecked) -> Principal:
    principal = identify(request, session)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request") == "true":
            # An HTMX fragment cannot be sent back to after login: return to the page it is on.
            target = urlsplit(request.headers.get("hx-current-url", "")).path or "/"
        raise LoginRequired(target)
    return principal


PortalUser = Annotated[Principal, Depends(portal_principal)]


# --- Session cookie ----------------------------------------------------------------------------


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.portal_session_minutes * 60,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax"
    )


# --- Login form: signed double-submit cookie ----------------------------------------------------


def _login_signature(secret: str, cookie_value: str) -> str:
    return hmac.new(
        secret.encode(), f"login-form:{cookie_value}".encode(), hashlib.sha256
    ).hexdigest()


def new_login_csrf(request: Request) -> tuple[str, str]:
    """A fresh login-form cookie value and the form-field token bound to it."""
    cookie_value = f"{new_token(16)}.{int(time.time())}"
    return cookie_value, _login_signature(_secret(request), cookie_value)


def set_login_csrf_cookie(response: Response, settings: Settings, cookie_value: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        cookie_value,
        max_age=LOGIN_CSRF_SECONDS,
        path="/login",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def login_csrf_valid(request: Request, submitted: str) -> bool:
    cookie_value = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    _, _, issued = cookie_value.rpartition(".")
    if not cookie_value or not submitted or not issued.isdigit():
        return False
    if not 0 <= time.time() - int(issued) <= LOGIN_CSRF_SECONDS:
        return False
    return same_secret(submitted, _login_signature(_secret(request), cookie_value))


def clear_login_csrf(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        LOGIN_CSRF_COOKIE, path="/login", secure=settings.secure_cookies, httponly=True
    )
