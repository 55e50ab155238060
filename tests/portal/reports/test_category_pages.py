"""Report categories in the portal, on both databases: a platform admin creates one with a
list question (choices typed one a line, keys made from names), changes it, removes a
question and retires it; a refused form marks each problem at its field and stores nothing;
an organisation's admin is refused."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.portal.test_pages import form_token, log_in
from tinhso.registry.models import Role
from tinhso.reports.handling import categories

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official
    from tests.reports.conftest import ReportsWorld

NEW = "/reports/operators/categories/new"


def _form(token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "code": "cay-xanh",
        "name_vi": "Cây xanh",
        "name_en": "Trees",
        "severity": "urgent",
        "duplicate_radius_m": "50",
        "active": "on",
        **fields,
    }


def test_an_operator_creates_changes_and_retires_a_category(
    client: TestClient,
    admin: Official,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
) -> None:
    log_in(client, admin.username)
    token = form_token(client.get(NEW))
    made = client.post(
        NEW,
        data=_form(
            token,
            **{
                "q-0-code": "tinh-trang",
                "q-0-datatype": "singlevaluelist",
                "q-0-description": "Tình trạng cây",
                "q-0-required": "on",
                "q-0-values": "Gãy đổ\nnghieng = Nghiêng nguy hiểm\n\n",
                "q-1-code": "duong-kinh",
                "q-1-datatype": "number",
                "q-1-description": "Đường kính (cm)",
                "q-1-values": "ignored for a number",
            },
        ),
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    page = client.get(made.headers["location"])
    assert page.status_code == 200 and 'id="saved"' in page.text
    assert "gay-do = Gãy đổ" in page.text
    with sessions() as session:
        stored = categories.found(session, "cay-xanh")
        assert stored.severity.value == "urgent" and stored.duplicate_radius_m == 50
        assert [q["code"] for q in stored.attributes] == ["tinh-trang", "duong-kinh"]
        assert stored.attributes[0]["values"] == [
            {"key": "gay-do", "name": "Gãy đổ"},
            {"key": "nghieng", "name": "Nghiêng nguy hiểm"},
        ]
        assert "values" not in stored.attributes[1]
    token = form_token(page)
    changed = client.post(
        "/reports/operators/categories/cay-xanh",
        data=_form(
            token,
            code="doi-ma",  # the code is not changed by the form
            name_en="Trees and parks",
            active="",
            **{
                "q-0-code": "tinh-trang",
                "q-0-datatype": "singlevaluelist",
                "q-0-description": "Tình trạng cây",
                "q-0-values": "gay = Gãy",
                "q-1-code": "duong-kinh",
                "q-1-datatype": "number",
                "q-1-description": "Đường kính (cm)",
                "q-1-remove": "on",
            },
        ),
        follow_redirects=False,
    )
    assert changed.status_code == 303, changed.text
    with sessions() as session:
        stored = categories.found(session, "cay-xanh")
        assert stored.name_en == "Trees and parks" and not stored.active
        assert [q["code"] for q in stored.attributes] == ["tinh-trang"]
    listing = client.get("/reports/operators/categories")
    row = re.search(r'<tr data-code="cay-xanh">.*?</tr>', listing.text, re.S)
    assert row is not None and "Ngừng sử dụng" in row.group(0)


def test_a_refused_form_marks_each_problem_and_stores_nothing(
    client: TestClient,
    admin: Official,
    reports_world: ReportsWorld,
    sessions: sessionmaker[Session],
) -> None:
    log_in(client, admin.username)
    token = form_token(client.get(NEW))
    refused = client.post(
        NEW,
        data=_form(
            token,
            name_en="",
            duplicate_radius_m="9000",
            **{
                "q-0-code": "",
                "q-0-description": "",
                "q-0-values": "",
                "q-1-code": "chon",
                "q-1-datatype": "multivaluelist",
                "q-1-description": "Chọn",
                "q-1-values": "",
                "q-2-code": "chon",
                "q-2-datatype": "text",
                "q-2-description": "Lặp mã",
            },
        ),
    )
    assert refused.status_code == 422
    for where in ("cat-name_en", "cat-duplicate_radius_m", "q-0-values", "q-1-code"):
        assert f'id="{where}-error"' in refused.text, where
    assert 'value="Cây xanh"' in refused.text  # what was typed is kept
    with sessions() as session:
        assert all(c.code != "cay-xanh" for c in categories.listed(session))
    twice = client.post(NEW, data=_form(token, code="moi-truong"))
    assert twice.status_code == 409 and 'id="cat-code-error"' in twice.text


def test_only_platform_admins_keep_categories(
    client: TestClient, reports_world: ReportsWorld, make_official: MakeOfficial
) -> None:
    officer = make_official(Role.ORGANISATION_ADMIN, reports_world.province_org)
    log_in(client, officer.username)
    token = form_token(client.get("/reports/queue"))
    for path in ("/reports/operators/categories", NEW, "/reports/operators/categories/y-te"):
        assert client.get(path).status_code == 403, path
    assert client.post(NEW, data=_form(token)).status_code == 403
    assert client.post("/reports/operators/categories/y-te", data=_form(token)).status_code == 403
