"""Publishing open data in the portal: an agency's officers create a dataset (its URL name
suggested by folding the title, "Trường học" → truong-hoc) and upload its files; a CSV or
XLSX file is loaded into the datastore, and a refused one lists each row and cell, with
nothing stored. The rules are the CKAN API's (``opendata.access.require_publisher``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError, Forbidden
from tinhso.core.i18n import current_locale
from tinhso.core.web import DbSession
from tinhso.monitoring.values.number_format import NumberFormat
from tinhso.opendata.access import reader_of, require_publisher
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.listings import catalogue_service
from tinhso.opendata.catalogue.metadata import UPDATE_FREQUENCIES, UPLOAD_MAX_BYTES, FileUpload
from tinhso.opendata.catalogue.packages import organisations_by_id, package_dict
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render
from tinhso.registry.auth import administered_organisation_ids
from tinhso.registry.models import Role
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.opendata.models import OpendataDataset
    from tinhso.registry.auth import Principal

router = APIRouter()
_FIELDS = ("title", "name", "notes", "owner_org", "license_id", "update_frequency", "tags")


def _message(error: DomainError) -> str:
    return error.message.vi if current_locale.get() == "vi" else error.message.en


def _publishing_organisations(session: Session, principal: Principal) -> list[tuple[str, str]]:
    """(code, name) of the organisations the official publishes for (officer or admin): those
    ``roles_over`` gives an officer's or an administrator's role, found in one go (the
    administered trees and the direct roles) rather than an ancestry per organisation."""
    allowed = administered_organisation_ids(session, principal)
    if allowed is not None:
        allowed |= {
            organisation_id
            for organisation_id, role in principal.roles.items()
            if role in {Role.OFFICER, Role.ORGANISATION_ADMIN}
        }
    return [
        (organisation.code, organisation.name_vi)
        for organisation in organisation_service.list_all(session)
        if allowed is None or organisation.id in allowed
    ]


def _form_page(
    request: Request,
    session: Session,
    principal: Principal,
    form: dict[str, object],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    *,
    editing: str = "",
) -> Response:
    return render(
        request,
        "opendata/publish.html",
        {
            "form": form,
            "editing": editing,
            "errors": errors or {},
            "organisations": _publishing_organisations(session, principal),
            "licences": catalogue_service.licences(session),
            "themes": catalogue_service.groups(session, reader_of(session, principal)),
            "frequencies": UPDATE_FREQUENCIES,
        },
        status_code=status_code,
    )


@router.get(
    "/opendata/publish",
    summary="The form to publish a dataset (officers of a publishing organisation)",
)
def publish_page(request: Request, session: DbSession, principal: PortalUser) -> Response:
    form: dict[str, object] = dict.fromkeys(_FIELDS, "") | {"groups": [], "private": False}
    form["license_id"] = "cc-by-4.0"
    return _form_page(request, session, principal, form)


@dataclass
class DatasetForm:
    """The dataset's form as typed."""

    title: str = ""
    name: str = ""
    notes: str = ""
    owner_org: str = ""
    license_id: str = ""
    update_frequency: str = ""
    tags: str = ""
    groups: list[str] = field(default_factory=list)
    private: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def data(self) -> dict[str, object]:
        """What the CKAN actions take (the URL name only when one was typed)."""
        found: dict[str, object] = {
            "title": self.title,
            "notes": self.notes,
            "owner_org": self.owner_org,
            "license_id": self.license_id or None,
            "update_frequency": self.update_frequency,
            "tags": [{"name": tag.strip()} for tag in self.tags.split(",") if tag.strip()],
            "groups": [{"name": group} for group in self.groups],
            "private": self.private,
        }
        if self.name.strip():
            found["name"] = self.name.strip()
        return found


def _errors(error: DomainError, form: DatasetForm) -> dict[str, str]:
    """The service's problems at the form's fields (else at the title or the publisher)."""
    errors: dict[str, str] = {}
    fields = form.as_dict()
    for item in error.errors or []:
        key = item.field.split(".", 1)[0]
        text = item.message.vi if current_locale.get() == "vi" else item.message.en
        errors.setdefault(key if key in fields else "title", text)
    if not errors:
        errors["owner_org"] = _message(error)
    return errors


def _typed(
    title: str,
    name: str,
    notes: str,
    owner_org: str,
    license_id: str,
    update_frequency: str,
    tags: str,
    groups: list[str] | None,
    private: str,
) -> DatasetForm:
    return DatasetForm(
        title,
        name,
        notes,
        owner_org,
        license_id,
        update_frequency,
        tags,
        groups or [],
        private == "1",
    )


Title = Annotated[str, Form(max_length=600)]
Notes = Annotated[str, Form(max_length=20_100)]
Short = Annotated[str, Form(max_length=100)]
Tags = Annotated[str, Form(max_length=2000)]
Groups = Annotated[list[str] | None, Form(max_length=12)]
Flag = Annotated[str, Form(max_length=4)]


