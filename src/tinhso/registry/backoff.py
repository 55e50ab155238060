"""Back-off after failed sign-ins: officials' passwords and systems' client credentials.

Nobody can lock a known account at will. Failures are counted three ways, and each count makes
only the attempts it describes wait, for a delay that doubles with every further failure (up to
``max_delay``) instead of a fixed lockout:

- per (account, client address): after ``pair_free`` failures the account waits *from that
  address*; the account's holder elsewhere is not affected;
- per client address, whatever the account: after ``address_free`` failures the address waits
  for every account (one address trying many accounts, or many passwords);
- per account, from every address (the account's own columns, e.g. ``User.failed_logins`` and
  ``locked_until``): after ``account_free`` failures, addresses that have themselves failed
  for the account wait too (many addresses guessing one account). An address that has not
  failed for the account is never held back by this count, so the right password from the
  holder's own address goes through however many others fail.

The proof step, without a CAPTCHA: a successful sign-in gives the client a device cookie
(``tinhso_device``: the user and a random nonce, signed with the platform's secret key). An
attempt that shows the account's own device cookie is counted as coming from that device, not
from its address: the holder who shares an address with an attacker (an office behind one NAT
address) signs in from a known browser however much the address is failing, and an attacker
cannot forge the cookie. A device that fails itself waits like an address.

While an attempt must wait it is refused before the secret is checked (429 with Retry-After),
so waiting addresses learn nothing, and the refusal is not counted. A success resets the
account's counts; an address's own count is forgotten only ``forget_after`` after its last
failure, so successes with one account do not buy guesses at another. Counts are kept in the
database (``sign_in_failure``), so every process and node of the control plane shares them.
The client address is the peer address the server sees: behind a reverse proxy, run the server
with the proxy's forwarded-address support (``uvicorn --proxy-headers --forwarded-allow-ips``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tinhso.core.db import utcnow
from tinhso.core.security import new_token, same_secret
from tinhso.registry.models import SignInFailure

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# The address key when the peer address is unknown (never seen in practice with a real server).
UNKNOWN_ADDRESS = "-"


@dataclass(frozen=True)
class BackoffPolicy:
    pair_free: int = 5
    account_free: int = 5
    address_free: int = 20
    first_delay: int = 5  # seconds, after the last free failure; doubles with each further one
    max_delay: int = 900
    forget_after: int = 24 * 3600  # an address's count starts again after this quiet time

    def delay(self, failures: int, free: int) -> int:
        """The seconds to wait after ``failures`` failures of a count that allows ``free``."""
        if failures < free:
            return 0
        doublings = min(failures - free, 30)
        return min(self.max_delay, self.first_delay * (1 << doublings))

    def blocked_until(self, failures: int, free: int, now: datetime) -> datetime | None:
        seconds = self.delay(failures, free)
        return now + timedelta(seconds=seconds) if seconds else None


@dataclass(frozen=True)
class Wait:
    """An attempt that must wait: the seconds, and whose failures made it wait."""

    seconds: int
    by_address: bool  # True: the address's failures (any account); False: the account's


def address_of(host: str | None) -> str:
    return (host or UNKNOWN_ADDRESS)[:64]


def _seconds_until(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def wait(
    session: Session,
    account: str | None,
    address: str,
    account_blocked_until: datetime | None,
) -> Wait | None:
    """Whether an attempt on ``account`` (None: unknown) from ``address`` must wait first."""
    now = utcnow()
    keys = [""] if account is None else ["", account]
    rows = {
        row.account: row
        for row in session.scalars(
            select(SignInFailure).where(
                SignInFailure.address == address, SignInFailure.account.in_(keys)
            )
        )
    }
    by_address = rows.get("")
    if by_address is not None and by_address.blocked_until and by_address.blocked_until > now:
        return Wait(_seconds_until(by_address.blocked_until, now), by_address=True)
    if account is None:
        return None
    pair = rows.get(account)
    waits = []
    if pair is not None and pair.blocked_until and pair.blocked_until > now:
        waits.append(pair.blocked_until)
    if (
        pair is not None
        and pair.failures > 0
        and account_blocked_until is not None
        and account_blocked_until > now
    ):
        waits.append(account_blocked_until)  # this address has failed for the account too
    if waits:
        return Wait(_seconds_until(max(waits), now), by_address=False)
    return None


def count_failure(
    counter: Session, policy: BackoffPolicy, account: str | None, address: str
) -> None:
    """Count a failure from ``address`` (on ``account`` when known) in ``counter``, a session
    whose transaction is the caller's own (not the request's, which is rolled back)."""
    now = utcnow()
    forgotten = now - timedelta(seconds=policy.forget_after)
    counter.execute(delete(SignInFailure).where(SignInFailure.last_failed_at < forgotten))
    counts = [("", policy.address_free)]
    if account is not None:
        counts.append((account, policy.pair_free))
    for key, free in counts:
        row = counter.scalar(
            select(SignInFailure)
            .where(SignInFailure.account == key, SignInFailure.address == address)
            .with_for_update()
        )
        if row is None:
            row = _new_row(counter, key, address)
        row.failures += 1
        row.last_failed_at = now
        row.blocked_until = policy.blocked_until(row.failures, free, now)
    counter.flush()


def _new_row(counter: Session, account: str, address: str) -> SignInFailure:
    """The count of (account, address), created if it is new (another request may insert it
    at the same moment: the insert then does nothing), locked for update."""
    dialect = counter.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    counter.execute(
        insert(SignInFailure)
        .values(account=account, address=address, failures=0, last_failed_at=utcnow())
        .on_conflict_do_nothing(index_elements=["account", "address"])
    )
    return counter.scalars(
        select(SignInFailure)
        .where(SignInFailure.account == account, SignInFailure.address == address)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def account_failed(
    policy: BackoffPolicy, failures: int, now: datetime | None = None
) -> datetime | None:
    """Until when failing addresses wait after the account's ``failures``-th failure."""
    return policy.blocked_until(failures, policy.account_free, now or utcnow())


