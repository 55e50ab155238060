"""The OAuth2 token endpoint's logic (client credentials grant): client authentication, the
lockout of a client_id after failed attempts, and the access tokens it issues.

Clients authenticate with ``client_secret_basic`` (checked against the credential's argon2 hash)
or ``private_key_jwt`` (an RFC 7523 assertion signed with the key the system registered, see
:func:`tinhso.exchange.oauth.credentials.check_public_jwk`, living at most an hour as Authlib's default
does; each ``jti`` is remembered until the assertion expires and accepted once). Access tokens
are short-lived EdDSA JWTs signed with the platform's active key.

Abuse: failed client authentications make the address that sent them wait, with a delay that
doubles with each further failure (:mod:`tinhso.registry.backoff`): after
``settings.oauth_max_failed_attempts`` failures of a client_id from one address (or of the
client_id from everywhere, for the addresses that failed), up to
``settings.oauth_lockout_seconds``; after three times as many from one address, whatever the
client_id. A client_id is never refused to its holder's own address by others' failures. The
failures are counted in a transaction of their own (:meth:`TokenService.count_failure`) and a
success resets the client_id's counts. Only failed proofs count: a correctly signed assertion
refused for a policy reason (lifetime, audience, replayed jti) does not, so a key holder
cannot lock themselves out. The per-address rate limit is in :mod:`tinhso.exchange.oauth.api`.
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
from jwt.algorithms import OKPAlgorithm
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession

from tinhso.core.db import utcnow
from tinhso.core.security import verify_password
from tinhso.exchange import repository
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.models import ClientAssertionUse, ClientAuthKind, SystemCredential
from tinhso.exchange.oauth.credentials import ALGORITHMS_BY_KEY
from tinhso.exchange.policy import TOKEN_AUDIENCE
from tinhso.registry import backoff
from tinhso.registry.backoff import BackoffPolicy
from tinhso.registry.models import InformationSystem, SystemStatus
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session

    from tinhso.core.config import Settings

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Client assertions must be short-lived: an hour at most (Authlib's default lifetime).
MAX_ASSERTION_SECONDS = 3600
CLOCK_LEEWAY = 30


# RFC 9864 names EdDSA over Ed25519 "Ed25519" (joserfc, and Authlib with it, warn that "EdDSA" is
# deprecated); PyJWT knows only "EdDSA", so assertions are decoded by a decoder knowing both.
_ASSERTIONS = jwt.PyJWT()
_ASSERTIONS._jws.register_algorithm("Ed25519", OKPAlgorithm())


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
        # A failed client authentication (a wrong secret or signature, an unknown client_id):
        # the caller counts it with TokenService.count_failure once the request's transaction
        # is gone, against the address and, when it is known, the client_id.
        self.failed_authentication = False
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


def _failed(credential: SystemCredential | None, error: OAuthError | None = None) -> OAuthError:
    """``error`` (default: invalid_client) marked as a failed authentication (of ``credential``
    when the client_id is known)."""
    error = error or _invalid_client()
    error.failed_authentication = True
    error.failed_client_id = credential.client_id if credential is not None else None
    return error


def _must_wait(
    session: Session, credential: SystemCredential | None, address: str
) -> OAuthError | None:
    """The 429 answer while ``address`` must wait after failed authentications, else None."""
    must_wait = backoff.wait(
        session,
        backoff.client_account(credential.client_id) if credential is not None else None,
        address,
        credential.locked_until if credential is not None else None,
    )
    if must_wait is None:
        return None
    seconds = must_wait.seconds
    if must_wait.by_address:
        return OAuthError(
            "slow_down",
            f"Quá nhiều lần xác thực hệ thống thất bại từ địa chỉ này; thử lại sau {seconds} giây",
            f"Too many failed client authentications from this address; "
            f"try again in {seconds} seconds",
            status=429,
            retry_after=seconds,
        )
    return OAuthError(
        "invalid_client",
        f"Hệ thống này xác thực sai nhiều lần từ địa chỉ này; thử lại sau {seconds} giây",
        f"Too many failed authentications of this client from this address; "
        f"try again in {seconds} seconds",
        status=429,
        retry_after=seconds,
    )


def oauth_backoff(settings: Settings) -> BackoffPolicy:
    """The token endpoint's back-off after failed client authentications."""
    free = settings.oauth_max_failed_attempts
    return BackoffPolicy(
        pair_free=free,
        account_free=free,
        address_free=3 * free,
        first_delay=min(5, settings.oauth_lockout_seconds),
        max_delay=settings.oauth_lockout_seconds,
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
        address: str = backoff.UNKNOWN_ADDRESS,
    ) -> IssuedToken:
        """Handle a token request from the client ``address``; raises :class:`OAuthError` (the
        caller rolls back, then counts a failed authentication with :meth:`count_failure`)."""
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
        credential = self._authenticate(session, settings, form, authorization, address)
        system = session.get(InformationSystem, credential.system_id)
        if system is None or system.status is not SystemStatus.ACTIVE:
            raise _invalid_client(
                "Hệ thống không ở trạng thái hoạt động", "The system is not active"
            )
        if not system_service.organisation_enabled(session, system.organisation_id):
            raise _invalid_client(
                "Tổ chức sở hữu hệ thống đã bị vô hiệu hoá",
                "The organisation that owns the system is disabled",
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
            credential.failed_attempts = 0  # a success resets the client_id's counts
            credential.locked_until = None
        backoff.forget_account_at(session, backoff.client_account(credential.client_id), address)
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
        address: str,
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
            credential = self._basic(session, basic, address)
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
            return self._assertion(session, settings, assertion, form.get("client_id"), address)
        raise _invalid_client(
            "Thiếu thông tin xác thực hệ thống", "Client authentication is missing"
        )

    def _basic(self, session: Session, encoded: str, address: str) -> SystemCredential:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise _failed(None) from error
        raw_id, separator, raw_secret = decoded.partition(":")
        if not separator:
            raise _failed(None)
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        credential = (
            repository.credential_by_client_id(session, client_id) if len(client_id) <= 64 else None
        )
        stored = (
            credential.secret_hash
            if credential is not None and credential.kind is ClientAuthKind.CLIENT_SECRET
            else None
        )
        must_wait = _must_wait(session, credential, address)
        if must_wait is not None:
            raise must_wait  # refused before the secret is checked, and not counted
        # Always verify (against a dummy hash when unknown) so timing reveals nothing.
        if not verify_password(stored, secret) or credential is None:
            raise _failed(credential)
        self._require_current(credential)
        return credential

    def _assertion(
        self,
        session: Session,
        settings: Settings,
        assertion: str,
        form_client_id: str | None,
        address: str,
    ) -> SystemCredential:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise _failed(
                None, _invalid_client("Assertion không hợp lệ", "The client assertion is malformed")
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
            must_wait = _must_wait(session, None, address)
            raise must_wait or _failed(None)
        must_wait = _must_wait(session, credential, address)
        if must_wait is not None:
            raise must_wait  # refused before the signature is checked, and not counted
        self._require_current(credential)
        key = self._check_signature(assertion, header, credential)
        self._check_assertion_claims(session, settings, assertion, header, credential, key)
        return credential

    def _check_signature(
        self, assertion: str, header: dict[str, Any], credential: SystemCredential
    ) -> Any:
        """The credential's key, once the assertion is proved signed with it; a wrong key or
        algorithm is a failed authentication (counted)."""
        jwk = credential.public_jwk or {}
        allowed = ALGORITHMS_BY_KEY.get(str(jwk.get("kty")), ())
        algorithm = header.get("alg")
        if algorithm not in allowed:
            raise _failed(
                credential,
                _invalid_client(
                    "Thuật toán ký của assertion không được chấp nhận",
                    "The assertion's signing algorithm is not accepted",
                ),
            )
        try:
            loader = "EdDSA" if algorithm == "Ed25519" else algorithm
            key = jwt.PyJWK.from_dict(dict(jwk), algorithm=loader).key
            _ASSERTIONS.decode(
                assertion,
                key,
                algorithms=[algorithm],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.PyJWTError as error:
            raise _failed(
                credential,
                _invalid_client(
                    "Chữ ký của assertion không hợp lệ",
                    "The client assertion's signature is not valid",
                ),
            ) from error
        return key

    def _check_assertion_claims(
        self,
        session: Session,
        settings: Settings,
        assertion: str,
        header: dict[str, Any],
        credential: SystemCredential,
        key: Any,
    ) -> None:
        """The claims of a correctly signed assertion: a refusal here is a policy answer to
        the key holder, not a failed authentication (not counted)."""
        client_id = credential.client_id
        audience = token_endpoint_url(settings)
        try:
            claims = _ASSERTIONS.decode(
                assertion,
                key,
                algorithms=[str(header.get("alg"))],
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
        # Remembered for the assertion's whole life (and the leeway after it), so it can never
        # be replayed while it would still be accepted.
        self._remember_jti(session, client_id, jti, expires + timedelta(seconds=CLOCK_LEEWAY))

    def count_failure(
        self,
        bind: Engine | Connection,
        client_id: str | None,
        settings: Settings,
        address: str = backoff.UNKNOWN_ADDRESS,
    ) -> None:
        """Count a failed authentication from ``address`` (of ``client_id`` when it is known)
        in a transaction of its own: call it after the request's transaction is rolled back
        (the count must stay, and on SQLite the request may hold the write lock)."""
        policy = oauth_backoff(settings)
        with OrmSession(bind=bind) as counter, counter.begin():
            credential = (
                counter.scalar(
                    select(SystemCredential)
                    .where(SystemCredential.client_id == client_id)
                    .with_for_update()
                )
                if client_id is not None
                else None
            )
            account = None
            if credential is not None:
                account = backoff.client_account(credential.client_id)
                credential.failed_attempts += 1
                credential.locked_until = backoff.account_failed(policy, credential.failed_attempts)
            backoff.count_failure(counter, policy, account, address)

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
