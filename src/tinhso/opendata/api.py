"""The CKAN Action API: ``/api/3/action/<name>`` and ``/api/action/<name>`` (ckanapi's path).

Read actions answer GET (parameters in the query string) and POST; write actions POST only.
A POST carries a JSON object or a form. Every answer is CKAN's envelope
``{"help", "success", "result"}``, and every refusal ``{"help", "success": false, "error":
{"__type", "message", field: [messages]}}`` with CKAN's status: 404 "Not Found Error", 403
"Authorization Error", 409 "Validation Error", 400 "Search Query Error" (or "Bad Request" for a
body that is not a JSON object). Messages are Vietnamese, or English when the request's
Accept-Language asks for it.

Reads are anonymous (open data asks no identity). Writes take an official's API token, sent
as CKAN clients send their API key: ``Authorization: <token>`` (``Bearer <token>`` and
``X-CKAN-API-Key`` work too). Portal session cookies are not read here, so no cross-site
request can write through a signed-in browser.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from tinhso.core.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    Message,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from tinhso.core.i18n import parse_locale
from tinhso.core.storage import FileStore
from tinhso.core.web import DbSession, stored_file
from tinhso.opendata.access import Reader, reader_of
from tinhso.opendata.actions import ACTIONS, PREFIXES, Action, Call, Params
from tinhso.opendata.catalogue.datasets import dataset_service, no_datastore
from tinhso.opendata.catalogue.metadata import UPLOAD_MAX_BYTES, FileUpload
from tinhso.opendata.catalogue.search import (
    SearchQueryError,
)
from tinhso.opendata.datastore.dump import DUMP_FORMATS, dump
from tinhso.opendata.datastore.service import datastore_service
from tinhso.opendata.publishing.dcat import FORMATS, catalogue_graph, dataset_graph, serialise
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import principal_of
from tinhso.registry.models import CredentialKind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


router = APIRouter(tags=["opendata"])


# -- the envelope -----------------------------------------------------------------------------

_ERROR_TYPES: tuple[tuple[type[DomainError], str, int], ...] = (
    (SearchQueryError, "Search Query Error", 400),
    (NotFound, "Not Found Error", 404),
    (Forbidden, "Authorization Error", 403),
    (Unauthenticated, "Authorization Error", 403),
)


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


def _help(request: Request, name: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={name}"


def _error_response(request: Request, name: str, error: DomainError) -> JSONResponse:
    english = parse_locale(request.headers.get("accept-language")) == "en"

    def text(message: Message) -> str:
        return message.en if english else message.vi

    kind, status = "Validation Error", 409
    if isinstance(error, BadRequest):
        kind, status = "Bad Request", 400
    for error_class, error_kind, error_status in _ERROR_TYPES:
        if isinstance(error, error_class):
            kind, status = error_kind, error_status
            break
    body: dict[str, Any] = {"__type": kind, "message": f"{kind}: {text(error.message)}"}
    if kind == "Validation Error":
        for item in error.errors:
            body.setdefault(item.field, []).append(text(item.message))
    return JSONResponse(
        {"help": _help(request, name), "success": False, "error": body}, status_code=status
    )


async def _params(request: Request) -> Params:
    if request.method == "GET":
        return dict(request.query_params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        found: Params = {}
        async with request.form() as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    if key != "upload":
                        raise BadRequest(
                            f"Tệp chỉ được gửi trong trường upload, không phải {key[:50]}",
                            f"Files are sent in the upload field only, not {key[:50]}",
                            field=key,
                        )
                    content = await value.read(UPLOAD_MAX_BYTES + 1)
                    found[key] = FileUpload(value.filename or "tep", content)
                    continue
                found[key] = value
        return found
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Nội dung không phải JSON", "Bad request - JSON Error") from None
    if not isinstance(decoded, dict):
        raise BadRequest(
            "Nội dung phải là một đối tượng JSON", "Bad request - the body must be a JSON object"
        )
    return decoded


def _reader(request: Request, session: Session) -> Reader:
    header = request.headers.get("authorization") or request.headers.get("x-ckan-api-key") or ""
    scheme, _, rest = header.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else header.strip()
    if not token:
        return reader_of(session, None)
    user = account_service.authenticate(session, token, CredentialKind.API_TOKEN)
    if user is None:
        raise Forbidden(
            "Mã truy cập API không hợp lệ hoặc đã hết hạn",
            "The API token is not valid or has expired",
        )
    return reader_of(session, principal_of(session, user))


def _run(action: Action, request: Request, session: Session, params: Params) -> Any:
    base_url = str(request.base_url).rstrip("/")
    files = request.app.state.resource_files
    if action.name not in {"resource_create", "resource_update"} and "upload" in params:
        params = {key: value for key, value in params.items() if key != "upload"}
    return action.run(Call(session, _reader(request, session), params, base_url, files))


def _endpoint(action: Action) -> Callable[..., Any]:
    async def endpoint(request: Request, session: DbSession) -> JSONResponse:
        try:
            params = await _params(request)
            result = await run_in_threadpool(_run, action, request, session, params)
        except Unavailable:
            raise
        except DomainError as error:
            await run_in_threadpool(session.rollback)
            return _error_response(request, action.name, error)
        return JSONResponse(
            {"help": _help(request, action.name), "success": True, "result": result}
        )

    endpoint.__name__ = f"ckan_{action.name}"
    return endpoint


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "help": {"type": "string"},
        "success": {"type": "boolean", "const": False},
        "error": {
            "type": "object",
            "required": ["__type", "message"],
            "properties": {"__type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}
_SUCCESS_SCHEMA = {
    "type": "object",
    "required": ["help", "success", "result"],
    "properties": {
        "help": {"type": "string"},
        "success": {"type": "boolean", "const": True},
        "result": {},
    },
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "CKAN envelope / Phong bì CKAN",
        "content": {"application/json": {"schema": _SUCCESS_SCHEMA}},
    },
    **{
        status: {
            "description": f"CKAN error: {kind}",
            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
        }
        for status, kind in (
            (400, "Search Query Error, Bad Request"),
            (403, "Authorization Error"),
            (404, "Not Found Error"),
            (409, "Validation Error"),
        )
    },
}
_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            },
        },
    }
}


@router.get(
    "/dataset/{dataset_id}/resource/{resource_id}/download/{filename}",
    summary="Tải tệp của tài nguyên / Download a resource's file",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {"description": "The requested byte range (Range: bytes=...)"},
        302: {"description": "A presigned URL of the S3 store (only if the platform is set so)"},
        416: {"description": "The requested byte range is outside the file"},
        # Outside /api the portal answers errors as a page for browsers.
        "4XX": {
            "description": "Not found or not allowed (problem+json, or the portal's page)",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
    },
)
def download_resource(
    request: Request, session: DbSession, dataset_id: str, resource_id: str, filename: str
) -> Response:
    """The stored file of a resource (anonymous for public datasets, as every read), from the
    disk or streamed from the S3 store through the platform; both answer Range requests."""
    reader = _reader(request, session)
    dataset = dataset_service.find(session, reader, dataset_id)
    resource = dataset_service.find_resource(session, reader, resource_id)
    files: FileStore = request.app.state.resource_files
    key = resource.stored_path if resource.dataset_id == dataset.id else ""
    name = key.rsplit("/", 1)[-1]
    missing = NotFound(
        f"Không tìm thấy tệp {filename}", f"File {filename} not found", field="filename"
    )
    if not key or name != filename:
        raise missing
    return stored_file(
        request,
        files,
        key,
        media_type=_MEDIA_TYPES.get(resource.format),
        missing=missing,
        filename=name,
        sha256=resource.sha256,
    )


_MEDIA_TYPES = {
    "CSV": "text/csv; charset=utf-8",
    "JSON": "application/json",
    "GEOJSON": "application/geo+json",
    "PDF": "application/pdf",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


for _action in ACTIONS:
    for _prefix in PREFIXES:
        if _action.reads:
            router.add_api_route(
                f"{_prefix}/{_action.name}",
                _endpoint(_action),
                methods=["GET"],
                summary=_action.summary,
                response_class=JSONResponse,
                responses=_RESPONSES,
            )
        router.add_api_route(
            f"{_prefix}/{_action.name}",
            _endpoint(_action),
            methods=["POST"],
            summary=_action.summary,
            response_class=JSONResponse,
            responses=_RESPONSES,
            openapi_extra=_BODY,
        )


@router.get(
    "/datastore/dump/{resource_id}",
    summary="Tải bảng dữ liệu (CSV, JSON, XLSX) / Download a datastore table",
    response_class=StreamingResponse,
    responses={
        200: {"content": {media: {} for media in DUMP_FORMATS.values()}},
        "4XX": {
            "description": "Not found, not allowed or a bad format (problem+json, or a page)",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
    },
)
def datastore_dump(
    request: Request,
    session: DbSession,
    resource_id: str,
    format: str = "csv",
    bom: bool = True,
) -> StreamingResponse:
    """A resource's datastore table as a file (anonymous for public datasets, as every read)."""
    reader = _reader(request, session)
    resource = dataset_service.find_resource(session, reader, resource_id)
    store = datastore_service.find(session, resource.id)
    if store is None:
        raise no_datastore(resource_id)
    file_format = format.lower()
    output = dump(session, store, file_format, bom=bom)
    stem = Path(resource.stored_path).stem if resource.stored_path else resource.id
    return StreamingResponse(
        _chunks(output),
        media_type=DUMP_FORMATS[file_format],
        headers={"Content-Disposition": f'attachment; filename="{stem}.{file_format}"'},
    )


