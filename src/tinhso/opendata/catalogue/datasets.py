"""Datasets and their resources: validation, create/update/patch/delete, and reading them.

Input arrives as CKAN sends it (a JSON object of loosely typed fields); every problem is
collected per field and raised together as one :class:`InvalidInput` (the API answers it as
CKAN's "Validation Error", field → messages). Services flush and never commit: the request
owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tinhso.core.db import utcnow
from tinhso.core.errors import InvalidInput, NotFound
from tinhso.core.storage import FileStore, safe_filename
from tinhso.opendata.access import PLATFORM, Reader, require_publisher
from tinhso.opendata.catalogue.folding import search_column
from tinhso.opendata.catalogue.metadata import (
    NOTES_MAX,
    FileUpload,
    Problems,
    check_upload,
    format_of,
    new_resource,
    read_boolean,
    read_coverage,
    read_groups,
    read_licence,
    read_name,
    read_owner,
    read_resource,
    read_resources,
    read_tag_names,
    read_text,
)
from tinhso.opendata.catalogue.packages import (
    Organisations,
    organisations_by_id,
    package_dict,
    with_everything,
)
from tinhso.opendata.catalogue.storage import store
from tinhso.opendata.datastore.service import datastore_service, is_tabular
from tinhso.opendata.models import (
    DatasetState,
    OpendataActivity,
    OpendataDataset,
    OpendataDatastore,
    OpendataResource,
    OpendataTag,
)
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.models import Organisation


# CKAN's activity types
NEW, CHANGED, DELETED = "new package", "changed package", "deleted package"


def _sees(reader: Reader, state: DatasetState, private: bool, organisation_id: int) -> bool:
    """Whether the reader may see a dataset in this state (and its resources)."""
    if state is DatasetState.ACTIVE and not private:
        return True
    return reader.is_member(organisation_id)


def _no_resource(resource_id: object) -> NotFound:
    return NotFound(
        f"Không tìm thấy tài nguyên {resource_id}",
        f"Resource {resource_id} not found",
        field="id",
    )


def no_datastore(resource_id: object) -> NotFound:
    """A visible resource without a datastore table."""
    return NotFound(
        f"Tài nguyên {resource_id} không có dữ liệu trong kho dữ liệu",
        f"Resource {resource_id} has no datastore table",
        field="resource_id",
    )


class DatasetService:
    # -- reading ----------------------------------------------------------------------------
    def find(self, session: Session, reader: Reader, id_or_name: object) -> OpendataDataset:
        """The dataset with this id or name that the reader may see (else NotFound)."""
        dataset = None
        if isinstance(id_or_name, str) and id_or_name:
            dataset = session.scalar(
                with_everything(select(OpendataDataset)).where(
                    (OpendataDataset.id == id_or_name) | (OpendataDataset.name == id_or_name)
                )
            )
        if not isinstance(dataset, OpendataDataset) or not self.visible(reader, dataset):
            raise NotFound(
                f"Không tìm thấy bộ dữ liệu {id_or_name}",
                f"Dataset {id_or_name} not found",
                field="id",
            )
        return dataset

    def visible(self, reader: Reader, dataset: OpendataDataset) -> bool:
        return _sees(reader, dataset.state, dataset.private, dataset.organisation_id)

    def names(self, session: Session, limit: int | None, offset: int) -> list[str]:
        """Names of the active public datasets, alphabetically."""
        query = (
            select(OpendataDataset.name)
            .where(OpendataDataset.state == DatasetState.ACTIVE, ~OpendataDataset.private)
            .order_by(OpendataDataset.name)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        return list(session.scalars(query))

    def find_resource(
        self, session: Session, reader: Reader, resource_id: object
    ) -> OpendataResource:
        resource = None
        if isinstance(resource_id, str) and resource_id:
            resource = session.get(OpendataResource, resource_id)
        if resource is not None:
            dataset = session.get(OpendataDataset, resource.dataset_id)
            if dataset is not None and self.visible(reader, dataset):
                return resource
        raise _no_resource(resource_id)

    def find_datastore(
        self, session: Session, reader: Reader, resource_id: object
    ) -> OpendataDatastore:
        """The datastore table of a resource the reader may see, read with the resource and
        its dataset in one statement (else NotFound: no such resource, or no table)."""
        found = None
        if isinstance(resource_id, str) and resource_id:
            found = session.execute(
                select(
                    OpendataDatastore,
                    OpendataDataset.state,
                    OpendataDataset.private,
                    OpendataDataset.organisation_id,
                )
                .select_from(OpendataResource)
                .join(OpendataDataset, OpendataDataset.id == OpendataResource.dataset_id)
                .outerjoin(OpendataDatastore, OpendataDatastore.resource_id == OpendataResource.id)
                .where(OpendataResource.id == resource_id)
            ).one_or_none()
        if found is None or not _sees(reader, found.state, found.private, found.organisation_id):
            raise _no_resource(resource_id)
        store: OpendataDatastore | None = found[0]
        if store is None:
            raise no_datastore(resource_id)
        return store

    # -- writing ----------------------------------------------------------------------------
    def create(self, session: Session, reader: Reader, data: Mapping[str, Any]) -> OpendataDataset:
        dataset = OpendataDataset(id=str(uuid.uuid4()), state=DatasetState.ACTIVE)
        self._apply(session, reader, dataset, data, creating=True)
        session.add(dataset)
        session.flush()
        return self._changed(session, reader, dataset.id, NEW)

    def update(self, session: Session, reader: Reader, data: Mapping[str, Any]) -> OpendataDataset:
        dataset = self.find(session, reader, data.get("id") or data.get("name"))
        require_publisher(session, reader, dataset.organisation_id)
        if "owner_org" not in data:  # kept when not given
            codes = organisation_service.codes(session, {dataset.organisation_id})
            data = {**data, "owner_org": codes.get(dataset.organisation_id)}
        self._apply(session, reader, dataset, data, creating=False)
        session.flush()
        session.expire(dataset)
        return self._changed(session, reader, dataset.id, CHANGED)

    def patch(
        self,
        session: Session,
        reader: Reader,
        data: Mapping[str, Any],
        organisations: Organisations,
    ) -> OpendataDataset:
        dataset = self.find(session, reader, data.get("id") or data.get("name"))
        require_publisher(session, reader, dataset.organisation_id)
        merged = package_dict(dataset, organisations)
        merged.pop("resources")
        merged.update({key: value for key, value in data.items() if key != "id"})
        merged["id"] = dataset.id
        return self.update(session, reader, merged)

    def delete(self, session: Session, reader: Reader, id_or_name: object) -> None:
        dataset = self.find(session, reader, id_or_name)
        require_publisher(session, reader, dataset.organisation_id)
        dataset.state = DatasetState.DELETED
        dataset.updated_at = utcnow()
        session.flush()
        self._changed(session, PLATFORM, dataset.id, DELETED, reader)

    def add_resource(
        self, session: Session, reader: Reader, data: Mapping[str, Any]
    ) -> OpendataResource:
        dataset = self.find(session, reader, data.get("package_id"))
        require_publisher(session, reader, dataset.organisation_id)
        problems = Problems()
        found = read_resource(problems, dict(data))
        problems.raise_any()
        assert found is not None  # noqa: S101 - read_resource returns None only with problems
        resource = new_resource(found, len(dataset.resources))
        dataset.resources.append(resource)
        dataset.updated_at = utcnow()
        self._index(session, dataset)
        session.flush()
        self._changed(session, reader, dataset.id, CHANGED)
        return resource

    def attach_file(
        self,
        session: Session,
        reader: Reader,
        id_or_name: object,
        upload: FileUpload,
        files: FileStore,
    ) -> OpendataResource:
        """Store a file (on the platform's store) as a new resource of the dataset (a CSV or
        XLSX file's rows go into the datastore; a file the datastore refuses is not stored)."""
        dataset = self.find(session, reader, id_or_name)
        require_publisher(session, reader, dataset.organisation_id)
        problems = Problems()
        check_upload(problems, upload)
        name = read_text(problems, {"name": upload.name}, "name") or ""
        problems.raise_any()
        resource = OpendataResource(
            id=str(uuid.uuid4()),
            position=len(dataset.resources),
            name=name,
            description=upload.description,
            url="",
            created_at=utcnow(),
        )
        dataset.resources.append(resource)
        self._put_file(session, dataset, resource, upload, files)
        self._changed(session, reader, dataset.id, CHANGED)
        return resource

    def replace_file(
        self,
        session: Session,
        reader: Reader,
        resource_id: object,
        upload: FileUpload,
        files: FileStore,
    ) -> OpendataResource:
        """A new version of a resource's file (CKAN's ``resource_update`` with an upload).

        The new file is checked (and its rows loaded) before anything is switched; refused,
        the previous file and its datastore rows stay as they were."""
        resource = self.find_resource(session, reader, resource_id)
        dataset = self.find(session, reader, resource.dataset_id)
        require_publisher(session, reader, dataset.organisation_id)
        problems = Problems()
        check_upload(problems, upload)
        name = read_text(problems, {"name": upload.name}, "name")
        problems.raise_any()
        if name:
            resource.name = name
        if upload.description:
            resource.description = upload.description
        resource.url = ""
        self._put_file(session, dataset, resource, upload, files)
        self._changed(session, reader, dataset.id, CHANGED)
        return resource

    def _put_file(
        self,
        session: Session,
        dataset: OpendataDataset,
        resource: OpendataResource,
        upload: FileUpload,
        files: FileStore,
    ) -> None:
        filename = safe_filename(upload.filename)
        resource.format = (upload.format or format_of(filename)).upper()[:32]
        resource.name = resource.name or filename
        if is_tabular(resource.format):
            session.flush()
            datastore_service.load(
                session,
                resource,
                upload.content,
                overrides=upload.field_types,
                number_format=upload.number_format,
                indexes=upload.indexes,
            )
        elif resource.datastore_active:
            datastore_service.drop(session, resource)
        # Written before the commit under a key of its own (the version's SHA-256): the file
        # the committed resource points to stays as it is until this transaction commits.
        stored = store(files, resource.id, upload.filename, upload.content)
        resource.stored_path = stored.key
        resource.size = stored.size
        resource.sha256 = stored.sha256
        resource.last_modified = utcnow()
        dataset.updated_at = utcnow()
        self._index(session, dataset)
        session.flush()

    def file_content(
        self, session: Session, reader: Reader, resource: OpendataResource, files: FileStore
    ) -> bytes:
        """The stored file of a resource its publisher may change (for loading it again)."""
        dataset = self.find(session, reader, resource.dataset_id)
        require_publisher(session, reader, dataset.organisation_id)
        if not resource.stored_path or not files.exists(resource.stored_path):
            raise InvalidInput(
                "Tài nguyên không có tệp đã tải lên để nạp vào kho dữ liệu",
                "The resource has no uploaded file to load into the datastore",
                field="resource_id",
            )
        return files.read(resource.stored_path)

    def drop_datastore(self, session: Session, reader: Reader, resource: OpendataResource) -> None:
        dataset = self.find(session, reader, resource.dataset_id)
        require_publisher(session, reader, dataset.organisation_id)
        datastore_service.drop(session, resource)
        session.flush()

    def update_resource(
        self, session: Session, reader: Reader, data: Mapping[str, Any]
    ) -> OpendataResource:
        """CKAN's ``resource_update`` without a file: a link resource's fields, or the name
        and description of an uploaded one (its file changes only by a new upload)."""
        resource = self.find_resource(session, reader, data.get("id"))
        dataset = self.find(session, reader, resource.dataset_id)
        require_publisher(session, reader, dataset.organisation_id)
        problems = Problems()
        if resource.stored_path:
            name = read_text(problems, data, "name")
            description = read_text(
                problems, data, "description", max_length=NOTES_MAX, multiline=True
            )
            problems.raise_any()
            resource.name = name or resource.name
            resource.description = description or ""
        else:
            found = read_resource(problems, dict(data))
            problems.raise_any()
            assert found is not None  # noqa: S101 - read_resource returns None only with problems
            resource.name, resource.url, resource.format = found.name, found.url, found.format
            resource.description, resource.size = found.description, found.size
            resource.sha256 = found.sha256
        resource.last_modified = utcnow()
        dataset.updated_at = utcnow()
        self._index(session, dataset)
        session.flush()
        self._changed(session, reader, dataset.id, CHANGED)
        return resource

    def delete_resource(self, session: Session, reader: Reader, resource_id: object) -> None:
        resource = self.find_resource(session, reader, resource_id)
        dataset = self.find(session, reader, resource.dataset_id)
        require_publisher(session, reader, dataset.organisation_id)
        if resource.datastore_active:
            datastore_service.drop(session, resource)
        dataset.resources.remove(resource)
        dataset.updated_at = utcnow()
        self._index(session, dataset)
        session.flush()
        self._changed(session, reader, dataset.id, CHANGED)

    def _changed(
        self,
        session: Session,
        reader: Reader,
        dataset_id: str,
        kind: str,
        actor: Reader | None = None,
    ) -> OpendataDataset:
        """Record the dataset as it is now in its activity stream; the dataset, reloaded."""
        loaded = session.get(OpendataDataset, dataset_id)
        if loaded is not None:
            session.expire(loaded)  # its collections as stored now
        dataset = self.find(session, reader, dataset_id)
        who = (actor or reader).principal
        session.add(
            OpendataActivity(
                id=str(uuid.uuid4()),
                dataset_id=dataset.id,
                timestamp=utcnow(),
                user_id=who.user_id if who is not None else None,
                activity_type=kind,
                data={"package": package_dict(dataset, organisations_by_id(session))},
            )
        )
        session.flush()
        return dataset

    def activities(
        self, session: Session, reader: Reader, id_or_name: object, limit: int, offset: int
    ) -> list[OpendataActivity]:
        """The dataset's changes, newest first (as its readers may see the dataset)."""
        dataset = self.find(session, reader, id_or_name)
        return list(
            session.scalars(
                select(OpendataActivity)
                .where(OpendataActivity.dataset_id == dataset.id)
                .order_by(OpendataActivity.timestamp.desc(), OpendataActivity.id)
                .limit(limit)
                .offset(offset)
            )
        )

    def _apply(
        self,
        session: Session,
        reader: Reader,
        dataset: OpendataDataset,
        data: Mapping[str, Any],
        *,
        creating: bool,
    ) -> None:
        problems = Problems()
        organisation = read_owner(session, problems, data)
        if organisation is not None:
            require_publisher(session, reader, organisation.id)
        title = read_text(problems, data, "title", required=True)
        name = read_name(session, problems, data, dataset, title, creating=creating)
        notes = read_text(problems, data, "notes", max_length=NOTES_MAX, multiline=True)
        title_en = read_text(problems, data, "title_en")
        notes_en = read_text(problems, data, "notes_en", max_length=NOTES_MAX, multiline=True)
        licence_id = read_licence(session, problems, data)
        private = read_boolean(problems, data, "private")
        coverage = read_coverage(session, problems, data)
        contact = read_text(problems, data, "contact_point", max_length=300) or ""
        version = read_text(problems, data, "version", max_length=100) or ""
        tag_names = read_tag_names(problems, data)
        groups = read_groups(session, problems, data)
        resources = read_resources(problems, data)
        problems.raise_any()
        if organisation is None or title is None or name is None:  # pragma: no cover - raised
            return

        dataset.name = name
        dataset.title_vi = title
        dataset.title_en = title_en
        dataset.notes_vi = notes or ""
        dataset.notes_en = notes_en
        dataset.organisation_id = organisation.id
        dataset.licence_id = licence_id
        dataset.private = private
        dataset.update_frequency = coverage.frequency
        dataset.temporal_start = coverage.start
        dataset.temporal_end = coverage.end
        dataset.spatial_unit_set = coverage.unit_set
        dataset.spatial_unit_code = coverage.unit_code
        dataset.contact_point = contact
        dataset.version = version
        dataset.state = DatasetState.ACTIVE
        dataset.updated_at = utcnow()
        dataset.tags = [self._tag(session, tag_name) for tag_name in tag_names]
        dataset.groups = groups
        if resources is not None:
            dataset.resources = [
                new_resource(resource, position) for position, resource in enumerate(resources)
            ]
        elif creating:
            dataset.resources = []
        self._index(session, dataset, organisation)

    def _tag(self, session: Session, name: str) -> OpendataTag:
        tag = session.scalar(select(OpendataTag).where(OpendataTag.name == name))
        if tag is None:
            tag = OpendataTag(name=name)
            session.add(tag)
        return tag

    def _index(
        self, session: Session, dataset: OpendataDataset, organisation: Organisation | None = None
    ) -> None:
        """Fill the folded shadow columns that search matches."""
        if organisation is None:
            code = organisation_service.codes(session, {dataset.organisation_id})
            organisation = organisation_service.get(session, code[dataset.organisation_id])
        tags = [tag.name for tag in dataset.tags]
        dataset.search_title = search_column(
            dataset.name.replace("-", " "), dataset.title_vi, dataset.title_en or "", *tags
        )
        dataset.search_text = search_column(
            dataset.search_title,
            dataset.notes_vi,
            dataset.notes_en or "",
            organisation.name_vi,
            organisation.code,
            *(group.title_vi for group in dataset.groups),
            *(f"{resource.name} {resource.format}" for resource in dataset.resources),
        )


dataset_service = DatasetService()
