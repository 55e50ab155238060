"""Who sees and who publishes what in the open data catalogue.

Public, active datasets are open to everyone, anonymous callers included (the open data
rules forbid asking for an identity). A private dataset is seen only by members of its
publishing organisation (any role there, or an organisation admin above it) and by platform
administrators; to anyone else it does not exist, in every action, search and facet count.
Writing takes an officer or an administrator of the publishing organisation
(:func:`tinhso.registry.auth.require_officer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinhso.core.errors import Forbidden
from tinhso.registry.auth import require_officer
from tinhso.registry.models import Role
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal


@dataclass(frozen=True)
class Reader:
    """The caller of an action: who they are (None: anonymous) and whose members they are."""

    principal: Principal | None
    member_of: frozenset[int] | None  # None: every organisation (a platform administrator)

    def is_member(self, organisation_id: int) -> bool:
        return self.member_of is None or organisation_id in self.member_of


ANONYMOUS = Reader(principal=None, member_of=frozenset())
# The platform itself (the demo loader, a CLI command): sees and publishes for every
# organisation. No request is ever given this reader.
PLATFORM = Reader(principal=None, member_of=None)


def reader_of(session: Session, principal: Principal | None) -> Reader:
    """The organisations whose private datasets ``principal`` sees."""
    if principal is None:
        return ANONYMOUS
    if principal.is_platform_admin:
        return Reader(principal, None)
    found: set[int] = set()
    for organisation_id, role in principal.roles.items():
        if role is Role.ORGANISATION_ADMIN:
            found |= organisation_service.subtree_ids(session, organisation_id)
        else:
            found.add(organisation_id)
    return Reader(principal, frozenset(found))


def require_publisher(session: Session, reader: Reader, organisation_id: int) -> None:
    """Nothing, if the caller may publish for the organisation (else Forbidden)."""
    if reader is PLATFORM:
        return
    if reader.principal is None:
        raise Forbidden(
            "Cần mã truy cập API của cán bộ tổ chức công bố dữ liệu",
            "An API token of an official of the publishing organisation is required",
        )
    require_officer(session, reader.principal, organisation_id)
