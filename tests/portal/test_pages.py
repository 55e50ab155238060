"""Portal shell through the real app: login/logout, CSRF, language, home page, error pages."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD
from tinhso.app import create_app
from tinhso.core.config import Settings
from tinhso.registry.auth import SESSION_COOKIE
from tinhso.registry.models import CredentialKind, UserCredential
from tinhso.registry.schemas import SystemCreate
from tinhso.registry.systems import system_service

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx2 as httpx
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(page: httpx.Response) -> str:
    found = _FIELD.search(page.text)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def log_in(
    client: TestClient, username: str, password: str = TEST_PASSWORD, next_path: str = "/"
) -> httpx.Response:
    form = client.get("/login")
    assert form.status_code == 200
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "next": next_path,
            "csrf_token": form_token(form),
        },
        follow_redirects=False,
    )


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


@pytest.fixture
def official(make_official: MakeOfficial, province_tree: dict[str, str]) -> str:
    return make_official(username="can-bo-portal").username


# --- Login page and language -------------------------------------------------------------------


def test_login_page_is_vietnamese_by_default_and_english_after_switching(
    client: TestClient,
) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text
    assert "Đăng nhập" in page.text
    assert "Tên đăng nhập" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")

    switched = client.get("/lang/en", params={"next": "/login"}, follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/login"

    english = client.get("/login")
    assert '<html lang="en">' in english.text
    assert "Username" in english.text
    assert "Tên đăng nhập" not in english.text

    client.get("/lang/vi")
    assert "Tên đăng nhập" in client.get("/login").text


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "evil"],
)
def test_language_switch_refuses_open_redirects(client: TestClient, target: str) -> None:
    response = client.get("/lang/en", params={"next": target}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_unknown_language_is_not_found(client: TestClient) -> None:
    assert client.get("/lang/fr", follow_redirects=False).status_code == 404


# --- Logging in --------------------------------------------------------------------------------


def test_login_sets_a_secure_session_cookie_and_opens_the_home_page(
    client: TestClient, official: str
) -> None:
    response = log_in(client, official)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    (cookie,) = set_cookie_headers(response, SESSION_COOKIE)
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "max-age=28800" in attributes  # portal_session_minutes, not a year
    assert "secure" not in attributes  # base_url is http in tests

    home = client.get("/")
    assert home.status_code == 200
    assert "Cán bộ can-bo-portal" in home.text
    assert "Sở Thông tin và Truyền thông" in home.text


def test_wrong_password_shows_the_vietnamese_message_and_sets_no_session(
    client: TestClient, official: str
) -> None:
    response = log_in(client, official, password="sai-mat-khau")
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in response.text
    assert 'value="can-bo-portal"' in response.text  # the username is kept, the password is not
    assert "sai-mat-khau" not in response.text
    assert set_cookie_headers(response, SESSION_COOKIE) == []
    assert SESSION_COOKIE not in client.cookies


def test_wrong_password_message_in_english(client: TestClient, official: str) -> None:
    client.get("/lang/en")
    response = log_in(client, official, password="wrong-password")
    assert response.status_code == 401
    assert "Wrong username or password" in response.text


def test_unknown_user_gets_the_same_message(client: TestClient, official: str) -> None:
    response = log_in(client, "khong-ton-tai")
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in response.text


def test_secure_cookie_when_base_url_is_https(
    settings: Settings, engine: Engine, official: str
) -> None:
    https = settings.model_copy(update={"base_url": "https://tinhso.bacgiang.gov.vn"})
    with TestClient(create_app(https, engine), base_url="https://127.0.0.1") as client:
        response = log_in(client, official)
    assert response.status_code == 303
    (cookie,) = set_cookie_headers(response, SESSION_COOKIE)
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_login_without_the_form_token_is_refused(client: TestClient, official: str) -> None:
    client.get("/login")
    response = client.post(
        "/login",
        data={"username": official, "password": TEST_PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_login_form_token_only_works_with_its_cookie(
    app: object, client: TestClient, official: str
) -> None:
    token = form_token(client.get("/login"))
    client.cookies.clear()  # an attacker's page has the field but not the victim's cookie
    response = client.post(
        "/login",
        data={"username": official, "password": TEST_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 403


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_login_refuses_open_redirects(client: TestClient, official: str, target: str) -> None:
    response = log_in(client, official, next_path=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_login_returns_to_the_page_asked_for(client: TestClient, official: str) -> None:
    response = log_in(client, official, next_path="/?q=y%20te")
    assert response.headers["location"] == "/?q=y%20te"


def test_password_is_never_logged(
    client: TestClient, official: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log_in(client, official, password="bi-mat-khong-ghi-log-42")
    log_in(client, official)
    captured = capsys.readouterr()
    assert "bi-mat-khong-ghi-log-42" not in captured.out + captured.err
    assert TEST_PASSWORD not in captured.out + captured.err
    session_token = client.cookies.get(SESSION_COOKIE)
    assert session_token
    assert session_token not in captured.out + captured.err


# --- Pages need a login; unsafe requests need the CSRF token -----------------------------------


def test_home_requires_login(client: TestClient) -> None:
    response = client.get("/?q=so", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Fq%3Dso"


def test_htmx_request_without_login_is_sent_to_the_login_page(client: TestClient) -> None:
    response = client.get(
        "/partials/organisations",
        headers={"HX-Request": "true", "HX-Current-URL": "http://127.0.0.1/?kind=department"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/login?next=/"


def test_post_without_csrf_token_is_forbidden(client: TestClient, official: str) -> None:
    log_in(client, official)
    assert client.get("/").status_code == 200
    response = client.post("/logout", follow_redirects=False)
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert "<html" in response.text  # a portal page, not problem+json
    wrong = client.post("/logout", data={"csrf_token": "0" * 64}, follow_redirects=False)
    assert wrong.status_code == 403
    assert client.get("/").status_code == 200  # still logged in


def test_logout_revokes_the_session(
    client: TestClient, official: str, sessions: sessionmaker[Session]
) -> None:
    log_in(client, official)
    old_cookie = client.cookies[SESSION_COOKIE]
    token = form_token(client.get("/"))
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    (cleared,) = set_cookie_headers(response, SESSION_COOKIE)
    assert "max-age=0" in cleared.lower()

    with sessions() as session:
        credentials = list(
            session.scalars(
                select(UserCredential).where(UserCredential.kind == CredentialKind.PORTAL_SESSION)
            )
        )
    assert len(credentials) == 1
    assert credentials[0].revoked_at is not None

    client.cookies.set(SESSION_COOKIE, old_cookie)
    again = client.get("/", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


def test_logout_without_a_session_just_goes_to_the_login_page(client: TestClient) -> None:
    response = client.post("/logout", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_htmx_logout_with_header_token(client: TestClient, official: str) -> None:
    log_in(client, official)
    token = form_token(client.get("/"))
    response = client.post("/logout", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert response.status_code == 303


def test_login_page_sends_a_logged_in_official_on(client: TestClient, official: str) -> None:
    log_in(client, official)
    response = client.get("/login", params={"next": "/?kind=department"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/?kind=department"


def test_a_new_login_revokes_the_session_cookie_it_replaces(
    client: TestClient, official: str
) -> None:
    log_in(client, official)
    first = client.cookies[SESSION_COOKIE]
    client.cookies.clear()
    token = form_token(client.get("/login"))
    client.cookies.set(SESSION_COOKIE, first)
    response = client.post(
        "/login",
        data={"username": official, "password": TEST_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    (cookie,) = set_cookie_headers(response, SESSION_COOKIE)
    second = cookie.split(";")[0].split("=", 1)[1]
    assert first != second
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, second)
    assert client.get("/", follow_redirects=False).status_code == 200
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, first)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_session_cookie_is_not_an_api_token(client: TestClient, official: str) -> None:
    log_in(client, official)
    token = client.cookies[SESSION_COOKIE]
    response = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


# --- Home page ---------------------------------------------------------------------------------


@pytest.fixture
def logged_in(
    client: TestClient, official: str, sessions: sessionmaker[Session]
) -> Iterator[TestClient]:
    with sessions.begin() as session:
        system_service.create(
            session,
            SystemCreate(
                organisation_code="so-yte",
                code="his",
                name_vi="Hệ thống thông tin bệnh viện",
                name_en="Hospital information system",
                is_consumer=True,
                is_provider=True,
            ),
        )
        system_service.create(
            session,
            SystemCreate(
                organisation_code="so-tttt",
                code="mot-cua",
                name_vi="Hệ thống một cửa điện tử",
                is_consumer=True,
                is_provider=False,
            ),
        )
    log_in(client, official)
    yield client


def test_home_lists_the_organisation_tree_and_systems(logged_in: TestClient) -> None:
    page = logged_in.get("/")
    assert page.status_code == 200
    text = page.text
    for name in ("UBND tỉnh Bắc Giang", "Sở Y tế", "UBND thị xã Việt Yên", "UBND tỉnh khác"):
        assert name in text
    # children are nested under their parent
    root = text.index("UBND tỉnh Bắc Giang")
    assert text.index('<ul class="org-children">', root) < text.index("Sở Y tế")
    assert "Thị xã Việt Yên" in text  # administrative unit
    assert "Sở, ban, ngành" in text  # kind in Vietnamese
    assert "Hệ thống thông tin bệnh viện" in text
    assert "Cung cấp dữ liệu" in text
    assert "Khai thác dữ liệu" in text
    assert 'name="csrf_token"' in text
    assert "X-CSRF-Token" in text
    assert page.headers["cache-control"] == "no-store"


def test_home_in_english_uses_english_names(logged_in: TestClient) -> None:
    logged_in.get("/lang/en")
    text = logged_in.get("/").text
    assert "Hospital information system" in text
    assert "Department or agency" in text
    assert "Provides data" in text
    assert "Hệ thống thông tin bệnh viện" not in text


def test_filter_partial_ignores_diacritics_and_keeps_ancestors(logged_in: TestClient) -> None:
    response = logged_in.get(
        "/partials/organisations", params={"q": "so y te"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Sở Y tế" in response.text
    assert "UBND tỉnh Bắc Giang" in response.text  # context: the parent
    assert "UBND tỉnh khác" not in response.text
    assert "1 tổ chức phù hợp với bộ lọc" in response.text
    assert response.headers["hx-push-url"] == "/?q=so+y+te"


def test_filter_by_kind_on_the_full_page(logged_in: TestClient) -> None:
    text = logged_in.get("/", params={"kind": "district_committee"}).text
    assert "UBND thị xã Việt Yên" in text
    assert "Sở Y tế" not in text
    nothing = logged_in.get("/", params={"q": "khong co to chuc nay"}).text
    assert "Không có tổ chức nào phù hợp với bộ lọc" in nothing


def test_nav_shows_only_registered_domains(logged_in: TestClient) -> None:
    text = logged_in.get("/").text
    assert 'href="/"' in text
    assert ("Trao đổi dữ liệu" in text) == _registered(logged_in, "/exchange")
    assert ("Giám sát chuyển đổi số" in text) == _registered(logged_in, "/monitoring")


def _registered(client: TestClient, path: str) -> bool:
    return client.get(path, follow_redirects=False).status_code != 404


# --- Error pages -------------------------------------------------------------------------------


def test_unknown_page_is_a_portal_404(client: TestClient) -> None:
    response = client.get("/khong-co-trang-nay", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy trang" in response.text
    assert "Tỉnh số" in response.text


def test_invalid_page_parameters_get_a_portal_error_page(logged_in: TestClient) -> None:
    response = logged_in.get("/", params={"q": "x" * 101})
    assert response.status_code == 422
    assert "Yêu cầu không hợp lệ" in response.text
    assert "Cán bộ can-bo-portal" in response.text  # the header still knows who is logged in


def test_api_errors_stay_problem_json(client: TestClient) -> None:
    response = client.get("/api/v1/khong-co", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    unauthenticated = client.get("/api/v1/organisations")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == "application/problem+json"
    invalid = client.get("/api/v1/units", params={"limit": 0})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
