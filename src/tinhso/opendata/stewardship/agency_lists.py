"""Each agency's open-data list (Decree 47/2020 and the rules after it): its datasets with
their declared update frequency, when each was last updated and when it is due, and the
list's reviews, due at least every six months.

A dataset is **stale** when it is active and public, declares a frequency (daily … annual)
and its last update (its own or a resource's, whichever is later) is older than one period
of that frequency; ``irregular`` and ``never`` are never stale. A list's **review is
overdue** when the last one is more than six months old, or there is none and the
organisation has published a dataset more than six months ago.

``publish_month`` writes two monthly monitoring values per administrative unit of the
agencies (current set; an agency without a unit, or still on a legacy one, is left out and
counted): stale datasets
and agencies whose review is overdue, as the job ``opendata.stewardship`` does on the 1st.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tinhso.core.db import utcnow
from tinhso.core.errors import Forbidden, InvalidInput, NotFound
from tinhso.core.text import control_character
from tinhso.monitoring.models import (
    Aggregation,
    PeriodAggregation,
    PeriodType,
    ValueSource,
    ValueType,
)
from tinhso.monitoring.schemas import ElementCreate, ValueIn
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.checks import today_in_vietnam
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.opendata.access import Reader, require_publisher
from tinhso.opendata.models import (
    DatasetState,
    OpendataDataset,
    OpendataListReview,
    OpendataResource,
)
from tinhso.registry.models import UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.schemas import UnitRef
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.models import Organisation

FREQUENCY_DAYS = {
    "daily": 1,
    "weekly": 7,
    "monthly": 31,
    "quarterly": 92,
    "semiannual": 183,
    "annual": 366,
}
REVIEW_EVERY = timedelta(days=183)  # six months
STALE_ELEMENT = "open_data_stale_datasets"
OVERDUE_ELEMENT = "open_data_lists_review_overdue"


@dataclass(frozen=True)
class ListedDataset:
    name: str
    title: str
    private: bool
    update_frequency: str
    last_updated: datetime
    due: datetime | None  # None: no declared frequency
    stale: bool


@dataclass(frozen=True)
class AgencyList:
    organisation_code: str
    organisation_name: str
    datasets: list[ListedDataset]
    last_review: datetime | None
    last_review_note: str
    review_due: datetime | None
    review_overdue: bool

    @property
    def stale(self) -> int:
        return sum(item.stale for item in self.datasets)


def _last_updates(session: Session, organisation_ids: set[int]) -> dict[str, datetime]:
    """Each active dataset's last update: its own or a resource's, whichever is later."""
    resource_times = dict(
        session.execute(
            select(OpendataResource.dataset_id, func.max(OpendataResource.last_modified))
            .join(OpendataDataset, OpendataDataset.id == OpendataResource.dataset_id)
            .where(OpendataDataset.organisation_id.in_(organisation_ids))
            .group_by(OpendataResource.dataset_id)
        ).all()
    )
    found: dict[str, datetime] = {}
    for dataset_id, updated_at in session.execute(
        select(OpendataDataset.id, OpendataDataset.updated_at).where(
            OpendataDataset.organisation_id.in_(organisation_ids)
        )
    ):
        resource_time = resource_times.get(dataset_id)
        found[dataset_id] = max(updated_at, resource_time) if resource_time else updated_at
    return found


def _lists(session: Session, organisations: list[Organisation], now: datetime) -> list[AgencyList]:
    ids = {organisation.id for organisation in organisations}
    datasets = list(
        session.scalars(
            select(OpendataDataset)
            .where(
                OpendataDataset.organisation_id.in_(ids),
                OpendataDataset.state == DatasetState.ACTIVE,
            )
            .order_by(OpendataDataset.name)
        )
    )
    updates = _last_updates(session, ids)
    reviews: dict[int, OpendataListReview] = {}
    for review in session.scalars(
        select(OpendataListReview)
        .where(OpendataListReview.organisation_id.in_(ids))
        .order_by(OpendataListReview.reviewed_at)
    ):
        reviews[review.organisation_id] = review  # the latest wins
    found: list[AgencyList] = []
    for organisation in organisations:
        rows: list[ListedDataset] = []
        for dataset in (d for d in datasets if d.organisation_id == organisation.id):
            last = updates.get(dataset.id, dataset.updated_at)
            days = FREQUENCY_DAYS.get(dataset.update_frequency)
            due = last + timedelta(days=days) if days else None
            rows.append(
                ListedDataset(
                    name=dataset.name,
                    title=dataset.title_vi,
                    private=dataset.private,
                    update_frequency=dataset.update_frequency,
                    last_updated=last,
                    due=due,
                    stale=due is not None and due < now and not dataset.private,
                )
            )
        latest = reviews.get(organisation.id)
        first_published = min(
            (d.created_at for d in datasets if d.organisation_id == organisation.id), default=None
        )
        start = latest.reviewed_at if latest else first_published
        review_due = start + REVIEW_EVERY if start else None
        found.append(
            AgencyList(
                organisation_code=organisation.code,
                organisation_name=organisation.name_vi,
                datasets=rows,
                last_review=latest.reviewed_at if latest else None,
                last_review_note=latest.note if latest else "",
                review_due=review_due,
                review_overdue=review_due is not None and review_due < now,
            )
        )
    return found


class AgencyListService:
    def list_of(self, session: Session, reader: Reader, organisation_code: str) -> AgencyList:
        """The organisation's open-data list, for its members (and administrators above it)."""
        organisation = organisation_service.get(session, organisation_code)
        if reader.principal is None:
            raise NotFound(
                f"Không tìm thấy tổ chức {organisation_code}",
                f"Organisation {organisation_code} not found",
                field="organisation_code",
            )
        if not reader.is_member(organisation.id):
            raise Forbidden(
                "Chỉ cán bộ của tổ chức xem danh mục dữ liệu mở của tổ chức",
                "Only the organisation's officials see its open-data list",
            )
        return _lists(session, [organisation], utcnow())[0]

    def review(
        self, session: Session, reader: Reader, organisation_code: str, note: str
    ) -> AgencyList:
        """Record that the organisation's officers reviewed its list today."""
        organisation = organisation_service.get(session, organisation_code)
        require_publisher(session, reader, organisation.id)
        note = note.strip()
        if len(note) > 2000 or control_character(note, multiline=True) is not None:
            raise InvalidInput(
                "Ghi chú tối đa 2.000 ký tự, không có ký tự điều khiển",
                "The note is at most 2,000 characters, without control characters",
                field="note",
            )
        principal = reader.principal
        session.add(
            OpendataListReview(
                id=str(uuid.uuid4()),
                organisation_id=organisation.id,
                reviewed_at=utcnow(),
                reviewed_by_id=principal.user_id if principal is not None else None,
                note=note,
            )
        )
        session.flush()
        return _lists(session, [organisation], utcnow())[0]

    def every_list(self, session: Session) -> list[AgencyList]:
        """Every organisation that has published a dataset, with its list."""
        ids = set(session.scalars(select(OpendataDataset.organisation_id).distinct()))
        organisations = list(organisation_service.by_ids(session, ids).values())
        return _lists(session, sorted(organisations, key=lambda o: o.code), utcnow())


