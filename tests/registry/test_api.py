"""Registry API: organisations, systems and officials, as each role, with bad input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from tinhso.registry.models import InformationSystem, Organisation, Role, User, UserCredential

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from tests.conftest import MakeOfficial, Official


def _problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["message"]["vi"]
    assert body["message"]["en"]
    if field is not None:
        assert field in [error["field"] for error in body.get("errors", [])], body
    return body


def _count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


NEW_DEPARTMENT = {
    "code": "so-gtvt",
    "name_vi": "Sở Giao thông vận tải",
    "kind": "department",
    "parent_code": "ubnd-tinh",
}


# Who may create a department under ubnd-tinh: the permission matrix in one place.
@pytest.mark.parametrize(
    ("role", "organisation", "expected"),
    [
        ("platform_admin", None, 201),
        (Role.ORGANISATION_ADMIN, "ubnd-tinh", 201),
        (Role.ORGANISATION_ADMIN, "so-tttt", 403),  # admin of a sibling, not of the parent
        (Role.ORGANISATION_ADMIN, "ubnd-khac", 403),  # admin of another province
        (Role.OFFICER, "ubnd-tinh", 403),
        (Role.VIEWER, "ubnd-tinh", 403),
    ],
)
def test_create_child_organisation_as_each_role(
    client: TestClient,
    make_official: MakeOfficial,
    province_tree: dict[str, str],
    session: Session,
    role: Role | str,
    organisation: str | None,
    expected: int,
) -> None:
    official = (
        make_official(platform_admin=True)
        if role == "platform_admin"
        else make_official(role, organisation)
    )
    before = _count(session, Organisation)
    response = client.post("/api/v1/organisations", json=NEW_DEPARTMENT, headers=official.headers)
    assert response.status_code == expected, response.text
    if expected == 201:
        assert response.json()["parent_code"] == "ubnd-tinh"
        assert _count(session, Organisation) == before + 1
    else:
        _problem(response, 403)
        assert _count(session, Organisation) == before


def test_organisation_admin_changes_only_their_own_tree(
    client: TestClient, make_official: MakeOfficial, province_tree: dict[str, str]
) -> None:
    admin_of_tttt = make_official(Role.ORGANISATION_ADMIN, "so-tttt")
    own = client.patch(
        "/api/v1/organisations/so-tttt",
        json={"name_en": "Department of Information and Communications"},
        headers=admin_of_tttt.headers,
    )
    assert own.status_code == 200
    assert own.json()["name_en"] == "Department of Information and Communications"
    sibling = client.patch(
        "/api/v1/organisations/so-yte", json={"name_en": "Health"}, headers=admin_of_tttt.headers
    )
    _problem(sibling, 403)
    # Moving their organisation out from under the province needs rights at the destination.
    escape = client.patch(
        "/api/v1/organisations/so-tttt",
        json={"parent_code": "ubnd-khac"},
        headers=admin_of_tttt.headers,
    )
    _problem(escape, 403)


def test_province_admin_reaches_the_whole_subtree(
    client: TestClient, make_official: MakeOfficial, province_tree: dict[str, str]
) -> None:
    province_admin = make_official(Role.ORGANISATION_ADMIN, "ubnd-tinh")
    response = client.patch(
        "/api/v1/organisations/ubnd-viet-yen",
        json={"name_vi": "UBND thị xã Việt Yên (cũ)"},
        headers=province_admin.headers,
    )
    assert response.status_code == 200
    assert response.json()["name_vi"] == "UBND thị xã Việt Yên (cũ)"


def test_viewer_reads_but_cannot_write(
    client: TestClient, make_official: MakeOfficial, province_tree: dict[str, str]
) -> None:
    viewer = make_official(Role.VIEWER, "so-tttt")
    listing = client.get("/api/v1/organisations", headers=viewer.headers)
    assert listing.status_code == 200
    assert listing.json()["total"] == len(province_tree)
    _problem(
        client.patch(
            "/api/v1/organisations/so-tttt", json={"name_en": "x y"}, headers=viewer.headers
        ),
        403,
    )
    _problem(
        client.post(
            "/api/v1/systems",
            json={"code": "qlvb", "organisation_code": "so-tttt", "name_vi": "Quản lý văn bản"},
            headers=viewer.headers,
        ),
        403,
    )


def test_reads_need_a_login(client: TestClient, province_tree: dict[str, str]) -> None:
    response = client.get("/api/v1/organisations")
    body = _problem(response, 401)
    assert body["code"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")
    _problem(client.get("/api/v1/organisations", headers={"Authorization": "Bearer forged"}), 401)


def test_unknown_parent_is_refused_and_nothing_written(
    client: TestClient, admin: Official, province_tree: dict[str, str], session: Session
) -> None:
    before = _count(session, Organisation)
    response = client.post(
        "/api/v1/organisations",
        json={**NEW_DEPARTMENT, "parent_code": "khong-ton-tai"},
        headers=admin.headers,
    )
    body = _problem(response, 422, "parent_code")
    assert "khong-ton-tai" in body["message"]["vi"]
    assert _count(session, Organisation) == before


def test_duplicate_code_is_a_conflict(
    client: TestClient, admin: Official, province_tree: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/organisations", json={**NEW_DEPARTMENT, "code": "so-tttt"}, headers=admin.headers
    )
    _problem(response, 409, "code")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**NEW_DEPARTMENT, "code": "Sở GTVT"}, "code"),
        ({**NEW_DEPARTMENT, "kind": "ministry"}, "kind"),
        ({k: v for k, v in NEW_DEPARTMENT.items() if k != "name_vi"}, "name_vi"),
        ({**NEW_DEPARTMENT, "surprise": True}, "surprise"),
        (
            {**NEW_DEPARTMENT, "administrative_unit": {"unit_set": "legacy", "code": "99999"}},
            "administrative_unit",
        ),
    ],
)
def test_malformed_payloads_name_the_field(
    client: TestClient,
    admin: Official,
    province_tree: dict[str, str],
    session: Session,
    payload: dict[str, Any],
    field: str,
) -> None:
    before = _count(session, Organisation)
    response = client.post("/api/v1/organisations", json=payload, headers=admin.headers)
    _problem(response, 422, field)
    assert _count(session, Organisation) == before


def test_validation_message_follows_language(client: TestClient, admin: Official) -> None:
    response = client.post(
        "/api/v1/organisations",
        json={"code": "x"},
        headers={**admin.headers, "Accept-Language": "en"},
    )
    body = _problem(response, 422)
    assert body["detail"].startswith("The request is not valid")
    vietnamese = client.post("/api/v1/organisations", json={"code": "x"}, headers=admin.headers)
    assert vietnamese.json()["detail"].startswith("Dữ liệu gửi lên không hợp lệ")


def test_cycle_in_the_tree_is_refused(
    client: TestClient, admin: Official, province_tree: dict[str, str]
) -> None:
    response = client.patch(
        "/api/v1/organisations/ubnd-tinh", json={"parent_code": "so-tttt"}, headers=admin.headers
    )
    _problem(response, 422, "parent_code")


def test_organisation_with_children_cannot_be_deleted(
    client: TestClient, admin: Official, province_tree: dict[str, str], session: Session
) -> None:
    _problem(client.delete("/api/v1/organisations/ubnd-tinh", headers=admin.headers), 409)
    assert client.delete("/api/v1/organisations/so-yte", headers=admin.headers).status_code == 204
    assert session.scalar(select(Organisation).where(Organisation.code == "so-yte")) is None


def test_systems_belong_to_organisations(
    client: TestClient, make_official: MakeOfficial, province_tree: dict[str, str], session: Session
) -> None:
    admin_of_tttt = make_official(Role.ORGANISATION_ADMIN, "so-tttt")
    created = client.post(
        "/api/v1/systems",
        json={
            "code": "lgsp",
            "organisation_code": "so-tttt",
            "name_vi": "Nền tảng tích hợp, chia sẻ dữ liệu",
            "is_provider": True,
        },
        headers=admin_of_tttt.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["is_provider"] is True
    duplicate = client.post(
        "/api/v1/systems",
        json={"code": "lgsp", "organisation_code": "so-tttt", "name_vi": "Trùng mã"},
        headers=admin_of_tttt.headers,
    )
    _problem(duplicate, 409, "code")
    elsewhere = client.post(
        "/api/v1/systems",
        json={"code": "his", "organisation_code": "so-yte", "name_vi": "Bệnh viện"},
        headers=admin_of_tttt.headers,
    )
    _problem(elsewhere, 403)
    unknown = client.post(
        "/api/v1/systems",
        json={"code": "his", "organisation_code": "khong-co", "name_vi": "Bệnh viện"},
        headers=admin_of_tttt.headers,
    )
    _problem(unknown, 422, "organisation_code")
    assert _count(session, InformationSystem) == 1
    listing = client.get("/api/v1/systems?organisation=so-tttt", headers=admin_of_tttt.headers)
    assert [s["code"] for s in listing.json()["items"]] == ["lgsp"]


def test_api_token_login_and_revocation(
    client: TestClient, make_official: MakeOfficial, province_tree: dict[str, str], session: Session
) -> None:
    make_official(Role.OFFICER, "so-tttt", username="nguyen.van.an")
    wrong = client.post(
        "/api/v1/auth/tokens", json={"username": "nguyen.van.an", "password": "sai-mat-khau"}
    )
    body = _problem(wrong, 401, "password")
    assert body["message"]["vi"] == "Tên đăng nhập hoặc mật khẩu không đúng"
    unknown = client.post("/api/v1/auth/tokens", json={"username": "khong-co", "password": "x"})
    assert unknown.json()["message"] == body["message"]  # no hint which part was wrong

    issued = client.post(
        "/api/v1/auth/tokens",
        json={"username": "Nguyen.Van.An", "password": "mat-khau-thu-nghiem-123"},
    )
    assert issued.status_code == 200
    token = issued.json()["access_token"]
    assert issued.json()["expires_in"] == 60 * 60  # settings.api_token_minutes
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/users/me", headers=headers)
    assert me.json()["roles"] == [{"organisation_code": "so-tttt", "role": "officer"}]
    # Only the token's digest is stored.
    assert (
        session.scalar(select(UserCredential).where(UserCredential.token_digest == token)) is None
    )

    assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204
    _problem(client.get("/api/v1/users/me", headers=headers), 401)


def test_organisation_admin_creates_users_only_in_their_tree(
    client: TestClient, make_official: MakeOfficial, province_tree: dict[str, str], session: Session
) -> None:
    admin_of_tttt = make_official(Role.ORGANISATION_ADMIN, "so-tttt")
    new_user = {
        "username": "tran.thi.binh",
        "full_name": "Trần Thị Bình",
        "password": "mot-mat-khau-dai-du",
        "roles": [{"organisation_code": "so-tttt", "role": "officer"}],
    }
    assert (
        client.post("/api/v1/users", json=new_user, headers=admin_of_tttt.headers).status_code
        == 201
    )
    users_before = _count(session, User)
    outsider = {
        **new_user,
        "username": "le.van.c",
        "roles": [{"organisation_code": "so-yte", "role": "officer"}],
    }
    _problem(client.post("/api/v1/users", json=outsider, headers=admin_of_tttt.headers), 403)
    no_role = {**new_user, "username": "le.van.d", "roles": []}
    _problem(
        client.post("/api/v1/users", json=no_role, headers=admin_of_tttt.headers), 403, "roles"
    )
    short = {**new_user, "username": "le.van.e", "password": "ngan"}
    _problem(
        client.post("/api/v1/users", json=short, headers=admin_of_tttt.headers), 422, "password"
    )
    assert _count(session, User) == users_before


def test_password_is_stored_as_argon2(
    client: TestClient, admin: Official, province_tree: dict[str, str], session: Session
) -> None:
    client.post(
        "/api/v1/users",
        json={"username": "hash.check", "full_name": "Kiểm tra", "password": "mot-mat-khau-dai-du"},
        headers=admin.headers,
    )
    stored = session.scalar(select(User.password_hash).where(User.username == "hash.check"))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert "mot-mat-khau-dai-du" not in stored


def test_cookie_session_needs_csrf_token_for_writes(
    client: TestClient, sessions: Any, province_tree: dict[str, str], settings: Any
) -> None:
    from tinhso.registry.accounts import account_service  # noqa: PLC0415
    from tinhso.registry.auth import SESSION_COOKIE, csrf_token_for  # noqa: PLC0415
    from tinhso.registry.models import CredentialKind  # noqa: PLC0415
    from tinhso.registry.schemas import UserCreate  # noqa: PLC0415

    with sessions.begin() as session:
        account_service.create(
            session,
            UserCreate(
                username="portal.admin", full_name="Quản trị", password="mot-mat-khau-dai-du"
            ),
            platform_admin=True,
        )
        issued = account_service.login(
            session, "portal.admin", "mot-mat-khau-dai-du", CredentialKind.PORTAL_SESSION, 30
        )
    client.cookies.set(SESSION_COOKIE, issued.token)
    assert client.get("/api/v1/organisations").status_code == 200  # reads need no CSRF token
    forged = client.post("/api/v1/organisations", json=NEW_DEPARTMENT)
    _problem(forged, 403, "x-csrf-token")
    csrf = csrf_token_for(settings.secret_key.get_secret_value(), issued.token)
    allowed = client.post(
        "/api/v1/organisations", json=NEW_DEPARTMENT, headers={"X-CSRF-Token": csrf}
    )
    assert allowed.status_code == 201, allowed.text


def test_disabled_account_answers_like_a_wrong_password(
    client: TestClient, make_official: MakeOfficial, province_tree: dict[str, str], session: Session
) -> None:
    from sqlalchemy import update  # noqa: PLC0415

    make_official(Role.OFFICER, "so-tttt", username="da.nghi")
    session.execute(update(User).where(User.username == "da.nghi").values(is_active=False))
    session.commit()
    right = client.post(
        "/api/v1/auth/tokens", json={"username": "da.nghi", "password": "mat-khau-thu-nghiem-123"}
    )
    body = _problem(right, 401, "password")
    assert body["message"]["en"] == "Wrong username or password"
