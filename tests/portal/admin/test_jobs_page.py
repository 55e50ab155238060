"""The scheduled-jobs page: platform admins see every job, its last runs and its failures;
other officials are refused, anonymous visitors sent to the login page."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from tests.portal.test_pages import log_in
from tinhso.core.jobs.runner import Job, JobContext, JobRunner
from tinhso.core.jobs.schedule import Schedule
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine

    from tests.conftest import MakeOfficial, Official


async def _collect(context: JobContext) -> str:
    return "succeeded=3 failed=0 skipped=0"


async def _refresh(context: JobContext) -> str:
    msg = "directory at https://lgsp:mat-khau@lgsp.gov.vn unreachable"
    raise ConnectionError(msg)


@pytest.fixture
def ran_jobs(engine: Engine) -> None:
    jobs = [
        Job("monitoring.collection", Schedule.every(1), _collect, "Thu thập số liệu", "Collection"),
        Job("exchange.directory", Schedule.daily(6, 30), _refresh, "Làm mới danh bạ", "Directory"),
    ]
    runner = JobRunner(engine, jobs, worker="node-1:42:abc")
    runner.register()
    asyncio.run(runner.run_due())


@pytest.mark.usefixtures("ran_jobs")
def test_a_platform_admin_sees_jobs_last_runs_and_failures(
    client: TestClient, admin: Official
) -> None:
    assert log_in(client, admin.username).status_code == 303
    page = client.get("/admin/jobs")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Công việc định kỳ" in text and "Thu thập số liệu" in text
    assert "mỗi 1 phút" in text and "hằng ngày lúc 06:30" in text
    assert "succeeded=3 failed=0 skipped=0" in text
    assert "ConnectionError: directory at https://***@lgsp.gov.vn unreachable" in text
    assert "mat-khau" not in text
    assert 'href="/admin/jobs"' in text  # in the menu for admins

    client.get("/lang/en?next=/admin/jobs")
    english = client.get("/admin/jobs").text
    assert "Scheduled jobs" in english and "daily at 06:30" in english
    assert "Collection" in english and "Thu thập số liệu" not in english


def test_other_officials_are_refused_and_do_not_see_the_menu_item(
    client: TestClient, make_official: MakeOfficial, province_tree: dict[str, str]
) -> None:
    officer = make_official(role=Role.ORGANISATION_ADMIN, organisation="ubnd-tinh")
    assert log_in(client, officer.username).status_code == 303
    page = client.get("/admin/jobs")
    assert page.status_code == 403
    assert "Chỉ quản trị viên nền tảng" in page.text
    assert 'href="/admin/jobs"' not in client.get("/").text


def test_anonymous_visitors_are_sent_to_the_login_page(client: TestClient) -> None:
    response = client.get("/admin/jobs", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
