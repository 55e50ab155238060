"""Systems' client credentials: create, rotate, unlock and revoke them, and check the public keys
systems register.

A credential is one of three kinds: ``client_secret`` (a secret stored as an argon2 hash, shown
once), ``private_key_jwt`` (the system's public JWK: Ed25519, EC or RSA, for RFC 7523
assertions) or ``mtls`` (a client certificate's SHA-256 fingerprint: the gateway then identifies
the system by the certificate that a trusted TLS terminator verified, see
:mod:`tinhso.exchange.gateway.client_certificates`). Every change that affects who may call bumps the
exchange state version. How credentials are used at the token endpoint (client authentication,
lockout after failed attempts, access tokens) is in :mod:`tinhso.exchange.oauth.tokens`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jwt

from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, InvalidInput, NotFound
from tinhso.core.security import hash_password, new_token
from tinhso.exchange import repository
from tinhso.exchange.models import ClientAuthKind, SystemCredential
from tinhso.registry import backoff

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.exchange.schemas import CredentialCreate
    from tinhso.registry.models import InformationSystem

# The JWS algorithms a registered public key of each type may sign client assertions with.
ALGORITHMS_BY_KEY = {
    "OKP": ("EdDSA", "Ed25519"),  # "Ed25519": the RFC 9864 name of EdDSA over Ed25519
    "EC": ("ES256", "ES384", "ES512"),
    "RSA": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _new_client_id() -> str:
    return "tsc_" + secrets.token_hex(12)


def _normalise_fingerprint(value: str) -> str:
    return value.replace(":", "").strip().lower()


def check_public_jwk(jwk: Mapping[str, Any], field: str = "public_jwk") -> dict[str, Any]:
    """A public JWK we can verify assertions with, or InvalidInput naming ``field``."""
    kty = str(jwk.get("kty", ""))
    if kty not in ALGORITHMS_BY_KEY:
        raise InvalidInput(
            "Khóa công khai phải là Ed25519 (OKP), EC hoặc RSA",
            "The public key must be Ed25519 (OKP), EC or RSA",
            field=field,
        )
    if _PRIVATE_MEMBERS & set(jwk):
        raise InvalidInput(
            "Chỉ gửi khóa công khai; không gửi khóa bí mật",
            "Send only the public key, never the private key",
            field=field,
        )
    if kty == "OKP" and jwk.get("crv") != "Ed25519":
        raise InvalidInput(
            "Khóa OKP phải dùng đường cong Ed25519", "OKP keys must use Ed25519", field=field
        )
    try:
        key = jwt.PyJWK.from_dict(dict(jwk), algorithm=ALGORITHMS_BY_KEY[kty][0])
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
        raise InvalidInput(
            f"Khóa công khai không hợp lệ: {error}",
            f"The public key is not valid: {error}",
            field=field,
        ) from error
    if kty == "RSA" and getattr(key.key, "key_size", 0) < 2048:
        raise InvalidInput(
            "Khóa RSA phải dài tối thiểu 2048 bit",
            "RSA keys must be at least 2048 bits",
            field=field,
        )
    return dict(jwk)


class CredentialService:
    def get(self, session: Session, client_id: str) -> SystemCredential:
        credential = repository.credential_by_client_id(session, client_id)
        if credential is None:
            raise NotFound(
                f"Không tìm thấy thông tin xác thực {client_id}",
                f"Credential {client_id} not found",
                field="client_id",
            )
        return credential

    def create(
        self,
        session: Session,
        system: InformationSystem,
        data: CredentialCreate,
        user_id: int | None,
    ) -> tuple[SystemCredential, str | None]:
        """Create a credential; returns it and, for client_secret, the secret (shown once)."""
        now = utcnow()
        if data.expires_at is not None and data.expires_at <= now:
            raise InvalidInput(
                "Ngày hết hạn phải ở tương lai",
                "expires_at must be in the future",
                field="expires_at",
            )
        credential = SystemCredential(
            system_id=system.id,
            client_id=_new_client_id(),
            kind=data.kind,
            label=data.label,
            created_by_user_id=user_id,
            created_at=now,
            expires_at=data.expires_at,
        )
        secret = self._apply(session, credential, data)
        session.add(credential)
        session.flush()
        repository.bump_state(session)
        return credential, secret

    def rotate(
        self, session: Session, credential: SystemCredential, data: CredentialCreate | None
    ) -> tuple[SystemCredential, str | None]:
        """New secret (client_secret), or new key / fingerprint; the old one stops working."""
        self._require_usable(credential)
        secret: str | None
        if credential.kind is ClientAuthKind.CLIENT_SECRET:
            secret = new_token(32)
            credential.secret_hash = hash_password(secret)
        else:
            if data is None or data.kind is not credential.kind:
                raise InvalidInput(
                    "Cần gửi khóa công khai hoặc dấu vân tay chứng thư mới cùng loại",
                    "Send the new public key or certificate fingerprint of the same kind",
                    field="kind",
                )
            secret = self._apply(session, credential, data)
        session.flush()
        repository.bump_state(session)
        return credential, secret

    def unlock(self, session: Session, credential: SystemCredential) -> SystemCredential:
        """Lift the back-off after failed authentications: the client_id's counts start again
        from zero at every address (an address's own count, whatever the client, stays)."""
        self._require_usable(credential)
        credential.failed_attempts = 0
        credential.locked_until = None
        backoff.forget_account(session, backoff.client_account(credential.client_id))
        session.flush()
        return credential

    def revoke(self, session: Session, credential: SystemCredential) -> SystemCredential:
        self._require_usable(credential)
        credential.revoked_at = utcnow()
        session.flush()
        repository.bump_state(session)
        return credential

    def _apply(
        self, session: Session, credential: SystemCredential, data: CredentialCreate
    ) -> str | None:
        if data.kind is ClientAuthKind.CLIENT_SECRET:
            if data.public_jwk is not None or data.certificate_sha256 is not None:
                raise InvalidInput(
                    "Thông tin xác thực bằng mật khẩu không kèm khóa hay chứng thư",
                    "A client_secret credential takes no key or certificate",
                    field="kind",
                )
            secret = new_token(32)
            credential.secret_hash = hash_password(secret)
            return secret
        if data.kind is ClientAuthKind.PRIVATE_KEY_JWT:
            if data.public_jwk is None:
                raise InvalidInput(
                    "Cần khóa công khai (JWK) cho private_key_jwt",
                    "private_key_jwt needs the system's public JWK",
                    field="public_jwk",
                )
            credential.public_jwk = check_public_jwk(data.public_jwk)
            return None
        if data.certificate_sha256 is None:
            raise InvalidInput(
                "Cần dấu vân tay SHA-256 của chứng thư cho mTLS",
                "mtls needs the client certificate's SHA-256 fingerprint",
                field="certificate_sha256",
            )
        fingerprint = _normalise_fingerprint(data.certificate_sha256)
        for other in repository.usable_credentials(session, utcnow()):
            if other.certificate_sha256 == fingerprint and other.id != credential.id:
                raise Conflict(
                    "Chứng thư này đã gắn với một hệ thống khác",
                    "This certificate is already bound to a credential",
                    field="certificate_sha256",
                )
        credential.certificate_sha256 = fingerprint
        return None

    def _require_usable(self, credential: SystemCredential) -> None:
        if credential.revoked_at is not None:
            raise Conflict(
                "Thông tin xác thực đã bị thu hồi", "The credential is revoked", field="client_id"
            )


credential_service = CredentialService()
