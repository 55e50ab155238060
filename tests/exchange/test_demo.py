"""The exchange demo data loads on top of the registry demo, twice without duplicates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tinhso.exchange.demo import load_exchange_demo
from tinhso.exchange.models import ConnectionRequest, ExchangeService, Grant
from tinhso.exchange.snapshot import exchange_snapshot
from tinhso.registry.demo import load_registry_demo

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def test_demo_loads_and_is_idempotent(sessions: sessionmaker[Session]) -> None:
    for _ in range(2):
        with sessions.begin() as session:
            load_registry_demo(session, "mat-khau-demo-123")
            load_exchange_demo(session)
    with sessions() as session:
        counts = [
            session.scalar(select(func.count()).select_from(model))
            for model in (ExchangeService, Grant, ConnectionRequest)
        ]
        assert counts == [2, 1, 2]
        snapshot = exchange_snapshot(session)
        key = "so-yte-bac-giang/kham-tu-xa/lich-su-kham/v1"
        (grant,) = snapshot.grants_for("ttpvhcc-bac-giang/mot-cua", key)
        assert grant.allows("GET", "/patients/001099012345/visits")
