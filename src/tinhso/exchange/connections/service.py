"""Connection requests (Decree 194/2025) from consumer systems to published services, the
provider's decisions on them (approval creating a grant, possibly narrowed; refusal;
withdrawal), answer deadlines, and revocation of grants.

Services flush and never commit. Approving and revoking bump the exchange state version in
the same transaction, so gateways reload their snapshot (see snapshot.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tinhso.core.calendar import load_calendar
from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, InvalidInput, NotFound
from tinhso.exchange import repository
from tinhso.exchange.connections.deadlines import answer_due
from tinhso.exchange.models import (
    ConnectionRequest,
    ExchangeService,
    Grant,
    RequestStatus,
    ServiceStatus,
)
from tinhso.exchange.policy import path_matches
from tinhso.registry.models import InformationSystem, SystemStatus
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.exchange.schemas import ApprovalCreate, ConnectionRequestCreate


class ConnectionService:
    """Connection requests (Decree 194/2025), decisions, grants and revocation."""

    def consumer_system(
        self, session: Session, organisation_code: str, code: str
    ) -> InformationSystem:
        system = system_service.get(session, organisation_code, code)
        if not system.is_consumer:
            raise InvalidInput(
                f"Hệ thống {organisation_code}/{code} không được đăng ký là hệ thống khai thác",
                f"System {organisation_code}/{code} is not registered as a consumer",
                field="consumer",
            )
        if system.status is not SystemStatus.ACTIVE:
            raise Conflict(
                f"Hệ thống {organisation_code}/{code} không ở trạng thái hoạt động",
                f"System {organisation_code}/{code} is not active",
                field="consumer",
            )
        return system

    def get_request(self, session: Session, request_id: int) -> ConnectionRequest:
        request = session.get(ConnectionRequest, request_id)
        if request is None:
            raise NotFound(
                f"Không tìm thấy yêu cầu kết nối {request_id}",
                f"Connection request {request_id} not found",
                field="id",
            )
        return request

    def get_grant(self, session: Session, grant_id: int) -> Grant:
        grant = session.get(Grant, grant_id)
        if grant is None:
            raise NotFound(
                f"Không tìm thấy quyền khai thác {grant_id}",
                f"Grant {grant_id} not found",
                field="id",
            )
        return grant

    def submit(
        self,
        session: Session,
        consumer: InformationSystem,
        service: ExchangeService,
        data: ConnectionRequestCreate,
        user_id: int | None,
    ) -> ConnectionRequest:
        if service.status is not ServiceStatus.PUBLISHED:
            raise Conflict(
                "Dịch vụ chưa được công bố hoặc đã ngừng nhận yêu cầu mới",
                "The service is not published or no longer takes new requests",
                field="service",
            )
        if consumer.id == service.provider_system_id:
            raise InvalidInput(
                "Hệ thống không cần yêu cầu kết nối tới dịch vụ của chính mình",
                "A system does not request access to its own service",
                field="consumer",
            )
        pending = session.scalars(
            repository.requests_query(
                consumer_system_ids={consumer.id},
                service_ids={service.id},
                status=RequestStatus.PENDING,
            )
        ).first()
        if pending is not None:
            raise Conflict(
                f"Đã có yêu cầu kết nối đang chờ xử lý (số {pending.id})",
                f"A connection request is already pending (number {pending.id})",
                field="service",
            )
        now = utcnow()
        request = ConnectionRequest(
            consumer_system_id=consumer.id,
            service_id=service.id,
            purpose=data.purpose,
            legal_basis=data.legal_basis,
            requested_methods=sorted(set(data.requested_methods)),
            requested_paths=list(dict.fromkeys(data.requested_paths)),
            status=RequestStatus.PENDING,
            due_at=answer_due(now, calendar=load_calendar(session)),
            created_by_user_id=user_id,
            created_at=now,
        )
        session.add(request)
        session.flush()
        return request

    def approve(
        self,
        session: Session,
        request: ConnectionRequest,
        data: ApprovalCreate,
        user_id: int | None,
    ) -> Grant:
        self._require_pending(request)
        service = session.get(ExchangeService, request.service_id)
        if service is None or service.status is not ServiceStatus.PUBLISHED:
            raise Conflict(
                "Dịch vụ không còn ở trạng thái công bố",
                "The service is no longer published",
                field="service",
            )
        methods = sorted(set(data.allowed_methods or request.requested_methods))
        extra = set(methods) - set(request.requested_methods)
        if extra:
            raise InvalidInput(
                f"Chỉ được thu hẹp phương thức đã yêu cầu; không được thêm {', '.join(sorted(extra))}",
                f"Approval may only narrow the requested methods; not add {', '.join(sorted(extra))}",
                field="allowed_methods",
            )
        paths = list(dict.fromkeys(data.allowed_paths or request.requested_paths))
        for path in paths:
            if not any(_covers(requested, path) for requested in request.requested_paths):
                raise InvalidInput(
                    f"Đường dẫn {path} không nằm trong phạm vi đã yêu cầu",
                    f"Path {path} is outside what was requested",
                    field="allowed_paths",
                )
        now = utcnow()
        valid_from = data.valid_from or now
        if data.valid_until is not None and (
            data.valid_until <= valid_from or data.valid_until <= now
        ):
            raise InvalidInput(
                "Thời hạn hiệu lực phải sau ngày bắt đầu và sau thời điểm hiện tại",
                "valid_until must be after valid_from and in the future",
                field="valid_until",
            )
        if data.burst is not None and data.rate_per_second is None:
            raise InvalidInput(
                "Chỉ đặt 'burst' khi có giới hạn tốc độ (rate_per_second)",
                "Set burst only together with rate_per_second",
                field="burst",
            )
        grant = Grant(
            connection_request_id=request.id,
            consumer_system_id=request.consumer_system_id,
            service_id=request.service_id,
            allowed_methods=methods,
            allowed_paths=paths,
            valid_from=valid_from,
            valid_until=data.valid_until,
            quota_per_day=data.quota_per_day,
            rate_per_second=data.rate_per_second,
            burst=data.burst if data.burst is not None else data.rate_per_second,
            created_by_user_id=user_id,
            created_at=now,
        )
        request.status = RequestStatus.APPROVED
        request.decided_at = now
        request.decided_by_user_id = user_id
        request.decision_reason = data.reason
        session.add(grant)
        session.flush()
        repository.bump_state(session)
        return grant

    def refuse(
        self, session: Session, request: ConnectionRequest, reason: str, user_id: int | None
    ) -> ConnectionRequest:
        self._require_pending(request)
        if not reason.strip():
            raise InvalidInput(
                "Phải nêu lý do từ chối", "A reason for the refusal is required", field="reason"
            )
        request.status = RequestStatus.REFUSED
        request.decided_at = utcnow()
        request.decided_by_user_id = user_id
        request.decision_reason = reason.strip()
        session.flush()
        return request

    def withdraw(
        self, session: Session, request: ConnectionRequest, reason: str | None, user_id: int | None
    ) -> ConnectionRequest:
        self._require_pending(request)
        request.status = RequestStatus.WITHDRAWN
        request.decided_at = utcnow()
        request.decided_by_user_id = user_id
        request.decision_reason = reason
        session.flush()
        return request

    def revoke(self, session: Session, grant: Grant, reason: str, user_id: int | None) -> Grant:
        if grant.revoked_at is not None:
            raise Conflict(
                "Quyền khai thác đã bị thu hồi trước đó",
                "The grant is already revoked",
                field="id",
            )
        if not reason.strip():
            raise InvalidInput(
                "Phải nêu lý do thu hồi", "A reason for the revocation is required", field="reason"
            )
        grant.revoked_at = utcnow()
        grant.revoked_reason = reason.strip()
        grant.revoked_by_user_id = user_id
        session.flush()
        repository.bump_state(session)
        return grant

    def suspend(self, session: Session, grant: Grant, reason: str, user_id: int | None) -> Grant:
        """Stop honouring the grant until it is resumed (gateways within seconds)."""
        self._require_live(grant)
        if grant.suspended_at is not None:
            raise Conflict(
                "Quyền khai thác đang bị tạm dừng", "The grant is already suspended", field="id"
            )
        if not reason.strip():
            raise InvalidInput(
                "Phải nêu lý do tạm dừng", "A reason for the suspension is required", field="reason"
            )
        grant.suspended_at = utcnow()
        grant.suspended_reason = reason.strip()
        grant.suspended_by_user_id = user_id
        session.flush()
        repository.bump_state(session)
        return grant

    def resume(self, session: Session, grant: Grant) -> Grant:
        self._require_live(grant)
        if grant.suspended_at is None:
            raise Conflict(
                "Quyền khai thác không bị tạm dừng", "The grant is not suspended", field="id"
            )
        grant.suspended_at = None
        grant.suspended_reason = None
        grant.suspended_by_user_id = None
        session.flush()
        repository.bump_state(session)
        return grant

    def narrow(
        self,
        session: Session,
        grant: Grant,
        methods: list[str] | None,
        quota_per_day: int | None,
    ) -> Grant:
        """Take methods away or lower the daily quota; a grant is never widened here (that is
        a new request, decided again)."""
        self._require_live(grant)
        if methods is not None:
            wanted = list(dict.fromkeys(method.upper() for method in methods))
            wider = sorted(set(wanted) - set(grant.allowed_methods))
            if not wanted or wider:
                raise InvalidInput(
                    "Chỉ được bớt phương thức đã cấp (còn ít nhất một): "
                    + ", ".join(grant.allowed_methods),
                    "Only granted methods may be kept (at least one): "
                    + ", ".join(grant.allowed_methods),
                    field="allowed_methods",
                )
            grant.allowed_methods = wanted
        if quota_per_day is not None:
            if quota_per_day < 1 or (
                grant.quota_per_day is not None and quota_per_day > grant.quota_per_day
            ):
                raise InvalidInput(
                    f"Hạn mức mới phải từ 1 đến {grant.quota_per_day or 'không giới hạn'}",
                    f"The new quota must be from 1 to {grant.quota_per_day or 'unlimited'}",
                    field="quota_per_day",
                )
            grant.quota_per_day = quota_per_day
        session.flush()
        repository.bump_state(session)
        return grant

    def _require_live(self, grant: Grant) -> None:
        if grant.revoked_at is not None:
            raise Conflict(
                "Quyền khai thác đã bị thu hồi", "The grant has been revoked", field="id"
            )

    def _require_pending(self, request: ConnectionRequest) -> None:
        if request.status is not RequestStatus.PENDING:
            raise Conflict(
                f"Yêu cầu đã được xử lý (trạng thái {request.status.value})",
                f"The request has already been decided (status {request.status.value})",
                field="status",
            )


def _covers(requested: str, path: str) -> bool:
    """Whether an approved path stays within a requested one (equal, or inside a prefix)."""
    if requested == path:
        return True
    prefix = requested[:-1] if requested.endswith("/*") else requested
    if prefix.endswith("/") and "{" not in prefix:
        return path.startswith(prefix)
    return "{" not in path and path_matches(requested, path)


def is_overdue(request: ConnectionRequest, now: datetime | None = None) -> bool:
    return request.status is RequestStatus.PENDING and request.due_at < (now or utcnow())


connection_service = ConnectionService()
