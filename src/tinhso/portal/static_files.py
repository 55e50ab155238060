"""The portal's static files: fingerprinted URLs, long caching, compression.

Pages name an asset with ``{{ static('css/portal.css') }}``, which gives
``/static/css/portal.css?v=<12 hex of its SHA-256>``. A request carrying the file's current
fingerprint may be cached for a year (``immutable``): a changed file gets a new URL. Any other
request for it is revalidated (``no-cache``, with the ETag). Text assets are sent gzip-compressed
to clients that accept it; the provincial network is often slow.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.types import ASGIApp, Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
YEAR_SECONDS = 365 * 24 * 3600


@cache
def fingerprint(path: str) -> str:
    """12 hex digits of the SHA-256 of ``static/<path>`` (read once per process)."""
    file = (STATIC_DIR / path).resolve()
    if not file.is_relative_to(STATIC_DIR) or not file.is_file():
        msg = f"no static file {path!r}"
        raise FileNotFoundError(msg)
    return hashlib.sha256(file.read_bytes()).hexdigest()[:12]


def static_url(path: str) -> str:
    """The fingerprinted URL of a static file, for templates."""
    return f"/static/{path}?v={fingerprint(path)}"


class StaticAssets(StaticFiles):
    """Starlette's static files with the cache policy above."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code not in {200, 304}:
            return response
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [""])[0]
        try:
            current = fingerprint(path)
        except FileNotFoundError:
            current = None
        if current is not None and asked == current:
            response.headers["Cache-Control"] = f"public, max-age={YEAR_SECONDS}, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        return response


def static_app() -> ASGIApp:
    """What ``/static`` mounts: the files, compressed when the client accepts gzip."""
    return GZipMiddleware(StaticAssets(directory=STATIC_DIR), minimum_size=1024)
