"""The audit log in the portal: officials of a party search their systems' exchanges and
open one with its proof; nobody else sees them; a tampered record shows its proof failing;
platform administrators export a range with its proof."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from tests.portal.test_pages import log_in
from tinhso.core.db import utcnow
from tinhso.exchange.audit import chain as audit
from tinhso.exchange.audit.chain import AuditEntry
from tinhso.exchange.audit.proof import verify_export
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.models import AuditRecord

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import Official
    from tests.exchange.conftest import ExchangeWorld
    from tinhso.core.config import Settings

HIS = "so-yte/his/ho-so-suc-khoe/v1"


def _record(engine: Engine, settings: Settings, sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        signer = signing_key_service.active_signer(session, settings)
    now = utcnow()
    entries = [
        AuditEntry(now, "req-ok", "GET", 200, "ok", consumer="ubnd-viet-yen/mot-cua", service=HIS,
                   path_template="/citizens/{id}", latency_us=2500, bytes_out=120),
        AuditEntry(now, "req-refused", "GET", 403, "no_grant", consumer="ubnd-khac/app",
                   service=HIS, path_template="/citizens/{id}"),
        AuditEntry(now, "req-other", "POST", 200, "ok", consumer="ubnd-khac/app",
                   service="ubnd-khac/dat-dai/thua-dat/v1"),
    ]  # fmt: skip
    audit.append_entries(engine, entries, signer, timedelta(0))


def test_a_party_searches_its_exchanges_and_sees_one_proven(
    client: TestClient,
    exchange_world: ExchangeWorld,
    engine: Engine,
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    _record(engine, settings, sessions)
    assert log_in(client, exchange_world.provider_officer.username).status_code == 303
    page = client.get("/exchange/audit")
    assert page.status_code == 200
    assert "req-other" not in page.text and "thua-dat" not in page.text  # not a party
    assert 'href="/exchange/audit/1"' in page.text and 'href="/exchange/audit/2"' in page.text
    refused = client.get("/exchange/audit", params={"status": "4xx"}).text
    assert 'href="/exchange/audit/2"' in refused and 'href="/exchange/audit/1"' not in refused
    by_consumer = client.get("/exchange/audit", params={"counterpart": "ubnd-viet-yen"}).text
    assert 'href="/exchange/audit/1"' in by_consumer
    assert 'href="/exchange/audit/2"' not in by_consumer
    bad = client.get("/exchange/audit", params={"from": "31/02/2026"})
    assert bad.status_code == 422 and "dd/mm/yyyy" in bad.text

    record = client.get("/exchange/audit/1")
    assert record.status_code == 200
    assert 'id="proof-verdict"' in record.text and "Đã chứng minh" in record.text
    assert client.get("/exchange/audit/3").status_code == 404  # another parties' exchange
    assert client.get("/exchange/audit/export", params={"from": "01/01/2026"}).status_code == 403

    client.cookies.clear()
    assert log_in(client, exchange_world.consumer_officer.username).status_code == 303
    mine = client.get("/exchange/audit").text
    assert 'href="/exchange/audit/1"' in mine and 'href="/exchange/audit/2"' not in mine

    with sessions.begin() as session:  # tamper with the record's status
        session.execute(update(AuditRecord).where(AuditRecord.seq == 1).values(status=500))
    tampered = client.get("/exchange/audit/1").text
    assert "Bằng chứng không đạt" in tampered and "không khớp với nội dung" in tampered


def test_platform_admins_export_a_range_with_its_proof(
    client: TestClient,
    admin: Official,
    engine: Engine,
    settings: Settings,
    sessions: sessionmaker[Session],
    province_tree: dict[str, str],
) -> None:
    _record(engine, settings, sessions)
    assert log_in(client, admin.username).status_code == 303
    everything = client.get("/exchange/audit").text
    assert 'href="/exchange/audit/3"' in everything
    today = (utcnow() + timedelta(hours=7)).strftime("%d/%m/%Y")
    exported = client.get("/exchange/audit/export", params={"from": today, "to": today})
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-disposition"].startswith("attachment")
    document = exported.json()
    assert len(document["records"]) == 3
    assert verify_export(document).ok
    too_long = client.get("/exchange/audit/export", params={"from": "01/01/2026", "to": today})
    assert too_long.status_code == 422
