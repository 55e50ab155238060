"""CKAN's actions, as the Action API runs them: each action's parameters read (CKAN's loose
types: strings, JSON lists, flags) and its service called, with no HTTP here (``api`` holds
the envelope, the routes, downloads and the DCAT documents). Read actions are anonymous; write
actions need a publisher (``access``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinhso import __version__
from tinhso.core.errors import (
    InvalidInput,
)
from tinhso.core.storage import FileStore
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.opendata.access import Reader
from tinhso.opendata.catalogue.datasets import dataset_service, no_datastore
from tinhso.opendata.catalogue.listings import catalogue_service
from tinhso.opendata.catalogue.metadata import FileUpload
from tinhso.opendata.catalogue.packages import organisations_by_id, package_dict, resource_dict
from tinhso.opendata.catalogue.search import (
    FACET_FIELDS,
    FACET_LIMIT_DEFAULT,
    ROWS_DEFAULT,
    ROWS_MAX,
    SearchQuery,
    SearchQueryError,
    search,
)
from tinhso.opendata.datastore.columns import FieldType
from tinhso.opendata.datastore.search import (
    LIMIT_DEFAULT,
    LIMIT_MAX,
    RECORDS_FORMATS,
    DatastoreQuery,
    search_rows,
)
from tinhso.opendata.datastore.service import datastore_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.opendata.models import OpendataDatastore, OpendataResource

PREFIXES = ("/api/3/action", "/api/action")
CKAN_VERSION = "2.10.0"  # the Action API version this catalogue answers like

Params = dict[str, Any]


@dataclass(frozen=True)
class Call:
    session: Session
    reader: Reader
    params: Params
    base_url: str
    files: FileStore


@dataclass(frozen=True)
class Action:
    name: str
    reads: bool
    run: Callable[[Call], Any]
    summary: str


# -- parameters -------------------------------------------------------------------------------


def _invalid(name: str, vi: str, en: str) -> InvalidInput:
    return InvalidInput(vi, en, field=name)


def _integer(params: Params, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _invalid(name, "Phải là số nguyên", "Invalid integer") from None
    if not low <= number <= high:
        raise _invalid(name, f"Phải từ {low} đến {high}", f"Must be between {low} and {high}")
    return number


def _flag(params: Params, name: str, *, default: bool = False) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0"}:
        return value.lower() in {"true", "1"}
    raise _invalid(name, "Phải là true hoặc false", "Must be true or false")


def _string(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(name, "Phải là chuỗi ký tự", "Must be a string")
    if "\x00" in value or len(value) > 1000:
        raise _invalid(name, "Chuỗi không hợp lệ", "Not a valid string")
    return value


def _facet_fields(params: Params) -> tuple[str, ...]:
    value = params.get("facet.field")
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SearchQueryError(
            "facet.field phải là danh sách JSON",
            "facet.field must be a JSON list",
            field="facet.field",
        )
    for item in value:
        if item not in FACET_FIELDS:
            raise SearchQueryError(
                f"Không có bộ đếm theo {item[:100]} (được: {', '.join(FACET_FIELDS)})",
                f"No facet on {item[:100]} (allowed: {', '.join(FACET_FIELDS)})",
                field="facet.field",
            )
    return tuple(dict.fromkeys(value))


# -- actions ----------------------------------------------------------------------------------


def _status_show(call: Call) -> Any:
    return {
        "site_title": "Cổng dữ liệu mở — tinhso",
        "site_description": "Danh mục dữ liệu mở của tỉnh / The province's open data catalogue",
        "site_url": call.base_url,
        "ckan_version": CKAN_VERSION,
        "tinhso_version": __version__,
        "error_emails_to": None,
        "locale_default": "vi",
        "extensions": [],
    }


def _package_list(call: Call) -> Any:
    limit = _integer(call.params, "limit", -1, -1, 1_000_000)
    offset = _integer(call.params, "offset", 0, 0, 1_000_000_000)
    return dataset_service.names(call.session, None if limit < 0 else limit, offset)


def _package_show(call: Call) -> Any:
    dataset = dataset_service.find(call.session, call.reader, call.params.get("id"))
    return package_dict(dataset, organisations_by_id(call.session), call.base_url)


def _package_search(call: Call) -> Any:
    params = call.params
    query = SearchQuery(
        q=_string(params, "q"),
        fq=_string(params, "fq"),
        rows=_integer(params, "rows", ROWS_DEFAULT, 0, ROWS_MAX),
        start=_integer(params, "start", 0, 0, 1_000_000_000),
        sort=_string(params, "sort"),
        facet_fields=_facet_fields(params),
        facet_limit=_integer(params, "facet.limit", FACET_LIMIT_DEFAULT, -1, 10_000),
        facet_mincount=_integer(params, "facet.mincount", 1, 0, 1_000_000_000),
        include_private=_flag(params, "include_private"),
    )
    found = search(call.session, call.reader, query, call.base_url)
    corrected: dict[str, Any] = {}
    if found.corrected is not None:
        # not CKAN's: the exact query found nothing and the typo-tolerant match answered
        corrected["search_corrected"] = {
            "query": found.corrected["query"],
            "used": found.corrected["used"],
            "used_written": found.corrected["used_written"],
        }
    return {
        **corrected,
        "count": found.count,
        "sort": found.sort,
        "results": found.results,
        "facets": {
            name: {item.name: item.count for item in items} for name, items in found.facets.items()
        },
        "search_facets": {
            name: {
                "title": name,
                "items": [
                    {"name": item.name, "display_name": item.display_name, "count": item.count}
                    for item in items
                ],
            }
            for name, items in found.facets.items()
        },
    }


def _names_or_dicts(call: Call, found: list[dict[str, Any]]) -> Any:
    if _flag(call.params, "all_fields"):
        return found
    return [item["name"] for item in found]


def _organization_list(call: Call) -> Any:
    return _names_or_dicts(call, catalogue_service.organisations(call.session, call.reader))


def _organization_show(call: Call) -> Any:
    found = catalogue_service.organisation(call.session, call.reader, call.params.get("id"))
    return _with_datasets(call, found, "organization")


def _group_list(call: Call) -> Any:
    return _names_or_dicts(call, catalogue_service.groups(call.session, call.reader))


def _group_show(call: Call) -> Any:
    found = catalogue_service.group(call.session, call.reader, call.params.get("id"))
    return _with_datasets(call, found, "groups")


def _with_datasets(call: Call, found: dict[str, Any], facet: str) -> dict[str, Any]:
    if _flag(call.params, "include_datasets"):
        result = search(
            call.session,
            call.reader,
            SearchQuery(fq=f'{facet}:"{found["name"]}"', rows=ROWS_MAX, include_private=True),
            call.base_url,
        )
        found["packages"] = result.results
    return found


def _tag_list(call: Call) -> Any:
    return catalogue_service.tags(call.session, call.reader, _string(call.params, "query"))


def _license_list(call: Call) -> Any:
    return catalogue_service.licences(call.session)


def _resource_show(call: Call) -> Any:
    resource = dataset_service.find_resource(call.session, call.reader, call.params.get("id"))
    return resource_dict(resource, resource.dataset_id, call.base_url)


def _package_create(call: Call) -> Any:
    dataset = dataset_service.create(call.session, call.reader, call.params)
    return package_dict(dataset, organisations_by_id(call.session), call.base_url)


def _package_update(call: Call) -> Any:
    dataset = dataset_service.update(call.session, call.reader, call.params)
    return package_dict(dataset, organisations_by_id(call.session), call.base_url)


def _package_patch(call: Call) -> Any:
    organisations = organisations_by_id(call.session)
    dataset = dataset_service.patch(call.session, call.reader, call.params, organisations)
    return package_dict(dataset, organisations, call.base_url)


def _package_delete(call: Call) -> Any:
    dataset_service.delete(call.session, call.reader, call.params.get("id"))
    return None


def _resource_create(call: Call) -> Any:
    upload = call.params.get("upload")
    if isinstance(upload, FileUpload):
        resource = dataset_service.attach_file(
            call.session,
            call.reader,
            call.params.get("package_id"),
            _upload_of(call, upload),
            call.files,
        )
        return resource_dict(resource, resource.dataset_id, call.base_url)
    resource = dataset_service.add_resource(call.session, call.reader, call.params)
    return resource_dict(resource, resource.dataset_id, call.base_url)


def _package_activity_list(call: Call) -> Any:
    found = dataset_service.activities(
        call.session,
        call.reader,
        call.params.get("id"),
        limit=_integer(call.params, "limit", 31, 1, 100),
        offset=_integer(call.params, "offset", 0, 0, 1_000_000),
    )
    return [
        {
            "id": activity.id,
            "timestamp": activity.timestamp.replace(tzinfo=None).isoformat(),
            "user_id": str(activity.user_id) if activity.user_id is not None else None,
            "object_id": activity.dataset_id,
            "activity_type": activity.activity_type,
            "data": activity.data,
        }
        for activity in found
    ]


def _upload_of(call: Call, upload: FileUpload) -> FileUpload:
    return FileUpload(
        upload.filename,
        upload.content,
        name=_string(call.params, "name"),
        format=_string(call.params, "format")[:32],
        description=_string(call.params, "description"),
        number_format=_number_format(call.params),
    )


def _number_format(params: Params) -> NumberFormat | None:
    value = _string(params, "number_format")
    if not value:
        return None
    try:
        return NumberFormat(value)
    except ValueError:
        raise _invalid(
            "number_format",
            "Phải là vi (1.380,5) hoặc en (1,380.5)",
            "Must be vi (1.380,5) or en (1,380.5)",
        ) from None


def _resource_update(call: Call) -> Any:
    upload = call.params.get("upload")
    if isinstance(upload, FileUpload):
        resource = dataset_service.replace_file(
            call.session,
            call.reader,
            call.params.get("id"),
            _upload_of(call, upload),
            call.files,
        )
    else:
        resource = dataset_service.update_resource(call.session, call.reader, call.params)
    return resource_dict(resource, resource.dataset_id, call.base_url)


def _json_param(params: Params, name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str) and value.strip()[:1] in {"{", "["}:
        try:
            return json.loads(value)
        except ValueError:
            raise _invalid(name, "JSON không hợp lệ", "Not valid JSON") from None
    return value


def _datastore_query(params: Params) -> DatastoreQuery:
    filters = _json_param(params, "filters") or {}
    if not isinstance(filters, dict):
        raise _invalid("filters", "Phải là đối tượng JSON", "Must be a JSON object")
    q = _json_param(params, "q") or ""
    if not isinstance(q, str | dict):
        raise _invalid("q", "Phải là chuỗi hoặc đối tượng JSON", "Must be a string or an object")
    if isinstance(q, str):
        q = _string(params, "q")
    fields = _json_param(params, "fields")
    if isinstance(fields, str):
        fields = [name.strip() for name in fields.split(",") if name.strip()]
    if fields is not None and (
        not isinstance(fields, list) or not all(isinstance(name, str) for name in fields)
    ):
        raise _invalid("fields", "Phải là danh sách tên trường", "Must be a list of field names")
    records_format = _string(params, "records_format") or "objects"
    if records_format not in RECORDS_FORMATS:
        raise _invalid(
            "records_format",
            f"Chỉ nhận {', '.join(RECORDS_FORMATS)}",
            f"Only {', '.join(RECORDS_FORMATS)}",
        )
    return DatastoreQuery(
        filters=filters,
        q=q,
        limit=_integer(params, "limit", LIMIT_DEFAULT, 0, LIMIT_MAX),
        offset=_integer(params, "offset", 0, 0, 1_000_000_000),
        sort=_string(params, "sort"),
        fields=fields or None,
        include_total=_flag(params, "include_total", default=True),
        records_format=records_format,
    )


def _datastore_of(call: Call) -> tuple[OpendataResource, OpendataDatastore]:
    resource_id = call.params.get("resource_id") or call.params.get("id")
    resource = dataset_service.find_resource(call.session, call.reader, resource_id)
    store = datastore_service.find(call.session, resource.id)
    if store is None:
        raise no_datastore(resource_id)
    return resource, store


def _readable_store(call: Call) -> OpendataDatastore:
    """The table to read (resource, dataset, access and fields in one statement)."""
    resource_id = call.params.get("resource_id") or call.params.get("id")
    return dataset_service.find_datastore(call.session, call.reader, resource_id)


def _datastore_search(call: Call) -> Any:
    query = _datastore_query(call.params)
    store = _readable_store(call)
    return search_rows(call.session, store, query, "/api/3/action/datastore_search")


def _datastore_info(call: Call) -> Any:
    return datastore_service.info(_readable_store(call))


def _field_types(params: Params) -> dict[str, FieldType]:
    fields = _json_param(params, "fields") or []
    if not isinstance(fields, list):
        raise _invalid("fields", "Phải là danh sách", "Must be a list")
    found: dict[str, FieldType] = {}
    for item in fields:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise _invalid("fields", "Mỗi trường cần id", "Each field needs an id")
        try:
            found[item["id"]] = FieldType(str(item.get("type") or "text"))
        except ValueError:
            raise _invalid(
                "fields",
                f"Kiểu của {item['id'][:60]} phải là một trong {', '.join(FieldType)}",
                f"The type of {item['id'][:60]} must be one of {', '.join(FieldType)}",
            ) from None
    return found


def _indexes(params: Params) -> list[list[str]] | None:
    """CKAN's ``indexes``: a comma-separated string of field ids (one index each), or a list
    whose items are a field id or several (a list, or a comma-separated string: a composite
    index). Every column already has an index of its own. None: keep the declared ones."""
    value = _json_param(params, "indexes")
    if value is None:
        return None
    if isinstance(value, str):
        value = [[name] for name in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(item, str | list) for item in value):
        raise _invalid("indexes", "Phải là danh sách", "Must be a list")
    found: list[list[str]] = []
    for item in value:
        names = item.split(",") if isinstance(item, str) else item
        if not all(isinstance(name, str) for name in names):
            raise _invalid("indexes", "Tên trường phải là chuỗi", "Field ids must be strings")
        found.append([name.strip() for name in names if name.strip()])
    return found


def _datastore_create(call: Call) -> Any:
    """Set column types and load the resource's stored file again (records are not taken:
    rows come from the file, so the file and the table never disagree)."""
    if call.params.get("records"):
        raise _invalid(
            "records",
            "Kho dữ liệu chỉ nạp từ tệp của tài nguyên: hãy tải tệp mới (resource_update)",
            "The datastore loads only from the resource's file: upload a new file "
            "(resource_update)",
        )
    overrides = _field_types(call.params)
    indexes = _indexes(call.params)
    resource = dataset_service.find_resource(
        call.session, call.reader, call.params.get("resource_id")
    )
    content = dataset_service.file_content(call.session, call.reader, resource, call.files)
    store = datastore_service.retype(call.session, resource, content, overrides, indexes)
    return {"resource_id": resource.id, **datastore_service.info(store)}


def _datastore_delete(call: Call) -> Any:
    if call.params.get("filters"):
        raise _invalid(
            "filters",
            "Không xoá từng dòng: dữ liệu đến từ tệp, hãy tải tệp mới",
            "Rows are not deleted one by one: the data comes from the file, upload a new one",
        )
    resource, _ = _datastore_of(call)
    dataset_service.drop_datastore(call.session, call.reader, resource)
    return {"resource_id": resource.id}


def _resource_delete(call: Call) -> Any:
    dataset_service.delete_resource(call.session, call.reader, call.params.get("id"))
    return None


def _read(name: str, run: Callable[[Call], Any], summary: str) -> Action:
    return Action(name, reads=True, run=run, summary=summary)


def _write(name: str, run: Callable[[Call], Any], summary: str) -> Action:
    return Action(name, reads=False, run=run, summary=summary)


ACTIONS = (
    _read("status_show", _status_show, "Trạng thái cổng / Site status"),
    _read("package_list", _package_list, "Tên các bộ dữ liệu / Dataset names"),
    _read("package_show", _package_show, "Một bộ dữ liệu / One dataset"),
    _read("package_search", _package_search, "Tìm bộ dữ liệu / Search datasets"),
    _read(
        "package_activity_list",
        _package_activity_list,
        "Lịch sử thay đổi bộ dữ liệu / A dataset's changes",
    ),
    _read("organization_list", _organization_list, "Tổ chức công bố / Publishers"),
    _read("organization_show", _organization_show, "Một tổ chức / One publisher"),
    _read("group_list", _group_list, "Nhóm chủ đề / Themes"),
    _read("group_show", _group_show, "Một nhóm chủ đề / One theme"),
    _read("tag_list", _tag_list, "Từ khóa / Tags"),
    _read("license_list", _license_list, "Giấy phép / Licences"),
    _read("resource_show", _resource_show, "Một tài nguyên / One resource"),
    _read("datastore_search", _datastore_search, "Tìm dòng dữ liệu / Search a datastore table"),
    _read("datastore_info", _datastore_info, "Cấu trúc bảng dữ liệu / A datastore table's fields"),
    _write("package_create", _package_create, "Tạo bộ dữ liệu / Create a dataset"),
    _write("package_update", _package_update, "Cập nhật bộ dữ liệu / Update a dataset"),
    _write("package_patch", _package_patch, "Sửa một phần / Patch a dataset"),
    _write("package_delete", _package_delete, "Xóa bộ dữ liệu / Delete a dataset"),
    _write("resource_create", _resource_create, "Thêm tài nguyên / Add a resource"),
    _write("resource_update", _resource_update, "Cập nhật tài nguyên / Update a resource"),
    _write("resource_delete", _resource_delete, "Xóa tài nguyên / Delete a resource"),
    _write("datastore_create", _datastore_create, "Đặt kiểu cột, nạp lại / Set column types"),
    _write("datastore_delete", _datastore_delete, "Xóa bảng dữ liệu / Drop a datastore table"),
)
