"""Officials' sign-in back-off (API tokens and the portal form): wrong passwords make the address
that sent them wait, longer each time, and never lock the account's holder out elsewhere."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.conftest import TEST_PASSWORD
from tests.portal.test_pages import log_in
from tinhso.core.db import utcnow
from tinhso.registry.accounts import LOGIN_BACKOFF
from tinhso.registry.auth import SESSION_COOKIE
from tinhso.registry.backoff import DEVICE_COOKIE
from tinhso.registry.models import Role, SignInFailure, User

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial

TOKENS = "/api/v1/auth/tokens"
ATTACKER = "203.0.113.7"
OWNER = "198.51.100.9"
ELSEWHERE = "192.0.2.44"


@pytest.fixture
def at(app: FastAPI) -> Iterator[Any]:
    """TestClients of the same app seen from different client addresses."""
    opened: list[TestClient] = []

    def client_at(address: str) -> TestClient:
        client = TestClient(app, base_url="http://127.0.0.1", client=(address, 50000))
        client.__enter__()
        opened.append(client)
        return client

    yield client_at
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def owner(make_official: MakeOfficial, province_tree: dict[str, str]) -> str:
    return make_official(Role.OFFICER, "so-tttt", username="chu.tai.khoan").username


def _sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post(TOKENS, json={"username": username, "password": password})


def _waits(response: Any, by_address: bool = False) -> int:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "too_many_attempts"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert ("địa chỉ này" in body["message"]["vi"]) and body["message"]["en"]
    assert ("this account" in body["message"]["en"]) is not by_address
    return int(response.headers["retry-after"])


def _time_passes(sessions: sessionmaker[Session], address: str | None = None) -> None:
    """Every wait (of ``address``, and the accounts' own) is over, as if time had passed;
    the counts stay."""
    past = utcnow() - timedelta(seconds=1)
    with sessions.begin() as session:
        statement = update(SignInFailure).values(blocked_until=past)
        if address is not None:
            statement = statement.where(SignInFailure.address == address)
        session.execute(statement)
        session.execute(
            update(User).where(User.locked_until.is_not(None)).values(locked_until=past)
        )


def test_an_attacker_cannot_lock_the_owner_out_from_another_address(
    at: Any, owner: str, sessions: sessionmaker[Session]
) -> None:
    attacker, holder = at(ATTACKER), at(OWNER)
    # The attacker guesses on and on, waiting out each delay (time passes between rounds).
    failures = 0
    for _ in range(4):
        while (response := _sign_in(attacker, owner, "doan-mat-khau")).status_code == 401:
            failures += 1
        _waits(response)
        _time_passes(sessions, ATTACKER)
    assert failures == LOGIN_BACKOFF.pair_free + 3
    with sessions() as session:
        user = session.scalars(select(User).where(User.username == owner)).one()
        assert user.failed_logins == failures
        assert user.locked_until is None or user.locked_until <= utcnow()

    # The attacker is waiting again: even the right password is refused to them...
    for _ in range(LOGIN_BACKOFF.pair_free):
        if _sign_in(attacker, owner, "doan-mat-khau").status_code == 429:
            break
    assert _waits(_sign_in(attacker, owner, TEST_PASSWORD)) > 0
    # ...but the holder, whose address has not been failing, signs in at once.
    response = _sign_in(holder, owner, TEST_PASSWORD)
    assert response.status_code == 200, response.text
    # The portal form too.
    portal = at(OWNER)
    assert log_in(portal, owner).status_code == 303
    assert portal.cookies.get(SESSION_COOKIE)


def test_many_addresses_guessing_one_account_each_wait_after_their_first_failure(
    at: Any, owner: str, sessions: sessionmaker[Session]
) -> None:
    # The account has had its free failures (from addresses that now wait)...
    for address, guesses in (("203.0.113.1", LOGIN_BACKOFF.account_free - 1), ("203.0.113.2", 1)):
        guesser = at(address)
        for _ in range(guesses):
            assert _sign_in(guesser, owner, "sai").status_code == 401
    # ...so a new address gets one guess, then waits for the account's delay: a botnet gets
    # one guess per address, not ``pair_free``.
    third = at(ELSEWHERE)
    assert _sign_in(third, owner, "sai").status_code == 401
    assert _waits(_sign_in(third, owner, "sai-nua")) > 0
    assert _waits(_sign_in(third, owner, TEST_PASSWORD)) > 0
    # The holder, who has not failed, is not refused; their success resets the account.
    assert _sign_in(at(OWNER), owner, TEST_PASSWORD).status_code == 200
    with sessions() as session:
        user = session.scalars(select(User).where(User.username == owner)).one()
        assert user.failed_logins == 0
        assert user.locked_until is None


def test_brute_force_from_one_address_waits_longer_each_time(
    at: Any, owner: str, sessions: sessionmaker[Session]
) -> None:
    attacker = at(ATTACKER)
    # A success before the limit starts the count again.
    for _ in range(LOGIN_BACKOFF.pair_free - 1):
        assert _sign_in(attacker, owner, "sai").status_code == 401
    assert _sign_in(attacker, owner, TEST_PASSWORD).status_code == 200
    attacker.cookies.clear()  # guessing without the device cookie that success gave
    for _ in range(LOGIN_BACKOFF.pair_free - 1):
        assert _sign_in(attacker, owner, "sai").status_code == 401
    assert _sign_in(attacker, owner, "sai").status_code == 401  # the last free failure
    first = _waits(_sign_in(attacker, owner, TEST_PASSWORD))
    assert first == LOGIN_BACKOFF.first_delay or first == LOGIN_BACKOFF.first_delay - 1
    # Waiting attempts are refused before the password is checked, and are not counted.
    for _ in range(3):
        _waits(_sign_in(attacker, owner, "sai"))
    with sessions() as session:
        pair = session.scalars(
            select(SignInFailure).where(
                SignInFailure.address == ATTACKER, SignInFailure.account != ""
            )
        ).one()
        assert pair.failures == LOGIN_BACKOFF.pair_free

    # Each further failure doubles the delay, up to the maximum.
    delays = []
    for _ in range(3):
        _time_passes(sessions, ATTACKER)
        assert _sign_in(attacker, owner, "sai").status_code == 401
        delays.append(_waits(_sign_in(attacker, owner, "sai")))
    assert delays[0] >= 2 * first - 1
    assert delays[1] >= 2 * delays[0] - 1
    assert delays[2] >= 2 * delays[1] - 1
    assert all(delay <= LOGIN_BACKOFF.max_delay for delay in delays)


def test_one_address_trying_many_accounts_waits_for_every_account(
    at: Any, owner: str, make_official: MakeOfficial
) -> None:
    other = make_official(Role.VIEWER, "so-tttt", username="nguoi.khac").username
    sprayer = at(ATTACKER)
    # Password spraying: a few guesses at each of many (mostly unknown) accounts.
    tried = 0
    while tried < LOGIN_BACKOFF.address_free:
        response = _sign_in(sprayer, f"ten-doan-{tried}", "Matkhau@123")
        assert response.status_code == 401, response.text
        tried += 1
    # The address now waits, whatever the account, even with a right password.
    assert _waits(_sign_in(sprayer, other, TEST_PASSWORD), by_address=True) > 0
    assert _waits(_sign_in(sprayer, "ten-moi", "x"), by_address=True) > 0
    # Nobody else is held back.
    assert _sign_in(at(OWNER), other, TEST_PASSWORD).status_code == 200
    assert _sign_in(at(ELSEWHERE), owner, TEST_PASSWORD).status_code == 200


def test_the_portal_form_says_how_long_to_wait(at: Any, owner: str) -> None:
    portal = at(ATTACKER)
    for _ in range(LOGIN_BACKOFF.pair_free):
        assert log_in(portal, owner, password="sai").status_code == 401
    response = log_in(portal, owner)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "thử lại sau" in response.text
    assert portal.cookies.get(SESSION_COOKIE) is None


def test_the_holder_behind_the_attackers_address_proves_a_known_device(
    at: Any, owner: str, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    shared = "203.0.113.50"  # one NAT address for a whole office
    holder = at(shared)
    # The holder signed in before from this browser, which keeps the device cookie.
    assert _sign_in(holder, owner, TEST_PASSWORD).status_code == 200
    device = holder.cookies.get(DEVICE_COOKIE)
    assert device
    # Someone else at the same address guesses until the address waits for the account.
    attacker = at(shared)
    for _ in range(LOGIN_BACKOFF.pair_free):
        assert _sign_in(attacker, owner, "doan").status_code == 401
    assert _waits(_sign_in(attacker, owner, TEST_PASSWORD)) > 0
    # The holder's browser proves its device: counted for the device, not the address.
    response = _sign_in(holder, owner, TEST_PASSWORD)
    assert response.status_code == 200, response.text
    assert holder.cookies.get(DEVICE_COOKIE) == device  # a valid cookie is kept
    portal = at(shared)
    portal.cookies.set(DEVICE_COOKIE, device)
    assert log_in(portal, owner).status_code == 303

    # A forged cookie, or another user's real one, proves nothing.
    with sessions() as session:
        user_id = session.scalars(select(User.id).where(User.username == owner)).one()
    other = make_official(Role.VIEWER, "so-tttt", username="nguoi.khac").username
    elsewhere = at(ELSEWHERE)
    assert _sign_in(elsewhere, other, TEST_PASSWORD).status_code == 200
    others_device = elsewhere.cookies.get(DEVICE_COOKIE)
    assert others_device and others_device != device
    for _ in range(LOGIN_BACKOFF.pair_free):
        _sign_in(attacker, owner, "doan-tiep")  # the attacker's own address waits again
    for forged in (f"{user_id}.abc.{'0' * 64}", others_device, device + "x"):
        attacker.cookies.set(DEVICE_COOKIE, forged)
        assert _waits(_sign_in(attacker, owner, TEST_PASSWORD)) > 0
