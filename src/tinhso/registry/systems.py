"""Information systems: an agency's systems, each consuming services on the exchange,
providing them, or both.

Services flush and never commit: the caller (a request, a CLI command) owns the
transaction, so a failed multi-step operation leaves nothing half-written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.errors import Conflict, InvalidInput, NotFound, require_values
from tinhso.registry import repository
from tinhso.registry.models import InformationSystem, Organisation
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.schemas import SystemCreate, SystemUpdate


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

    def owners(self, session: Session, ids: set[int]) -> dict[int, int]:
        """System id -> id of the organisation that owns it, in one query."""
        return repository.system_owners(session, ids)

    def ids_owned_by(self, session: Session, organisation_ids: set[int]) -> set[int]:
        """Systems owned by any of these organisations."""
        return repository.system_ids_of_organisations(session, organisation_ids)

    def organisation_enabled(self, session: Session, organisation_id: int) -> bool:
        """Whether the organisation exists and is not disabled."""
        organisation = session.get(Organisation, organisation_id)
        return organisation is not None and not organisation.disabled

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


system_service = SystemService()
