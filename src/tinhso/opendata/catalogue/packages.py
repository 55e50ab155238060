"""Datasets as CKAN shows them: a dataset read with everything its dictionary holds, and the
dictionaries of datasets, resources, organisations, themes (groups) and licences that the
Action API, the DCAT export and the portal answer with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from tinhso.core.generations import GenerationCache
from tinhso.opendata.models import (
    CATALOGUE_GENERATION,
    OpendataDataset,
    OpendataGroup,
    OpendataLicence,
    OpendataResource,
)
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.models import Organisation


def with_everything(query: Any) -> Any:
    return query.options(
        selectinload(OpendataDataset.resources),
        selectinload(OpendataDataset.tags),
        selectinload(OpendataDataset.groups),
        joinedload(OpendataDataset.licence),  # one licence each: read with the datasets
    )


def load_datasets(session: Session, ids: list[str]) -> list[OpendataDataset]:
    """The datasets ``ids`` with their resources, tags, groups and licence, in that order."""
    found = {
        dataset.id: dataset
        for dataset in session.scalars(
            with_everything(select(OpendataDataset)).where(OpendataDataset.id.in_(ids))
        )
    }
    return [found[dataset_id] for dataset_id in ids if dataset_id in found]


@dataclass(frozen=True)
class KeptPackage:
    """A dataset's dictionary as kept between requests (read-only), with its publisher's id:
    the publisher's part is filled in afresh on every answer."""

    organisation_id: int
    package: dict[str, Any]


# Each dataset's dictionary (``package_dict``) per catalogue generation and site address, so
# a page of results, or a dataset another search showed, is read without loading the
# datasets (~3 KB each: at most ~60 MB per process).
PACKAGES: GenerationCache[KeptPackage] = GenerationCache((CATALOGUE_GENERATION,), max_weight=20_000)


def package_dicts(
    session: Session, ids: list[str], organisations: Organisations, site_url: str = ""
) -> list[dict[str, Any]]:
    """The dictionaries of the datasets ``ids``, in that order (an id not found is left out):
    those kept are used, the others loaded together and kept."""

    def load(missing: list[tuple[str, str]]) -> dict[tuple[str, str], KeptPackage]:
        datasets = load_datasets(session, [dataset_id for dataset_id, _ in missing])
        return {
            (dataset.id, site_url): KeptPackage(
                dataset.organisation_id, package_dict(dataset, organisations, site_url)
            )
            for dataset in datasets
        }

    kept = PACKAGES.get_many(session, [(dataset_id, site_url) for dataset_id in ids], load)
    found: list[dict[str, Any]] = []
    for dataset_id in ids:
        entry = kept.get((dataset_id, site_url))
        if entry is None:
            continue
        organisation = organisations.get(entry.organisation_id)
        found.append(
            {
                **entry.package,  # the same keys, in the same order, with the publisher's now
                "owner_org": organisation.code if organisation else None,
                "organization": organisation_dict(organisation) if organisation else None,
            }
        )
    return found


# -- CKAN representations ---------------------------------------------------------------------

Organisations = Mapping[int, "Organisation"]


def organisations_by_id(session: Session) -> dict[int, Organisation]:
    """Every organisation of the registry by id (a province has hundreds)."""
    return {
        organisation.id: organisation for organisation in organisation_service.list_all(session)
    }


def _timestamp(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(timespec="microseconds")


def organisation_dict(
    organisation: Organisation, package_count: int | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": organisation.code,
        "name": organisation.code,
        "title": organisation.name_vi,
        "display_name": organisation.name_vi,
        "title_en": organisation.name_en,
        "description": "",
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "created": _timestamp(organisation.created_at),
    }
    if package_count is not None:
        found["package_count"] = package_count
    return found


def group_dict(group: OpendataGroup, package_count: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": group.name,
        "name": group.name,
        "title": group.title_vi,
        "display_name": group.title_vi,
        "title_en": group.title_en,
        "description": group.description_vi,
        "type": "group",
        "is_organization": False,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "created": _timestamp(group.created_at),
    }
    if package_count is not None:
        found["package_count"] = package_count
    return found


def licence_dict(licence: OpendataLicence) -> dict[str, Any]:
    return {
        "id": licence.id,
        "title": licence.title_vi,
        "title_en": licence.title_en,
        "url": licence.url,
        "attribution": licence.attribution_vi,
        "attribution_en": licence.attribution_en,
        "status": "active",
        "od_conformance": "approved",
        "osd_conformance": "not reviewed",
    }


def download_path(resource: OpendataResource, dataset_id: str) -> str:
    """Where a stored file is downloaded (CKAN's path for uploads)."""
    filename = resource.stored_path.rsplit("/", 1)[-1]
    return f"/dataset/{dataset_id}/resource/{resource.id}/download/{filename}"


def resource_dict(
    resource: OpendataResource, dataset_id: str, site_url: str = ""
) -> dict[str, Any]:
    """``site_url``: the address the catalogue is reached at (stored files' URLs start with it)."""
    return {
        "id": resource.id,
        "package_id": dataset_id,
        "position": resource.position,
        "name": resource.name,
        "description": resource.description,
        "url": site_url + download_path(resource, dataset_id)
        if resource.stored_path
        else resource.url,
        "url_type": "upload" if resource.stored_path else None,
        "format": resource.format,
        "size": resource.size,
        "hash": f"sha256:{resource.sha256}" if resource.sha256 else "",
        "mimetype": None,
        "state": "active",
        "created": _timestamp(resource.created_at),
        "last_modified": _timestamp(resource.last_modified) if resource.last_modified else None,
        "datastore_active": resource.datastore_active,
    }


def package_dict(
    dataset: OpendataDataset, organisations: Organisations, site_url: str = ""
) -> dict[str, Any]:
    organisation = organisations.get(dataset.organisation_id)
    licence = dataset.licence
    return {
        "id": dataset.id,
        "name": dataset.name,
        "title": dataset.title_vi,
        "title_en": dataset.title_en,
        "notes": dataset.notes_vi,
        "notes_en": dataset.notes_en,
        "type": "dataset",
        "state": dataset.state.value,
        "private": dataset.private,
        "owner_org": organisation.code if organisation else None,
        "organization": organisation_dict(organisation) if organisation else None,
        "license_id": dataset.licence_id,
        "license_title": licence.title_vi if licence else None,
        "license_url": licence.url if licence else None,
        "update_frequency": dataset.update_frequency,
        "temporal_start": dataset.temporal_start.isoformat() if dataset.temporal_start else None,
        "temporal_end": dataset.temporal_end.isoformat() if dataset.temporal_end else None,
        "spatial_unit_set": dataset.spatial_unit_set,
        "spatial_unit_code": dataset.spatial_unit_code,
        "contact_point": dataset.contact_point,
        "version": dataset.version,
        "metadata_created": _timestamp(dataset.created_at),
        "metadata_modified": _timestamp(dataset.updated_at),
        "num_resources": len(dataset.resources),
        "num_tags": len(dataset.tags),
        "tags": [
            {"name": tag.name, "display_name": tag.name, "state": "active"} for tag in dataset.tags
        ],
        "groups": [group_dict(group) for group in dataset.groups],
        "resources": [
            resource_dict(resource, dataset.id, site_url) for resource in dataset.resources
        ],
        "extras": [],
    }
