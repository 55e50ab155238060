"""Open311 GeoReport v2 documents: the specification's JSON (bare arrays) and XML
(``services/service``, ``service_definition``, ``service_requests/request``, ``errors/error``)
for categories, their questions, requests and errors, in the caller's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from xml.etree import ElementTree as etree  # noqa: N813 - building documents only, never parsing

from fastapi.responses import JSONResponse, Response

from tinhso.registry.organisations import organisation_service
from tinhso.registry.units import unit_service
from tinhso.reports.handling.states import EVENT_NAMES, STATE_NAMES, open311_status
from tinhso.reports.media.photos import first_photos
from tinhso.reports.models import Report, ReportCategory, ReportEvent
from tinhso.reports.service import report_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.core.i18n import Locale

Format = Literal["json", "xml"]


class Open311Error(Exception):
    def __init__(self, status: int, vi: str, en: str) -> None:
        super().__init__(en)
        self.status = status
        self.vi = vi
        self.en = en


def xml_document(root: str, item: str, rows: list[dict[str, Any]]) -> bytes:
    top = etree.Element(root)
    for row in rows:
        xml_fields(etree.SubElement(top, item), row)
    return document(top)


def document(top: etree.Element) -> bytes:
    return bytes(etree.tostring(top, xml_declaration=True, encoding="utf-8"))


def xml_fields(parent: etree.Element, row: dict[str, Any]) -> None:
    for name, value in row.items():
        child = etree.SubElement(parent, name)
        if isinstance(value, dict):
            xml_fields(child, value)
        elif isinstance(value, list):
            singular = {"attributes": "attribute", "values": "value", "notes": "note"}.get(
                name, "item"
            )
            for entry in value:
                element = etree.SubElement(child, singular)
                if isinstance(entry, dict):
                    xml_fields(element, entry)
                else:
                    element.text = str(entry)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)


def answer_document(
    fmt: Format, root: str, item: str, rows: list[dict[str, Any]], status: int = 200
) -> Response:
    if fmt == "xml":
        return Response(xml_document(root, item, rows), status, media_type="application/xml")
    return JSONResponse(rows, status)


def error_document(fmt: str, status: int, description: str) -> Response:
    rows = [{"code": status, "description": description}]
    if fmt == "xml":
        return Response(xml_document("errors", "error", rows), status, media_type="application/xml")
    return JSONResponse(rows, status)


def service_row(category: ReportCategory, locale: Locale) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name_vi if locale == "vi" else category.name_en,
        "description": category.description_vi if locale == "vi" else category.description_en,
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": category.keywords,
        "group": category.group_vi,
    }


def attribute_row(attribute: dict[str, Any], locale: Locale) -> dict[str, Any]:
    description = attribute.get("description", "")
    if locale != "vi" and attribute.get("description_en"):
        description = attribute["description_en"]
    found = {
        "variable": attribute.get("variable", True),
        "code": attribute["code"],
        "datatype": attribute["datatype"],
        "required": bool(attribute.get("required", False)),
        "datatype_description": attribute.get("datatype_description", ""),
        "order": attribute["order"],
        "description": description,
    }
    if attribute["datatype"] in ("singlevaluelist", "multivaluelist"):
        found["values"] = [
            {"key": value["key"], "name": value["name"]} for value in attribute.get("values", [])
        ]
    return found


def attribute_order(attribute: dict[str, Any]) -> int:
    return int(attribute["order"])


@dataclass(frozen=True)
class Names:
    categories: dict[int, ReportCategory]
    organisations: dict[int, str]
    units: dict[int, tuple[str, str]]  # id -> (code, name)
    photos: dict[int, int]  # report id -> its first photo's id
    base_url: str
    timelines: dict[int, list[ReportEvent]]  # only when the extensions are asked for


def names_of(
    session: Session,
    reports: list[Report],
    locale: Locale,
    base_url: str,
    *,
    extensions: bool = False,
) -> Names:
    categories = {c.id: c for c in report_service.categories(session, active_only=False)}
    organisations = organisation_service.by_ids(
        session, {r.organisation_id for r in reports if r.organisation_id is not None}
    )
    nodes = unit_service.nodes(session, {r.unit_id for r in reports if r.unit_id is not None})
    return Names(
        categories,
        {
            key: (o.name_vi if locale == "vi" or not o.name_en else o.name_en)
            for key, o in organisations.items()
        },
        {key: (node.code, node.name) for key, node in nodes.items()},
        first_photos(session, [r.id for r in reports]),
        base_url.rstrip("/"),
        report_service.timelines(session, [r.id for r in reports]) if extensions else {},
    )


def w3c(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def request_row(
    session: Session, report: Report, names: Names, locale: Locale, extensions: bool
) -> dict[str, Any]:
    category = names.categories[report.category_id]
    state = STATE_NAMES[report.state]
    unit = names.units.get(report.unit_id) if report.unit_id is not None else None
    address = report.address or (unit[1] if unit else "")
    row: dict[str, Any] = {
        "service_request_id": report.code,
        "status": open311_status(report.state),
        "status_notes": report.answer or (state.vi if locale == "vi" else state.en),
        "service_name": category.name_vi if locale == "vi" else category.name_en,
        "service_code": category.code,
        "description": report.description,
        "agency_responsible": names.organisations.get(report.organisation_id or 0, ""),
        "service_notice": "",
        "requested_datetime": w3c(report.created_at),
        "updated_datetime": w3c(report.closed_at or report.updated_at),
        "expected_datetime": w3c(report.resolve_due_at or report.accept_due_at),
        "address": address,
        "address_id": "",
        "zipcode": "",
        "lat": report.latitude,
        "long": report.longitude,
        "media_url": (
            f"{names.base_url}/reports/photos/{names.photos[report.id]}"
            if report.id in names.photos
            else ""
        ),
    }
    if report.reporter_public and report.reporter_name:
        row["requestor_name"] = report.reporter_name
    if extensions:
        row["extended_attributes"] = extended_attributes(session, report, unit, locale)
        row["notes"] = [
            {
                "datetime": w3c(event.at),
                "description": event.note
                or (
                    EVENT_NAMES.get(event.action, STATE_NAMES[event.to_state]).vi
                    if locale == "vi"
                    else EVENT_NAMES.get(event.action, STATE_NAMES[event.to_state]).en
                ),
                "type": event.action,
            }
            for event in names.timelines.get(report.id, [])
            if event.public
        ]
    return row


def extended_attributes(
    session: Session, report: Report, unit: tuple[str, str] | None, locale: Locale
) -> dict[str, Any]:
    state = STATE_NAMES[report.state]
    return {
        "state": report.state.value,
        "state_name": state.vi if locale == "vi" else state.en,
        "severity": report.severity.value,
        "channel": report.channel.value,
        "accept_due_datetime": w3c(report.accept_due_at),
        "resolve_due_datetime": w3c(report.resolve_due_at),
        "late": report_service.is_late(report),
        "extended": report.extended,
        "unit_code": unit[0] if unit else "",
        "unit_name": unit[1] if unit else "",
        "rating": report.rating.value if report.rating else "",
        "synthetic": report.synthetic,
    }
