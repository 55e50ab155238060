"""The audit log in the portal: a system's officials search its exchanges (time, counterpart,
service, status), open one record with its place in the chain and its proof (hash, link,
chain to the signed checkpoint, signature), and platform administrators export a time range
with everything needed to check it away from the platform (``tinhso audit export``'s
document), for a dispute."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tinhso.core.errors import DomainError, Forbidden, InvalidInput
from tinhso.core.i18n import current_locale
from tinhso.core.web import DbSession
from tinhso.exchange import auth, repository
from tinhso.exchange.audit.proof import export
from tinhso.exchange.audit.search import (
    STATUS_CLASSES,
    AuditQuery,
    record_proof,
    search_records,
    visible_record,
)
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from tinhso.exchange.models import AuditRecord
    from tinhso.registry.auth import Principal

router = APIRouter()
PAGE_SIZE = 50
EXPORT_MAX_DAYS = 31
VIETNAM_OFFSET = timedelta(hours=7)


def _systems(session: Session, principal: Principal) -> list[str] | None:
    """The systems ("org/system") whose exchanges the official may see; None: all."""
    visible = auth.visible_system_ids(session, principal)
    if visible is None:
        return None
    return sorted("/".join(label) for label in repository.system_labels(session, visible).values())


def _day(text: str, field: str, *, end: bool = False) -> datetime | None:
    """A day written dd/mm/yyyy (Vietnam time) as the UTC moment it starts (or ends)."""
    if not text.strip():
        return None
    try:
        day = datetime.strptime(text.strip(), "%d/%m/%Y").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(
            "Ngày phải có dạng dd/mm/yyyy", "Dates are written dd/mm/yyyy", field=field
        ) from None
    start = datetime.combine(day.date(), time(), tzinfo=UTC) - VIETNAM_OFFSET
    return start + timedelta(days=1) if end else start


def _message(error: DomainError) -> str:
    return error.message.vi if current_locale.get() == "vi" else error.message.en


@router.get(
    "/exchange/audit",
    summary="Search the audit log of one's systems by time, counterpart, service and status (officials; platform admins: all)",
)
def audit_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
    counterpart: Annotated[str, Query(max_length=200)] = "",
    service: Annotated[str, Query(max_length=300)] = "",
    status: Annotated[str, Query(max_length=3)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    form = {"from": start, "to": end, "counterpart": counterpart, "service": service}
    form["status"] = status
    errors: dict[str, str] = {}
    rows: list[AuditRecord] = []
    total = 0
    systems = _systems(session, principal)
    try:
        query = AuditQuery(
            start=_day(start, "from"),
            end=_day(end, "to", end=True),
            counterpart=counterpart,
            service=service,
            status=status,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        rows, total = search_records(session, query, systems)
    except DomainError as error:
        field = error.errors[0].field if error.errors else "from"
        errors[field] = _message(error)
    return render(
        request,
        "exchange/audit.html",
        {
            "form": form,
            "errors": errors,
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "statuses": STATUS_CLASSES,
            "systems": systems,
            "may_export": principal.is_platform_admin,
        },
        status_code=422 if errors else 200,
    )


@router.get(
    "/exchange/audit/{seq:int}",
    summary="One audit record with its place in the chain and its proof (officials of a party; platform admins)",
)
def audit_record_page(
    request: Request, session: DbSession, principal: PortalUser, seq: int
) -> Response:
    record = visible_record(session, seq, _systems(session, principal))
    return render(
        request,
        "exchange/audit_record.html",
        {"record": record, "proof": record_proof(session, record)},
    )


@router.get(
    "/exchange/audit/export",
    summary="Export a time range of the audit log with its proof, as JSON (platform admins)",
)
def audit_export(
    session: DbSession,
    principal: PortalUser,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    if not principal.is_platform_admin:
        raise Forbidden(
            "Chỉ quản trị viên nền tảng xuất được nhật ký kèm bằng chứng (có bản ghi của các bên khác)",
            "Only platform administrators export the log with its proof (it holds other parties' records)",
        )
    first = _day(start, "from")
    last = _day(end, "to", end=True)
    if first is None or last is None or last <= first:
        raise InvalidInput(
            "Hãy chọn khoảng ngày (từ ngày, đến ngày)",
            "Choose a range of days (from, to)",
            field="from",
        )
    if last - first > timedelta(days=EXPORT_MAX_DAYS):
        raise InvalidInput(
            f"Mỗi lần xuất tối đa {EXPORT_MAX_DAYS} ngày",
            f"At most {EXPORT_MAX_DAYS} days per export",
            field="to",
        )
    engine: Engine = session.get_bind()  # type: ignore[assignment]
    document = export(engine, first, last)
    name = f"nhat-ky-trao-doi-{start.replace('/', '-')}-{end.replace('/', '-')}.json"
    return Response(
        json.dumps(document, ensure_ascii=False, indent=1, default=str),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
