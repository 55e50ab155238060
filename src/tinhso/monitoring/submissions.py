"""A unit's report for a period, reviewed by the unit above: submit, approve, send back.

An officer who may enter the unit's values submits them; an officer who may enter values
for a unit above it (the province over its communes), or a platform admin, approves or sends
them back with a comment. While a report is submitted or approved, the unit's values of that
period cannot be changed by any path (form, grid, file, API, DHIS2, collection): the value
service refuses the write (:func:`locked_cells`). Sending back unlocks them. On the 5th of each
month the officers of units that have neither filled nor submitted last month's report are
reminded by e-mail (:func:`queue_reminders`, the ``monitoring.reporting_reminders`` job).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select, tuple_

from tinhso.core import mail
from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, Forbidden, InvalidInput
from tinhso.monitoring.auth import value_writer
from tinhso.monitoring.models import DataValue, ReportSubmission, SubmissionState
from tinhso.registry.accounts import account_service
from tinhso.registry.models import Role, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

    from tinhso.registry.auth import Principal

LOCKING = (SubmissionState.SUBMITTED, SubmissionState.APPROVED)
MAX_COMMENT = 2000


def submission_of(session: Session, unit_id: int, period: str) -> ReportSubmission | None:
    return session.scalar(
        select(ReportSubmission).where(
            ReportSubmission.unit_id == unit_id, ReportSubmission.period == period
        )
    )


def locked_cells(session: Session, cells: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """The (unit id, period) pairs among ``cells`` whose report is submitted or approved."""
    wanted = list(set(cells))
    found: set[tuple[int, str]] = set()
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(ReportSubmission.unit_id, ReportSubmission.period).where(
                tuple_(ReportSubmission.unit_id, ReportSubmission.period).in_(
                    wanted[start : start + 500]
                ),
                ReportSubmission.state.in_(LOCKING),
            )
        )
        found |= {(row.unit_id, row.period) for row in rows}
    return found


@dataclass(frozen=True)
class UnitStatus:
    """How far a unit is with its report for a period."""

    unit_id: int
    filled: int  # elements of the period's type with a value for the unit
    expected: int  # elements of the period's type
    state: SubmissionState | None  # None: a draft


def reporting_status(
    session: Session, unit_ids: list[int], period: str, element_ids: list[int]
) -> list[UnitStatus]:
    """For each unit, its filled elements and its report's state, in two queries."""
    if not unit_ids:
        return []
    filled: dict[int, int] = {}
    if element_ids:
        rows = session.execute(
            select(DataValue.unit_id, func.count(DataValue.id))
            .where(
                DataValue.unit_id.in_(unit_ids),
                DataValue.period == period,
                DataValue.data_element_id.in_(element_ids),
            )
            .group_by(DataValue.unit_id)
        )
        filled = {int(unit_id): int(count) for unit_id, count in rows}
    states = {
        row.unit_id: row.state
        for row in session.scalars(
            select(ReportSubmission).where(
                ReportSubmission.unit_id.in_(unit_ids), ReportSubmission.period == period
            )
        )
    }
    return [
        UnitStatus(unit_id, filled.get(unit_id, 0), len(element_ids), states.get(unit_id))
        for unit_id in unit_ids
    ]


def may_review(session: Session, principal: Principal, unit_id: int) -> bool:
    """Officers who may enter values for a unit strictly above this one, and platform admins."""
    if principal.is_platform_admin:
        return True
    writer = value_writer(session, principal)
    above = unit_service.ancestor_ids(session, unit_id)[1:]
    return any(writer.allows(ancestor) for ancestor in above)


def submit(session: Session, principal: Principal, unit_id: int, period: str) -> ReportSubmission:
    value_writer(session, principal)(unit_id, str(unit_id), "unit")
    found = submission_of(session, unit_id, period)
    if found is not None and found.state in LOCKING:
        raise Conflict(
            "Báo cáo kỳ này đã được gửi",
            "This period's report has already been submitted",
            field="period",
        )
    if found is None:
        found = ReportSubmission(unit_id=unit_id, period=period)
        session.add(found)
    found.state = SubmissionState.SUBMITTED
    found.submitted_by_id = principal.user_id
    found.submitted_at = utcnow()
    session.flush()
    return found


def review(
    session: Session,
    principal: Principal,
    unit_id: int,
    period: str,
    *,
    approve: bool,
    comment: str,
) -> ReportSubmission:
    if not may_review(session, principal, unit_id):
        raise Forbidden(
            "Chỉ cán bộ đơn vị cấp trên được duyệt báo cáo này",
            "Only an officer of a unit above may review this report",
        )
    found = submission_of(session, unit_id, period)
    if found is None or found.state is not SubmissionState.SUBMITTED:
        raise Conflict(
            "Báo cáo kỳ này chưa được gửi để duyệt",
            "This period's report has not been submitted for review",
            field="period",
        )
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(
            f"Nhận xét dài quá {MAX_COMMENT} ký tự",
            f"The comment is longer than {MAX_COMMENT} characters",
            field="comment",
        )
    if not approve and not comment:
        raise InvalidInput(
            "Khi trả lại cần ghi lý do để đơn vị sửa",
            "Say what to correct when sending a report back",
            field="comment",
        )
    found.state = SubmissionState.APPROVED if approve else SubmissionState.RETURNED
    found.comment = comment
    found.reviewed_by_id = principal.user_id
    found.reviewed_at = utcnow()
    session.flush()
    return found


REMINDED_ROLES = frozenset({Role.OFFICER, Role.ORGANISATION_ADMIN})


def queue_reminders(session: Session, period: str, element_ids: list[int]) -> int:
    """Mail the officers of every organisation tied to a current unit whose report for
    ``period`` is neither submitted nor approved and lacks values: the number of units
    reminded. Sent by the ``core.mail`` job."""
    tied = {
        o.id: o.administrative_unit_id
        for o in organisation_service.list_all(session)
        if o.administrative_unit_id is not None
    }
    nodes = unit_service.nodes(session, set(tied.values()))
    current = {
        organisation_id: nodes[unit_id]
        for organisation_id, unit_id in tied.items()
        if unit_id in nodes and nodes[unit_id].unit_set is UnitSet.CURRENT
    }
    statuses = {
        s.unit_id: s
        for s in reporting_status(
            session, sorted({node.id for node in current.values()}), period, element_ids
        )
    }
    reminded = 0
    for organisation_id, node in current.items():
        status = statuses[node.id]
        if status.state in LOCKING or status.filled >= status.expected:
            continue
        link = f"/monitoring/grid?unit=current:{node.code}&period={period}"
        for recipient in account_service.emails_in(session, organisation_id, REMINDED_ROLES):
            mail.queue(
                session,
                mail.Mail(
                    "monitoring",
                    f"{node.code}:{period}",
                    "reporting_reminder",
                    recipient,
                    f"Nhắc báo cáo kỳ {period}: {node.name} / Report due for {period}",
                    f"{node.name} mới nhập {status.filled}/{status.expected} chỉ tiêu của kỳ "
                    f"{period} và chưa gửi duyệt.\n\n"
                    f"{node.name} has filled {status.filled} of {status.expected} elements for "
                    f"{period} and has not submitted them.\n",
                    link,
                ),
            )
        reminded += 1
    session.flush()
    return reminded
