"""A dataset's metadata and resources read from CKAN's input: each field checked, every
problem collected per field (vi/en), so the service can raise them together as one
:class:`InvalidInput` (CKAN's "Validation Error", field → messages)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tinhso.core.db import utcnow
from tinhso.core.errors import FieldError, InvalidInput, Message, NotFound
from tinhso.core.text import control_character
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.opendata.catalogue.folding import NAME_PATTERN, slug
from tinhso.opendata.datastore.columns import FieldType
from tinhso.opendata.models import (
    OpendataDataset,
    OpendataGroup,
    OpendataLicence,
    OpendataResource,
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


def format_of(url: str) -> str:
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


def read_text(
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


def read_boolean(problems: Problems, data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", ""}:
        return value.strip().lower() in {"true", "1"}
    problems.add(name, "Phải là true hoặc false", "Must be true or false")
    return False


def read_date(problems: Problems, data: Mapping[str, Any], name: str) -> date | None:
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


def read_names(problems: Problems, data: Mapping[str, Any], name: str) -> list[str]:
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
    url = read_text(local, data, "url", required=True, max_length=URL_MAX)
    if url is not None and not _URL.fullmatch(url):
        local.add("url", "URL phải bắt đầu bằng http:// hoặc https://", "The URL must be http(s)")
    name = read_text(local, data, "name") or ""
    resource_format = read_text(local, data, "format", max_length=32) or ""
    description = read_text(local, data, "description", max_length=NOTES_MAX, multiline=True) or ""
    size_value = data.get("size")
    size: int | None = None
    if size_value not in (None, ""):
        try:
            size = int(size_value)
            if size < 0:
                raise ValueError
        except (TypeError, ValueError):
            local.add("size", "Phải là số nguyên không âm", "Must be a non-negative integer")
    digest = read_text(local, data, "hash", max_length=71) or ""
    digest = digest.removeprefix("sha256:").lower()
    if digest and not re.fullmatch(r"[0-9a-f]{64}", digest):
        local.add("hash", "Phải là mã SHA-256 (64 ký tự hex)", "Must be a SHA-256 (64 hex digits)")
    for error in local.errors:
        problems.errors.append(FieldError(prefix + error.field, error.message))
    if local.errors or url is None:
        return None
    if not resource_format:
        resource_format = format_of(url)
    return ResourceInput(name, url, resource_format.upper()[:32], description, size, digest)


def check_upload(problems: Problems, upload: FileUpload) -> None:
    if not upload.content:
        problems.add("upload", "Tệp rỗng (0 byte)", "The file is empty (0 bytes)")
    if len(upload.content) > UPLOAD_MAX_BYTES:
        problems.add(
            "upload",
            f"Tệp lớn quá {UPLOAD_MAX_BYTES // 1_000_000} MB",
            f"The file is larger than {UPLOAD_MAX_BYTES // 1_000_000} MB",
        )


def read_owner(
    session: Session, problems: Problems, data: Mapping[str, Any]
) -> Organisation | None:
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


def read_name(
    session: Session,
    problems: Problems,
    data: Mapping[str, Any],
    dataset: OpendataDataset,
    title: str | None,
    *,
    creating: bool,
) -> str | None:
    """The dataset's name: as given, else folded from the title (kept on update)."""
    name = read_text(problems, data, "name", max_length=200)
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


def read_licence(session: Session, problems: Problems, data: Mapping[str, Any]) -> str | None:
    licence_id = read_text(problems, data, "license_id", max_length=100)
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


def read_coverage(session: Session, problems: Problems, data: Mapping[str, Any]) -> Coverage:
    """Update frequency, temporal coverage (dates) and spatial coverage (a unit of either set)."""
    frequency = read_text(problems, data, "update_frequency", max_length=32) or ""
    if frequency and frequency not in UPDATE_FREQUENCIES:
        problems.add(
            "update_frequency",
            "Tần suất cập nhật phải là một trong: " + ", ".join(UPDATE_FREQUENCIES),
            "The update frequency must be one of: " + ", ".join(UPDATE_FREQUENCIES),
        )
    start = read_date(problems, data, "temporal_start")
    end = read_date(problems, data, "temporal_end")
    if start and end and start > end:
        problems.add(
            "temporal_end", "Ngày kết thúc trước ngày bắt đầu", "The end date is before the start"
        )
    unit_set = read_text(problems, data, "spatial_unit_set", max_length=16) or ""
    unit_code = read_text(problems, data, "spatial_unit_code", max_length=16) or ""
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


def read_tag_names(problems: Problems, data: Mapping[str, Any]) -> list[str]:
    tag_names = read_names(problems, data, "tags")
    for tag_name in tag_names:
        if not TAG_PATTERN.fullmatch(tag_name):
            problems.add(
                "tags",
                f"Từ khóa không hợp lệ: {tag_name[:100]} (2-100 ký tự: chữ, số, -, _, .)",
                f"Tag not valid: {tag_name[:100]} (2-100 letters, digits, -, _, .)",
            )
    return tag_names


def read_groups(
    session: Session, problems: Problems, data: Mapping[str, Any]
) -> list[OpendataGroup]:
    group_names = read_names(problems, data, "groups")
    groups = list(session.scalars(select(OpendataGroup).where(OpendataGroup.name.in_(group_names))))
    for missing in sorted(set(group_names) - {group.name for group in groups}):
        problems.add("groups", f"Nhóm {missing} không tồn tại", f"Group {missing} not found")
    return groups


def read_resources(problems: Problems, data: Mapping[str, Any]) -> list[ResourceInput] | None:
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


def new_resource(found: ResourceInput, position: int) -> OpendataResource:
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
