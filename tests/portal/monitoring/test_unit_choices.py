"""The units the entry form offers: a unit's whole subtree in one query (not one per
unit), in the same depth-first order as before."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from tests.registry.queries import counted_queries
from tinhso.core import generations
from tinhso.portal.monitoring import catalogue
from tinhso.portal.monitoring.catalogue import UnitChoice
from tinhso.portal.monitoring.entry import allowed_units
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import Principal, principal_of
from tinhso.registry.models import AdministrativeUnit, Role, UnitLevel, UnitSet
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from tests.conftest import MakeOfficial


def _walked(session: Session, root: AdministrativeUnit) -> list[UnitChoice]:
    """The reference: the tree walked node by node, children in code order."""
    found = [UnitChoice(root.id, root.unit_set, root.code, root.name, root.level, 0)]

    def walk(parent_id: int, depth: int) -> None:
        children = session.scalars(
            select(AdministrativeUnit)
            .where(AdministrativeUnit.parent_id == parent_id)
            .order_by(AdministrativeUnit.code)
        )
        for unit in children:
            found.append(
                UnitChoice(unit.id, unit.unit_set, unit.code, unit.name, unit.level, depth)
            )
            walk(unit.id, depth + 1)

    walk(root.id, 1)
    return found


def test_subtree_in_one_query_in_the_walked_order(session: Session, engine: Engine) -> None:
    for unit_set, code in (
        (UnitSet.LEGACY, "24"),
        (UnitSet.CURRENT, "24"),
        (UnitSet.LEGACY, "222"),
    ):
        root = unit_service.get(session, unit_set, code)
        expected = _walked(session, root)
        with generations.computing_everything(), counted_queries(engine) as queries:
            choices = catalogue.unit_subtree(session, root.id)
        assert queries.count == 1, (unit_set, code)
        assert choices == expected, (unit_set, code)
    # legacy Bắc Giang: province, ten districts and their communes
    legacy = catalogue.unit_subtree(session, unit_service.get(session, UnitSet.LEGACY, "24").id)
    assert [c.depth for c in legacy if c.level is UnitLevel.DISTRICT] == [1] * 10
    assert catalogue.unit_subtree(session, legacy[0].id, max_units=5) == legacy[:5]
    assert catalogue.unit_subtree(session, 10_000_000) == []


def test_units_of_level_in_code_order(session: Session) -> None:
    provinces = catalogue.units_of_level(session, UnitSet.CURRENT, UnitLevel.PROVINCE)
    assert len(provinces) == 34
    assert [p.code for p in provinces] == sorted(p.code for p in provinces)
    assert all(p.level is UnitLevel.PROVINCE and p.depth == 0 for p in provinces)


def _principal(session: Session, username: str) -> Principal:
    return principal_of(session, account_service.get(session, username))


def test_allowed_units_queries_do_not_grow_with_the_tree(
    province_tree: dict[str, str],
    make_official: MakeOfficial,
    session: Session,
    engine: Engine,
) -> None:
    district = _principal(session, make_official(Role.OFFICER, "ubnd-viet-yen").username)
    province = _principal(session, make_official(Role.ORGANISATION_ADMIN, "ubnd-tinh").username)
    with counted_queries(engine) as few:
        small = allowed_units(session, district)
    session.expunge_all()  # nothing cached from the first call
    with counted_queries(engine) as many:
        large = allowed_units(session, province)
    assert small[0].code == "222"
    assert large[0].code == "24"
    assert {u.id for u in small} < {u.id for u in large}
    assert len(large) > 10 * len(small) / 2
    assert many.count <= few.count <= 3  # (the generation is read once per transaction)
