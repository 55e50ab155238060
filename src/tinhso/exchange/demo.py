"""Exchange demo data: services of the demo provinces' systems, a grant and a pending request.

Base URLs point at loopback ports where a demo provider may run; they are written directly
(the demo operator trusts them), bypassing the base-URL policy that guards the API. The loader
bumps the exchange state version in the caller's transaction; ``tinhso demo`` gives it a session
that announces the committed version on Redis when ``TINHSO_REDIS_URL`` is set
(:func:`tinhso.exchange.notices.announce_changes`), so running gateways reload at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinhso.core.db import utcnow
from tinhso.exchange import repository
from tinhso.exchange.connections.deadlines import answer_due
from tinhso.exchange.models import (
    Classification,
    ConnectionRequest,
    ExchangeService,
    Grant,
    RequestStatus,
    ServiceStatus,
)
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

_CITIZEN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"so_dinh_danh": {"type": "string", "pattern": "^[0-9]{12}$"}},
    "required": ["so_dinh_danh"],
}

# (organisation, system, code, name_vi, name_en, base_url, classification)
DEMO_SERVICES: list[tuple[str, str, str, str, str, str, Classification]] = [
    (
        "so-yte-bac-giang",
        "kham-tu-xa",
        "lich-su-kham",
        "Tra cứu lịch sử khám chữa bệnh",
        "Medical visit history lookup",
        "http://127.0.0.1:9101/kham-tu-xa",
        Classification.PERSONAL,
    ),
    (
        "so-tnmt-bac-giang",
        "csdl-dat-dai",
        "thua-dat",
        "Tra cứu thông tin thửa đất",
        "Land parcel lookup",
        "http://127.0.0.1:9102/dat-dai",
        Classification.INTERNAL,
    ),
]


def load_exchange_demo(
    session: Session, progress: Callable[[str, int], None] | None = None
) -> None:
    """Create the demo services, one approved grant and one pending request (idempotent)."""
    services = _demo_services(session)
    _approved_grant(session, services["lich-su-kham"])
    _pending_request(session, services["thua-dat"])
    session.flush()
    repository.bump_state(session)
    if progress:
        progress("exchange", len(DEMO_SERVICES))


def _demo_services(session: Session) -> dict[str, ExchangeService]:
    """The services of :data:`DEMO_SERVICES`, published, by code (created if missing)."""
    services: dict[str, ExchangeService] = {}
    for (
        organisation,
        system_code,
        code,
        name_vi,
        name_en,
        base_url,
        classification,
    ) in DEMO_SERVICES:
        provider = system_service.get(session, organisation, system_code)
        service = repository.service_by_key(session, provider.id, code, "v1")
        if service is None:
            now = utcnow()
            service = ExchangeService(
                provider_system_id=provider.id,
                code=code,
                version="v1",
                name_vi=name_vi,
                name_en=name_en,
                base_url=base_url,
                request_schema=_CITIZEN_SCHEMA
                if classification is Classification.PERSONAL
                else None,
                description_vi=name_vi,
                description_en=name_en,
                classification=classification,
                status=ServiceStatus.PUBLISHED,
                published_at=now,
            )
            session.add(service)
            session.flush()
        services[code] = service
    return services


def _approved_grant(session: Session, history: ExchangeService) -> None:
    """The one-stop shop's approved request for the medical history, and its grant (unless it
    already has a grant)."""
    one_stop = system_service.get(session, "ttpvhcc-bac-giang", "mot-cua")
    if (
        session.scalars(repository.grants_query(consumer_system_ids={one_stop.id})).first()
        is not None
    ):
        return
    now = utcnow()
    request = ConnectionRequest(
        consumer_system_id=one_stop.id,
        service_id=history.id,
        purpose="Giải quyết thủ tục cấp giấy chứng nhận sức khỏe tại bộ phận một cửa",
        legal_basis="Nghị định 194/2025/NĐ-CP; Nghị định 13/2023/NĐ-CP",
        requested_methods=["GET"],
        requested_paths=["/patients/{id}/visits"],
        status=RequestStatus.APPROVED,
        due_at=answer_due(now),
        decided_at=now,
        decision_reason="Đồng ý, giới hạn 20 yêu cầu/giây",
        created_at=now,
    )
    session.add(request)
    session.flush()
    session.add(
        Grant(
            connection_request_id=request.id,
            consumer_system_id=one_stop.id,
            service_id=history.id,
            allowed_methods=["GET"],
            allowed_paths=["/patients/{id}/visits"],
            valid_from=now,
            quota_per_day=10_000,
            rate_per_second=20,
            burst=40,
            created_at=now,
        )
    )


def _pending_request(session: Session, parcels: ExchangeService) -> None:
    """Viet Yen's request for the land parcels, awaiting an answer (unless it has one)."""
    viet_yen = system_service.get(session, "ubnd-viet-yen", "mot-cua-viet-yen")
    pending = repository.requests_query(consumer_system_ids={viet_yen.id})
    if session.scalars(pending).first() is not None:
        return
    now = utcnow()
    session.add(
        ConnectionRequest(
            consumer_system_id=viet_yen.id,
            service_id=parcels.id,
            purpose="Xác minh thông tin thửa đất khi giải quyết hồ sơ đất đai cấp xã",
            legal_basis="Luật Đất đai 2024; Nghị định 194/2025/NĐ-CP",
            requested_methods=["GET"],
            requested_paths=["/parcels/"],
            status=RequestStatus.PENDING,
            due_at=answer_due(now),
            created_at=now,
        )
    )
