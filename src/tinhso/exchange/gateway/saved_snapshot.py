"""A signed copy of the gateway's registry snapshot on the node's disk, to start without the
database (as an X-Road security server starts from its cached global configuration).

Every gateway process saves the snapshot it loaded from the database to
``data_dir/registry-snapshot.json`` (replaced atomically). A process that starts while the
database is unreachable starts from that copy instead, if its signature holds and it is not
older than the gateway's ``registry_max_age_seconds``; it says so in its log and in ``/healthz``
and goes back to the database as soon as it answers.

The copy is signed with an Ed25519 key derived from the platform's ``secret_key`` (which every
gateway node has, database or not): a copy altered or written by anyone without the secret is
refused. It holds no secret itself: public keys, client ids, services and grants.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tinhso.exchange.models import ServiceStatus
from tinhso.exchange.policy import ExchangeSnapshot, GrantEntry, ServiceEntry

if TYPE_CHECKING:
    from pathlib import Path

FORMAT = "tinhso-registry-snapshot/v1"
FILE_NAME = "registry-snapshot.json"


class SavedSnapshotError(ValueError):
    """The saved copy is missing, unreadable, not signed with this platform's key, or too old."""


def _signing_key(secret_key: str) -> Ed25519PrivateKey:
    seed = hmac.new(secret_key.encode(), b"tinhso/exchange/registry-snapshot/v1", hashlib.sha256)
    return Ed25519PrivateKey.from_private_bytes(seed.digest())


def _plain(value: Any) -> Any:
    """``value`` as JSON: mappings, sets (sorted), tuples, datetimes, enums."""
    if isinstance(value, (dict, MappingProxyType)):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(_plain(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, ServiceStatus):
        return value.value
    return value


def _entry(cls: type[Any], data: dict[str, Any]) -> Any:
    """A ServiceEntry or GrantEntry back from its JSON (fields by their declared types)."""
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if item.name not in data:
            continue  # a field added since the copy was saved keeps its default
        value = data[item.name]
        kind = str(item.type)
        if value is not None and "datetime" in kind:
            value = datetime.fromisoformat(value)
        elif kind.startswith("frozenset"):
            value = frozenset(value)
        elif kind.startswith("tuple"):
            value = tuple(value)
        elif kind == "ServiceStatus":
            value = ServiceStatus(value)
        values[item.name] = value
    return cls(**values)


def to_document(snapshot: ExchangeSnapshot) -> dict[str, Any]:
    return {
        "version": snapshot.version,
        "loaded_at": snapshot.loaded_at.isoformat(),
        "issuer": snapshot.issuer,
        "audience": snapshot.audience,
        "services": [_plain(dataclasses.asdict(entry)) for entry in snapshot.services.values()],
        "grants": [
            _plain(dataclasses.asdict(grant))
            for grants in snapshot.grants.values()
            for grant in grants
        ],
        "public_keys": _plain(snapshot.public_keys),
        "client_ids": sorted(snapshot.client_ids),
        "certificates": _plain(snapshot.certificates),
        "disabled_organisations": sorted(snapshot.disabled_organisations),
    }


def from_document(data: dict[str, Any]) -> ExchangeSnapshot:
    services: dict[tuple[str, str, str, str], ServiceEntry] = {}
    for item in data["services"]:
        entry = _entry(ServiceEntry, item)
        services[(entry.organisation, entry.system, entry.code, entry.version)] = entry
    grants: dict[tuple[str, str], list[GrantEntry]] = {}
    for item in data["grants"]:
        grant = _entry(GrantEntry, item)
        grants.setdefault((grant.consumer, grant.service), []).append(grant)
    return ExchangeSnapshot(
        version=int(data["version"]),
        loaded_at=datetime.fromisoformat(data["loaded_at"]),
        issuer=data["issuer"],
        audience=str(data["audience"]),
        services=MappingProxyType(services),
        grants=MappingProxyType({key: tuple(value) for key, value in grants.items()}),
        public_keys=MappingProxyType(
            {kid: MappingProxyType(jwk) for kid, jwk in data["public_keys"].items()}
        ),
        client_ids=frozenset(data["client_ids"]),
        certificates=MappingProxyType(dict(data["certificates"])),
        disabled_organisations=frozenset(data.get("disabled_organisations", ())),
    )


def save(path: Path, snapshot: ExchangeSnapshot, secret_key: str) -> None:
    """Write the signed copy of ``snapshot`` to ``path`` (atomically, fsync'd)."""
    body = json.dumps(to_document(snapshot), ensure_ascii=False, sort_keys=True)
    signature = _signing_key(secret_key).sign(body.encode())
    text = json.dumps(
        {
            "format": FORMAT,
            "signature": base64.urlsafe_b64encode(signature).decode(),
            "snapshot": body,
        },
        ensure_ascii=False,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # the node's processes save side by side
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def load(path: Path, secret_key: str) -> ExchangeSnapshot:
    """The snapshot saved in ``path``; SavedSnapshotError if it is missing or not authentic."""
    try:
        outer = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"no saved registry snapshot at {path}"
        raise SavedSnapshotError(msg) from None
    except (OSError, ValueError) as error:
        msg = f"unreadable registry snapshot {path}: {error}"
        raise SavedSnapshotError(msg) from error
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        msg = f"{path} is not a {FORMAT} document"
        raise SavedSnapshotError(msg)
    body = str(outer.get("snapshot", ""))
    try:
        signature = base64.urlsafe_b64decode(str(outer.get("signature", "")))
        _signing_key(secret_key).public_key().verify(signature, body.encode())
    except (InvalidSignature, ValueError):
        msg = f"the registry snapshot {path} is not signed with this platform's key"
        raise SavedSnapshotError(msg) from None
    try:
        return from_document(json.loads(body))
    except (KeyError, TypeError, ValueError) as error:
        msg = f"incomplete registry snapshot {path}: {error}"
        raise SavedSnapshotError(msg) from error
