"""Operators keep the report categories through ``/api/v1/report-categories``, on both
databases: a new category with its questions is offered at once in Open311 (in the reader's
language); bad questions are refused each at its field and nothing is stored; a retired
category takes no new report but keeps the ones sent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinhso.core.calendar import shipped_calendar
from tinhso.core.config import ReportsSection
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.models import Channel, ReportCategory
from tinhso.reports.service import Submission, report_service

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import Official
    from tests.reports.conftest import ReportsWorld

PATH = "/api/v1/report-categories"

TREES: dict[str, Any] = {
    "code": "cay-xanh",
    "name_vi": "Cây xanh",
    "name_en": "Trees",
    "severity": "urgent",
    "group_vi": "Đô thị",
    "duplicate_radius_m": 50,
    "attributes": [
        {
            "code": "tinh-trang",
            "datatype": "singlevaluelist",
            "required": True,
            "description": "Tình trạng cây",
            "description_en": "The tree's state",
            "values": [{"key": "gay", "name": "Gãy đổ"}, {"key": "nghieng", "name": "Nghiêng"}],
        },
        {"code": "duong-kinh", "datatype": "number", "description": "Đường kính thân (cm)"},
    ],
}


def test_a_new_category_is_offered_at_once(
    client: TestClient, admin: Official, reports_world: ReportsWorld
) -> None:
    made = client.post(PATH, json=TREES, headers=admin.headers)
    assert made.status_code == 201, made.text
    assert [q["order"] for q in made.json()["attributes"]] == [1, 2]
    listed = {c["code"]: c for c in client.get(PATH, headers=admin.headers).json()}
    assert listed["cay-xanh"]["severity"] == "urgent" and listed["cay-xanh"]["active"]
    services = client.get("/open311/v2/services.json", headers={"Accept-Language": "en"}).json()
    assert "Trees" in [s["service_name"] for s in services]
    english = client.get(
        "/open311/v2/services/cay-xanh.json", headers={"Accept-Language": "en"}
    ).json()
    assert [a["description"] for a in english["attributes"]] == [
        "The tree's state",
        "Đường kính thân (cm)",  # no English given: the Vietnamese question
    ]
    vietnamese = client.get("/open311/v2/services/cay-xanh.json").json()
    assert vietnamese["attributes"][0]["description"] == "Tình trạng cây"
    assert vietnamese["attributes"][0]["values"][0] == {"key": "gay", "name": "Gãy đổ"}
    again = client.post(PATH, json=TREES, headers=admin.headers)
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "code"


def test_bad_questions_are_refused_each_at_its_field_and_nothing_is_stored(
    client: TestClient,
    admin: Official,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
) -> None:
    bad = {
        **TREES,
        "code": "Cây Xanh",
        "attributes": [
            {"code": "a", "datatype": "singlevaluelist", "description": "Chọn", "values": []},
            {"code": "a", "datatype": "number", "description": "Lặp"},
            {"code": "b", "datatype": "photo", "description": "Ảnh"},
            {
                "code": "c",
                "datatype": "multivaluelist",
                "description": "Nhiều",
                "values": [{"key": "x", "name": "X"}, {"key": "x", "name": "Y"}],
            },
        ],
    }
    refused = client.post(PATH, json=bad, headers=admin.headers)
    assert refused.status_code == 422, refused.text
    fields = {e["field"] for e in refused.json()["errors"]}
    assert fields == {
        "code",
        "attributes[0].values",
        "attributes[1].code",
        "attributes[2].datatype",
        "attributes[3].values",
    }
    assert refused.json()["errors"][0]["message"]["vi"]
    with sessions() as session:
        assert session.query(ReportCategory).filter_by(name_en="Trees").count() == 0
    before = client.get(PATH, headers=admin.headers).json()
    changed = client.put(
        f"{PATH}/moi-truong",
        json={
            "name_vi": " ",
            "name_en": "Environ\x00ment",
            "severity": "normal",
            "attributes": [
                {
                    "code": "x",
                    "datatype": "singlevaluelist",
                    "description": "Chọn\x07",
                    "values": [{"key": "a", "name": "A\x00"}],
                }
            ],
        },
        headers=admin.headers,
    )
    assert changed.status_code == 422
    assert {e["field"] for e in changed.json()["errors"]} == {
        "name_vi",
        "name_en",
        "attributes[0].description",
        "attributes[0].values",
    }
    assert client.get(PATH, headers=admin.headers).json() == before
    missing = client.put(
        f"{PATH}/khong-co",
        json={"name_vi": "A", "name_en": "A", "severity": "normal"},
        headers=admin.headers,
    )
    assert missing.status_code == 404


def test_a_retired_category_takes_no_new_report_and_keeps_the_old_ones(
    client: TestClient,
    admin: Official,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        sent = report_service.submit(
            session,
            Submission(
                category_code="dien-nuoc",
                description="Mất điện",
                channel=Channel.WEB,
                unit_code="07777",
            ),
            shipped_calendar(),
            DeadlinePolicy.from_settings(ReportsSection()),
        )
        code = sent.report.code
    body = {"name_vi": "Điện, nước", "name_en": "Power and water", "severity": "urgent"}
    retired = client.put(f"{PATH}/dien-nuoc", json=body | {"active": False}, headers=admin.headers)
    assert retired.status_code == 200 and retired.json()["active"] is False
    services = client.get("/open311/v2/services.json").json()
    assert "dien-nuoc" not in [s["service_code"] for s in services]
    refused = client.post(
        "/open311/v2/requests.json",
        data={"service_code": "dien-nuoc", "description": "Mất nước", "lat": "21.2", "long": "106"},
    )
    assert refused.status_code in (400, 403, 404), refused.text
    kept = client.get(f"/open311/v2/requests/{code}.json").json()
    assert kept[0]["service_code"] == "dien-nuoc"
    back = client.put(f"{PATH}/dien-nuoc", json=body, headers=admin.headers)
    assert back.json()["active"] is True and back.json()["name_en"] == "Power and water"
    services = client.get("/open311/v2/services.json").json()
    assert "dien-nuoc" in [s["service_code"] for s in services]
