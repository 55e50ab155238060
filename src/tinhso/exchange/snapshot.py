"""Everything the data plane (gateway) needs, loaded in one go as immutable values.

Usage from a gateway node::

    with make_sessionmaker(engine)() as session:
        snapshot = exchange_snapshot(session)
    # later: reload when repository.state_version(session) != snapshot.version
    # (on PostgreSQL, LISTEN on repository.NOTIFY_CHANNEL; the payload is the new version)

Lookups:
- ``snapshot.services[(org, system, code, version)]`` -> :class:`ServiceEntry` (every status
  except ``draft``; the gateway answers "retired"/"not published" itself from ``status``).
- ``snapshot.grants[(consumer, service_key)]`` -> tuple of :class:`GrantEntry`, where consumer
  is ``"org/system"`` (the token's ``tinhso_system`` claim) and service_key is
  ``"org/system/code/version"``. Only grants that are not revoked, not expired, whose consumer
  and provider systems are active; ``valid_from`` may still be in the future: check it.
- ``snapshot.public_keys[kid]`` -> JWK dict (Ed25519, ``alg: EdDSA``) to verify access tokens
  (``iss == snapshot.issuer``, ``aud == snapshot.audience``); ``policy.verify_access_token``
  does the whole check.
- ``snapshot.client_ids`` -> usable client ids (a token whose ``sub`` is not there was issued to
  a since-revoked credential); ``snapshot.certificates[sha256 hex]`` -> ``"org/system"`` for mTLS.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from tinhso.core.db import utcnow
from tinhso.exchange import repository
from tinhso.exchange.models import ClientAuthKind, ServiceStatus
from tinhso.exchange.policy import TOKEN_AUDIENCE, ExchangeSnapshot, GrantEntry, ServiceEntry

if TYPE_CHECKING:
    from collections.abc import Mapping, Set
    from datetime import datetime

    # system id -> (organisation code, system code), as repository.system_labels() gives them
    Labels = Mapping[int, tuple[str, str]]


def exchange_snapshot(session: Session, issuer: str | None = None) -> ExchangeSnapshot:
    """Load services, active grants, public keys, credentials and the state version at once.

    Reads the version first: a change committed while loading makes the next poll reload again.
    ``issuer`` is the platform's ``settings.base_url`` (copied into the snapshot for checks).
    """
    now = utcnow()
    version = repository.state_version(session)
    labels = repository.system_labels(session)
    usable = repository.usable_system_ids(session)
    services, by_id = _service_entries(session, labels, usable)
    grants = _grant_entries(session, now, by_id, labels, usable)
    keys = {
        key.kid: MappingProxyType(dict(key.public_jwk))
        for key in repository.published_keys(session, now)
    }
    client_ids, certificates = _credentials(session, now, labels, usable)
    return ExchangeSnapshot(
        version=version,
        loaded_at=now,
        issuer=issuer,
        audience=TOKEN_AUDIENCE,
        services=MappingProxyType(services),
        grants=MappingProxyType(grants),
        public_keys=MappingProxyType(keys),
        client_ids=frozenset(client_ids),
        certificates=MappingProxyType(certificates),
        disabled_organisations=frozenset(repository.disabled_organisation_codes(session)),
    )


def _service_entries(
    session: Session, labels: Labels, usable: Set[int]
) -> tuple[dict[tuple[str, str, str, str], ServiceEntry], dict[int, ServiceEntry]]:
    """Every service but drafts, by route and by id; a service of a system that is no longer
    usable is retired."""
    services: dict[tuple[str, str, str, str], ServiceEntry] = {}
    by_id: dict[int, ServiceEntry] = {}
    for row in repository.all_services(session):
        if row.status is ServiceStatus.DRAFT or row.provider_system_id not in labels:
            continue
        organisation, system = labels[row.provider_system_id]
        status = row.status if row.provider_system_id in usable else ServiceStatus.RETIRED
        entry = ServiceEntry(
            id=row.id,
            organisation=organisation,
            system=system,
            code=row.code,
            version=row.version,
            base_url=row.base_url.rstrip("/"),
            timeout_ms=row.timeout_ms,
            max_request_bytes=row.max_request_bytes,
            max_response_bytes=row.max_response_bytes,
            request_schema=row.request_schema,
            response_schema=row.response_schema,
            classification=str(row.classification),
            status=status,
            key=f"{organisation}/{system}/{row.code}/{row.version}",
            openapi=row.openapi,
        )
        services[(organisation, system, row.code, row.version)] = entry
        by_id[row.id] = entry
    return services, by_id


def _grant_entries(
    session: Session,
    now: datetime,
    by_id: Mapping[int, ServiceEntry],
    labels: Labels,
    usable: Set[int],
) -> dict[tuple[str, str], tuple[GrantEntry, ...]]:
    """The grants active at ``now`` whose consumer is usable, by (consumer, service key)."""
    grants: dict[tuple[str, str], list[GrantEntry]] = {}
    for grant in session.scalars(repository.grants_query(active_at=now)):
        service = by_id.get(grant.service_id)
        if service is None or grant.consumer_system_id not in usable:
            continue
        consumer = "/".join(labels[grant.consumer_system_id])
        grants.setdefault((consumer, service.key), []).append(
            GrantEntry(
                id=grant.id,
                consumer=consumer,
                service=service.key,
                methods=frozenset(method.upper() for method in grant.allowed_methods),
                paths=tuple(grant.allowed_paths),
                valid_from=grant.valid_from,
                valid_until=grant.valid_until,
                quota_per_day=grant.quota_per_day,
                rate_per_second=grant.rate_per_second,
                burst=grant.burst,
            )
        )
    return {key: tuple(value) for key, value in grants.items()}


def _credentials(
    session: Session, now: datetime, labels: Labels, usable: Set[int]
) -> tuple[set[str], dict[str, str]]:
    """Usable client ids, and the mTLS certificates' fingerprints -> ``"org/system"``."""
    client_ids: set[str] = set()
    certificates: dict[str, str] = {}
    for credential in repository.usable_credentials(session, now):
        if credential.system_id not in usable:
            continue
        client_ids.add(credential.client_id)
        if credential.kind is ClientAuthKind.MTLS and credential.certificate_sha256:
            certificates[credential.certificate_sha256] = "/".join(labels[credential.system_id])
    return client_ids, certificates
