"""Registry change notices over Redis pub/sub: instant refresh for gateways on any database.

When ``settings.redis_url`` is set, the control plane's sessions carry it (see
:func:`announce_changes`); :func:`tinhso.exchange.repository.bump_state` then records the new
state version in ``session.info`` and, once the transaction has COMMITTED, the version is
PUBLISHed on :data:`CHANNEL`. Gateways SUBSCRIBE (``RegistryCache(redis_url=...)``) and reload
at once. Publishing never happens before the commit (a gateway would reload the old state),
nothing is published when the transaction rolls back, and a failure to publish is logged and
never fails the change: the gateways' version polling stays the safety net. (A change made in
a SAVEPOINT that is rolled back while the outer transaction commits still sends a notice: a
harmless extra wake-up.) The control plane's app, ``tinhso keys ...`` and ``tinhso demo``
announce their changes; sessions made without :func:`announce_changes` publish nothing, and
gateways see those changes by polling.

The publisher is synchronous (the control plane's endpoints are), with one small client per
Redis URL, short timeouts and a single immediate retry (a connection that Redis dropped since
the last change is replaced), so an unreachable Redis costs a change at most about a second.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

log = logging.getLogger(__name__)

# The payload of every message is the new state version (decimal text).
CHANNEL = "tinhso:exchange:registry"
# session.info keys
REDIS_URL_KEY = "tinhso.exchange.redis_url"
_PENDING_KEY = "tinhso.exchange.pending_version"

_CONNECT_TIMEOUT = 0.5
_TIMEOUT = 0.5

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def announce_changes(sessions: sessionmaker[Session], redis_url: str | None) -> None:
    """Make every session of ``sessions`` publish its registry changes on ``redis_url``."""
    if not redis_url:
        return
    info = dict(sessions.kw.get("info") or {})
    info[REDIS_URL_KEY] = redis_url
    sessions.configure(info=info)


def note_change(session: Session, version: int) -> None:
    """Remember ``version`` for publishing after ``session``'s transaction commits."""
    if not session.info.get(REDIS_URL_KEY):
        return
    pending = session.info.get(_PENDING_KEY)
    session.info[_PENDING_KEY] = version if pending is None else max(pending, version)


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    # A released SAVEPOINT also fires after_commit: wait for the outermost transaction.
    if _PENDING_KEY not in session.info or session.in_nested_transaction():
        return
    version = session.info.pop(_PENDING_KEY)
    publish(session.info[REDIS_URL_KEY], int(version))


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended: after a commit the version is already published; after
    # a rollback (or a close without commit) the change never happened.
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def publish(redis_url: str, version: int) -> bool:
    """PUBLISH ``version`` on :data:`CHANNEL`; False (and a warning) if Redis cannot be reached."""
    try:
        _client(redis_url).publish(CHANNEL, str(version))
    except Exception as error:
        log.warning(
            "registry notices: could not publish version %s to %s (gateways will find it by "
            "polling): %s",
            version,
            safe_url(redis_url),
            without_password(str(error), redis_url),
        )
        return False
    return True


def _client(redis_url: str) -> Any:
    with _clients_lock:
        client = _clients.get(redis_url)
        if client is None:
            import redis  # noqa: PLC0415 - only when Redis is configured
            from redis.backoff import NoBackoff  # noqa: PLC0415
            from redis.retry import Retry  # noqa: PLC0415

            client = _clients[redis_url] = redis.Redis.from_url(
                redis_url,
                socket_connect_timeout=_CONNECT_TIMEOUT,
                socket_timeout=_TIMEOUT,
                retry=Retry(NoBackoff(), 1),
            )
        return client


def close_publishers() -> None:
    """Close the cached publishing clients (tests; a process exiting need not call it)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        try:
            client.close()
        except Exception as error:
            log.debug("registry notices: closing a Redis client failed: %s", error)


def safe_url(redis_url: str) -> str:
    """The URL for logs: scheme, host, port and database, never the credentials."""
    try:
        parts = urlsplit(redis_url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(invalid Redis URL)"
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def without_password(text: str, redis_url: str) -> str:
    """``text`` (an error message) with the URL and its password masked."""
    try:
        password = urlsplit(redis_url).password
    except ValueError:
        password = None
    text = text.replace(redis_url, safe_url(redis_url))
    return text.replace(password, "***") if password else text