def _chunks(output: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := output.read(64 * 1024):
            yield chunk
    finally:
        output.close()


_RDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "DCAT-AP 3 (Turtle, RDF/XML or JSON-LD)",
        "content": {media: {"schema": {"type": "string"}} for _, media in FORMATS.values()},
    },
    "4XX": {
        # Outside /api the portal answers errors as a page for browsers.
        "description": "Not found or bad page (problem+json, or the portal's page)",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
            "text/html": {"schema": {"type": "string"}},
        },
    },
}


def _extension(extension: str) -> str:
    if extension not in FORMATS:
        raise NotFound(
            f"Không có định dạng {extension} (chỉ ttl, rdf, jsonld)",
            f"No format {extension} (only ttl, rdf, jsonld)",
            field="format",
        )
    return extension


@router.get(
    "/catalog.{extension}",
    summary="Danh mục DCAT-AP 3 / The DCAT-AP 3 catalogue",
    response_class=Response,
    responses=_RDF_RESPONSES,
)
def dcat_catalogue(request: Request, session: DbSession, extension: str, page: int = 1) -> Response:
    """The public catalogue as DCAT-AP 3, 100 datasets a page (Hydra paging)."""
    extension = _extension(extension)
    if page < 1 or page > 1_000_000:
        raise InvalidInput("Trang không hợp lệ", "Invalid page", field="page")
    site_url = str(request.base_url).rstrip("/")
    gateway_url = request.app.state.settings.gateway.public_url
    graph = catalogue_graph(session, site_url, extension, page, gateway_url)
    text, media_type = serialise(graph, extension)
    return Response(text, media_type=media_type)


@router.get(
    "/dataset/{name}.{extension}",
    summary="Bộ dữ liệu theo DCAT-AP 3 / A dataset as DCAT-AP 3",
    response_class=Response,
    responses=_RDF_RESPONSES,
)
def dcat_dataset(request: Request, session: DbSession, name: str, extension: str) -> Response:
    """One public dataset as DCAT-AP 3."""
    extension = _extension(extension)
    site_url = str(request.base_url).rstrip("/")
    text, media_type = serialise(dataset_graph(session, name, site_url), extension)
    return Response(text, media_type=media_type)
