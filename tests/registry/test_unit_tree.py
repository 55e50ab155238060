"""Bulk reads of the administrative unit tree: a constant number of queries however many
units are read (the monitoring and portal domains read the tree through these)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete

from tests.registry.queries import counted_queries
from tinhso.core import generations
from tinhso.registry.models import AdministrativeUnit, UnitLevel, UnitSet
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

# Legacy Bắc Giang (24) has ten districts; Việt Yên (222) and Hiệp Hòa (223) among them.
BAC_GIANG_DISTRICTS = {"213", "215", "216", "217", "218", "219", "220", "222", "223", "224"}


def _id(session: Session, unit_set: UnitSet, code: str) -> int:
    return unit_service.get(session, unit_set, code).id


def test_subtree_is_depth_first_in_code_order_in_one_query(
    session: Session, engine: Engine
) -> None:
    root = _id(session, UnitSet.LEGACY, "24")
    with generations.computing_everything(), counted_queries(engine) as queries:
        nodes = unit_service.subtree(session, root)
    assert queries.count == 1
    assert (nodes[0].id, nodes[0].code, nodes[0].depth) == (root, "24", 0)
    districts = [n for n in nodes if n.level is UnitLevel.DISTRICT]
    assert {n.code for n in districts} == BAC_GIANG_DISTRICTS
    assert [n.code for n in districts] == sorted(n.code for n in districts)
    assert all(n.depth == 1 for n in districts)
    communes = [n for n in nodes if n.level is UnitLevel.COMMUNE]
    assert communes and all(n.depth == 2 for n in communes)
    # depth first: each district is followed by its own communes, in code order
    by_id = {n.id: n for n in nodes}
    position = {n.id: i for i, n in enumerate(nodes)}
    for i, node in enumerate(nodes[1:], start=1):
        if node.level is UnitLevel.COMMUNE:
            parent = by_id[node.parent_id]  # type: ignore[index]
            assert position[parent.id] < i
            between = nodes[position[parent.id] + 1 : i]
            assert all(n.level is UnitLevel.COMMUNE and n.parent_id == parent.id for n in between)
            assert [n.code for n in between] == sorted(n.code for n in between)
    # everything below a district is below the province too
    viet_yen = _id(session, UnitSet.LEGACY, "222")
    assert {n.id for n in unit_service.subtree(session, viet_yen)} < set(by_id)


def test_subtree_of_a_missing_unit_is_empty(session: Session) -> None:
    assert unit_service.subtree(session, 10_000_000) == []


def test_descendants_and_ancestors(session: Session, engine: Engine) -> None:
    province = _id(session, UnitSet.LEGACY, "24")
    district = _id(session, UnitSet.LEGACY, "222")
    other = _id(session, UnitSet.LEGACY, "223")
    commune = _id(session, UnitSet.LEGACY, "07759")  # Thượng Lan, in Việt Yên
    with generations.computing_everything(), counted_queries(engine) as queries:
        below = unit_service.descendant_ids(session, {district, other})
        chain = unit_service.ancestor_ids(session, commune)
    assert queries.count == 2
    assert {district, other, commune} <= below
    assert province not in below
    assert chain == [commune, district, province]
    assert unit_service.ancestor_ids(session, province) == [province]
    assert unit_service.descendant_ids(session, set()) == set()


def test_ids_at_levels_in_two_queries(session: Session, engine: Engine) -> None:
    province = _id(session, UnitSet.LEGACY, "24")
    district = _id(session, UnitSet.LEGACY, "222")
    current = _id(session, UnitSet.CURRENT, "24")
    scopes = [
        (UnitSet.LEGACY, UnitLevel.DISTRICT, province),
        (UnitSet.LEGACY, UnitLevel.COMMUNE, province),
        (UnitSet.LEGACY, UnitLevel.COMMUNE, district),
        (UnitSet.LEGACY, UnitLevel.DISTRICT, district),  # none strictly below of that level
        (UnitSet.CURRENT, UnitLevel.COMMUNE, current),
        (UnitSet.CURRENT, UnitLevel.PROVINCE, None),
        (UnitSet.LEGACY, UnitLevel.PROVINCE, None),
        (UnitSet.CURRENT, UnitLevel.COMMUNE, province),  # a legacy unit: no current units below
    ]
    with generations.computing_everything(), counted_queries(engine) as queries:
        found = unit_service.ids_at_levels(session, scopes)
    assert queries.count == 2
    districts = unit_service.nodes(session, found[scopes[0]])
    assert {n.code for n in districts.values()} == BAC_GIANG_DISTRICTS
    assert found[scopes[0]] == sorted(found[scopes[0]])
    assert set(found[scopes[2]]) < set(found[scopes[1]])
    assert found[scopes[3]] == []
    assert len(found[scopes[5]]) == 34
    assert len(found[scopes[6]]) == 63
    assert found[scopes[7]] == []
    communes = unit_service.nodes(session, found[scopes[4]])
    assert communes and all(n.unit_set is UnitSet.CURRENT for n in communes.values())


def test_nodes_and_ids_by_ref(session: Session, engine: Engine) -> None:
    legacy = _id(session, UnitSet.LEGACY, "24")
    current = _id(session, UnitSet.CURRENT, "24")
    refs = [(UnitSet.LEGACY, "24"), (UnitSet.CURRENT, "24"), (UnitSet.CURRENT, "nope")]
    with generations.computing_everything(), counted_queries(engine) as queries:
        ids = unit_service.ids_by_ref(session, refs)
        nodes = unit_service.nodes(session, {legacy, current, 10_000_000})
    assert queries.count == 2
    # GSO codes are reused across sets: legacy 24 is Bắc Giang, current 24 is Bắc Ninh
    assert ids == {(UnitSet.LEGACY, "24"): legacy, (UnitSet.CURRENT, "24"): current}
    assert "Bắc Giang" in nodes[legacy].name
    assert "Bắc Ninh" in nodes[current].name
    assert nodes[legacy].level is UnitLevel.PROVINCE
    assert nodes[legacy].parent_id is None
    assert 10_000_000 not in nodes


def test_subtrees_of_several_units_in_one_query(session: Session, engine: Engine) -> None:
    province = _id(session, UnitSet.LEGACY, "24")
    district = _id(session, UnitSet.LEGACY, "222")
    current = _id(session, UnitSet.CURRENT, "24")
    alone = {root: unit_service.subtree(session, root) for root in (province, district, current)}
    with generations.computing_everything(), counted_queries(engine) as queries:
        together = unit_service.subtrees(session, [province, district, current, 10_000_000])
    assert queries.count == 1
    assert together == alone


def test_a_kept_subtree_is_read_again_after_a_commit_writes_the_units(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    """Subtrees are kept until a commit writes the units: asked again, only the generation
    is read; a unit added below the root is in the next answer; a rolled-back one never."""
    with sessions() as session:
        root = _id(session, UnitSet.LEGACY, "222")  # Việt Yên
        first = {n.code for n in unit_service.subtree(session, root)}
        with counted_queries(engine) as queries:
            again = {n.code for n in unit_service.subtree(session, root)}
        assert again == first
        assert queries.count == 0  # the generation was read once in this transaction
    with sessions() as session, counted_queries(engine) as queries:
        assert {n.code for n in unit_service.subtree(session, root)} == first
    assert queries.count == 1 and "core_generation" in queries.statements[0]  # only that
    with sessions.begin() as session:
        session.add(
            AdministrativeUnit(
                unit_set=UnitSet.LEGACY,
                code="99991",
                name="Xã Thử Nghiệm",
                kind="Xã",
                level=UnitLevel.COMMUNE,
                parent_id=root,
            )
        )
    with sessions() as session:
        assert {n.code for n in unit_service.subtree(session, root)} == first | {"99991"}
        assert _id(session, UnitSet.LEGACY, "99991") in unit_service.descendant_ids(session, [root])
        # a write not yet committed: this session reads past what is kept (and it is not kept)
        added = AdministrativeUnit(
            unit_set=UnitSet.LEGACY,
            code="99992",
            name="Xã Chưa Lưu",
            kind="Xã",
            level=UnitLevel.COMMUNE,
            parent_id=root,
        )
        session.add(added)
        session.flush()
        assert "99992" in {n.code for n in unit_service.subtree(session, root)}
        session.rollback()
    with sessions() as session:
        assert {n.code for n in unit_service.subtree(session, root)} == first | {"99991"}
    with sessions.begin() as session:  # the suite's units as they were
        session.execute(delete(AdministrativeUnit).where(AdministrativeUnit.code == "99991"))
    with sessions() as session:
        assert {n.code for n in unit_service.subtree(session, root)} == first


def test_many_units_by_id_are_kept_until_a_commit_writes_the_units(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    """``nodes`` of many ids (a province's communes) is kept: asked again, only the generation
    is read, and the caller gets its own dict; a renamed unit shows after its commit."""
    with sessions() as session:
        root = _id(session, UnitSet.LEGACY, "24")
        ids = [n.id for n in unit_service.subtree(session, root)]
        assert len(ids) > 32
        first = unit_service.nodes(session, ids)
        first.clear()  # the caller's own: nobody else's answer changes
    with sessions() as session:  # another request: only the generation is read
        with counted_queries(engine) as queries:
            again = unit_service.nodes(session, reversed(ids))
        assert queries.count == 1 and "core_generation" in queries.statements[0]
        assert set(again) == set(ids)
        commune = next(n for n in again.values() if n.level is UnitLevel.COMMUNE)
    with sessions.begin() as session:
        unit = session.get(AdministrativeUnit, commune.id)
        assert unit is not None
        unit.name = "Xã Đổi Tên"
    try:
        with sessions() as session:
            assert unit_service.nodes(session, ids)[commune.id].name == "Xã Đổi Tên"
    finally:
        with sessions.begin() as session:
            unit = session.get(AdministrativeUnit, commune.id)
            assert unit is not None
            unit.name = commune.name
    with sessions() as session:
        assert unit_service.nodes(session, ids)[commune.id].name == commune.name
