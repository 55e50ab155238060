"""Query budgets of the registry's list endpoints and the portal's home page: as many statements
for many organisations, systems, units and roles as for few (``query_budget`` fixture)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.registry.accounts import account_service
from tinhso.registry.models import OrganisationKind, Role
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate, RoleGrant, SystemCreate, UnitRef
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.registry.queries import QueryBudget

# Bắc Giang's legacy districts: organisations placed in different units.
DISTRICTS = ["213", "215", "216", "217", "218", "219", "220", "222", "223", "224"]


def _grow(sessions: sessionmaker[Session], start: int, count: int, username: str) -> None:
    """``count`` organisations (each under the previous, in its own unit) with two systems
    each, and a role for ``username`` in each."""
    with sessions.begin() as session:
        user = account_service.get(session, username)
        for n in range(start, start + count):
            parent = f"to-chuc-{n - 1}" if n > start else "ubnd-tinh"
            organisation_service.create(
                session,
                OrganisationCreate(
                    code=f"to-chuc-{n}",
                    name_vi=f"Tổ chức {n}",
                    kind=OrganisationKind.OTHER,
                    parent_code=parent,
                    administrative_unit=UnitRef.model_validate(
                        {"unit_set": "legacy", "code": DISTRICTS[n % len(DISTRICTS)]}
                    ),
                ),
            )
            for system in ("mot", "hai"):
                system_service.create(
                    session,
                    SystemCreate(
                        code=f"he-thong-{system}",
                        organisation_code=f"to-chuc-{n}",
                        name_vi=f"Hệ thống {system} {n}",
                        is_provider=system == "hai",
                    ),
                )
            account_service.assign_role(
                session, user, RoleGrant(organisation_code=f"to-chuc-{n}", role=Role.VIEWER)
            )


def test_registry_lists_and_the_home_page_stay_flat(
    client: TestClient,
    make_official: MakeOfficial,
    province_tree: dict[str, str],
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
) -> None:
    official = make_official(Role.OFFICER, "so-tttt", username="can-bo-dem")
    _grow(sessions, 1, 2, official.username)
    limit = {"units": 3}
    lists: dict[str, tuple[Callable[[], str], str, int]] = {
        # name: (path, where its rows are, statements at most)
        "organisations": (lambda: "/api/v1/organisations?limit=100", "items", 6),
        "systems": (lambda: "/api/v1/systems?limit=100", "items", 5),
        "units": (lambda: f"/api/v1/units?set=legacy&limit={limit['units']}", "items", 3),
        "me": (lambda: "/api/v1/users/me", "roles", 5),
        "home": (lambda: "/", "<li", 6),
        "tree": (lambda: "/partials/organisations?kind=other", "<li", 6),
    }
    sizes: dict[str, list[int]] = {name: [] for name in lists}

    def fetcher(name: str) -> Callable[[], None]:
        path, key, _budget = lists[name]

        def fetch() -> None:
            response = client.get(path(), headers=official.headers)
            assert response.status_code == 200, response.text
            shown = response.text.count(key) if key == "<li" else len(response.json()[key])
            sizes[name].append(shown)

        return fetch

    def grow() -> None:
        _grow(sessions, 3, 6, official.username)
        limit["units"] = 30

    query_budget.flat_each(
        {name: fetcher(name) for name in lists},
        grow,
        {name: budget for name, (_path, _key, budget) in lists.items()},
    )
    for name, (before, after) in sizes.items():
        assert after > before, f"{name}: the rows did not grow ({before} -> {after})"
