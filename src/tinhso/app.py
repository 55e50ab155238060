"""The control-plane application factory: JSON API, portal, health and metrics."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from tinhso import __version__
from tinhso.core import migrations
from tinhso.core.config import Settings, load_settings
from tinhso.core.db import engine_from_settings, make_sessionmaker
from tinhso.core.errors import Forbidden
from tinhso.core.http_methods import HttpMethodsMiddleware
from tinhso.core.logging import configure_logging
from tinhso.core.observability import HttpMetrics, RequestContextMiddleware
from tinhso.core.openapi import describe_api
from tinhso.core.query_parameters import check_query_parameters
from tinhso.core.security import same_secret
from tinhso.core.web import install_problem_handlers
from tinhso.exchange.api import router as exchange_router
from tinhso.exchange.notices import announce_changes
from tinhso.exchange.oauth.api import close_address_limiter
from tinhso.monitoring.api import router as monitoring_router
from tinhso.monitoring.collection.api import router as monitoring_collection_router
from tinhso.monitoring.transfer.api import router as monitoring_transfer_router
from tinhso.opendata.api import router as opendata_router
from tinhso.opendata.catalogue.storage import resource_store
from tinhso.opendata.stewardship.api import router as opendata_lists_router
from tinhso.registry.api import router as registry_router
from tinhso.registry.auth import current_principal
from tinhso.reports.api import router as reports_router
from tinhso.reports.figures.provider import install as install_report_figures
from tinhso.reports.media.storage import media_store
from tinhso.reports.open311.api import router as open311_router

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the control plane. Engines and settings are made here, never at import time."""
    settings = settings or load_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    metrics = HttpMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine if engine is not None else engine_from_settings(settings)
        app.state.sessionmaker = make_sessionmaker(app.state.engine)
        announce_changes(app.state.sessionmaker, settings.redis_url)  # registry notices (Redis)
        try:
            yield
        finally:
            close_address_limiter(app.state)
            if own_engine:
                app.state.engine.dispose()

    app = FastAPI(
        title="tinhso — Tỉnh số",
        summary="Nền tảng chuyển đổi số cấp tỉnh / Provincial digital-transformation platform",
        version=__version__,
        docs_url=None,  # served below from the platform's own static files, no CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # Open data's resource files: on disk or on S3 (checked at start by `tinhso serve`).
    app.state.resource_files = resource_store(settings)
    app.state.report_files = media_store(settings)
    app.state.metrics = metrics
    install_problem_handlers(app)
    checked = [Depends(check_query_parameters)]
    app.include_router(registry_router, dependencies=checked)
    app.include_router(exchange_router, dependencies=checked)
    app.include_router(monitoring_router, dependencies=checked)
    app.include_router(monitoring_transfer_router, dependencies=checked)
    app.include_router(monitoring_collection_router, dependencies=checked)
    app.include_router(opendata_router, dependencies=checked)
    app.include_router(opendata_lists_router, dependencies=checked)
    app.include_router(reports_router, dependencies=checked)
    app.include_router(open311_router, dependencies=checked)
    # monitoring's dashboards and alerts read field-report figures through its extension point
    install_report_figures()

    from tinhso.portal.pages import install_portal  # noqa: PLC0415 - portal depends on every domain

    install_portal(app)
    _install_operations_endpoints(app)
    _install_api_docs(app)
    app.openapi = lambda: describe_api(  # type: ignore[method-assign]
        app,
        requires_official=current_principal,
        page_size_max=settings.page_size_max,
        client_authenticated={"/oauth/token"},
    )
    app.add_middleware(HttpMethodsMiddleware, routes_of=app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


_API_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tinhso API</title>
<link rel="stylesheet" href="{css}">
<link rel="stylesheet" href="{own_css}">
</head>
<body>
<main id="swagger-ui" data-openapi="/api/openapi.json"></main>
<script src="{bundle}"></script>
<script src="{start}"></script>
</body>
</html>
"""


def _install_api_docs(app: FastAPI) -> None:
    from tinhso.portal.rendering import SECURITY_HEADERS  # noqa: PLC0415
    from tinhso.portal.static_files import static_url  # noqa: PLC0415

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """Swagger UI over the OpenAPI document (public), every asset served by the platform
        itself: provincial networks are often offline."""
        page = _API_DOCS_PAGE.format(
            css=static_url("vendor/swagger-ui.css"),
            own_css=static_url("api/docs.css"),
            bundle=static_url("vendor/swagger-ui-bundle.js"),
            start=static_url("api/docs.js"),
        )
        return HTMLResponse(page, headers=SECURITY_HEADERS)


def _install_operations_endpoints(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness (public)")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: database reachable and migrated (public)",
    )
    def readyz(request: Request) -> JSONResponse:
        engine = request.app.state.engine
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            migrated = migrations.is_up_to_date(engine)
        except Exception:
            return JSONResponse(
                {"status": "unavailable", "database": "unreachable"}, status_code=503
            )
        if not migrated:
            return JSONResponse(
                {"status": "unavailable", "database": "not migrated"}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get(
        "/metrics", tags=["operations"], summary="Prometheus metrics (loopback or metrics token)"
    )
    def prometheus_metrics(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        allowed = _is_loopback(request.client.host if request.client else "")
        if token is not None:
            allowed = same_secret(request.headers.get("authorization", ""), f"Bearer {token}")
        if not allowed:
            raise Forbidden(
                "Chỉ máy giám sát được phép đọc số liệu vận hành",
                "Metrics are only served to the monitoring system",
            )
        return Response(
            generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
