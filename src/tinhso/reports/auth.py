"""Who reads a report's full record (reporter contact, internal notes): the members of its
responsible organisation (any role there, or an admin above it) and platform administrators.
Reports in the triage queue (no organisation) are the operations centre's: platform admins.
Acting on a report is decided in :meth:`tinhso.reports.service.ReportService.act`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.core.errors import Forbidden
from tinhso.registry.auth import roles_over

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal


def require_reader(session: Session, principal: Principal, organisation_id: int | None) -> None:
    if principal.is_platform_admin:
        return
    if organisation_id is None or not roles_over(session, principal, organisation_id):
        raise Forbidden(
            "Bạn không thuộc đơn vị xử lý phản ánh này",
            "You are not an official of the organisation handling this report",
        )
