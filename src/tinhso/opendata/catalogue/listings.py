"""The catalogue's other lists: publishers (the registry's organisations), themes, tags and
licences, each counting only the datasets the reader may see.

A publisher is an organisation with at least one dataset the reader sees (or one the reader
is a member of): the registry keeps its full list of organisations for officials, and the
catalogue does not open it to anonymous callers beyond who publishes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, or_, select

from tinhso.core.errors import NotFound
from tinhso.core.text import fold
from tinhso.opendata.catalogue.packages import (
    group_dict,
    licence_dict,
    organisation_dict,
    organisations_by_id,
)
from tinhso.opendata.models import (
    DatasetState,
    OpendataDataset,
    OpendataGroup,
    OpendataLicence,
    OpendataTag,
    opendata_dataset_group,
    opendata_dataset_tag,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.opendata.access import Reader


def seen_by(reader: Reader) -> ColumnElement[bool]:
    """Active datasets the reader may see (public ones, and their organisations' private ones)."""
    active = OpendataDataset.state == DatasetState.ACTIVE
    if reader.member_of is None:
        return active
    if not reader.member_of:
        return active & ~OpendataDataset.private
    return active & or_(
        ~OpendataDataset.private, OpendataDataset.organisation_id.in_(reader.member_of)
    )


def _organisation_counts(session: Session, reader: Reader) -> dict[int, int]:
    return {
        row[0]: row[1]
        for row in session.execute(
            select(OpendataDataset.organisation_id, func.count())
            .where(seen_by(reader))
            .group_by(OpendataDataset.organisation_id)
        )
    }


class CatalogueService:
    def organisations(self, session: Session, reader: Reader) -> list[dict[str, Any]]:
        counts = _organisation_counts(session, reader)
        organisations = organisations_by_id(session)
        shown = set(counts) | (
            set(organisations) if reader.member_of is None else set(reader.member_of)
        )
        found = [
            organisation_dict(organisations[key], counts.get(key, 0))
            for key in shown
            if key in organisations
        ]
        return sorted(found, key=lambda item: item["name"])

    def organisation(self, session: Session, reader: Reader, code: object) -> dict[str, Any]:
        for found in self.organisations(session, reader):
            if found["name"] == code:
                return found
        raise NotFound(
            f"Không tìm thấy tổ chức công bố dữ liệu {code}",
            f"Publisher {code} not found",
            field="id",
        )

    def groups(self, session: Session, reader: Reader) -> list[dict[str, Any]]:
        counts = {
            row[0]: row[1]
            for row in session.execute(
                select(opendata_dataset_group.c.group_id, func.count())
                .join(OpendataDataset, OpendataDataset.id == opendata_dataset_group.c.dataset_id)
                .where(seen_by(reader))
                .group_by(opendata_dataset_group.c.group_id)
            )
        }
        return [
            group_dict(group, counts.get(group.id, 0))
            for group in session.scalars(select(OpendataGroup).order_by(OpendataGroup.name))
        ]

    def group(self, session: Session, reader: Reader, name: object) -> dict[str, Any]:
        for found in self.groups(session, reader):
            if found["name"] == name:
                return found
        raise NotFound(f"Không tìm thấy nhóm {name}", f"Group {name} not found", field="id")

    def tags(self, session: Session, reader: Reader, query: str = "") -> list[str]:
        """Tags of the datasets the reader sees, alphabetically (``query``: a folded part)."""
        names = session.scalars(
            select(OpendataTag.name)
            .join(opendata_dataset_tag, OpendataTag.id == opendata_dataset_tag.c.tag_id)
            .join(OpendataDataset, OpendataDataset.id == opendata_dataset_tag.c.dataset_id)
            .where(seen_by(reader))
            .distinct()
            .order_by(OpendataTag.name)
        )
        wanted = fold(query).strip()
        return [name for name in names if wanted in fold(name)]

    def licences(self, session: Session) -> list[dict[str, Any]]:
        return [
            licence_dict(licence)
            for licence in session.scalars(select(OpendataLicence).order_by(OpendataLicence.id))
        ]


catalogue_service = CatalogueService()
