"""A reporter's own space on both databases: a sign-in link by e-mail (the same answer for
any address), the link signs the device in, the list shows that address's reports only, and
the signed-in reporter rates without the report's key, but not someone else's report."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.portal.test_pages import form_token, log_in
from tinhso.core.models import OutgoingMail
from tinhso.registry.models import Role
from tinhso.reports.models import Rating, Report

from .test_citizen_pages import _aged_token, _send

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial
    from tests.reports.conftest import ReportsWorld


def _code(text: str) -> str:
    found = re.search(r'id="tracking-code">([^<]+)<', text)
    assert found is not None, text
    return found.group(1)


def _answer(client: TestClient, code: str, officer: str) -> None:
    log_in(client, officer)
    token = form_token(client.get(f"/reports/{code}/handle"))
    for action, note in (("accept", ""), ("answer", "Đã sửa xong.")):
        done = client.post(
            f"/reports/{code}/handle",
            data={"csrf_token": token, "action": action, "note": note},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
    client.cookies.clear()


def _link(sessions: sessionmaker[Session], email: str) -> str:
    with sessions() as session:
        row = (
            session.query(OutgoingMail)
            .filter_by(kind="sign-in", recipient=email)
            .order_by(OutgoingMail.id.desc())
            .first()
        )
        assert row is not None
        return row.link_path


def test_a_reporter_signs_in_by_mail_and_rates_without_the_key(
    client: TestClient,
    reports_world: ReportsWorld,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    mine = _code(_send(client, email="An.Nguyen@Example.vn", name="An").text)
    theirs = _code(_send(client, email="bi@example.vn").text)
    officer = make_official(Role.OFFICER, reports_world.ward_org).username
    _answer(client, mine, officer)
    _answer(client, theirs, officer)

    page = client.get("/reports/mine")
    assert page.status_code == 200 and "Nhận đường liên kết đăng nhập" in page.text
    bad = client.post("/reports/mine", data={"form_token": _aged_token(), "email": "không phải"})
    assert bad.status_code == 422 and 'id="mine-email-error"' in bad.text
    asked = client.post(
        "/reports/mine", data={"form_token": _aged_token(), "email": "an.nguyen@example.vn"}
    )
    nobody = client.post(
        "/reports/mine", data={"form_token": _aged_token(), "email": "ai@example.vn"}
    )
    assert asked.status_code == nobody.status_code == 200
    assert "đường liên kết đăng nhập đang được gửi tới" in asked.text
    assert asked.text.replace("an.nguyen", "ai").count("ai@example.vn") == nobody.text.count(
        "ai@example.vn"
    )  # the same answer whether or not the address sent reports
    assert (
        client.post(
            "/reports/mine",
            data={"form_token": _aged_token(), "email": "x@example.vn", "website": "s"},
        ).status_code
        == 403
    )

    link = _link(sessions, "an.nguyen@example.vn")
    assert client.get(link.replace("token=", "token=x")).status_code == 400
    assert "tinhso_reporter" not in client.cookies
    signed = client.get(link, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/reports/mine"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/reports" in cookie
    listing = client.get("/reports/mine").text
    assert mine in listing and theirs not in listing
    assert "Phản ánh đã gửi với địa chỉ an.nguyen@example.vn" in listing
    assert 'value="an.nguyen@example.vn"' in client.get("/reports/new").text

    track = client.get(f"/reports/{mine}").text
    assert "không cần mã bí mật" in track and 'id="rate-key"' not in track
    assert 'id="rate-key"' in client.get(f"/reports/{theirs}").text
    refused = client.post(f"/reports/{theirs}/rating", data={"rating": "satisfied"})
    assert refused.status_code == 422
    rated = client.post(
        f"/reports/{mine}/rating", data={"rating": "satisfied"}, follow_redirects=False
    )
    assert rated.status_code == 303
    with sessions() as session:
        ratings = {r.code: r.rating for r in session.query(Report)}
    assert ratings == {mine: Rating.SATISFIED, theirs: None}

    out = client.post("/reports/mine/sign-out", follow_redirects=False)
    assert out.status_code == 303
    assert "Nhận đường liên kết đăng nhập" in client.get("/reports/mine").text
