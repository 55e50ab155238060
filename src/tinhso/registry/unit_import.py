"""Loading the administrative-unit catalogue (`vietnamadminunits`) into the registry: both
unit sets and the legacy → current succession mapping. Idempotent: a second run inserts
nothing and updates only units whose name, kind or parent changed.

Flushes and never commits: the caller (a CLI command, the test fixtures) owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from tinhso.core.text import fold
from tinhso.registry import unit_catalogue
from tinhso.registry.models import AdministrativeUnit, UnitLevel, UnitSet, UnitSuccession

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Progress = Callable[[str, int], None]
_LEVEL_ORDER = (UnitLevel.PROVINCE, UnitLevel.DISTRICT, UnitLevel.COMMUNE)


@dataclass(frozen=True)
class UnitImportResult:
    current_units: int
    legacy_units: int
    successions: int
    inserted: int
    updated: int


def import_catalogue(session: Session, progress: Progress | None = None) -> UnitImportResult:
    """Load both unit sets and the succession mapping from `vietnamadminunits` (idempotent)."""
    inserted = updated = 0
    counts: dict[UnitSet, int] = {}
    for unit_set, units in (
        (UnitSet.CURRENT, unit_catalogue.current_units()),
        (UnitSet.LEGACY, unit_catalogue.legacy_units()),
    ):
        added, changed, total = _import_set(session, unit_set, units, progress)
        inserted += added
        updated += changed
        counts[unit_set] = total
    successions = _import_successions(session, progress)
    return UnitImportResult(
        current_units=counts[UnitSet.CURRENT],
        legacy_units=counts[UnitSet.LEGACY],
        successions=successions,
        inserted=inserted,
        updated=updated,
    )


def _import_set(
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
                "search_name": fold(unit.name),
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


def _import_successions(session: Session, progress: Progress | None) -> int:
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
