"""Query budgets of the administration pages: officials, organisations, the working calendar
and the scheduled jobs cost as many statements for many rows as for few."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from itertools import count
from typing import TYPE_CHECKING

import pytest

from tests.portal.budgets import pages_stay_flat
from tinhso.core.calendar import DayKind, DecidedDay, remove_decided_day, save_decided_day
from tinhso.core.jobs.runner import Job, JobContext, JobRunner
from tinhso.core.jobs.schedule import Schedule
from tinhso.registry.models import OrganisationKind, Role
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate, UnitRef

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.registry.queries import QueryBudget

pytestmark = pytest.mark.usefixtures("province_tree")

# Decided days in a year no shipped notice covers (reference data: removed afterwards).
YEAR = 2032


@pytest.fixture
def decided_days(sessions: sessionmaker[Session]) -> Iterator[list[date]]:
    days: list[date] = []
    yield days
    with sessions.begin() as session:
        for day in days:
            remove_decided_day(session, day)


async def _ok(context: JobContext) -> str:
    return "succeeded=1"


async def _broken(context: JobContext) -> str:
    msg = "unreachable"
    raise ConnectionError(msg)


@pytest.mark.parametrize("viewer", ["platform", "organisation"])
def test_admin_pages_stay_flat(
    client: TestClient,
    admin: Official,
    viewer: str,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    engine: Engine,
    decided_days: list[date],
    query_budget: QueryBudget,
) -> None:
    numbers = count(1)

    def grow() -> None:
        made = [next(numbers) for _ in range(4)]
        with sessions.begin() as session:
            for n in made:
                organisation_service.create(
                    session,
                    OrganisationCreate(
                        code=f"ubnd-xa-{n}",
                        name_vi=f"UBND xã {n}",
                        kind=OrganisationKind.COMMUNE_COMMITTEE,
                        parent_code="ubnd-viet-yen",
                        administrative_unit=UnitRef(unit_set="legacy", code="222"),  # type: ignore[arg-type]
                    ),
                )
                day = date(YEAR, 1, 5) + timedelta(days=7 * n)
                save_decided_day(
                    session,
                    DecidedDay(day, DayKind.OFF, f"Nghỉ {n}", f"Thông báo {n}/TB-BNV", "Bộ Nội vụ"),
                )
                decided_days.append(day)
        for n in made:
            make_official(Role.OFFICER, f"ubnd-xa-{n}", username=f"can-bo-{n}")
            make_official(Role.ORGANISATION_ADMIN, f"ubnd-xa-{n}", username=f"quan-tri-{n}")
        jobs = [
            Job(f"chay-{n}-{k}", Schedule.every(1), job, f"Việc {n}", f"Job {n}")
            for n in made
            for k, job in enumerate((_ok, _broken))
        ]
        runner = JobRunner(engine, jobs, worker="node-1:42:abc")
        runner.register()
        asyncio.run(runner.run_due())

    grow()
    pages: dict[str, tuple[str, int]] = {
        # path: (what marks a row, statements at most: a platform administrator's pages cost
        # 5 each, an organisation administrator's one or two more, to find their tree)
        "/admin/users": ("data-username=", 6),
        "/admin/organisations": ("<tr", 7),
        f"/admin/calendar?year={YEAR}": ("data-day=", 3),
        "/admin/jobs": ("<tr", 5),
    }
    official = admin
    if viewer == "organisation":  # administers the province's tree: no calendar, no jobs
        official = make_official(Role.ORGANISATION_ADMIN, "ubnd-tinh", username="quan-tri-tinh")
        pages = {path: pages[path] for path in ("/admin/users", "/admin/organisations")}
    pages_stay_flat(client, pages, grow, query_budget, official.headers)
