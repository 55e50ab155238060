"""The reporting grid (issue 14, journey 3), on both databases: a ward officer fills the
month's grid (all or nothing, a bad value marked and nothing stored) and submits it; the
values are then locked on every path; the province officer sends it back with a comment,
the ward corrects and submits again, and the province approves."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.portal.test_pages import form_token, log_in
from tinhso.core.errors import Conflict
from tinhso.monitoring.models import (
    Aggregation,
    DataElement,
    DataValue,
    PeriodType,
    ValueSource,
    ValueType,
)
from tinhso.monitoring.schemas import ElementCreate, ValueIn
from tinhso.monitoring.service import catalogue_service
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.registry.models import Role, UnitSet
from tinhso.registry.schemas import UnitRef

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from httpx2 import Response
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.reports.conftest import ReportsWorld

WARD = "current:07777"
PERIOD = "2026-10"


@pytest.fixture
def monthly(sessions: sessionmaker[Session]) -> list[str]:
    codes = ["ho_so_truc_tuyen", "thanh_toan_truc_tuyen"]
    with sessions.begin() as session:
        for code, name in zip(
            codes, ["Hồ sơ nộp trực tuyến", "Giao dịch thanh toán trực tuyến"], strict=True
        ):
            catalogue_service.create_element(
                session,
                ElementCreate(
                    code=code,
                    name_vi=name,
                    unit_of_measure="hồ sơ",
                    value_type=ValueType.INTEGER,
                    aggregation=Aggregation.SUM,
                    period_type=PeriodType.MONTH,
                    non_negative=True,
                ),
            )
    return codes


def _values(sessions: sessionmaker[Session]) -> dict[str, float]:
    with sessions() as session:
        rows = session.execute(
            select(DataElement.code, DataValue.value)
            .join(DataElement, DataElement.id == DataValue.data_element_id)
            .where(DataValue.period == PERIOD)
        )
        return {str(code): float(value) for code, value in rows}


def _post(client: TestClient, path: str, **fields: str) -> Response:
    token = form_token(client.get(f"/monitoring/grid?unit={WARD}&period={PERIOD}"))
    return client.post(
        path,
        data={"csrf_token": token, "unit": WARD, "period": PERIOD, **fields},
        follow_redirects=False,
    )


def test_fill_submit_send_back_and_approve(
    client: TestClient,
    reports_world: ReportsWorld,
    make_official: MakeOfficial,
    monthly: list[str],
    sessions: sessionmaker[Session],
) -> None:
    ward = make_official(Role.OFFICER, reports_world.ward_org)
    province = make_official(Role.OFFICER, reports_world.province_org)
    log_in(client, ward.username)
    page = client.get(f"/monitoring/grid?unit={WARD}&period={PERIOD}")
    assert page.status_code == 200 and "Hồ sơ nộp trực tuyến" in page.text
    bad = _post(
        client, "/monitoring/grid", **{f"value:{monthly[0]}": "1.250", f"value:{monthly[1]}": "abc"}
    )
    assert bad.status_code == 422 and "không phải là số" in bad.text
    assert _values(sessions) == {}
    saved = _post(
        client, "/monitoring/grid", **{f"value:{monthly[0]}": "1.250", f"value:{monthly[1]}": "87"}
    )
    assert saved.status_code == 303
    assert _values(sessions) == {monthly[0]: 1250, monthly[1]: 87}
    assert _post(client, "/monitoring/grid/review", decision="approve").status_code == 403
    assert _post(client, "/monitoring/grid/submit").status_code == 303
    locked = _post(client, "/monitoring/grid", **{f"value:{monthly[1]}": "90"})
    assert locked.status_code == 422 and "đã gửi duyệt" in locked.text
    with sessions.begin() as session, pytest.raises(Conflict):  # every path is locked
        value_service.record_many(
            session,
            [
                ValueIn(
                    element_code=monthly[1],
                    unit=UnitRef(unit_set=UnitSet.CURRENT, code="07777"),
                    period=PERIOD,
                    value=91,
                    source=ValueSource.API,
                )
            ],
            Provenance(entered_by_id=None, source=ValueSource.API),
        )
    assert _values(sessions)[monthly[1]] == 87

    client.cookies.clear()
    log_in(client, province.username)
    assert _post(client, "/monitoring/grid/review", decision="return").status_code == 422
    back = _post(
        client, "/monitoring/grid/review", decision="return", comment="Số giao dịch tháng 10 thiếu"
    )
    assert back.status_code == 303

    client.cookies.clear()
    log_in(client, ward.username)
    page = client.get(f"/monitoring/grid?unit={WARD}&period={PERIOD}")
    assert "Số giao dịch tháng 10 thiếu" in page.text and "Trả lại để sửa" in page.text
    assert _post(client, "/monitoring/grid", **{f"value:{monthly[1]}": "95"}).status_code == 303
    assert _post(client, "/monitoring/grid/submit").status_code == 303
    client.cookies.clear()
    log_in(client, province.username)
    assert _post(client, "/monitoring/grid/review", decision="approve").status_code == 303
    final = client.get(f"/monitoring/grid?unit={WARD}&period={PERIOD}")
    assert re.search(r'id="grid-state">Đã duyệt<', final.text)
    assert _values(sessions) == {monthly[0]: 1250, monthly[1]: 95}


def test_the_reporting_calendar_shows_each_unit_below(
    client: TestClient,
    reports_world: ReportsWorld,
    make_official: MakeOfficial,
    monthly: list[str],
) -> None:
    province = make_official(Role.OFFICER, reports_world.province_org)
    ward = make_official(Role.OFFICER, reports_world.ward_org)
    log_in(client, ward.username)
    assert _post(client, "/monitoring/grid", **{f"value:{monthly[0]}": "12"}).status_code == 303
    assert _post(client, "/monitoring/grid/submit").status_code == 303
    client.cookies.clear()
    log_in(client, province.username)
    page = client.get(f"/monitoring/reporting?unit=current:24&period={PERIOD}")
    assert page.status_code == 200
    row = re.search(r"<tr>(?:(?!</tr>).)*Phường Việt Yên(?:(?!</tr>).)*</tr>", page.text, re.S)
    assert row is not None
    assert "Đã gửi, chờ duyệt" in row.group(0) and "1 / 2" in row.group(0)
    other = re.search(r"<tr>(?:(?!</tr>).)*Phường Đa Mai(?:(?!</tr>).)*</tr>", page.text, re.S)
    assert other is not None and "0 / 2" in other.group(0) and "Bản nháp" in other.group(0)
    assert client.get("/monitoring/reporting?unit=current:24&period=2026-13").status_code == 422
    exported = client.get(f"/monitoring/reporting.xlsx?unit=current:24&period={PERIOD}")
    assert exported.status_code == 200 and 'href="/monitoring/reporting.xlsx?unit=current%3A24' in (
        page.text
    )
    sheet = load_workbook(io.BytesIO(exported.content)).worksheets[0]
    rows = {r[1]: r for r in sheet.iter_rows(values_only=True)}
    assert rows["Mã đơn vị"] == (
        "Địa bàn",
        "Mã đơn vị",
        "Trạng thái",
        "Đã nhập",
        "Cần nhập",
    )
    assert rows["07777"][2:] == ("Đã gửi, chờ duyệt", 1, 2)
    assert rows["07228"][2:] == ("Bản nháp", 0, 2)
    bad = client.get("/monitoring/reporting.xlsx?unit=current:24&period=2026-13")
    assert bad.status_code == 422


def test_units_that_have_not_reported_are_reminded(
    client: TestClient,
    reports_world: ReportsWorld,
    make_official: MakeOfficial,
    monthly: list[str],
    sessions: sessionmaker[Session],
) -> None:
    from sqlalchemy import update  # noqa: PLC0415

    from tinhso.core.models import OutgoingMail  # noqa: PLC0415
    from tinhso.monitoring.submissions import queue_reminders  # noqa: PLC0415
    from tinhso.registry.models import User  # noqa: PLC0415

    ward = make_official(Role.OFFICER, reports_world.ward_org)
    province = make_official(Role.OFFICER, reports_world.province_org)
    with sessions.begin() as session:
        for official, email in ((ward, "phuong@vietyen.gov.vn"), (province, "tinh@bacninh.gov.vn")):
            session.execute(
                update(User).where(User.username == official.username).values(email=email)
            )
        element_ids = list(
            session.scalars(select(DataElement.id).where(DataElement.code.in_(monthly)))
        )
        assert queue_reminders(session, PERIOD, element_ids) == 2
        assert sorted(m.recipient for m in session.scalars(select(OutgoingMail))) == [
            "phuong@vietyen.gov.vn",
            "tinh@bacninh.gov.vn",
        ]
    log_in(client, ward.username)
    _post(client, "/monitoring/grid", **{f"value:{monthly[0]}": "3", f"value:{monthly[1]}": "4"})
    _post(client, "/monitoring/grid/submit")
    with sessions.begin() as session:
        session.query(OutgoingMail).delete()
        assert queue_reminders(session, PERIOD, element_ids) == 1  # only the province now
        [reminder] = session.scalars(select(OutgoingMail))
        assert reminder.recipient == "tinh@bacninh.gov.vn"
        assert reminder.link_path == f"/monitoring/grid?unit=current:24&period={PERIOD}"
