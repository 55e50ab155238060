"""The agencies' open-data lists under /api/v1/opendata: an organisation's officials read
its list (each dataset's frequency, last update, due date, staleness; the last review and the
next one due); its officers record a review. Bearer token or portal session, as the rest of
/api/v1."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from tinhso.core.web import DbSession
from tinhso.opendata.access import reader_of
from tinhso.opendata.stewardship.agency_lists import AgencyList, agency_list_service
from tinhso.registry.auth import CurrentUser

router = APIRouter(prefix="/api/v1/opendata", tags=["opendata: agency lists"])


class ListedDatasetOut(BaseModel):
    name: str
    title: str
    private: bool
    update_frequency: str
    last_updated: datetime
    due: datetime | None
    stale: bool


class AgencyListOut(BaseModel):
    organisation_code: str
    organisation_name: str
    datasets: list[ListedDatasetOut]
    stale: int = Field(description="Public datasets not updated within their frequency")
    last_review: datetime | None
    last_review_note: str
    review_due: datetime | None = Field(description="Six months after the last review")
    review_overdue: bool


class ReviewIn(BaseModel):
    note: str = Field(default="", max_length=2000)


def _out(found: AgencyList) -> AgencyListOut:
    return AgencyListOut(
        organisation_code=found.organisation_code,
        organisation_name=found.organisation_name,
        datasets=[ListedDatasetOut(**item.__dict__) for item in found.datasets],
        stale=found.stale,
        last_review=found.last_review,
        last_review_note=found.last_review_note,
        review_due=found.review_due,
        review_overdue=found.review_overdue,
    )


@router.get(
    "/lists/{organisation_code}",
    summary="An agency's open-data list: frequencies, last updates, stale datasets, reviews (the organisation's members)",
)
def agency_list(
    session: DbSession, principal: CurrentUser, organisation_code: str
) -> AgencyListOut:
    reader = reader_of(session, principal)
    return _out(agency_list_service.list_of(session, reader, organisation_code))


@router.post(
    "/lists/{organisation_code}/reviews",
    status_code=status.HTTP_201_CREATED,
    summary="Record a review of the agency's open-data list (the organisation's officers)",
)
def review_list(
    session: DbSession, principal: CurrentUser, organisation_code: str, data: ReviewIn
) -> AgencyListOut:
    reader = reader_of(session, principal)
    return _out(agency_list_service.review(session, reader, organisation_code, data.note))
