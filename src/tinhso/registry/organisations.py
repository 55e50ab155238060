"""Organisations (UBND tỉnh, sở/ban/ngành, UBND huyện/xã, public service units, enterprises):
creating, changing and deleting them, and their parent → child hierarchy.

Services flush and never commit: the caller (a request, a CLI command) owns the
transaction, so a failed multi-step operation leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tinhso.core.errors import Conflict, InvalidInput, NotFound
from tinhso.registry import repository
from tinhso.registry.models import InformationSystem, Organisation
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.schemas import OrganisationCreate, OrganisationUpdate


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

    def codes_in_units(self, session: Session, unit_ids: set[int]) -> list[str]:
        """The codes of the organisations whose administrative unit is one of these."""
        if not unit_ids:
            return []
        return list(
            session.scalars(
                select(Organisation.code)
                .where(Organisation.administrative_unit_id.in_(sorted(unit_ids)))
                .order_by(Organisation.code)
            )
        )

    def by_ids(self, session: Session, ids: set[int]) -> dict[int, Organisation]:
        """Organisation id -> organisation, in one query."""
        if not ids:
            return {}
        found = session.scalars(select(Organisation).where(Organisation.id.in_(ids)))
        return {organisation.id: organisation for organisation in found}

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

    def disabled_codes(self, session: Session) -> set[str]:
        """Codes of the disabled organisations (their systems are not usable anywhere)."""
        return set(session.scalars(select(Organisation.code).where(Organisation.disabled)))

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
            if name == "disabled" and value is None:
                raise InvalidInput(
                    "Trạng thái vô hiệu hoá phải là true hoặc false",
                    "disabled must be true or false",
                    field="disabled",
                )
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


organisation_service = OrganisationService()
