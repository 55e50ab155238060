"""The portal shell: login/logout, language switch, home page, error pages, static files.

How a domain adds pages (the contract)
--------------------------------------
1. Put ``router = APIRouter()`` in ``src/tinhso/portal/<domain>/pages.py`` and add
   it to ``DOMAIN_ROUTERS`` below (exchange and monitoring are already there).
   Paths start with the domain (``/exchange``, ``/monitoring/...``); the header's
   nav item for ``/exchange`` and ``/monitoring`` appears once that path is a route.
2. Every page takes ``principal: PortalUser`` (``tinhso.portal.auth``): the
   logged-in official, or a redirect to the login page. Check the domain's own
   rules (``require_officer`` …) in the page as the API does. POST/PUT/DELETE
   routes are CSRF-checked by ``PortalUser``: forms include
   ``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">``; HTMX
   requests send the header automatically (``hx-headers`` on ``<body>``).
3. Answer with ``render(request, "<domain>/<page>.html", {...})``
   (``tinhso.portal.rendering``). Templates live in ``templates/<domain>/``, extend
   ``base.html`` and fill the blocks ``title``, ``content`` and, when needed,
   ``head`` (extra stylesheets) and ``scripts``. HTMX partials are templates that
   do not extend ``base.html``. Every template gets ``principal``, ``locale``,
   ``csrf_token``, ``current_path`` and ``current_url`` (an undefined variable is an
   error, not an empty string: ``StrictUndefined``). ``static/css/portal.css``
   has the shared components: ``page-header``, ``panel``/``panel-header``/
   ``panel-body``, ``stats``/``stat``, ``table`` (in ``table-scroll``), ``badge``,
   ``tag``, ``code``, ``button button-primary|secondary``, ``field``, ``alert
   alert-error|success|info``, ``empty-state``.
4. Every string goes through the catalogue: ``{{ _("English msgid") }}`` or
   ``{% trans %}`` in templates, ``gettext as _`` from ``tinhso.core.i18n`` in
   Python, with its Vietnamese translation in
   ``src/tinhso/locales/vi/LC_MESSAGES/<domain>.po`` (``pybabel extract -F babel.cfg``).
   ``tests/portal/test_catalogue.py`` fails on any msgid without Vietnamese.
   Format with the filters ``number``, ``percent``, ``date``, ``datetime``.
5. No inline ``<script>`` and nothing from outside the platform: the
   Content-Security-Policy allows scripts from ``/static`` only. Put page scripts
   in ``static/<domain>/`` and pass data through ``data-*`` attributes or a
   ``<script type="application/json">`` block; vendored libraries are
   ``vendor/htmx.min.js`` and ``vendor/echarts.min.js``. Name every asset with
   ``{{ static('monitoring/monitoring.js') }}`` (a content-fingerprinted URL).
6. Raise the usual ``tinhso.core.errors`` exceptions: on portal pages they render
   as a portal error page (404, 403 …) instead of problem+json.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote_plus

from fastapi import APIRouter, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tinhso.core.errors import DomainError, is_database_unavailable
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession, database_unavailable_problem
from tinhso.portal import auth
from tinhso.portal.admin.calendar import router as calendar_router
from tinhso.portal.admin.organisations import router as organisations_admin_router
from tinhso.portal.admin.pages import router as admin_router
from tinhso.portal.admin.users import router as users_router
from tinhso.portal.auth import CsrfCheckedIfSession, LoginRequired, PortalUser, safe_next
from tinhso.portal.exchange.audit import router as audit_router
from tinhso.portal.exchange.catalogue import router as catalogue_router
from tinhso.portal.exchange.credentials import router as credentials_router
from tinhso.portal.exchange.decisions import router as decisions_router
from tinhso.portal.exchange.pages import router as exchange_router
from tinhso.portal.exchange.systems import router as systems_router
from tinhso.portal.monitoring.pages import router as monitoring_router
from tinhso.portal.opendata.pages import router as opendata_router
from tinhso.portal.opendata.publishing import router as opendata_publishing_router
from tinhso.portal.opendata.stewardship import router as opendata_lists_router
from tinhso.portal.organisations import directory, kind_label
from tinhso.portal.rendering import (
    LANGUAGE_COOKIE,
    SECURITY_HEADERS,
    LocaleMiddleware,
    render,
)
from tinhso.portal.reports.categories import router as reports_categories_router
from tinhso.portal.reports.citizen import router as reports_citizen_router
from tinhso.portal.reports.map import router as reports_map_router
from tinhso.portal.reports.media import router as reports_media_router
from tinhso.portal.reports.mine import router as reports_mine_router
from tinhso.portal.reports.officer import router as reports_officer_router
from tinhso.portal.reports.operators import router as reports_operators_router
from tinhso.portal.reports.questions import router as reports_questions_router
from tinhso.portal.static_files import static_app
from tinhso.portal.units import router as units_router
from tinhso.registry.account_api import set_device_cookie
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import CSRF_FIELD, SESSION_COOKIE, identify
from tinhso.registry.backoff import DEVICE_COOKIE, address_of
from tinhso.registry.models import CredentialKind, OrganisationKind

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from fastapi import FastAPI

    from tinhso.core.config import Settings

router = APIRouter()
DOMAIN_ROUTERS = (
    exchange_router,
    monitoring_router,
    admin_router,
    users_router,
    organisations_admin_router,
    calendar_router,
    units_router,
    decisions_router,
    reports_officer_router,  # before the citizens' /reports/{code}
    reports_operators_router,
    reports_categories_router,
    reports_questions_router,  # before the citizens' /reports/{code}
    reports_map_router,
    reports_mine_router,  # before the citizens' /reports/{code}
    reports_media_router,
    reports_citizen_router,
    catalogue_router,
    credentials_router,
    systems_router,
    audit_router,
    opendata_publishing_router,  # before /opendata/datasets/{name}
    opendata_lists_router,
    opendata_router,
)

# Paths that are API, not pages: their errors stay problem+json.
_API_PREFIXES = ("/api/", "/oauth/", "/open311/", "/.well-known/", "/static/")
_API_PATHS = {"/healthz", "/readyz", "/metrics"}
_MAX_CREDENTIAL_LENGTH = 1024
_LANGUAGE_COOKIE_SECONDS = 365 * 24 * 60 * 60


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# --- Login and logout ------------------------------------------------------------------------


def _login_page(
    request: Request,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    cookie_value, token = auth.new_login_csrf(request)
    response = render(
        request,
        "login.html",
        {"next_path": next_path, "username": username, "error": error, "login_csrf": token},
        status_code=status_code,
    )
    auth.set_login_csrf_cookie(response, _settings(request), cookie_value)
    return response


@router.get("/login", summary="Login form (public)")
def login_form(request: Request, session: DbSession, next: str | None = None) -> Response:
    next_path = safe_next(next)
    if identify(request, session) is not None:
        return RedirectResponse(next_path, status_code=303)
    return _login_page(request, next_path=next_path)


@router.post("/login", summary="Log in with username and password (public, login-form CSRF)")
def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    settings = _settings(request)
    next_path = safe_next(next)
    username = username.strip()[:_MAX_CREDENTIAL_LENGTH]
    if not auth.login_csrf_valid(request, csrf_token):
        return _login_page(
            request,
            next_path=next_path,
            username=username,
            error=_("The login form has expired. Please try again."),
            status_code=403,
        )
    if not username or not password or len(password) > _MAX_CREDENTIAL_LENGTH:
        return _login_page(
            request,
            next_path=next_path,
            username=username,
            error=_("Enter your username and password."),
            status_code=422,
        )
    try:
        issued = account_service.login(
            session,
            username,
            password,
            CredentialKind.PORTAL_SESSION,
            settings.portal_session_minutes,
            address=address_of(request.client.host if request.client else None),
            device=(settings.secret_key.get_secret_value(), request.cookies.get(DEVICE_COOKIE)),
        )
    except DomainError as error:
        message = error.message.vi if current_locale.get() == "vi" else error.message.en
        page = _login_page(
            request, next_path=next_path, username=username, error=message, status_code=error.status
        )
        page.headers.update(error.headers)  # Retry-After while the address must wait
        return page
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        account_service.revoke(session, previous)  # no session fixation: one login, one session
    response = RedirectResponse(next_path, status_code=303)
    auth.set_session_cookie(response, settings, issued.token)
    set_device_cookie(request, response, settings, issued.user.id)
    auth.clear_login_csrf(response, settings)
    return response


@router.post("/logout", summary="Log out: revoke this portal session (its holder, CSRF-checked)")
def logout(request: Request, session: DbSession, _csrf: CsrfCheckedIfSession) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        account_service.revoke(session, token)
    response = RedirectResponse("/login", status_code=303)
    auth.clear_session_cookie(response, _settings(request))
    return response


@router.get("/lang/{locale}", summary="Switch the portal language (public)")
def switch_language(request: Request, locale: str, next: str | None = None) -> Response:
    if locale not in {"vi", "en"}:
        raise StarletteHTTPException(status_code=404)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        locale,
        max_age=_LANGUAGE_COOKIE_SECONDS,
        path="/",
        secure=_settings(request).secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


# --- Home ------------------------------------------------------------------------------------


def _kind_filter(kind: str | None) -> OrganisationKind | None:
    try:
        return OrganisationKind(kind) if kind else None
    except ValueError:
        return None


def _directory_context(session: DbSession, q: str | None, kind: str | None) -> dict[str, Any]:
    chosen = _kind_filter(kind)
    return {
        "directory": directory(session, q, chosen),
        "q": (q or "").strip(),
        "kind": chosen.value if chosen else "",
        "kinds": [(k.value, kind_label(k)) for k in OrganisationKind],
    }


@router.get("/", summary="Home: organisations and their information systems (any official)")
def home(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    q: Annotated[str | None, Query(max_length=100)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    return render(request, "home.html", _directory_context(session, q, kind))


@router.get(
    "/partials/organisations",
    summary="Home's organisation tree, filtered (HTMX partial; any official)",
)
def organisation_tree(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    q: Annotated[str | None, Query(max_length=100)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    context = _directory_context(session, q, kind)
    params = "&".join(
        f"{name}={quote_plus(value)}"
        for name, value in (("q", context["q"]), ("kind", context["kind"]))
        if value
    )
    return render(
        request,
        "partials/organisation_tree.html",
        context,
        headers={"HX-Push-Url": "/" + (f"?{params}" if params else "")},
    )


# --- Errors ----------------------------------------------------------------------------------


def _is_page_request(request: Request) -> bool:
    path = request.url.path
    if path in _API_PATHS or path.startswith(_API_PREFIXES):
        return False
    accept = request.headers.get("accept", "").lower()
    if "json" in accept and "text/html" not in accept:
        return False  # a client asking for JSON gets problem+json, wherever it asks
    return not accept or "text/html" in accept or "*/*" in accept


def _identify_quietly(request: Request) -> None:
    """Find who is logged in for an error page (its header shows their name and menu)."""
    factory = request.app.state.sessionmaker
    try:
        with factory() as session:
            identify(request, session)
    except SQLAlchemyError:
        return  # the error page is still shown, without the user's menu


async def _error_page(request: Request, status: int, message: str | None = None) -> Response:
    if getattr(request.state, "principal", None) is None and request.cookies.get(SESSION_COOKIE):
        await run_in_threadpool(_identify_quietly, request)
    titles = {
        403: _("You may not see this page"),
        404: _("Page not found"),
        405: _("This action is not allowed here"),
        422: _("The request is not valid"),
        503: _("The service is temporarily unavailable"),
    }
    explanations = {
        404: _("The address may be mistyped, or the page has moved."),
    }
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": titles.get(status, _("Something went wrong")),
            "message": message or explanations.get(status),
        },
        status_code=status,
    )


async def _answer(result: Response | Awaitable[Response]) -> Response:
    return await result if inspect.isawaitable(result) else result


def _install_error_pages(app: FastAPI) -> None:
    """Errors on pages render as portal pages; API paths keep their problem+json handlers."""
    api_http = app.exception_handlers[StarletteHTTPException]
    api_domain = app.exception_handlers[DomainError]
    api_validation = app.exception_handlers[RequestValidationError]
    api_database = app.exception_handlers[DBAPIError]

    async def on_login_required(request: Request, exc: Exception) -> Response:
        next_path = exc.next_path if isinstance(exc, LoginRequired) else request.url.path
        target = auth.login_url(next_path)
        if request.headers.get("hx-request") == "true":
            return render(request, "empty.html", status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, StarletteHTTPException) or not _is_page_request(request):
            return await _answer(api_http(request, exc))
        return await _error_page(request, exc.status_code)

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, DomainError) or not _is_page_request(request):
            return await _answer(api_domain(request, exc))
        if exc.status == 401:
            return await on_login_required(request, LoginRequired(request.url.path))
        message = exc.message.vi if current_locale.get() == "vi" else exc.message.en
        page = await _error_page(request, exc.status, message)
        page.headers.update(exc.headers)  # Retry-After of a 503 or a 429, as the API sends it
        return page

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, RequestValidationError) or not _is_page_request(request):
            return await _answer(api_validation(request, exc))
        return await _error_page(request, 422)

    async def on_database_error(request: Request, exc: Exception) -> Response:
        if not is_database_unavailable(exc) or not _is_page_request(request):
            return await _answer(api_database(request, exc))
        page = await _error_page(
            request,
            503,
            _("The database is temporarily unavailable. Please try again in a few minutes."),
        )
        page.headers.update(database_unavailable_problem().headers)
        return page

    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(PoolTimeoutError, on_database_error)
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DomainError, on_domain_error)


def install_portal(app: FastAPI) -> None:
    """Mount the portal's routes and static files on the control-plane app."""
    app.include_router(router, include_in_schema=False)
    for domain_router in DOMAIN_ROUTERS:
        app.include_router(domain_router, include_in_schema=False)
    app.mount("/static", static_app(), name="static")
    _install_error_pages(app)
    app.add_middleware(LocaleMiddleware)