@router.post(
    "/opendata/publish",
    summary="Publish a dataset (officers of the publishing organisation; CSRF)",
)
def publish(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    title: Title = "",
    name: Annotated[str, Form(max_length=200)] = "",
    notes: Notes = "",
    owner_org: Short = "",
    license_id: Short = "",
    update_frequency: Annotated[str, Form(max_length=32)] = "",
    tags: Tags = "",
    groups: Groups = None,
    private: Flag = "",
) -> Response:
    form = _typed(
        title, name, notes, owner_org, license_id, update_frequency, tags, groups, private
    )
    try:
        dataset = dataset_service.create(session, reader_of(session, principal), form.data())
        session.commit()
    except DomainError as error:
        session.rollback()
        return _form_page(request, session, principal, form.as_dict(), _errors(error, form), 422)
    return RedirectResponse(f"/opendata/datasets/{dataset.name}", status_code=303)


def _editable(session: Session, principal: Principal, name: str) -> OpendataDataset:
    """The dataset, if this official publishes for its organisation (else 403 or 404)."""
    reader = reader_of(session, principal)
    dataset = dataset_service.find(session, reader, name)
    require_publisher(session, reader, dataset.organisation_id)
    return dataset


@router.get(
    "/opendata/datasets/{name}/edit",
    summary="The form to change a dataset's description (its publisher's officers)",
)
def edit_page(request: Request, session: DbSession, principal: PortalUser, name: str) -> Response:
    dataset = _editable(session, principal, name)
    found = package_dict(dataset, organisations_by_id(session))
    form = DatasetForm(
        title=found["title"] or "",
        name=dataset.name,
        notes=found["notes"] or "",
        owner_org=found["owner_org"] or "",
        license_id=found["license_id"] or "",
        update_frequency=found["update_frequency"] or "",
        tags=", ".join(tag["name"] for tag in found["tags"]),
        groups=[group["name"] for group in found["groups"]],
        private=bool(found["private"]),
    )
    return _form_page(request, session, principal, form.as_dict(), editing=dataset.name)


@router.post(
    "/opendata/datasets/{name}/edit",
    summary="Change a dataset's description; its history keeps the earlier one (its publisher's officers; CSRF)",
)
def edit(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    name: str,
    title: Title = "",
    notes: Notes = "",
    owner_org: Short = "",
    license_id: Short = "",
    update_frequency: Annotated[str, Form(max_length=32)] = "",
    tags: Tags = "",
    groups: Groups = None,
    private: Flag = "",
) -> Response:
    dataset = _editable(session, principal, name)
    form = _typed(
        title, dataset.name, notes, owner_org, license_id, update_frequency, tags, groups, private
    )
    data = form.data() | {"id": dataset.id}
    data.pop("name", None)
    try:
        dataset_service.patch(
            session, reader_of(session, principal), data, organisations_by_id(session)
        )
        session.commit()
    except DomainError as error:
        session.rollback()
        if isinstance(error, Forbidden):
            raise
        return _form_page(
            request,
            session,
            principal,
            form.as_dict(),
            _errors(error, form),
            422,
            editing=dataset.name,
        )
    return RedirectResponse(f"/opendata/datasets/{dataset.name}?changed=1", status_code=303)


@router.post(
    "/opendata/datasets/{name}/resources",
    summary="Upload a file to a dataset; CSV/XLSX rows go into the datastore (its publisher's officers; CSRF)",
)
async def upload_resource(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    name: str,
    upload: Annotated[UploadFile | None, File()] = None,
    resource_name: Annotated[str, Form(max_length=500)] = "",
    number_format: Annotated[str, Form(max_length=2)] = "",
) -> Response:
    from starlette.concurrency import run_in_threadpool  # noqa: PLC0415

    content = await upload.read(UPLOAD_MAX_BYTES + 1) if upload is not None else b""
    filename = (upload.filename if upload is not None else "") or "tep"
    return await run_in_threadpool(
        _store_upload,
        request,
        session,
        principal,
        name,
        FileUpload(
            filename,
            content,
            name=resource_name.strip(),
            number_format=NumberFormat(number_format) if number_format in {"vi", "en"} else None,
        ),
    )


def _store_upload(
    request: Request, session: Session, principal: Principal, name: str, upload: FileUpload
) -> Response:
    from tinhso.portal.opendata.pages import dataset_page  # noqa: PLC0415 - one page, two routes

    reader = reader_of(session, principal)
    try:
        dataset_service.attach_file(session, reader, name, upload, request.app.state.resource_files)
        session.commit()
    except Forbidden:
        session.rollback()
        raise  # the portal's 403 page: this official does not publish for the dataset
    except DomainError as error:
        session.rollback()
        problems = [
            item.message.vi if current_locale.get() == "vi" else item.message.en
            for item in error.errors
        ] or [_message(error)]
        return dataset_page(request, session, name, upload_problems=problems, status_code=422)
    return RedirectResponse(f"/opendata/datasets/{name}?uploaded=1", status_code=303)
