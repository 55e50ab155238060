"""The platform's scheduled jobs, their last runs and their failures (platform admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from tinhso.core.errors import Forbidden
from tinhso.core.jobs.runner import job_views, recent_failures
from tinhso.core.web import DbSession
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render

router = APIRouter()


@router.get("/admin/jobs", summary="Scheduled jobs, last runs and failures (platform admins)")
def jobs_page(request: Request, session: DbSession, principal: PortalUser) -> Response:
    if not principal.is_platform_admin:
        raise Forbidden(
            "Chỉ quản trị viên nền tảng được xem các công việc định kỳ",
            "Only platform administrators may see the scheduled jobs",
        )
    return render(
        request,
        "admin/jobs.html",
        {"jobs": job_views(session, recent=5), "failures": recent_failures(session, limit=20)},
    )