def forget_account_at(session: Session, account: str, address: str) -> None:
    """After a success: the account starts again from zero at this address (its address count
    stays, see the module's docstring)."""
    session.execute(
        delete(SignInFailure).where(
            SignInFailure.account == account, SignInFailure.address == address
        )
    )


def forget_account(session: Session, account: str) -> None:
    """An administrator lifted the account's back-off: every address starts again for it."""
    session.execute(delete(SignInFailure).where(SignInFailure.account == account))


def user_account(user_id: int) -> str:
    return f"user:{user_id}"


def client_account(client_id: str) -> str:
    return f"client:{client_id}"


# -- Device cookies: the proof step ---------------------------------------------------------------
DEVICE_COOKIE = "tinhso_device"
DEVICE_COOKIE_SECONDS = 365 * 24 * 3600


def _device_signature(secret: str, user_id: int, nonce: str) -> str:
    message = f"sign-in-device:{user_id}:{nonce}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def new_device_cookie(secret: str, user_id: int) -> str:
    """The cookie a successful sign-in of ``user_id`` leaves on the client's device."""
    nonce = new_token(16)
    return f"{user_id}.{nonce}.{_device_signature(secret, user_id, nonce)}"


def device_address(secret: str, cookie: str | None, user_id: int) -> str | None:
    """The key counting attempts from this device, when ``cookie`` is a device cookie the
    platform gave ``user_id``; None for anything else (absent, forged, another user's)."""
    if not cookie or len(cookie) > 200:
        return None
    owner, _, rest = cookie.partition(".")
    nonce, _, signature = rest.partition(".")
    if owner != str(user_id) or not nonce or not signature:
        return None
    if not same_secret(signature, _device_signature(secret, user_id, nonce)):
        return None
    return f"device:{nonce}"[:64]
