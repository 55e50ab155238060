"""List endpoints paginate with a hard maximum page size: the request side (:data:`Pagination`),
the query side (:func:`fetch_page`) and the answer (:class:`Page`); numeric ids in paths
(:data:`RowId`) are bounded like offsets, by what the database can hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, select

from tinhso.core.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

T = TypeVar("T")

PAGE_SIZE_DESCRIPTION = "Page size (hard maximum applies)"
# The largest offset a query can carry (SQLite INTEGER, PostgreSQL BIGINT) and the largest
# id a row has (INTEGER ids: 32 bits on PostgreSQL): beyond them the query cannot even be
# sent, so they are refused as input (422 naming the parameter), never looked up.
MAX_DATABASE_INT = 2**63 - 1
MAX_ROW_ID = 2**31 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Numeric id")]
"""A numeric id in a path, within what an INTEGER id column holds."""


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


def page_params(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, description=PAGE_SIZE_DESCRIPTION)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_DATABASE_INT)] = 0,
) -> PageParams:
    settings = request.app.state.settings
    if limit is None:
        limit = settings.page_size_default
    if limit > settings.page_size_max:
        raise InvalidInput(
            f"Kích thước trang tối đa là {settings.page_size_max}",
            f"The maximum page size is {settings.page_size_max}",
            field="limit",
        )
    return PageParams(limit=limit, offset=offset)


Pagination = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def fetch_page(session: Session, query: Select[T], params: PageParams) -> tuple[list[T], int]:
    """One page of ``query``'s rows and the count of all of them."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.scalars(query.limit(params.limit).offset(params.offset)))
    return rows, total
