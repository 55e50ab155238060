"""Query budgets of the reports' lists: the public list, the officers' queue, the officers'
API and the Open311 feed send as many statements for many reports as for few."""

from __future__ import annotations

import re
from itertools import count
from typing import TYPE_CHECKING

from sqlalchemy import select

from tests.portal.budgets import pages_stay_flat
from tests.portal.reports.test_citizen_pages import _aged_token
from tests.portal.test_pages import log_in
from tinhso.core.calendar import VIETNAM, shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.core.db import utcnow
from tinhso.core.models import OutgoingMail
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import principal_of
from tinhso.registry.models import AdministrativeUnit, Role, UnitLevel, UnitSet
from tinhso.reports.handling import categories
from tinhso.reports.handling.categories import CategoryDraft
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.handling.states import Action
from tinhso.reports.models import Channel, Severity
from tinhso.reports.open311 import keys
from tinhso.reports.service import Step, Submission, report_service

from .conftest import OTHER_COMMUNE, WARD

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.portal.budgets import Rows
    from tests.registry.queries import QueryBudget

    from .conftest import ReportsWorld


def test_report_lists_stay_flat_as_reports_grow(
    client: TestClient,
    reports_world: ReportsWorld,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    officer = make_official(Role.ORGANISATION_ADMIN, reports_world.province_org)
    numbers = count(1)

    def grow() -> None:
        with sessions.begin() as session:
            acting = principal_of(session, account_service.get(session, officer.username))
            for _ in range(6):
                number = next(numbers)
                code = report_service.submit(
                    session,
                    Submission(
                        category_code="dien-nuoc",
                        description=f"Mất điện {number}",
                        channel=Channel.WEB,
                        unit_code=OTHER_COMMUNE if number % 2 else WARD,
                    ),
                    shipped_calendar(),
                    DeadlinePolicy.from_settings(ReportsSection()),
                ).report.code
                if number % 3 == 0:
                    report_service.act(
                        session,
                        acting,
                        code,
                        Step(Action.ACCEPT),
                        shipped_calendar(),
                        DeadlinePolicy.from_settings(ReportsSection()),
                    )

    grow()
    log_in(client, officer.username)
    lists: dict[str, tuple[str, int]] = {
        "/reports": ("<tr", 6),
        f"/reports/queue?organisation={reports_world.province_org}": ("<tr", 8),
        f"/api/v1/reports?organisation={reports_world.province_org}": ("json", 9),
        "/open311/v2/requests.json?extensions=true": ("json", 6),
    }
    _flat_and_growing(client, officer.headers, lists, grow, query_budget)


def test_category_lists_stay_flat_as_categories_grow(
    client: TestClient,
    reports_world: ReportsWorld,
    admin: Official,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    """The operators' list of categories (API and page) and Open311's services: one category
    with questions costs what three do (issue 11 item 4)."""
    numbers = count(1)

    def grow() -> None:
        with sessions.begin() as session:
            for _ in range(4):
                number = next(numbers)
                categories.create(
                    session,
                    f"loai-{number}",
                    CategoryDraft(
                        name_vi=f"Loại {number}",
                        name_en=f"Kind {number}",
                        severity=Severity.NORMAL,
                        group_vi="Đô thị",
                        attributes=[
                            {
                                "code": "so-nha",
                                "datatype": "string",
                                "required": False,
                                "order": 1,
                                "description": "Số nhà",
                            }
                        ],
                    ),
                )

    log_in(client, admin.username)
    lists: dict[str, tuple[str, int]] = {
        "/api/v1/report-categories": ("json", 3),
        "/open311/v2/services.json": ("json", 1),
        "/reports/operators/categories": ("<tr", 3),
    }
    _flat_and_growing(client, admin.headers, lists, grow, query_budget)


def _flat_and_growing(
    client: TestClient,
    headers: dict[str, str],
    lists: dict[str, tuple[str, int]],
    grow: Callable[[], None],
    query_budget: QueryBudget,
) -> None:
    """Each list (path: what counts a row, "<tr" or "json"; its budget) stays within its
    budget and flat around ``grow``, and shows more rows after it."""
    sizes: dict[str, list[int]] = {}

    def fetcher(path: str) -> Callable[[], None]:
        def fetch() -> None:
            answer = client.get(path, headers=headers if path.startswith("/api") else {})
            assert answer.status_code == 200, answer.text
            shown = answer.text.count("<tr") if lists[path][0] == "<tr" else len(answer.json())
            sizes.setdefault(path, []).append(shown)

        return fetch

    query_budget.flat_each(
        {path: fetcher(path) for path in lists}, grow, {path: b for path, (_, b) in lists.items()}
    )
    for path, seen in sizes.items():
        assert seen[-1] > seen[0], f"{path}: the rows did not grow ({seen})"


def test_report_keys_stay_flat_as_keys_grow(
    client: TestClient,
    admin: Official,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    """The operators' list of Open311 keys, live and revoked (issue 11 item 4)."""
    numbers = count(1)

    def grow() -> None:
        with sessions.begin() as session:
            for _ in range(4):
                number = next(numbers)
                issued = keys.issue(session, f"Ứng dụng {number}")
                if number % 2:
                    keys.revoke(session, issued.record.id)

    grow()
    lists: dict[str, tuple[str, int]] = {"/api/v1/report-keys": ("json", 3)}
    _flat_and_growing(client, admin.headers, lists, grow, query_budget)


def _received(page: str) -> int:
    """The reports the statistics count as received, all rows together."""
    return sum(int(n) for n in re.findall(r'data-label="(?:Tiếp nhận|Received)">(\d+)<', page))


def test_public_report_pages_stay_flat_as_reports_grow(
    client: TestClient,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    """A reporter's own reports (of several categories), the monthly statistics (by
    organisation and by commune) and the open reports nearby (issue 11 item 4): more reports
    in more communes cost no more statements."""
    with sessions() as session:
        communes = session.scalars(
            select(AdministrativeUnit.code)
            .where(
                AdministrativeUnit.unit_set == UnitSet.CURRENT,
                AdministrativeUnit.level == UnitLevel.COMMUNE,
                AdministrativeUnit.code.startswith("07"),
            )
            .order_by(AdministrativeUnit.code)
            .limit(12)
        ).all()
    numbers = count(0)
    kinds = ("dien-nuoc", "moi-truong", "y-te")

    def grow(reports: int) -> None:
        with sessions.begin() as session:
            for _ in range(reports):
                number = next(numbers)
                commune = communes[number % len(communes)]
                report_service.submit(
                    session,
                    Submission(
                        category_code=kinds[number % 3],
                        description=f"Phản ánh {number}",
                        channel=Channel.WEB,
                        unit_code=commune,
                        latitude=21.2735 + number * 0.00001,
                        longitude=106.1946,
                        reporter_email="an@example.vn",
                        attributes={"muc-do": "nho"} if kinds[number % 3] == "moi-truong" else {},
                    ),
                    shipped_calendar(),
                    DeadlinePolicy.from_settings(ReportsSection()),
                )

    grow(3)
    asked = client.post(
        "/reports/mine", data={"form_token": _aged_token(), "email": "an@example.vn"}
    )
    assert asked.status_code == 200
    with sessions() as session:
        link = session.scalars(
            select(OutgoingMail.link_path).where(OutgoingMail.kind == "sign-in")
        ).one()
    assert client.get(link, follow_redirects=False).status_code == 303
    month = utcnow().astimezone(VIETNAM).strftime("%m/%Y")
    pages: dict[str, tuple[Rows, int]] = {
        # path: (what marks a row, statements at most)
        "/reports/mine": ('href="/reports/', 2),
        # the organisations receiving them are few: the reports they received grow
        f"/reports/statistics?month={month}": (_received, 2),
        f"/reports/statistics?month={month}&by=unit": ("<tr", 2),
        "/reports/nearby?category=dien-nuoc&latitude=21.2735&longitude=106.1946": ("<li", 2),
    }
    pages_stay_flat(client, pages, lambda: grow(9), query_budget)
