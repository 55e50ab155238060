"""The open data portal's public pages (no account needed, as the open data rules require):
the catalogue with its search and facets (the same search as CKAN's ``package_search``, so
"truong hoc" finds "Trường học"), and a dataset's page with its resources, a preview of its
datastore table, downloads, licence and how to cite it. A signed-in member of a publisher
also sees that publisher's private datasets, as through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tinhso.core.errors import DomainError, Forbidden
from tinhso.core.i18n import current_locale
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.opendata.access import reader_of, require_publisher
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.listings import catalogue_service
from tinhso.opendata.catalogue.packages import organisations_by_id, package_dict
from tinhso.opendata.catalogue.search import FACET_FIELDS, SearchQuery, search
from tinhso.opendata.datastore.search import DatastoreQuery, search_rows
from tinhso.opendata.datastore.service import datastore_service
from tinhso.opendata.publishing.indicators import indicator_chart
from tinhso.portal.rendering import render
from tinhso.registry.auth import identify

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.opendata.access import Reader

router = APIRouter()
PAGE_SIZE = 20
PREVIEW_ROWS = 20
FILTERS = ("organization", "groups", "tags", "res_format", "license_id", "unit")


def facet_title(name: str) -> str:
    titles = {
        "organization": _("Publisher"),
        "groups": _("Theme"),
        "tags": _("Keyword"),
        "res_format": _("Format"),
        "license_id": _("Licence"),
        "unit": _("Administrative unit"),
    }
    return titles[name]


def _reader(request: Request, session: Session) -> Reader:
    return reader_of(session, identify(request, session))


@dataclass(frozen=True)
class FacetLink:
    label: str
    count: int
    href: str
    active: bool


def _fq(filters: dict[str, str]) -> str:
    return " ".join(f'{name}:"{value}"' for name, value in filters.items() if value)


def _href(q: str, filters: dict[str, str]) -> str:
    params = {"q": q, **{name: value for name, value in filters.items() if value}}
    return "/opendata?" + urlencode({k: v for k, v in params.items() if v})


@router.get(
    "/opendata",
    summary="The open data catalogue: themes, newest datasets, search with facets (public)",
)
def opendata_home(
    request: Request,
    session: DbSession,
    q: Annotated[str, Query(max_length=200)] = "",
    organization: Annotated[str, Query(max_length=100)] = "",
    groups: Annotated[str, Query(max_length=100)] = "",
    tags: Annotated[str, Query(max_length=100)] = "",
    res_format: Annotated[str, Query(max_length=32)] = "",
    license_id: Annotated[str, Query(max_length=100)] = "",
    unit: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    reader = _reader(request, session)
    filters = dict(
        zip(
            FILTERS,
            (organization, groups, tags, res_format, license_id, unit),
            strict=True,
        )
    )
    error = ""
    try:
        found = search(
            session,
            reader,
            SearchQuery(
                q=q,
                fq=_fq(filters),
                rows=PAGE_SIZE,
                start=(page - 1) * PAGE_SIZE,
                sort="" if q.strip() else "metadata_modified desc",
                facet_fields=FACET_FIELDS,
                facet_limit=10,
                include_private=True,
            ),
            str(request.base_url).rstrip("/"),
        )
    except DomainError as problem:
        error = problem.message.vi if current_locale.get() == "vi" else problem.message.en
        found = None
    facets: list[tuple[str, list[FacetLink]]] = []
    if found is not None:
        for name in FACET_FIELDS:
            links = []
            for item in found.facets.get(name, []):
                active = filters.get(name) == item.name
                changed = {**filters, name: "" if active else item.name}
                links.append(FacetLink(item.display_name, item.count, _href(q, changed), active))
            if links:
                facets.append((facet_title(name), links))
    themes = catalogue_service.groups(session, reader)
    return render(
        request,
        "opendata/index.html",
        {
            "q": q,
            "filters": filters,
            "found": found,
            "facets": facets,
            "themes": themes,
            "error": error,
            "page": page,
            "pages": max(1, -(-(found.count if found else 0) // PAGE_SIZE)),
            "page_href": lambda number: _href(q, filters) + f"&page={number}",
        },
        status_code=400 if error else 200,
    )


def _preview(session: Session, resource: dict[str, Any]) -> dict[str, Any] | None:
    store = datastore_service.find(session, resource["id"])
    if store is None:
        return None
    return search_rows(
        session,
        store,
        DatastoreQuery(
            filters={},
            q="",
            limit=PREVIEW_ROWS,
            offset=0,
            sort="",
            fields=None,
            include_total=True,
            records_format="lists",
        ),
        "/api/3/action/datastore_search",
    )


@router.get(
    "/opendata/datasets/{name}",
    summary="A dataset: its description, licence, how to cite it, resources, a preview and downloads (public)",
)
def opendata_dataset(
    request: Request,
    session: DbSession,
    name: str,
    uploaded: Annotated[str, Query(max_length=1)] = "",
    changed: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    return dataset_page(request, session, name, uploaded=uploaded == "1", changed=changed == "1")


def _may_publish(session: Session, reader: Reader, organisation_id: int) -> bool:
    if reader.principal is None:
        return False
    try:
        require_publisher(session, reader, organisation_id)
    except Forbidden:
        return False
    return True


def dataset_page(
    request: Request,
    session: Session,
    name: str,
    *,
    upload_problems: list[str] | None = None,
    status_code: int = 200,
    uploaded: bool = False,
    changed: bool = False,
) -> Response:
    reader = _reader(request, session)
    dataset = dataset_service.find(session, reader, name)
    site = str(request.base_url).rstrip("/")
    found = package_dict(dataset, organisations_by_id(session), site)
    previews = {
        resource["id"]: _preview(session, resource)
        for resource in found["resources"]
        if resource["datastore_active"]
    }
    return render(
        request,
        "opendata/dataset.html",
        {
            "dataset": found,
            "licence": dataset.licence,
            "previews": previews,
            "site": site,
            "year": dataset.created_at.year,
            "may_publish": _may_publish(session, reader, dataset.organisation_id),
            "upload_problems": upload_problems or [],
            "uploaded": uploaded,
            "changed": changed,
            "chart": indicator_chart(session, dataset.name),
        },
        status_code=status_code,
    )
