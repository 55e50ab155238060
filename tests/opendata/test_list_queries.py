"""Query budgets of the open-data lists: CKAN's list actions and an agency's open-data list
send as many statements for many datasets (with resources, tags and groups), organisations
and groups as for few (``query_budget`` fixture, issue 11 item 4)."""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING, Any

from tests.opendata.conftest import PUBLISHER
from tinhso.opendata.models import OpendataGroup, OpendataLicence
from tinhso.registry.models import OrganisationKind
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.opendata.conftest import Catalogue
    from tests.registry.queries import QueryBudget


def _rows(body: dict[str, Any]) -> int:
    result: Any = body.get("result", body)
    if isinstance(result, dict):
        result = result["results"] if "results" in result else result["datasets"]
    return len(result)


def test_ckan_lists_and_agency_list_stay_flat(
    client: TestClient,
    catalogue: Catalogue,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    numbers = count(1)

    def grow(datasets: int) -> None:
        for _ in range(datasets):
            n = next(numbers)
            with sessions.begin() as session:
                # a publisher and a group of its own: the lists of organisations and groups
                # grow too
                organisation_service.create(
                    session,
                    OrganisationCreate(
                        code=f"don-vi-{n}",
                        name_vi=f"Đơn vị {n}",
                        kind=OrganisationKind.OTHER,
                        parent_code="ubnd-tinh",
                    ),
                )
                session.add(OpendataGroup(name=f"nhom-{n}", title_vi=f"Nhóm {n}"))
                session.add(
                    OpendataLicence(
                        id=f"giay-phep-{n}", title_vi=f"Giấy phép {n}", title_en=f"Licence {n}"
                    )
                )
            catalogue.officer.action.package_create(
                title=f"Bộ dữ liệu {n}",
                owner_org=PUBLISHER,
                update_frequency="monthly",
                tags=[{"name": f"thẻ {n}"}, {"name": "chung"}],
                groups=[{"name": f"nhom-{n}"}, {"name": "giao-duc"}],
                resources=[
                    {"url": f"https://example.org/{n}/a.csv", "name": "A", "format": "CSV"},
                    {"url": f"https://example.org/{n}/b.json", "name": "B", "format": "JSON"},
                ],
            )
            catalogue.admin.action.package_create(
                title=f"Dữ liệu đơn vị {n}",
                owner_org=f"don-vi-{n}",
                resources=[{"url": f"https://example.org/{n}/c.csv", "name": "C"}],
            )
            # and one more change to the first dataset's history
            catalogue.officer.action.package_patch(id="bo-du-lieu-1", notes=f"Bản {n}")

    grow(2)
    viewer = {"Authorization": f"Bearer {catalogue.viewer.apikey}"}
    ckan = "/api/3/action"
    lists: dict[str, int] = {
        # path: statements at most (CKAN's actions read anonymously);
        # there is no current_package_list_with_resources action
        f"{ckan}/package_list": 1,
        f"{ckan}/organization_list": 2,
        f"{ckan}/organization_list?all_fields=true": 2,
        f"{ckan}/group_list": 2,
        f"{ckan}/group_list?all_fields=true": 2,
        f"{ckan}/tag_list": 1,
        f"{ckan}/license_list": 1,
        f"{ckan}/package_activity_list?id=bo-du-lieu-1&limit=100": 5,
        f"{ckan}/package_search?rows=100": 6,
        # + 4 reading the facet index (cold here; once per catalogue generation when kept)
        f'{ckan}/package_search?rows=100&facet.field=["tags","groups","organization"]': 10,
        # the organisation's members (two statements find the caller and their roles)
        f"/api/v1/opendata/lists/{PUBLISHER}": 7,
    }
    sizes: dict[str, list[int]] = {path: [] for path in lists}

    def fetcher(path: str) -> Callable[[], None]:
        def fetch() -> None:
            response = client.get(path, headers=viewer if path.startswith("/api/v1") else {})
            assert response.status_code == 200, response.text
            sizes[path].append(_rows(response.json()))

        return fetch

    query_budget.flat_each({path: fetcher(path) for path in lists}, lambda: grow(8), lists)
    for path, (before, after) in sizes.items():
        assert after > before, f"{path}: the rows did not grow ({before} -> {after})"
