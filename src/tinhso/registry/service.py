"""Registry logic: administrative units, organisations and information systems.

Services flush and never commit: the caller (a request, a CLI command) owns the
transaction, so a failed multi-step operation leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Integer, insert, literal_column, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from tinhso.core.errors import Conflict, InvalidInput, NotFound, require_values
from tinhso.registry import repository, unit_catalogue
from tinhso.registry.models import (
    AdministrativeUnit,
    InformationSystem,
    Organisation,
    UnitLevel,
    UnitSet,
    UnitSuccession,
)

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from tinhso.registry.schemas import (
        OrganisationCreate,
        OrganisationUpdate,
        SystemCreate,
        SystemUpdate,
        UnitRef,
    )

Progress = Callable[[str, int], None]
_LEVEL_ORDER = (UnitLevel.PROVINCE, UnitLevel.DISTRICT, UnitLevel.COMMUNE)
_MAX_DEPTH = 10  # the unit tree has three levels; a guard against a cycle in bad data
_CHUNK = 1000  # ids per IN (...) list


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


@dataclass(frozen=True)
class UnitImportResult:
    current_units: int
    legacy_units: int
    successions: int
    inserted: int
    updated: int


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

    def resolve(self, session: Session, ref: UnitRef, field: str) -> AdministrativeUnit:
        unit = repository.unit_by_code(session, ref.unit_set, ref.code)
        if unit is None:
            raise InvalidInput(
                f"Đơn vị hành chính {ref.code} ({ref.unit_set.value}) không tồn tại",
                f"Administrative unit {ref.code} ({ref.unit_set.value}) does not exist",
                field=field,
            )
        return unit

    def ids_in_set(self, session: Session, unit_set: UnitSet) -> Select[int]:
        """A subquery of the ids of one unit set, for filtering in SQL."""
        return select(AdministrativeUnit.id).where(AdministrativeUnit.unit_set == unit_set)

    def names(self, session: Session, ids: set[int]) -> dict[int, tuple[str, UnitSet]]:
        """Name and unit set of each unit id."""
        return repository.unit_names(session, ids)

    def nodes(self, session: Session, ids: Iterable[int]) -> dict[int, UnitNode]:
        """Unit id -> unit, in one query per thousand ids."""
        wanted = list(set(ids))
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

    def _descendants(self, session: Session, root_ids: Iterable[int]) -> list[tuple[int, UnitNode]]:
        """(root id, unit) for every unit in the subtrees of some roots, roots included,
        in one recursive query."""
        roots = sorted(set(root_ids))
        if not roots:
            return []
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
        return [
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
        ]

    def descendant_ids(self, session: Session, root_ids: Iterable[int]) -> set[int]:
        """Every unit in the subtrees of some units (the units themselves included)."""
        return {node.id for _, node in self._descendants(session, root_ids)}

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
        inserted = updated = 0
        counts: dict[UnitSet, int] = {}
        for unit_set, units in (
            (UnitSet.CURRENT, unit_catalogue.current_units()),
            (UnitSet.LEGACY, unit_catalogue.legacy_units()),
        ):
            added, changed, total = self._import_set(session, unit_set, units, progress)
            inserted += added
            updated += changed
            counts[unit_set] = total
        successions = self._import_successions(session, progress)
        return UnitImportResult(
            current_units=counts[UnitSet.CURRENT],
            legacy_units=counts[UnitSet.LEGACY],
            successions=successions,
            inserted=inserted,
            updated=updated,
        )

    def _import_set(
        self,
        session: Session,
        unit_set: UnitSet,
        units: Iterable[unit_catalogue.CatalogueUnit],
        progress: Progress | None,
    ) -> tuple[int, int, int]:
        by_level: dict[UnitLevel, list[unit_catalogue.CatalogueUnit]] = {
            level: [] for level in _LEVEL_ORDER
        }
        for unit in units:
            by_level[UnitLevel(unit.level)].append(unit)
        existing = {
            row.code: row
            for row in session.execute(
                select(
                    AdministrativeUnit.id,
                    AdministrativeUnit.code,
                    AdministrativeUnit.name,
                    AdministrativeUnit.kind,
                    AdministrativeUnit.parent_id,
                ).where(AdministrativeUnit.unit_set == unit_set)
            )
        }
        ids = {code: row.id for code, row in existing.items()}
        inserted = updated = total = 0
        for level in _LEVEL_ORDER:
            new_rows, changed_rows = [], []
            for unit in by_level[level]:
                parent_id = ids[unit.parent_code] if unit.parent_code else None
                values = {
                    "unit_set": unit_set,
                    "code": unit.code,
                    "name": unit.name,
                    "kind": unit.kind,
                    "level": level,
                    "parent_id": parent_id,
                    "valid_from": unit.valid_from,
                    "valid_to": unit.valid_to,
                }
                row = existing.get(unit.code)
                if row is None:
                    new_rows.append(values)
                elif (row.name, row.kind, row.parent_id) != (unit.name, unit.kind, parent_id):
                    changed_rows.append({"id": row.id, **values})
            for start in range(0, len(new_rows), 1000):
                session.execute(insert(AdministrativeUnit), new_rows[start : start + 1000])
            if changed_rows:
                session.execute(update(AdministrativeUnit), changed_rows)
            inserted += len(new_rows)
            updated += len(changed_rows)
            total += len(by_level[level])
            if new_rows:
                ids.update(
                    {
                        row.code: row.id
                        for row in session.execute(
                            select(AdministrativeUnit.id, AdministrativeUnit.code).where(
                                AdministrativeUnit.unit_set == unit_set,
                                AdministrativeUnit.level == level,
                            )
                        )
                    }
                )
            if progress:
                progress(f"{unit_set.value}:{level.value}", len(by_level[level]))
        return inserted, updated, total

    def _import_successions(self, session: Session, progress: Progress | None) -> int:
        ids = {
            (row.unit_set, row.code): row.id
            for row in session.execute(
                select(AdministrativeUnit.id, AdministrativeUnit.unit_set, AdministrativeUnit.code)
            )
        }
        existing = {
            (row.legacy_unit_id, row.current_unit_id)
            for row in session.execute(
                select(UnitSuccession.legacy_unit_id, UnitSuccession.current_unit_id)
            )
        }
        new_rows, seen, total = [], set(existing), 0
        for mapping in unit_catalogue.legacy_to_current_mappings():
            pair = (
                ids[(UnitSet.LEGACY, mapping.legacy_code)],
                ids[(UnitSet.CURRENT, mapping.current_code)],
            )
            total += 1
            if pair in seen:
                continue
            seen.add(pair)
            new_rows.append(
                {
                    "legacy_unit_id": pair[0],
                    "current_unit_id": pair[1],
                    "partial": mapping.is_partial,
                    "is_default": mapping.is_default,
                }
            )
        for start in range(0, len(new_rows), 2000):
            session.execute(insert(UnitSuccession), new_rows[start : start + 2000])
        if progress:
            progress("succession", total)
        session.flush()
        return total


def subtree_of(children: Mapping[int | None, list[int]], root: int) -> set[int]:
    """``root`` and everything below it in a tree given as parent -> children ids."""
    found, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


class OrganisationService:
    def get(self, session: Session, code: str) -> Organisation:
        organisation = repository.organisation_by_code(session, code)
        if organisation is None:
            raise NotFound(
                f"Không tìm thấy tổ chức {code}", f"Organisation {code} not found", field="code"
            )
        return organisation

    def codes(self, session: Session, ids: set[int]) -> dict[int, str]:
        """Organisation id -> code, in one query."""
        return repository.organisation_codes(session, ids)

    def list_all(self, session: Session) -> list[Organisation]:
        """Every organisation by Vietnamese name (a province has hundreds, not millions)."""
        return repository.all_organisations(session)

    def _parent(self, session: Session, code: str) -> Organisation:
        parent = repository.organisation_by_code(session, code)
        if parent is None:
            raise InvalidInput(
                f"Tổ chức cấp trên {code} không tồn tại",
                f"Parent organisation {code} does not exist",
                field="parent_code",
            )
        return parent

    def create(self, session: Session, data: OrganisationCreate) -> Organisation:
        if repository.organisation_by_code(session, data.code) is not None:
            raise Conflict(
                f"Mã tổ chức {data.code} đã tồn tại",
                f"Organisation code {data.code} already exists",
                field="code",
            )
        parent = self._parent(session, data.parent_code) if data.parent_code else None
        unit = (
            unit_service.resolve(session, data.administrative_unit, "administrative_unit")
            if data.administrative_unit
            else None
        )
        organisation = Organisation(
            code=data.code,
            name_vi=data.name_vi,
            name_en=data.name_en,
            kind=data.kind,
            parent_id=parent.id if parent else None,
            administrative_unit_id=unit.id if unit else None,
            tax_code=data.tax_code,
        )
        session.add(organisation)
        self._flush(session, data.code)
        return organisation

    def update(
        self, session: Session, organisation: Organisation, data: OrganisationUpdate
    ) -> Organisation:
        changes = data.model_dump(exclude_unset=True)
        if "parent_code" in changes:
            parent_code = changes.pop("parent_code")
            if parent_code is None:
                organisation.parent_id = None
            else:
                parent = self._parent(session, parent_code)
                if organisation.id in self.ancestor_ids(session, parent.id):
                    raise InvalidInput(
                        "Không thể đặt tổ chức cấp dưới làm cấp trên (tạo vòng lặp)",
                        "An organisation cannot be moved under its own subtree",
                        field="parent_code",
                    )
                organisation.parent_id = parent.id
        if "administrative_unit" in changes:
            changes.pop("administrative_unit")
            unit = (
                unit_service.resolve(session, data.administrative_unit, "administrative_unit")
                if data.administrative_unit
                else None
            )
            organisation.administrative_unit_id = unit.id if unit else None
        for name, value in changes.items():
            if name == "name_vi" and value is None:
                raise InvalidInput(
                    "Tên tiếng Việt là bắt buộc", "name_vi is required", field="name_vi"
                )
            setattr(organisation, name, value)
        self._flush(session, organisation.code)
        return organisation

    def delete(self, session: Session, organisation: Organisation) -> None:
        has_children = session.scalar(
            select(Organisation.id).where(Organisation.parent_id == organisation.id).limit(1)
        )
        has_systems = session.scalar(
            select(InformationSystem.id)
            .where(InformationSystem.organisation_id == organisation.id)
            .limit(1)
        )
        if has_children or has_systems:
            raise Conflict(
                "Không thể xóa tổ chức còn đơn vị trực thuộc hoặc hệ thống thông tin",
                "An organisation with child organisations or information systems cannot be deleted",
                field="code",
            )
        session.delete(organisation)
        session.flush()

    def ancestor_ids(self, session: Session, organisation_id: int) -> list[int]:
        """The organisation itself and every organisation above it, nearest first."""
        parents = repository.organisation_parent_ids(session)
        chain: list[int] = []
        current: int | None = organisation_id
        while current is not None and current not in chain:
            chain.append(current)
            current = parents.get(current)
        return chain

    def subtree_ids(self, session: Session, organisation_id: int) -> set[int]:
        """The organisation and everything below it."""
        children: dict[int | None, list[int]] = {}
        for child, parent in repository.organisation_parent_ids(session).items():
            children.setdefault(parent, []).append(child)
        return subtree_of(children, organisation_id)

    def _flush(self, session: Session, code: str) -> None:
        try:
            session.flush()
        except IntegrityError as error:
            raise Conflict(
                f"Không thể lưu tổ chức {code}: dữ liệu trùng hoặc tham chiếu không hợp lệ",
                f"Organisation {code} could not be saved: duplicate or invalid reference",
                field="code",
            ) from error


class SystemService:
    def get(self, session: Session, organisation_code: str, code: str) -> InformationSystem:
        organisation = organisation_service.get(session, organisation_code)
        system = repository.system_by_code(session, organisation.id, code)
        if system is None:
            raise NotFound(
                f"Không tìm thấy hệ thống {organisation_code}/{code}",
                f"Information system {organisation_code}/{code} not found",
                field="code",
            )
        return system

    def list_all(self, session: Session) -> list[InformationSystem]:
        return repository.all_systems(session)

    def labels(self, session: Session, ids: set[int] | None = None) -> dict[int, tuple[str, str]]:
        """System id -> (organisation code, system code) in one query, for ids or every system."""
        return repository.system_labels(session, ids)

    def ids_owned_by(self, session: Session, organisation_ids: set[int]) -> set[int]:
        """Systems owned by any of these organisations."""
        return repository.system_ids_of_organisations(session, organisation_ids)

    def active_ids(self, session: Session) -> set[int]:
        """Systems in operation (neither suspended nor retired)."""
        return repository.active_system_ids(session)

    def create(self, session: Session, data: SystemCreate) -> InformationSystem:
        organisation = repository.organisation_by_code(session, data.organisation_code)
        if organisation is None:
            raise InvalidInput(
                f"Tổ chức {data.organisation_code} không tồn tại",
                f"Organisation {data.organisation_code} does not exist",
                field="organisation_code",
            )
        if repository.system_by_code(session, organisation.id, data.code) is not None:
            raise Conflict(
                f"Mã hệ thống {data.code} đã tồn tại trong {data.organisation_code}",
                f"System code {data.code} already exists in {data.organisation_code}",
                field="code",
            )
        system = InformationSystem(
            organisation_id=organisation.id,
            code=data.code,
            name_vi=data.name_vi,
            name_en=data.name_en,
            description=data.description,
            is_consumer=data.is_consumer,
            is_provider=data.is_provider,
        )
        session.add(system)
        session.flush()
        return system

    def update(
        self, session: Session, system: InformationSystem, data: SystemUpdate
    ) -> InformationSystem:
        changes = data.model_dump(exclude_unset=True)
        require_values(changes, changes)
        for name, value in changes.items():
            setattr(system, name, value)
        session.flush()
        return system


unit_service = UnitService()
organisation_service = OrganisationService()
system_service = SystemService()