agency_list_service = AgencyListService()


def ensure_elements(session: Session) -> None:
    for code, name_vi, name_en in (
        (STALE_ELEMENT, "Bộ dữ liệu mở quá hạn cập nhật", "Open datasets overdue for update"),
        (
            OVERDUE_ELEMENT,
            "Cơ quan quá hạn rà soát danh mục dữ liệu mở",
            "Agencies overdue for reviewing their open-data list",
        ),
    ):
        try:
            catalogue_service.element(session, code)
            continue
        except NotFound:
            pass
        catalogue_service.create_element(
            session,
            ElementCreate(
                code=code,
                name_vi=name_vi,
                name_en=name_en,
                description_vi="Tính tự động từ danh mục dữ liệu mở (tinhso opendata)",
                description_en="Computed from the open data catalogue (tinhso opendata)",
                unit_of_measure="bộ dữ liệu" if code == STALE_ELEMENT else "cơ quan",
                unit_of_measure_en="datasets" if code == STALE_ELEMENT else "agencies",
                value_type=ValueType.INTEGER,
                aggregation=Aggregation.SUM,
                period_type=PeriodType.MONTH,
                period_aggregation=PeriodAggregation.LAST,
                non_negative=True,
            ),
        )


@dataclass(frozen=True)
class Published:
    values: int
    agencies_without_unit: int


def publish_month(session: Session, month: date) -> Published:
    """The state of every list now, as the values of ``month`` (a month that has ended)."""
    today = today_in_vietnam()
    if (month.year, month.month) >= (today.year, today.month):
        raise InvalidInput(
            f"Tháng {month:%m/%Y} chưa kết thúc",
            f"The month {month:%m/%Y} has not ended",
            field="month",
        )
    ensure_elements(session)
    lists = agency_list_service.every_list(session)
    organisations = {o.code: o for o in organisation_service.list_all(session)}
    stale: dict[int, int] = {}
    overdue: dict[int, int] = {}
    without_unit = 0
    for agency in lists:
        unit_id = organisations[agency.organisation_code].administrative_unit_id
        if unit_id is None:
            without_unit += 1
            continue
        stale[unit_id] = stale.get(unit_id, 0) + agency.stale
        overdue[unit_id] = overdue.get(unit_id, 0) + int(agency.review_overdue)
    nodes = unit_service.nodes(session, set(stale))
    for unit_id in [u for u in stale if nodes[u].unit_set is not UnitSet.CURRENT]:
        without_unit += sum(  # an agency still placed on a legacy unit: left out, counted
            1
            for agency in lists
            if organisations[agency.organisation_code].administrative_unit_id == unit_id
        )
        del stale[unit_id], overdue[unit_id]
    period = f"{month:%Y-%m}"
    items = [
        ValueIn(
            element_code=code,
            unit=UnitRef(unit_set=UnitSet.CURRENT, code=nodes[unit_id].code),
            period=period,
            value=counts[unit_id],
            source=ValueSource.API,
            source_reference="tinhso opendata",
        )
        for code, counts in ((STALE_ELEMENT, stale), (OVERDUE_ELEMENT, overdue))
        for unit_id in counts
    ]
    if not items:
        return Published(0, without_unit)
    result = value_service.record_many(
        session, items, Provenance(entered_by_id=None, source=ValueSource.API)
    )
    return Published(result.inserted + result.corrected, without_unit)


def end_of_month_before(today: date | None = None) -> date:
    today = today or today_in_vietnam()
    return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
