"""Query budgets of the publishing pages: the publishing form (its organisations) and an
agency's open-data list (its datasets) cost as many statements for many rows as for few."""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING

import pytest

from tests.portal.budgets import pages_stay_flat
from tinhso.opendata.access import PLATFORM
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.reference import load_reference
from tinhso.opendata.stewardship.agency_lists import agency_list_service
from tinhso.registry.models import OrganisationKind, Role
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import OrganisationCreate

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.registry.queries import QueryBudget

pytestmark = pytest.mark.usefixtures("province_tree")


@pytest.mark.parametrize(
    ("role", "organisation"),
    [(Role.ORGANISATION_ADMIN, "ubnd-tinh"), (Role.OFFICER, "so-tttt"), (None, None)],
)
def test_publishing_pages_stay_flat(
    client: TestClient,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
    query_budget: QueryBudget,
    role: Role | None,
    organisation: str | None,
) -> None:
    """An administrator above (who publishes for the whole tree), an officer of the agency and
    a platform administrator: more organisations, datasets (with tags and resources) and
    reviews cost no more statements."""
    official = make_official(role, organisation, platform_admin=role is None)
    with sessions.begin() as session:
        load_reference(session)
    numbers = count(1)

    def grow() -> None:
        with sessions.begin() as session:
            for _ in range(4):
                n = next(numbers)
                organisation_service.create(
                    session,
                    OrganisationCreate(
                        code=f"don-vi-{n}",
                        name_vi=f"Đơn vị sự nghiệp {n}",
                        kind=OrganisationKind.PUBLIC_SERVICE_UNIT,
                        parent_code="so-tttt",
                    ),
                )
                dataset_service.create(
                    session,
                    PLATFORM,
                    {
                        "title": f"Danh sách trường học {n}",
                        "owner_org": "so-tttt",
                        "update_frequency": "monthly" if n % 2 else "annual",
                        "private": n % 3 == 0,
                        "tags": [{"name": f"khoá {n}"}],
                        "resources": [{"url": f"https://example.org/{n}.csv"}],
                    },
                )
                agency_list_service.review(session, PLATFORM, "so-tttt", f"Rà soát {n}")

    grow()
    pages: dict[str, tuple[str, int]] = {
        # path: (what marks a row, statements at most)
        "/opendata/publish": ("<option", 8),
        "/opendata/lists/so-tttt": ("data-name=", 8),
    }
    if role is Role.OFFICER:  # publishes for its own organisation only: no option grows
        del pages["/opendata/publish"]
    pages_stay_flat(client, pages, grow, query_budget, official.headers)
