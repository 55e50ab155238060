"""The organisation tree shown on the home page: organisations, their units and systems.

Read-only. A province has hundreds of organisations, not millions, so the whole
tree is loaded in three queries and filtered in memory; the filter ignores
Vietnamese diacritics ("so y te" finds "Sở Y tế").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.text import fold
from tinhso.registry.models import OrganisationKind, SystemStatus, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.systems import system_service
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def kind_label(kind: OrganisationKind) -> str:
    labels = {
        OrganisationKind.PROVINCE_COMMITTEE: _("Provincial People's Committee"),
        OrganisationKind.DEPARTMENT: _("Department or agency"),
        OrganisationKind.DISTRICT_COMMITTEE: _("District People's Committee"),
        OrganisationKind.COMMUNE_COMMITTEE: _("Commune People's Committee"),
        OrganisationKind.PUBLIC_SERVICE_UNIT: _("Public service unit"),
        OrganisationKind.ENTERPRISE: _("Enterprise"),
        OrganisationKind.OTHER: _("Other organisation"),
    }
    return labels[kind]


def status_label(status: SystemStatus) -> str:
    labels = {
        SystemStatus.ACTIVE: _("In operation"),
        SystemStatus.SUSPENDED: _("Suspended"),
        SystemStatus.RETIRED: _("Retired"),
    }
    return labels[status]


@dataclass(frozen=True)
class SystemRow:
    code: str
    name: str
    is_consumer: bool
    is_provider: bool
    status: SystemStatus
    status_label: str


@dataclass
class OrganisationNode:
    code: str
    name: str
    kind: OrganisationKind
    kind_label: str
    unit_name: str | None
    unit_is_legacy: bool
    systems: list[SystemRow] = field(default_factory=list)
    children: list[OrganisationNode] = field(default_factory=list)
    matched: bool = True


@dataclass(frozen=True)
class Directory:
    roots: list[OrganisationNode]
    organisations: int
    systems: int
    providers: int
    consumers: int
    shown: int
    filtered: bool


def _localised(name_vi: str, name_en: str | None) -> str:
    return name_en if current_locale.get() == "en" and name_en else name_vi


def directory(
    session: Session, query: str | None = None, kind: OrganisationKind | None = None
) -> Directory:
    """Every organisation as a tree with its systems; a filter keeps matches and their ancestors."""
    organisations = organisation_service.list_all(session)
    units = unit_service.names(
        session, {o.administrative_unit_id for o in organisations if o.administrative_unit_id}
    )
    systems: dict[int, list[SystemRow]] = {}
    providers = consumers = total_systems = 0
    for system in system_service.list_all(session):
        total_systems += 1
        providers += system.is_provider
        consumers += system.is_consumer
        systems.setdefault(system.organisation_id, []).append(
            SystemRow(
                code=system.code,
                name=_localised(system.name_vi, system.name_en),
                is_consumer=system.is_consumer,
                is_provider=system.is_provider,
                status=system.status,
                status_label=status_label(system.status),
            )
        )

    nodes: dict[int, OrganisationNode] = {}
    for organisation in organisations:
        unit = units.get(organisation.administrative_unit_id or -1)
        nodes[organisation.id] = OrganisationNode(
            code=organisation.code,
            name=_localised(organisation.name_vi, organisation.name_en),
            kind=organisation.kind,
            kind_label=kind_label(organisation.kind),
            unit_name=unit[0] if unit else None,
            unit_is_legacy=bool(unit and unit[1] is UnitSet.LEGACY),
            systems=systems.get(organisation.id, []),
        )
    parents = {o.id: o.parent_id for o in organisations}

    needle = fold(query.strip()) if query and query.strip() else ""
    filtered = bool(needle) or kind is not None
    visible: set[int] = set()
    shown = 0
    for organisation in organisations:
        node = nodes[organisation.id]
        haystack = fold(f"{organisation.name_vi} {organisation.name_en or ''} {organisation.code}")
        node.matched = (not needle or needle in haystack) and (kind is None or node.kind is kind)
        if not node.matched:
            continue
        shown += 1
        current: int | None = organisation.id
        while current is not None and current not in visible:
            visible.add(current)
            current = parents.get(current)

    roots: list[OrganisationNode] = []
    for organisation in organisations:
        if organisation.id not in visible:
            continue
        parent = organisation.parent_id
        if parent is not None and parent in visible:
            nodes[parent].children.append(nodes[organisation.id])
        else:
            roots.append(nodes[organisation.id])
    return Directory(
        roots=roots,
        organisations=len(organisations),
        systems=total_systems,
        providers=providers,
        consumers=consumers,
        shown=shown,
        filtered=filtered,
    )
