"""How portal pages are rendered: one Jinja2 environment, the request's language, formats.

The language comes from the ``tinhso_lang`` cookie (Vietnamese unless it says
English); :class:`LocaleMiddleware` puts it in ``tinhso.core.i18n.current_locale``
for the whole request, so ``_()`` in Python and ``{{ _("…") }}`` / ``{% trans %}``
in templates translate with the Babel catalogues. Numbers and dates are always
shown the Vietnamese way (``1.380,5``, ``21/11/2026``), whatever the language.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from http.cookies import SimpleCookie
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi.responses import HTMLResponse
from fastapi.routing import iter_route_contexts
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from tinhso import __version__
from tinhso.core.i18n import (
    current_locale,
    format_date,
    format_datetime,
    format_number,
    gettext,
    ngettext,
    parse_locale,
)
from tinhso.portal.static_files import static_url
from tinhso.registry.auth import masked_csrf_token

if TYPE_CHECKING:
    from fastapi import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

    from tinhso.registry.auth import Principal

LANGUAGE_COOKIE = "tinhso_lang"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Nothing outside the platform may load; scripts only from our own /static files.
# Inline style attributes stay allowed because charting libraries set them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class LocaleMiddleware:
    """Sets the request's language (``tinhso_lang`` cookie, default Vietnamese)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = current_locale.set(parse_locale(_cookie(scope, LANGUAGE_COOKIE)))
        try:
            await self.app(scope, receive, send)
        finally:
            current_locale.reset(token)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return None
            morsel = jar.get(name)
            if morsel is not None:
                return morsel.value
    return None


def number(value: float | int | Decimal | None, decimals: int | None = None) -> str:
    """``1380.5`` → ``1.380,5``."""
    return format_number(value, decimals)


def percent(value: float | int | Decimal | None, decimals: int = 1) -> str:
    """A ratio already in percent: ``87.25`` → ``87,3 %`` (Vietnamese), ``87.3%`` (English)."""
    if value is None:
        return "–"
    space = "\u00a0" if current_locale.get() == "vi" else ""
    return f"{format_number(value, decimals)}{space}%"


def date_filter(value: date | datetime | None) -> str:
    return format_date(value)


def datetime_filter(value: datetime | None) -> str:
    return format_datetime(value)


def isodate_filter(value: str | None) -> str:
    """An ISO date or timestamp text (``2026-12-05…``, as the CKAN dictionaries hold them) as
    the page's date: ``05/12/2026``."""
    if not value:
        return "–"
    try:
        return format_date(date.fromisoformat(value[:10]))
    except ValueError:
        return value


# The GeoJSON of maps as the page embeds it, by the identity of the collection: a map's
# collection is kept with its answer and shared between requests, never changed by a reader
# (``maps.boundaries.UnitMap``, dashboards' kept panels), so its ~100 KB are encoded once, not
# on every page. Each entry holds the collection itself, so its id names no other object.
_ENCODED: OrderedDict[int, tuple[Any, str]] = OrderedDict()
_ENCODED_LOCK = threading.Lock()
_ENCODED_MAX = 16
_HOLE = "\x00tinhso-geojson\x00"  # a string no chart holds, where the GeoJSON goes
_HOLE_TEXT = json.dumps(_HOLE)


def _htmlsafe(text: str) -> str:
    """JSON text safe in a ``<script>`` element, as Jinja's ``tojson`` makes it."""
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )


class JSONText(str):
    """JSON text already made (a kept map's ``UnitMap.collection_text``): ``chart_json`` puts
    it in as it is (escaped for the page), nothing parsed or encoded."""

    __slots__ = ()


def _encoded_once(value: Any) -> str:
    key = id(value)
    with _ENCODED_LOCK:
        found = _ENCODED.get(key)
        if found is not None and found[0] is value:
            _ENCODED.move_to_end(key)
            return found[1]
    text = _htmlsafe(json.dumps(value, sort_keys=True))
    with _ENCODED_LOCK:
        _ENCODED[key] = (value, text)
        while len(_ENCODED) > _ENCODED_MAX:
            _ENCODED.popitem(last=False)
    return text


def chart_json(chart: Any) -> Markup:
    """``chart|tojson``, the same text, its ``geojson`` (a map's features, shared and kept
    with the map) encoded once per collection rather than on every page; a ``geojson`` given
    as :class:`JSONText` is put in as it is."""
    if not isinstance(chart, dict) or not isinstance(chart.get("geojson"), dict | JSONText):
        return Markup(_htmlsafe(json.dumps(chart, sort_keys=True)))  # noqa: S704 - escaped
    geojson = chart["geojson"]
    text = _htmlsafe(geojson) if isinstance(geojson, JSONText) else _encoded_once(geojson)
    shell = _htmlsafe(json.dumps({**chart, "geojson": _HOLE}, sort_keys=True))
    return Markup(shell.replace(_HOLE_TEXT, text, 1))  # noqa: S704


@cache
def environment() -> Environment:
    """The portal's Jinja2 environment: autoescaped, translated through the catalogues."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(("html", "xml"), default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # the templates ship with the package and change only with a new process: no stat of
        # every template a page uses on each render (~5 % of a dashboard page's CPU)
        auto_reload=False,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        number=number,
        percent=percent,
        date=date_filter,
        datetime=datetime_filter,
        isodate=isodate_filter,
        chart_json=chart_json,
    )
    env.globals["version"] = __version__
    env.globals["static"] = static_url
    return env


def csrf_token(request: Request) -> str:
    """The CSRF token for forms and HTMX requests of the request's portal session ("" if none),
    masked afresh for each page (pages are compressed: see `render`)."""
    return masked_csrf_token(request)


def has_route(request: Request, path: str) -> bool:
    """Whether a page is registered at ``path`` (nav items of domains not installed are hidden)."""
    paths: frozenset[str] | None = getattr(request.app.state, "route_paths", None)
    if paths is None:
        paths = frozenset(
            context.path for context in iter_route_contexts(request.app.routes) if context.path
        )
        request.app.state.route_paths = paths
    return path in paths


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a template with the portal's common context (user, language, CSRF token, nav)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    values: dict[str, Any] = {
        "request": request,
        "principal": principal,
        "locale": current_locale.get(),
        "csrf_token": csrf_token(request) if principal is not None else "",
        "has_route": lambda path: has_route(request, path),
        "current_path": request.url.path,
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "is_htmx": request.headers.get("hx-request") == "true",
    }
    values.update(context or {})
    body = environment().get_template(template).render(values).encode()
    all_headers = {**SECURITY_HEADERS, **(headers or {}), "Vary": "Accept-Encoding, Cookie"}
    if len(body) >= _COMPRESS_FROM and _accepts_gzip(request):
        # Safe to compress: the only secret a page holds, its CSRF token, is masked afresh.
        # Level 1 (nginx's default): a 120 KB page in 1.2 ms instead of 2.7-3.9 ms at level
        # 6 (~10 % of a dashboard page's CPU), ~15 % larger.
        body = gzip.compress(body, compresslevel=1)
        all_headers["Content-Encoding"] = "gzip"
    return HTMLResponse(body, status_code=status_code, headers=all_headers)


_COMPRESS_FROM = 1024  # bytes; smaller pages are sent as they are


def _accepts_gzip(request: Request) -> bool:
    """Whether the client takes gzip (``gzip;q=0`` refuses it)."""
    for coding in request.headers.get("accept-encoding", "").split(","):
        name, _, parameters = coding.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = parameters.strip().removeprefix("q=")
            return not (parameters and quality.replace("0", "").strip(".") == "")
    return False
