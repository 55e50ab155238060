"""Datasets and their resources: validation, create/update/patch/delete, and reading them.

Input arrives as CKAN sends it (a JSON object of loosely typed fields); every problem is
collected per field and raised together as one :class:`InvalidInput` (the API answers it as
CKAN's "Validation Error", field → messages). Services flush and never commit: the request
owns the transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tinhso.core.db import utcnow
from tinhso.core.errors import FieldError, InvalidInput, Message, NotFound
from tinhso.core.storage import FileStore, safe_filename
from tinhso.core.text import control_character
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.opendata.access import PLATFORM, Reader, require_publisher
from tinhso.opendata.catalogue.folding import NAME_PATTERN, search_column, slug
from tinhso.opendata.catalogue.storage import store
from tinhso.opendata.datastore.columns import FieldType
from tinhso.opendata.datastore.service import datastore_service, is_tabular
from tinhso.opendata.models import (
    DatasetState,
    OpendataActivity,
    OpendataDataset,
    OpendataDatastore,
    OpendataGroup,
    OpendataLicence,
    OpendataResource,
    OpendataTag,
)
from tinhso.registry.models import UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.registry.models import Organisation

UPDATE_FREQUENCIES = (
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "semiannual",
    "annual",
    "irregular",
    "never",
)
TEXT_MAX = 500
NOTES_MAX = 20_000
URL_MAX = 2000
TAG_PATTERN = re.compile(r"[\w .-]{2,100}")
_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")


def _format_of(url: str) -> str:
    """The format a link's file extension names ("…/a.csv?x=1" → "csv"), or ""."""
    path = url.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]
    found = _EXTENSION.search(path)
    return found.group(1) if found else ""


