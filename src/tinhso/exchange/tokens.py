"""The OAuth2 token endpoint's logic (client credentials grant): client authentication, the
lockout of a client_id after failed attempts, and the access tokens it issues.

Clients authenticate with ``client_secret_basic`` (checked against the credential's argon2 hash)
or ``private_key_jwt`` (an RFC 7523 assertion signed with the key the system registered, see
:func:`tinhso.exchange.credentials.check_public_jwk`; each ``jti`` is accepted once). Access
tokens are short-lived EdDSA JWTs signed with the platform's active key.

Abuse: ``settings.oauth_max_failed_attempts`` consecutive failed authentications of a client_id
lock its token issuance for ``settings.oauth_lockout_seconds`` (429 with Retry-After, even with
the right secret); the failures are counted in a transaction of their own
(:meth:`TokenService.count_failure`) and a success resets the count. The per-address rate limit
is in :mod:`tinhso.exchange.oauth`.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import jwt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession

from tinhso.core.db import utcnow
from tinhso.core.security import verify_password
from tinhso.exchange import repository
from tinhso.exchange.credentials import ALGORITHMS_BY_KEY
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.models import ClientAssertionUse, ClientAuthKind, SystemCredential
from tinhso.exchange.snapshot import TOKEN_AUDIENCE
from tinhso.registry.models import InformationSystem, SystemStatus

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session

    from tinhso.core.config import Settings

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Client assertions must be short-lived; a longer one is refused.
MAX_ASSERTION_SECONDS = 300
CLOCK_LEEWAY = 30


def token_endpoint_url(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + "/oauth/token"


class OAuthError(Exception):
    """An RFC 6749 error answer: ``error`` code, HTTP status, bilingual description."""

    def __init__(
        self, error: str, vi: str, en: str, status: int = 400, retry_after: int | None = None
    ) -> None:
        super().__init__(en)
        self.error = error
        self.status = status
        self.vi = vi
        self.en = en
        self.retry_after = retry_after
        # The client_id whose authentication failed (a known credential): the caller counts
        # the failure with TokenService.count_failure once the request's transaction is gone.
        self.failed_client_id: str | None = None

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.en, "error_description_vi": self.vi}

    def headers(self) -> dict[str, str]:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="tinhso", charset="UTF-8"'
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def _failed(credential: SystemCredential, error: OAuthError | None = None) -> OAuthError:
    """``error`` (default: invalid_client) marked as a failed authentication of ``credential``."""
    error = error or _invalid_client()
    error.failed_client_id = credential.client_id
    return error


def _locked(credential: SystemCredential, now: datetime) -> OAuthError | None:
    """The 429 answer while ``credential`` is locked after too many failures, else None."""
    if credential.locked_until is None or credential.locked_until <= now:
        return None
    seconds = max(1, int((credential.locked_until - now).total_seconds()) + 1)
    wait = (seconds + 59) // 60
    return OAuthError(
        "invalid_client",
        f"Hệ thống xác thực sai nhiều lần liên tiếp nên tạm bị khóa cấp mã; thử lại sau {wait} phút",
        f"Too many failed client authentications: token issuance is locked; "
        f"try again in {wait} minutes",
        status=429,
        retry_after=seconds,
    )


def _invalid_client(
    vi: str = "Xác thực hệ thống thất bại", en: str = "Client authentication failed"
) -> OAuthError:
    return OAuthError("invalid_client", vi, en, status=401)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str | None
    client_id: str
    system: str


class TokenService:
    def issue(
        self,
        session: Session,
        settings: Settings,
        form: Mapping[str, str],
        authorization: str | None,
    ) -> IssuedToken:
        """Handle a token request; raises :class:`OAuthError` (the caller rolls back)."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError(
                "invalid_request", "Thiếu tham số grant_type", "The grant_type parameter is missing"
            )
        if grant_type != "client_credentials":
            raise OAuthError(
                "unsupported_grant_type",
                "Chỉ hỗ trợ grant_type=client_credentials",
                "Only grant_type=client_credentials is supported",
            )
        scope = self._scope(form.get("scope"))
        credential = self._authenticate(session, settings, form, authorization)
        system = session.get(InformationSystem, credential.system_id)
        if system is None or system.status is not SystemStatus.ACTIVE:
            raise _invalid_client(
                "Hệ thống không ở trạng thái hoạt động", "The system is not active"
            )
        labels = repository.system_labels(session, {system.id})
        system_label = "/".join(labels[system.id])
        now = utcnow()
        lifetime = settings.exchange_token_seconds
        claims: dict[str, Any] = {
            "iss": settings.base_url,
            "sub": credential.client_id,
            "aud": TOKEN_AUDIENCE,
            "tinhso_system": system_label,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=lifetime),
            "jti": secrets.token_urlsafe(16),
        }
        if scope:
            claims["scope"] = scope
        token = signing_key_service.sign(session, settings, claims)
        credential.last_used_at = now
        if credential.failed_attempts or credential.locked_until is not None:
            credential.failed_attempts = 0  # a success resets the count
            credential.locked_until = None
        session.flush()
        return IssuedToken(token, lifetime, scope, credential.client_id, system_label)

    def _scope(self, scope: str | None) -> str | None:
        if scope is None or not scope.strip():
            return None
        parts = scope.split()
        if len(parts) > 20 or any(
            len(part) > 200 or any(ord(ch) < 0x21 or ch in '"\\' for ch in part) for part in parts
        ):
            raise OAuthError(
                "invalid_scope", "Phạm vi (scope) không hợp lệ", "The scope is not valid"
            )
        return " ".join(dict.fromkeys(parts))

    def _authenticate(
        self,
        session: Session,
        settings: Settings,
        form: Mapping[str, str],
        authorization: str | None,
    ) -> SystemCredential:
        basic = (
            authorization[6:].strip()
            if authorization and authorization[:6].lower() == "basic "
            else None
        )
        assertion = form.get("client_assertion")
        if form.get("client_secret"):
            raise OAuthError(
                "invalid_request",
                "Gửi mật khẩu hệ thống qua tiêu đề Authorization (client_secret_basic)",
                "Send the client secret in the Authorization header (client_secret_basic)",
            )
        if basic is not None and assertion:
            raise OAuthError(
                "invalid_request",
                "Chỉ dùng một phương thức xác thực hệ thống",
                "Use exactly one client authentication method",
            )
        if basic is not None:
            credential = self._basic(session, basic)
            if form.get("client_id") not in (None, credential.client_id):
                raise OAuthError(
                    "invalid_request",
                    "client_id không khớp với thông tin xác thực",
                    "client_id does not match the authenticated client",
                )
            return credential
        if assertion:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise OAuthError(
                    "invalid_request",
                    "client_assertion_type phải là " + JWT_BEARER,
                    "client_assertion_type must be " + JWT_BEARER,
                )
            return self._assertion(session, settings, assertion, form.get("client_id"))
        raise _invalid_client(
            "Thiếu thông tin xác thực hệ thống", "Client authentication is missing"
        )

    def _basic(self, session: Session, encoded: str) -> SystemCredential:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise _invalid_client() from error
        raw_id, separator, raw_secret = decoded.partition(":")
        if not separator:
            raise _invalid_client()
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        credential = (
            repository.credential_by_client_id(session, client_id) if len(client_id) <= 64 else None
        )
        stored = (
            credential.secret_hash
            if credential is not None and credential.kind is ClientAuthKind.CLIENT_SECRET
            else None
        )
        if credential is not None:
            locked = _locked(credential, utcnow())
            if locked is not None:
                raise locked
        # Always verify (against a dummy hash when unknown) so timing reveals nothing.
        if not verify_password(stored, secret) or credential is None:
            raise _invalid_client() if credential is None else _failed(credential)
        self._require_current(credential)
        return credential

    def _assertion(
        self, session: Session, settings: Settings, assertion: str, form_client_id: str | None
    ) -> SystemCredential:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise _invalid_client(
                "Assertion không hợp lệ", "The client assertion is malformed"
            ) from error
        client_id = str(unverified.get("iss", ""))
        if form_client_id is not None and form_client_id != client_id:
            raise _invalid_client(
                "client_id không khớp với assertion", "client_id does not match the assertion"
            )
        credential = (
            repository.credential_by_client_id(session, client_id)
            if 0 < len(client_id) <= 64
            else None
        )
        if (
            credential is None
            or credential.kind is not ClientAuthKind.PRIVATE_KEY_JWT
            or not credential.public_jwk
        ):
            raise _invalid_client()
        self._require_current(credential)
        locked = _locked(credential, utcnow())
        if locked is not None:
            raise locked
        try:
            self._verify_assertion(session, settings, assertion, header, credential)
        except OAuthError as error:
            raise _failed(credential, error) from None
        return credential

    def _verify_assertion(
        self,
        session: Session,
        settings: Settings,
        assertion: str,
        header: dict[str, Any],
        credential: SystemCredential,
    ) -> None:
        client_id = credential.client_id
        jwk = credential.public_jwk or {}
        allowed = ALGORITHMS_BY_KEY.get(str(jwk.get("kty")), ())
        algorithm = header.get("alg")
        if algorithm not in allowed:
            raise _invalid_client(
                "Thuật toán ký của assertion không được chấp nhận",
                "The assertion's signing algorithm is not accepted",
            )
        audience = token_endpoint_url(settings)
        try:
            key = jwt.PyJWK.from_dict(dict(jwk), algorithm=algorithm)
            claims = jwt.decode(
                assertion,
                key.key,
                algorithms=[algorithm],
                audience=[audience, settings.base_url.rstrip("/")],
                issuer=client_id,
                leeway=CLOCK_LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError as error:
            raise _invalid_client(
                f"Assertion không hợp lệ: {error}", f"The client assertion is not valid: {error}"
            ) from error
        if claims.get("sub") != client_id:
            raise _invalid_client("sub phải bằng client_id", "sub must equal the client_id")
        now = utcnow()
        expires = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
        if expires > now + timedelta(seconds=MAX_ASSERTION_SECONDS + CLOCK_LEEWAY):
            raise _invalid_client(
                f"Assertion phải hết hạn trong vòng {MAX_ASSERTION_SECONDS} giây",
                f"The assertion must expire within {MAX_ASSERTION_SECONDS} seconds",
            )
        jti = str(claims["jti"])
        if not jti or len(jti) > 200:
            raise _invalid_client("jti không hợp lệ", "The jti is not valid")
        self._remember_jti(session, client_id, jti, expires + timedelta(seconds=CLOCK_LEEWAY))

    def count_failure(self, bind: Engine | Connection, client_id: str, settings: Settings) -> None:
        """Count a failed authentication of ``client_id`` in a transaction of its own (call it
        after the request's transaction is rolled back: the count must stay, and on SQLite the
        request may hold the write lock); the last allowed failure locks the client_id."""
        with OrmSession(bind=bind) as counter, counter.begin():
            credential = counter.scalar(
                select(SystemCredential)
                .where(SystemCredential.client_id == client_id)
                .with_for_update()
            )
            if credential is None:
                return
            credential.failed_attempts += 1
            if credential.failed_attempts >= settings.oauth_max_failed_attempts:
                credential.failed_attempts = 0
                credential.locked_until = utcnow() + timedelta(
                    seconds=settings.oauth_lockout_seconds
                )

    def _remember_jti(self, session: Session, client_id: str, jti: str, expires: datetime) -> None:
        now = utcnow()
        session.execute(delete(ClientAssertionUse).where(ClientAssertionUse.expires_at < now))
        seen = session.scalar(repository.assertion_use(client_id, jti))
        if seen is not None:
            raise _invalid_client(
                "Assertion đã được dùng (jti lặp lại)",
                "The assertion was already used (replayed jti)",
            )
        session.add(ClientAssertionUse(client_id=client_id, jti=jti, expires_at=expires))
        try:
            session.flush()
        except IntegrityError as error:  # the same assertion raced in through another request
            raise _invalid_client(
                "Assertion đã được dùng (jti lặp lại)",
                "The assertion was already used (replayed jti)",
            ) from error

    def _require_current(self, credential: SystemCredential) -> None:
        now = utcnow()
        if credential.revoked_at is not None or (
            credential.expires_at is not None and credential.expires_at <= now
        ):
            raise _invalid_client()


token_service = TokenService()
