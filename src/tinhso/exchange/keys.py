"""The platform's Ed25519 signing keys: creation, rotation, JWKS, and token verification.

Rotation without downtime: ``rotate`` creates a ``next`` key that is published in JWKS (and in
the gateways' snapshot) before it signs anything; ``promote`` makes it ``active`` and retires
the previous active key, which stays published until every token it signed has expired
(``retire_after`` = now + token lifetime + leeway). Private keys are stored as PKCS#8 PEM
encrypted with a key derived from ``settings.secret_key``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict
from tinhso.exchange import repository
from tinhso.exchange.models import KeyStatus, SigningKey
from tinhso.exchange.policy import ALGORITHM

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.core.config import Settings

# Retired keys stay in JWKS this long after the last token they signed could have expired.
RETIREMENT_LEEWAY = timedelta(minutes=5)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _encryption_password(secret_key: str) -> bytes:
    # A dedicated key for this purpose, derived from the platform secret.
    return hmac.new(secret_key.encode(), b"tinhso/exchange/signing-key/v1", hashlib.sha256).digest()


def public_jwk(public_key: Ed25519PublicKey, kid: str) -> dict[str, Any]:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(raw),
        "kid": kid,
        "alg": ALGORITHM,
        "use": "sig",
    }


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of an OKP key (used as a default kid)."""
    members = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


class SigningKeyService:
    def create(self, session: Session, settings: Settings, status: KeyStatus) -> SigningKey:
        private_key = Ed25519PrivateKey.generate()
        jwk = public_jwk(private_key.public_key(), "")
        kid = f"{utcnow():%Y%m%d}-{jwk_thumbprint(jwk)[:16]}"
        jwk["kid"] = kid
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(
                _encryption_password(settings.secret_key.get_secret_value())
            ),
        ).decode()
        now = utcnow()
        key = SigningKey(
            kid=kid,
            algorithm=ALGORITHM,
            private_key_pem=pem,
            public_jwk=jwk,
            status=status,
            created_at=now,
            activated_at=now if status is KeyStatus.ACTIVE else None,
        )
        session.add(key)
        session.flush()
        repository.bump_state(session)
        return key

    def private_key(self, key: SigningKey, settings: Settings) -> Ed25519PrivateKey:
        loaded = serialization.load_pem_private_key(
            key.private_key_pem.encode(),
            password=_encryption_password(settings.secret_key.get_secret_value()),
        )
        if not isinstance(loaded, Ed25519PrivateKey):  # pragma: no cover - we only store Ed25519
            msg = f"signing key {key.kid} is not Ed25519"
            raise TypeError(msg)
        return loaded

    def active(self, session: Session) -> SigningKey | None:
        keys = repository.signing_keys(session, {KeyStatus.ACTIVE})
        return keys[-1] if keys else None

    def ensure_active(self, session: Session, settings: Settings) -> SigningKey:
        """The active key, generating the platform's first key if there is none."""
        key = self.active(session)
        if key is not None:
            return key
        pending = repository.signing_keys(session, {KeyStatus.NEXT})
        if pending:
            return self.promote(session, settings)
        return self.create(session, settings, KeyStatus.ACTIVE)

    def active_signer(self, session: Session, settings: Settings) -> tuple[str, Ed25519PrivateKey]:
        """(kid, private key) of the active key, e.g. for signing audit checkpoints."""
        key = self.ensure_active(session, settings)
        return key.kid, self.private_key(key, settings)

    def rotate(self, session: Session, settings: Settings) -> SigningKey:
        """Create the ``next`` key (published, not yet signing); refuses if one already waits."""
        if repository.signing_keys(session, {KeyStatus.NEXT}):
            raise Conflict(
                "Đã có khóa kế tiếp đang chờ; hãy kích hoạt (promote) trước khi tạo khóa mới",
                "A next key is already waiting; promote it before creating another",
                field="status",
            )
        return self.create(session, settings, KeyStatus.NEXT)

    def promote(self, session: Session, settings: Settings) -> SigningKey:
        """Make the ``next`` key active; the previous active key retires but stays in JWKS."""
        waiting = repository.signing_keys(session, {KeyStatus.NEXT})
        if not waiting:
            raise Conflict(
                "Không có khóa kế tiếp; hãy chạy `tinhso keys rotate` trước",
                "There is no next key; run `tinhso keys rotate` first",
                field="status",
            )
        now = utcnow()
        retire_after = now + timedelta(seconds=settings.exchange_token_seconds) + RETIREMENT_LEEWAY
        for old in repository.signing_keys(session, {KeyStatus.ACTIVE}):
            old.status = KeyStatus.RETIRED
            old.retired_at = now
            old.retire_after = retire_after
        key = waiting[0]
        key.status = KeyStatus.ACTIVE
        key.activated_at = now
        session.flush()
        repository.bump_state(session)
        return key

    def jwks(self, session: Session) -> dict[str, list[dict[str, Any]]]:
        """The JSON Web Key Set: active, next and recently retired public keys."""
        return {
            "keys": [dict(key.public_jwk) for key in repository.published_keys(session, utcnow())]
        }

    def sign(self, session: Session, settings: Settings, claims: dict[str, Any]) -> str:
        kid, private_key = self.active_signer(session, settings)
        return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid})


signing_key_service = SigningKeyService()