@dataclass
class Problems:
    """Field → messages, collected while reading an input."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, name: str, vi: str, en: str) -> None:
        self.errors.append(FieldError(name, Message(vi, en)))

    def raise_any(self) -> None:
        if self.errors:
            fields = ", ".join(dict.fromkeys(error.field for error in self.errors))
            raise InvalidInput(
                f"Dữ liệu không hợp lệ: {fields}",
                f"The data is not valid: {fields}",
                errors=self.errors,
            )


def _text(
    problems: Problems,
    data: Mapping[str, Any],
    name: str,
    *,
    required: bool = False,
    max_length: int = TEXT_MAX,
    multiline: bool = False,
) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            problems.add(name, "Thiếu giá trị bắt buộc", "Missing value")
        return None
    if not isinstance(value, str):
        problems.add(name, "Phải là chuỗi ký tự", "Must be a string")
        return None
    value = value.strip()
    if required and not value:
        problems.add(name, "Thiếu giá trị bắt buộc", "Missing value")
        return None
    if len(value) > max_length:
        problems.add(name, f"Dài quá {max_length} ký tự", f"Longer than {max_length} characters")
        return None
    found = control_character(value, multiline=multiline)
    if found is not None:
        problems.add(
            name, f"Chứa ký tự điều khiển {found}", f"Contains the control character {found}"
        )
        return None
    return value or None


def _boolean(problems: Problems, data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", ""}:
        return value.strip().lower() in {"true", "1"}
    problems.add(name, "Phải là true hoặc false", "Must be true or false")
    return False


def _date(problems: Problems, data: Mapping[str, Any], name: str) -> date | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return datetime.strptime(value.strip(), pattern).date()  # noqa: DTZ007 - a date
            except ValueError:
                continue
    problems.add(
        name, "Ngày phải có dạng dd/mm/yyyy hoặc yyyy-mm-dd", "Dates are dd/mm/yyyy or yyyy-mm-dd"
    )
    return None


def _names(problems: Problems, data: Mapping[str, Any], name: str) -> list[str]:
    """A list of {"name": ...} objects (or of plain strings), as CKAN sends tags and groups."""
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(name, "Phải là danh sách", "Must be a list")
        return []
    found: list[str] = []
    for item in value:
        text = item.get("name") or item.get("id") if isinstance(item, dict) else item
        if not isinstance(text, str) or not text.strip():
            problems.add(name, "Mỗi phần tử phải có tên", "Each item needs a name")
            continue
        if text.strip() not in found:
            found.append(text.strip())
    return found


UPLOAD_MAX_BYTES = 50_000_000
# CKAN's activity types
NEW, CHANGED, DELETED = "new package", "changed package", "deleted package"


@dataclass(frozen=True)
class FileUpload:
    filename: str
    content: bytes
    name: str = ""
    format: str = ""
    description: str = ""
    number_format: NumberFormat | None = None  # how the datastore reads «1.234»
    field_types: Mapping[str, FieldType] = field(default_factory=dict)  # columns' types set
    indexes: list[list[str]] | None = None  # composite indexes (None: keep the declared)


@dataclass
class ResourceInput:
    name: str
    url: str
    format: str
    description: str
    size: int | None
    sha256: str


def read_resource(problems: Problems, data: Any, prefix: str = "") -> ResourceInput | None:
    """A link resource from its input (``prefix`` names the field in a dataset's list)."""
    if not isinstance(data, dict):
        problems.add(prefix or "resource", "Phải là đối tượng JSON", "Must be a JSON object")
        return None
    local = Problems()
    url = _text(local, data, "url", required=True, max_length=URL_MAX)
    if url is not None and not _URL.fullmatch(url):
        local.add("url", "URL phải bắt đầu bằng http:// hoặc https://", "The URL must be http(s)")
    name = _text(local, data, "name") or ""
    resource_format = _text(local, data, "format", max_length=32) or ""
    description = _text(local, data, "description", max_length=NOTES_MAX, multiline=True) or ""
    size_value = data.get("size")
    size: int | None = None
    if size_value not in (None, ""):
        try:
            size = int(size_value)
            if size < 0:
                raise ValueError
        except (TypeError, ValueError):
            local.add("size", "Phải là số nguyên không âm", "Must be a non-negative integer")
    digest = _text(local, data, "hash", max_length=71) or ""
    digest = digest.removeprefix("sha256:").lower()
    if digest and not re.fullmatch(r"[0-9a-f]{64}", digest):
        local.add("hash", "Phải là mã SHA-256 (64 ký tự hex)", "Must be a SHA-256 (64 hex digits)")
    for error in local.errors:
        problems.errors.append(FieldError(prefix + error.field, error.message))
    if local.errors or url is None:
        return None
    if not resource_format:
        resource_format = _format_of(url)
    return ResourceInput(name, url, resource_format.upper()[:32], description, size, digest)


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
                _with_everything(select(OpendataDataset)).where(
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
        resource = _new_resource(found, len(dataset.resources))
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
        _check_upload(problems, upload)
        name = _text(problems, {"name": upload.name}, "name") or ""
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
        _check_upload(problems, upload)
        name = _text(problems, {"name": upload.name}, "name")
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
        resource.format = (upload.format or _format_of(filename)).upper()[:32]
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
            name = _text(problems, data, "name")
            description = _text(problems, data, "description", max_length=NOTES_MAX, multiline=True)
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
        organisation = _owner(session, problems, data)
        if organisation is not None:
            require_publisher(session, reader, organisation.id)
        title = _text(problems, data, "title", required=True)
        name = _name(session, problems, data, dataset, title, creating=creating)
        notes = _text(problems, data, "notes", max_length=NOTES_MAX, multiline=True)
        title_en = _text(problems, data, "title_en")
        notes_en = _text(problems, data, "notes_en", max_length=NOTES_MAX, multiline=True)
        licence_id = _licence(session, problems, data)
        private = _boolean(problems, data, "private")
        coverage = _coverage(session, problems, data)
        contact = _text(problems, data, "contact_point", max_length=300) or ""
        version = _text(problems, data, "version", max_length=100) or ""
        tag_names = _tag_names(problems, data)
        groups = _groups(session, problems, data)
        resources = _resources(problems, data)
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
                _new_resource(resource, position) for position, resource in enumerate(resources)
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


def _check_upload(problems: Problems, upload: FileUpload) -> None:
    if not upload.content:
        problems.add("upload", "Tệp rỗng (0 byte)", "The file is empty (0 bytes)")
    if len(upload.content) > UPLOAD_MAX_BYTES:
        problems.add(
            "upload",
            f"Tệp lớn quá {UPLOAD_MAX_BYTES // 1_000_000} MB",
            f"The file is larger than {UPLOAD_MAX_BYTES // 1_000_000} MB",
        )


def _owner(session: Session, problems: Problems, data: Mapping[str, Any]) -> Organisation | None:
    owner = data.get("owner_org")
    if not isinstance(owner, str) or not owner.strip():
        problems.add("owner_org", "Thiếu tổ chức công bố", "Missing the publishing organisation")
        return None
    try:
        return organisation_service.get(session, owner.strip())
    except NotFound:
        problems.add(
            "owner_org", f"Tổ chức {owner} không tồn tại", f"Organisation {owner} does not exist"
        )
        return None


def _name(
    session: Session,
    problems: Problems,
    data: Mapping[str, Any],
    dataset: OpendataDataset,
    title: str | None,
    *,
    creating: bool,
) -> str | None:
    """The dataset's name: as given, else folded from the title (kept on update)."""
    name = _text(problems, data, "name", max_length=200)
    if name is None and title is not None:
        name = slug(title) if creating else dataset.name
    if name is None:
        return None
    if not NAME_PATTERN.fullmatch(name):
        problems.add(
            "name",
            "Tên chỉ gồm chữ thường không dấu, số, - và _, dài 2 đến 100 ký tự",
            "Names are 2 to 100 lower-case ASCII letters, digits, - and _",
        )
        return None
    taken = session.scalar(
        select(OpendataDataset.id).where(
            OpendataDataset.name == name, OpendataDataset.id != dataset.id
        )
    )
    if taken is not None:
        problems.add("name", "Tên này đã được dùng", "That URL is already in use.")
        return None
    return name


def _licence(session: Session, problems: Problems, data: Mapping[str, Any]) -> str | None:
    licence_id = _text(problems, data, "license_id", max_length=100)
    if licence_id is not None and session.get(OpendataLicence, licence_id) is None:
        problems.add(
            "license_id",
            f"Giấy phép {licence_id} không có trong danh sách",
            f"Licence {licence_id} is not in the list",
        )
        return None
    return licence_id


@dataclass(frozen=True)
class Coverage:
    frequency: str
    start: date | None
    end: date | None
    unit_set: str
    unit_code: str


def _coverage(session: Session, problems: Problems, data: Mapping[str, Any]) -> Coverage:
    """Update frequency, temporal coverage (dates) and spatial coverage (a unit of either set)."""
    frequency = _text(problems, data, "update_frequency", max_length=32) or ""
    if frequency and frequency not in UPDATE_FREQUENCIES:
        problems.add(
            "update_frequency",
            "Tần suất cập nhật phải là một trong: " + ", ".join(UPDATE_FREQUENCIES),
            "The update frequency must be one of: " + ", ".join(UPDATE_FREQUENCIES),
        )
    start = _date(problems, data, "temporal_start")
    end = _date(problems, data, "temporal_end")
    if start and end and start > end:
        problems.add(
            "temporal_end", "Ngày kết thúc trước ngày bắt đầu", "The end date is before the start"
        )
    unit_set = _text(problems, data, "spatial_unit_set", max_length=16) or ""
    unit_code = _text(problems, data, "spatial_unit_code", max_length=16) or ""
    if unit_set or unit_code:
        if unit_set not in {member.value for member in UnitSet}:
            problems.add(
                "spatial_unit_set",
                "Bộ đơn vị hành chính phải là current hoặc legacy",
                "The unit set is current or legacy",
            )
        else:
            try:
                unit_service.get(session, UnitSet(unit_set), unit_code)
            except NotFound:
                problems.add(
                    "spatial_unit_code",
                    f"Đơn vị hành chính {unit_code} ({unit_set}) không tồn tại",
                    f"Administrative unit {unit_code} ({unit_set}) does not exist",
                )
    return Coverage(frequency, start, end, unit_set, unit_code)


def _tag_names(problems: Problems, data: Mapping[str, Any]) -> list[str]:
    tag_names = _names(problems, data, "tags")
    for tag_name in tag_names:
        if not TAG_PATTERN.fullmatch(tag_name):
            problems.add(
                "tags",
                f"Từ khóa không hợp lệ: {tag_name[:100]} (2-100 ký tự: chữ, số, -, _, .)",
                f"Tag not valid: {tag_name[:100]} (2-100 letters, digits, -, _, .)",
            )
    return tag_names


def _groups(session: Session, problems: Problems, data: Mapping[str, Any]) -> list[OpendataGroup]:
    group_names = _names(problems, data, "groups")
    groups = list(session.scalars(select(OpendataGroup).where(OpendataGroup.name.in_(group_names))))
    for missing in sorted(set(group_names) - {group.name for group in groups}):
        problems.add("groups", f"Nhóm {missing} không tồn tại", f"Group {missing} not found")
    return groups


def _resources(problems: Problems, data: Mapping[str, Any]) -> list[ResourceInput] | None:
    """The resources given (None: not given, the dataset keeps its own)."""
    if "resources" not in data:
        return None
    items = data["resources"]
    if not isinstance(items, list):
        problems.add("resources", "Phải là danh sách", "Must be a list")
        return []
    found: list[ResourceInput] = []
    for index, item in enumerate(items):
        resource = read_resource(problems, item, f"resources.{index}.")
        if resource is not None:
            found.append(resource)
    return found


def _new_resource(found: ResourceInput, position: int) -> OpendataResource:
    return OpendataResource(
        id=str(uuid.uuid4()),
        position=position,
        name=found.name,
        description=found.description,
        url=found.url,
        format=found.format,
        size=found.size,
        sha256=found.sha256,
        created_at=utcnow(),
    )


def _with_everything(query: Any) -> Any:
    return query.options(
        selectinload(OpendataDataset.resources),
        selectinload(OpendataDataset.tags),
        selectinload(OpendataDataset.groups),
        selectinload(OpendataDataset.licence),
    )


def load_datasets(session: Session, ids: list[str]) -> list[OpendataDataset]:
    """The datasets ``ids`` with their resources, tags, groups and licence, in that order."""
    found = {
        dataset.id: dataset
        for dataset in session.scalars(
            _with_everything(select(OpendataDataset)).where(OpendataDataset.id.in_(ids))
        )
    }
    return [found[dataset_id] for dataset_id in ids if dataset_id in found]


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


dataset_service = DatasetService()
