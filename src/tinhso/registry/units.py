"""Administrative units: lookups, the unit tree (ancestors, subtrees, levels) and the
legacy → current succession of 01/07/2025.

Services flush and never commit: the caller (a request, a CLI command) owns the
transaction, so a failed multi-step operation leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from sqlalchemy import Integer, case, literal_column, select, tuple_
from sqlalchemy.orm import aliased

from tinhso.core.errors import InvalidInput, NotFound
from tinhso.core.generations import GenerationCache
from tinhso.core.text import fold
from tinhso.registry import repository, unit_import
from tinhso.registry.models import (
    UNITS_GENERATION,
    AdministrativeUnit,
    UnitLevel,
    UnitSet,
    UnitSuccession,
)

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from tinhso.registry.schemas import UnitRef
    from tinhso.registry.unit_import import Progress, UnitImportResult

# The levels each set has: the current set (from 01/07/2025) has no districts.
LEVELS_IN_SET: dict[UnitSet, tuple[UnitLevel, ...]] = {
    UnitSet.LEGACY: (UnitLevel.PROVINCE, UnitLevel.DISTRICT, UnitLevel.COMMUNE),
    UnitSet.CURRENT: (UnitLevel.PROVINCE, UnitLevel.COMMUNE),
}
_MAX_DEPTH = 10  # the unit tree has three levels; a guard against a cycle in bad data
_CHUNK = 1000  # ids per IN (...) list

# The subtrees read (``_descendants``) per set of roots, until a commit writes the units: a
# map, a ranking or a dashboard asks for a province's 168 communes several times a request.
_SUBTREES: GenerationCache[tuple[tuple[int, UnitNode], ...]] = GenerationCache(
    (UNITS_GENERATION,), max_weight=200_000
)
# Units by id when many are asked at once (a map's 168 communes), likewise; fewer are read
# (reading the generation would cost as much as reading them).
_NODES: GenerationCache[dict[int, UnitNode]] = GenerationCache(
    (UNITS_GENERATION,), max_weight=200_000
)
_KEEP_NODES_FROM = 32
# Every unit's name by code, per set, likewise (a search's unit facet names up to thousands).
_NAMES_BY_CODE: GenerationCache[Mapping[str, str]] = GenerationCache(
    (UNITS_GENERATION,), max_weight=100_000
)


@dataclass(frozen=True)
class UnitNode:
    """One administrative unit, without the ORM object (bulk reads of the tree)."""

    id: int
    unit_set: UnitSet
    code: str
    name: str
    level: UnitLevel
    parent_id: int | None
    depth: int = 0  # below the root of a subtree read (0 for the root itself)


def _depth_first(root_id: int, nodes: list[UnitNode]) -> list[UnitNode]:
    """Nodes of one subtree (ordered by depth, then code) in depth-first order."""
    children: dict[int | None, list[UnitNode]] = {}
    for node in nodes:  # each child list comes out in code order
        children.setdefault(node.parent_id, []).append(node)
    root = next((node for node in nodes if node.id == root_id), None)
    if root is None:
        return []
    found: list[UnitNode] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        found.append(node)
        stack.extend(reversed(children.get(node.id, [])))
    return found


class UnitService:
    def get(self, session: Session, unit_set: UnitSet, code: str) -> AdministrativeUnit:
        unit = repository.unit_by_code(session, unit_set, code)
        if unit is None:
            raise NotFound(
                f"Không tìm thấy đơn vị hành chính {code} ({unit_set.value})",
                f"Administrative unit {code} ({unit_set.value}) not found",
                field="code",
            )
        return unit

    def search(
        self, session: Session, unit_set: UnitSet, text: str, limit: int = 20
    ) -> list[AdministrativeUnit]:
        """Units whose name contains ``text``, diacritics and đ folded on both sides ("bich
        dong" finds Phường Bích Động); provinces first, then districts, then communes."""
        query = repository.units_query(unit_set, None, None, text).order_by(None)
        rank = case(
            {UnitLevel.PROVINCE: 0, UnitLevel.DISTRICT: 1, UnitLevel.COMMUNE: 2},
            value=AdministrativeUnit.level,
        )
        query = query.order_by(rank, AdministrativeUnit.name).limit(limit)
        return list(session.scalars(query))

    def named(self, session: Session, unit_set: UnitSet, text: str) -> list[AdministrativeUnit]:
        """Units whose whole name, or whose name after its kind ("Phường Việt Yên" for "việt
        yên"), is ``text`` with diacritics and đ folded: the readings of a typed name."""
        wanted = fold(text)
        if not wanted:
            return []
        return [
            unit
            for unit in self.search(session, unit_set, text, 50)
            if fold(unit.name) == wanted or fold(unit.name).endswith(f" {wanted}")
        ]

    def check_level(self, unit_set: UnitSet, level: UnitLevel | None, field: str = "level") -> None:
        """Refuse a level the set does not have (districts in the current set)."""
        if level is not None and level not in LEVELS_IN_SET[unit_set]:
            levels = ", ".join(known.value for known in LEVELS_IN_SET[unit_set])
            raise InvalidInput(
                f"Bộ đơn vị {unit_set.value} không có cấp {level.value} (chỉ có: {levels})",
                f"The {unit_set.value} unit set has no {level.value} level (only: {levels})",
                field=field,
            )

    def resolve(self, session: Session, ref: UnitRef, field: str) -> AdministrativeUnit:
        unit = repository.unit_by_code(session, ref.unit_set, ref.code)
        if unit is None:
            raise self.unknown(ref, field)
        return unit

    def unknown(self, ref: UnitRef, field: str) -> InvalidInput:
        """The refusal of a ref that names no unit (``resolve``'s)."""
        return InvalidInput(
            f"Đơn vị hành chính {ref.code} ({ref.unit_set.value}) không tồn tại",
            f"Administrative unit {ref.code} ({ref.unit_set.value}) does not exist",
            field=field,
        )

    def resolve_nodes(
        self, session: Session, refs: Iterable[UnitRef]
    ) -> dict[tuple[UnitSet, str], UnitNode]:
        """The units these refs name (those that exist), by (unit set, code), in two
        queries however many refs (see ``unknown`` for the others)."""
        ids = self.ids_by_ref(session, {(UnitSet(ref.unit_set), ref.code) for ref in refs})
        nodes = self.nodes(session, ids.values()) if ids else {}
        return {key: nodes[unit_id] for key, unit_id in ids.items() if unit_id in nodes}

    def ids_in_set(self, session: Session, unit_set: UnitSet) -> Select[int]:
        """A subquery of the ids of one unit set, for filtering in SQL."""
        return select(AdministrativeUnit.id).where(AdministrativeUnit.unit_set == unit_set)

    def names(self, session: Session, ids: set[int]) -> dict[int, tuple[str, UnitSet]]:
        """Name and unit set of each unit id."""
        return repository.unit_names(session, ids)

    def names_by_code(self, session: Session, unit_set: UnitSet) -> Mapping[str, str]:
        """Code -> name of every unit of a set (codes are unique within a set), kept until a
        commit writes the units; read-only."""

        def read() -> Mapping[str, str]:
            rows = session.execute(
                select(AdministrativeUnit.code, AdministrativeUnit.name).where(
                    AdministrativeUnit.unit_set == unit_set
                )
            )
            return MappingProxyType(dict(rows.all()))

        return _NAMES_BY_CODE.get(session, unit_set, read)

    def nodes(self, session: Session, ids: Iterable[int]) -> dict[int, UnitNode]:
        """Unit id -> unit, in one query per thousand ids; many units (a province's communes)
        kept until a commit writes the units."""
        wanted = sorted(set(ids))
        if len(wanted) < _KEEP_NODES_FROM:
            return self._read_nodes(session, wanted)
        kept = _NODES.get(session, tuple(wanted), lambda: self._read_nodes(session, wanted))
        return dict(kept)  # the caller's own

    def _read_nodes(self, session: Session, wanted: list[int]) -> dict[int, UnitNode]:
        found: dict[int, UnitNode] = {}
        for start in range(0, len(wanted), _CHUNK):
            rows = session.execute(
                select(
                    AdministrativeUnit.id,
                    AdministrativeUnit.unit_set,
                    AdministrativeUnit.code,
                    AdministrativeUnit.name,
                    AdministrativeUnit.level,
                    AdministrativeUnit.parent_id,
                ).where(AdministrativeUnit.id.in_(wanted[start : start + _CHUNK]))
            )
            for row in rows:
                found[row.id] = UnitNode(
                    row.id,
                    UnitSet(row.unit_set),
                    row.code,
                    row.name,
                    UnitLevel(row.level),
                    row.parent_id,
                )
        return found

    def ids_by_ref(
        self, session: Session, refs: Iterable[tuple[UnitSet, str]]
    ) -> dict[tuple[UnitSet, str], int]:
        """(unit set, code) -> unit id for the refs that exist, in one query per 500 refs."""
        wanted = list(set(refs))
        found: dict[tuple[UnitSet, str], int] = {}
        for start in range(0, len(wanted), 500):
            rows = session.execute(
                select(
                    AdministrativeUnit.id, AdministrativeUnit.unit_set, AdministrativeUnit.code
                ).where(
                    tuple_(AdministrativeUnit.unit_set, AdministrativeUnit.code).in_(
                        [(unit_set.value, code) for unit_set, code in wanted[start : start + 500]]
                    )
                )
            )
            for row in rows:
                found[(UnitSet(row.unit_set), row.code)] = row.id
        return found

    def ancestor_ids(self, session: Session, unit_id: int) -> list[int]:
        """The unit and every unit above it, nearest first, in one query."""
        unit = AdministrativeUnit
        chain = (
            select(unit.id, unit.parent_id, literal_column("0", Integer).label("depth"))
            .where(unit.id == unit_id)
            .cte("unit_chain", recursive=True)
        )
        chain = chain.union_all(
            select(
                unit.id,
                unit.parent_id,
                (chain.c.depth + literal_column("1", Integer)).label("depth"),
            )
            .join(chain, unit.id == chain.c.parent_id)
            .where(chain.c.depth < literal_column(str(_MAX_DEPTH - 1), Integer))
        )
        found: list[int] = []
        for row in session.execute(select(chain.c.id).order_by(chain.c.depth)):
            if row.id in found:  # a cycle in bad data: stop where it closes
                break
            found.append(row.id)
        return found

    def _descendants(
        self, session: Session, root_ids: Iterable[int]
    ) -> tuple[tuple[int, UnitNode], ...]:
        """(root id, unit) for every unit in the subtrees of some roots, roots included,
        in one recursive query (kept until a commit writes the units)."""
        roots = tuple(sorted(set(root_ids)))
        if not roots:
            return ()
        return _SUBTREES.get(session, roots, lambda: self._read_descendants(session, roots))

    def _read_descendants(
        self, session: Session, roots: tuple[int, ...]
    ) -> tuple[tuple[int, UnitNode], ...]:
        unit = AdministrativeUnit
        columns = (unit.id, unit.unit_set, unit.code, unit.name, unit.level, unit.parent_id)
        tree = (
            select(unit.id.label("root_id"), *columns, literal_column("0", Integer).label("depth"))
            .where(unit.id.in_(roots))
            .cte("unit_tree", recursive=True)
        )
        tree = tree.union_all(
            select(
                tree.c.root_id,
                *columns,
                (tree.c.depth + literal_column("1", Integer)).label("depth"),
            )
            .join(tree, unit.parent_id == tree.c.id)
            .where(tree.c.depth < literal_column(str(_MAX_DEPTH - 1), Integer))
        )
        query = select(tree).order_by(tree.c.root_id, tree.c.depth, tree.c.code, tree.c.id)
        return tuple(
            (
                row.root_id,
                UnitNode(
                    row.id,
                    UnitSet(row.unit_set),
                    row.code,
                    row.name,
                    UnitLevel(row.level),
                    row.parent_id,
                    row.depth,
                ),
            )
            for row in session.execute(query)
        )

    def descendant_ids(self, session: Session, root_ids: Iterable[int]) -> set[int]:
        """Every unit in the subtrees of some units (the units themselves included)."""
        return {node.id for _, node in self._descendants(session, root_ids)}

    def within(self, session: Session, unit_id: int) -> set[int]:
        """The ids of every unit inside a unit, on both unit sets, as the computation
        re-aggregates legacy values: its subtree; for a current unit also the legacy communes
        whose default successor is in that subtree, and for a current province the legacy
        provinces of those communes with everything below them. Four queries at most."""
        current = self.descendant_ids(session, [unit_id])
        legacy_communes = set(
            session.scalars(
                select(UnitSuccession.legacy_unit_id).where(
                    UnitSuccession.current_unit_id.in_(sorted(current)),
                    UnitSuccession.is_default.is_(True),
                )
            )
        )
        root = session.get(AdministrativeUnit, unit_id)
        if not legacy_communes or root is None or root.level is not UnitLevel.PROVINCE:
            return current | legacy_communes
        district = aliased(AdministrativeUnit)
        provinces = set(
            session.scalars(
                select(district.parent_id)
                .join(AdministrativeUnit, AdministrativeUnit.parent_id == district.id)
                .where(
                    AdministrativeUnit.id.in_(sorted(legacy_communes)),
                    district.parent_id.is_not(None),
                )
                .distinct()
            )
        )
        legacy = self.descendant_ids(session, {p for p in provinces if p is not None})
        return current | legacy_communes | legacy

    def subtree(self, session: Session, root_id: int) -> list[UnitNode]:
        """A unit and every unit below it, depth first (children by code), in one query."""
        return self.subtrees(session, [root_id]).get(root_id, [])

    def subtrees(self, session: Session, root_ids: Iterable[int]) -> dict[int, list[UnitNode]]:
        """`subtree` of each of some units (those that exist), in one query for them all."""
        by_root: dict[int, list[UnitNode]] = {}
        for root_id, node in self._descendants(session, root_ids):
            by_root.setdefault(root_id, []).append(node)
        return {root_id: _depth_first(root_id, nodes) for root_id, nodes in by_root.items()}

    def ids_at_levels(
        self, session: Session, scopes: Iterable[tuple[UnitSet, UnitLevel, int | None]]
    ) -> dict[tuple[UnitSet, UnitLevel, int | None], list[int]]:
        """For each (unit set, level, below): the ids of the units of that level in that set,
        only those strictly below the unit ``below`` when it is given (at any depth), in id
        order. Two queries at most, however many scopes are asked for."""
        wanted = set(scopes)
        found: dict[tuple[UnitSet, UnitLevel, int | None], list[int]] = {key: [] for key in wanted}
        whole = {(unit_set, level) for unit_set, level, below in wanted if below is None}
        if whole:
            rows = session.execute(
                select(AdministrativeUnit.id, AdministrativeUnit.unit_set, AdministrativeUnit.level)
                .where(
                    tuple_(AdministrativeUnit.unit_set, AdministrativeUnit.level).in_(
                        [(unit_set.value, level.value) for unit_set, level in whole]
                    )
                )
                .order_by(AdministrativeUnit.id)
            )
            for row in rows:
                found[(UnitSet(row.unit_set), UnitLevel(row.level), None)].append(row.id)
        below_ids = {below for _, _, below in wanted if below is not None}
        for root_id, node in sorted(
            self._descendants(session, below_ids), key=lambda pair: pair[1].id
        ):
            key = (node.unit_set, node.level, root_id)
            if node.id != root_id and key in found:
                found[key].append(node.id)
        return found

    def successors(
        self, session: Session, legacy_code: str
    ) -> list[tuple[AdministrativeUnit, AdministrativeUnit, bool]]:
        """What a legacy unit became on 01/07/2025."""
        legacy = self.get(session, UnitSet.LEGACY, legacy_code)
        return list(repository.successions(session, legacy_id=legacy.id))

    def predecessors(
        self, session: Session, current_code: str
    ) -> list[tuple[AdministrativeUnit, AdministrativeUnit, bool]]:
        """Which legacy units make up a current unit."""
        current = self.get(session, UnitSet.CURRENT, current_code)
        return list(repository.successions(session, current_id=current.id))

    def import_catalogue(
        self, session: Session, progress: Progress | None = None
    ) -> UnitImportResult:
        """Load both unit sets and the succession mapping from `vietnamadminunits` (idempotent)."""
        return unit_import.import_catalogue(session, progress)


unit_service = UnitService()
