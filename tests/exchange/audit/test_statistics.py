"""Exchange statistics from the audit log: per day, per service, error rate; the portal page."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import TYPE_CHECKING

from openpyxl import load_workbook

from tinhso.core.db import utcnow
from tinhso.exchange.audit.chain import AuditEntry, append_entries
from tinhso.exchange.audit.statistics import exchange_statistics
from tinhso.registry.models import Role

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from tests.conftest import MakeOfficial

HIS = "so-yte/his/ho-so-suc-khoe/v1"
LAND = "so-tnmt/dat-dai/thua-dat/v1"


def _record(engine: Engine) -> None:
    now = utcnow()
    entries = [
        AuditEntry(now, f"today-{i}", "GET", 200, "ok", latency_us=2000, service=HIS)
        for i in range(4)
    ]
    entries.append(AuditEntry(now, "today-refused", "GET", 403, "no_grant", service=HIS))
    entries.append(AuditEntry(now, "today-land", "POST", 504, "upstream_timeout", service=LAND))
    entries.append(AuditEntry(now, "today-unknown", "GET", 404, "unknown_service"))
    entries += [
        AuditEntry(now - timedelta(days=3), f"earlier-{i}", "GET", 200, "ok", service=LAND)
        for i in range(2)
    ]
    entries.append(AuditEntry(now - timedelta(days=90), "long-ago", "GET", 200, "ok", service=HIS))
    append_entries(engine, entries)


def test_counts_per_day_and_service(engine: Engine, session: Session) -> None:
    _record(engine)
    statistics = exchange_statistics(session, days=30)
    assert statistics.exchanges == 9  # the record of 90 days ago is outside the window
    assert statistics.errors == 3
    assert [day.exchanges for day in statistics.days] == [2, 7]
    assert statistics.days[0].day < statistics.days[1].day
    by_service = {row.service: row for row in statistics.services}
    assert by_service[HIS].exchanges == 5
    assert by_service[HIS].errors == 1
    assert by_service[HIS].mean_latency_ms == 1.6  # (4 × 2 ms + 0) / 5
    assert by_service[LAND].errors == 1
    assert by_service[""].exchanges == 1  # a request that named no known service
    assert round(statistics.error_rate, 1) == 33.3


def test_statistics_page(
    client: TestClient, engine: Engine, make_official: MakeOfficial, province_tree: dict[str, str]
) -> None:
    assert client.get("/exchange/statistics", follow_redirects=False).status_code == 303
    viewer = make_official(Role.VIEWER, "so-tttt")
    _record(engine)
    page = client.get("/exchange/statistics", headers=viewer.headers)
    assert page.status_code == 200, page.text
    assert "Thống kê trao đổi dữ liệu" in page.text
    assert 'data-testid="total-exchanges">9<' in page.text
    assert "33,3 %" in page.text  # Vietnamese number format
    assert HIS in page.text
    assert '"exchanges": [2, 7]' in page.text  # the chart's data block
    link = 'id="export-xlsx" href="/exchange/statistics.xlsx?days=30"'
    assert link in page.text
    exported = client.get("/exchange/statistics.xlsx?days=30", headers=viewer.headers)
    assert exported.status_code == 200
    book = load_workbook(io.BytesIO(exported.content))
    assert book.sheetnames == [
        "Lượt trao đổi theo ngày",
        "Lượt trao đổi theo dịch vụ",
        "Thông tin báo cáo",
    ]
    per_day = list(book.worksheets[0].iter_rows(values_only=True))
    assert [row[1] for row in per_day[1:]] == [2, 7]  # numbers, not text
    per_service = {row[0]: row for row in book.worksheets[1].iter_rows(values_only=True)}
    assert per_service[HIS][1:] == (5, 1, 20.0, 1.6)
    assert client.get("/exchange/statistics.xlsx", follow_redirects=False).status_code == 303
