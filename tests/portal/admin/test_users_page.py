"""Officials in the portal: administrators create accounts with the API's rules (a platform
admin anywhere, an organisation admin only in their tree), the new official can log in with
the password shown once; everyone else is refused with a message."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.portal.test_pages import form_token, log_in
from tinhso.registry.models import Role, RoleAssignment, User

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

pytestmark = pytest.mark.usefixtures("province_tree")


def _create(client: TestClient, **fields: str) -> tuple[int, str]:
    page = client.get("/admin/users")
    assert page.status_code == 200, page.text
    data = {"role": "officer", **fields, "csrf_token": form_token(page)}
    answer = client.post("/admin/users", data=data)
    return answer.status_code, answer.text


def _password(text: str) -> str:
    found = re.search(r'id="created-password">([^<]+)<', text)
    assert found is not None, "no password shown"
    return found.group(1)


def test_a_platform_admin_creates_a_commune_officer_who_can_then_log_in(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    assert log_in(client, admin.username).status_code == 303
    assert 'href="/admin/users"' in client.get("/").text  # in the menu
    status, text = _create(
        client,
        username="Nguyen-Van-An",
        full_name="Nguyễn Văn An",
        email="an@vietyen.bacninh.gov.vn",
        organisation="ubnd-viet-yen",
    )
    assert status == 201, text
    assert "Đã tạo tài khoản nguyen-van-an (Nguyễn Văn An)." in text
    password = _password(text)
    assert len(password) >= 12
    with sessions() as session:
        user = session.scalars(select(User).where(User.username == "nguyen-van-an")).one()
        assert password not in user.password_hash
        roles = session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id))
        assert [r.role for r in roles] == [Role.OFFICER]
    listing = client.get("/admin/users").text
    assert 'data-username="nguyen-van-an"' in listing
    assert "Cán bộ · UBND thị xã Việt Yên" in listing
    assert password not in listing  # shown once only

    client.cookies.clear()
    assert log_in(client, "nguyen-van-an", password).status_code == 303
    assert client.get("/monitoring/entry").status_code == 200
    assert client.get("/admin/users").status_code == 403  # an officer, not an admin


def test_an_organisation_admin_creates_only_in_their_tree(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    head = make_official(Role.ORGANISATION_ADMIN, "ubnd-tinh", username="quan-tri-tinh")
    assert log_in(client, head.username).status_code == 303
    page = client.get("/admin/users").text
    assert 'value="so-yte"' in page  # under the province committee
    assert 'value="ubnd-khac"' not in page  # another province: not offered
    status, _ = _create(client, username="tran-binh", full_name="Trần Bình", organisation="so-yte")
    assert status == 201
    status, text = _create(
        client, username="le-khac", full_name="Lê Khắc", organisation="ubnd-khac"
    )
    assert status == 422
    assert "Bạn không có quyền quản trị tổ chức này" in text
    with sessions() as session:
        assert session.scalar(select(User).where(User.username == "le-khac")) is None


def test_bad_fields_are_marked_and_nothing_is_created(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    assert log_in(client, admin.username).status_code == 303
    status, text = _create(client, username="A", full_name="", organisation="")
    assert status == 422
    assert "Chưa tạo tài khoản nào" in text
    assert text.count('aria-invalid="true"') == 3  # username, full name, organisation
    status, text = _create(
        client, username="root-admin", full_name="Trùng Tên", organisation="so-tttt"
    )
    assert status == 422
    assert "Tên đăng nhập root-admin đã tồn tại" in text
    status, text = _create(
        client, username="ok-name", full_name="Tên", organisation="so-tttt", role="owner"
    )
    assert status == 422
    assert "Hãy chọn một vai trò trong danh sách." in text
    for organisation in ("khong-co", "x" * 64, "<b>"):
        status, text = _create(
            client, username="ok-name", full_name="Tên Đúng", organisation=organisation
        )
        assert status == 422, organisation
        assert 'id="user-organisation-error"' in text, re.findall(r"field-error[^<]*<", text)
    with sessions() as session:
        assert session.scalar(select(User).where(User.username == "ok-name")) is None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OFFICER])
def test_officials_who_administer_nothing_are_refused(
    client: TestClient, make_official: MakeOfficial, role: Role
) -> None:
    official = make_official(role, "so-tttt")
    assert log_in(client, official.username).status_code == 303
    assert 'href="/admin/users"' not in client.get("/").text
    page = client.get("/admin/users")
    assert page.status_code == 403
    assert "Chỉ quản trị viên (nền tảng hoặc tổ chức) được quản lý người dùng" in page.text


def test_without_the_form_token_nothing_is_created(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    assert log_in(client, admin.username).status_code == 303
    answer = client.post(
        "/admin/users",
        data={"username": "no-token", "full_name": "Không Mã", "organisation": "so-tttt"},
    )
    assert answer.status_code == 403
    with sessions() as session:
        assert session.scalar(select(User).where(User.username == "no-token")) is None


def test_anonymous_visitors_are_sent_to_the_login_page(client: TestClient) -> None:
    answer = client.get("/admin/users", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


def test_the_page_in_english(client: TestClient, admin: Official) -> None:
    assert log_in(client, admin.username).status_code == 303
    client.get("/lang/en?next=/admin/users")
    text = client.get("/admin/users").text
    assert "New account" in text and "Create the account" in text
    assert "Tài khoản mới" not in text


def test_an_admin_disables_resets_and_unlocks_in_the_portal(
    client: TestClient, province_tree: dict[str, str], make_official: MakeOfficial
) -> None:
    admin = make_official(Role.ORGANISATION_ADMIN, "so-tttt")
    officer = make_official(Role.OFFICER, "so-tttt")
    elsewhere = make_official(Role.OFFICER, "so-yte")
    assert log_in(client, admin.username).status_code == 303
    page = client.get("/admin/users")
    token = form_token(page)
    assert f'action="/admin/users/{admin.username}/manage"' not in page.text  # not oneself
    disabled = client.post(
        f"/admin/users/{officer.username}/manage", data={"csrf_token": token, "change": "disable"}
    )
    assert disabled.status_code == 200 and "đã bị khoá" in disabled.text
    assert client.get("/api/v1/users/me", headers=officer.headers).status_code == 401
    reset = client.post(
        f"/admin/users/{officer.username}/manage", data={"csrf_token": token, "change": "password"}
    )
    assert reset.status_code == 200 and reset.headers["cache-control"] == "no-store"
    password = re.search(r'id="reset-password">([^<]+)<', reset.text)
    assert password is not None
    client.post(
        f"/admin/users/{officer.username}/manage", data={"csrf_token": token, "change": "enable"}
    )
    signed = client.post(
        "/api/v1/auth/tokens", json={"username": officer.username, "password": password.group(1)}
    )
    assert signed.status_code in (200, 201)
    outside = client.post(
        f"/admin/users/{elsewhere.username}/manage", data={"csrf_token": token, "change": "disable"}
    )
    assert outside.status_code == 403
    assert (
        client.post(
            f"/admin/users/{officer.username}/manage",
            data={"csrf_token": token, "change": "explode"},
        ).status_code
        == 422
    )
