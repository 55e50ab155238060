"""The organisation tree for administrators, on both databases: a platform admin creates a
commune committee tied to a current unit typed by name; an organisation admin creates only
under their tree, moves nothing outside it, and is refused elsewhere; bad fields are marked
with nothing stored; an ambiguous unit name is refused with its readings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.portal.test_pages import form_token, log_in
from tinhso.registry.models import Role
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from httpx2 import Response
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial, Official

pytestmark = pytest.mark.usefixtures("province_tree")


def _post(client: TestClient, path: str, **fields: str) -> Response:
    token = form_token(client.get("/admin/organisations"))
    return client.post(path, data={"csrf_token": token, **fields}, follow_redirects=False)


def test_a_platform_admin_creates_and_changes_an_organisation(
    client: TestClient, admin: Official, sessions: sessionmaker[Session]
) -> None:
    log_in(client, admin.username)
    page = client.get("/admin/organisations")
    assert page.status_code == 200 and "Sở Y tế" in page.text
    created = _post(
        client,
        "/admin/organisations",
        code="ubnd-phuong-bich-dong-moi",
        name_vi="UBND phường Việt Yên mới",
        kind="commune_committee",
        parent="ubnd-tinh",
        unit_set="current",
        unit="phuong viet yen",
    )
    assert created.status_code == 303, created.text
    with sessions() as session:
        organisation = organisation_service.get(session, "ubnd-phuong-bich-dong-moi")
        assert organisation.administrative_unit_id is not None
    ambiguous = _post(
        client,
        "/admin/organisations/ubnd-phuong-bich-dong-moi",
        name_vi="UBND phường Việt Yên",
        kind="commune_committee",
        parent="ubnd-tinh",
        unit_set="current",
        unit="Việt Yên",
    )
    assert ambiguous.status_code == 422
    assert "Phường Việt Yên" in ambiguous.text and "Xã Việt Yên" in ambiguous.text
    renamed = _post(
        client,
        "/admin/organisations/ubnd-phuong-bich-dong-moi",
        name_vi="UBND phường Việt Yên",
        kind="commune_committee",
        parent="ubnd-tinh",
        unit_set="current",
        unit="07777",
    )
    assert renamed.status_code == 303
    with sessions() as session:
        assert (
            organisation_service.get(session, "ubnd-phuong-bich-dong-moi").name_vi
            == "UBND phường Việt Yên"
        )
    deleted = _post(client, "/admin/organisations/ubnd-phuong-bich-dong-moi/delete")
    assert deleted.status_code == 303


def test_an_organisation_admin_stays_in_their_tree(
    client: TestClient, make_official: MakeOfficial, sessions: sessionmaker[Session]
) -> None:
    admin = make_official(Role.ORGANISATION_ADMIN, "ubnd-viet-yen")
    log_in(client, admin.username)
    page = client.get("/admin/organisations")
    assert page.status_code == 200 and "Sở Y tế" not in page.text
    outside = _post(
        client,
        "/admin/organisations",
        code="xa-ngoai",
        name_vi="Xã ngoài",
        kind="commune_committee",
        parent="so-yte",
        unit_set="current",
        unit="",
    )
    assert outside.status_code == 403
    bad = _post(
        client,
        "/admin/organisations",
        code="Có Dấu!",
        name_vi="",
        kind="commune_committee",
        parent="ubnd-viet-yen",
        unit_set="current",
        unit="",
    )
    assert bad.status_code == 422
    inside = _post(
        client,
        "/admin/organisations",
        code="ubnd-xa-trong",
        name_vi="UBND xã trong cây",
        kind="commune_committee",
        parent="ubnd-viet-yen",
        unit_set="current",
        unit="",
    )
    assert inside.status_code == 303
    assert client.get("/admin/organisations/so-yte").status_code == 403
    with sessions() as session:
        names = {o.code for o in organisation_service.list_all(session)}
    assert "ubnd-xa-trong" in names and "xa-ngoai" not in names


def test_a_platform_admin_disables_and_re_enables_an_organisation(
    client: TestClient,
    admin: Official,
    make_official: MakeOfficial,
    sessions: sessionmaker[Session],
) -> None:
    own = make_official(Role.ORGANISATION_ADMIN, "ubnd-viet-yen")
    log_in(client, own.username)
    page = client.get("/admin/organisations/ubnd-viet-yen")
    assert page.status_code == 200 and "/disabled" not in page.text  # not theirs to decide
    assert (
        _post(client, "/admin/organisations/ubnd-viet-yen/disabled", disabled="1").status_code
        == 403
    )
    client.cookies.clear()
    log_in(client, admin.username)
    page = client.get("/admin/organisations/ubnd-viet-yen")
    assert "Vô hiệu hoá tổ chức này" in page.text
    disabled = _post(client, "/admin/organisations/ubnd-viet-yen/disabled", disabled="1")
    assert disabled.status_code == 303, disabled.text
    with sessions() as session:
        assert organisation_service.get(session, "ubnd-viet-yen").disabled
    page = client.get("/admin/organisations/ubnd-viet-yen")
    assert "đang bị vô hiệu hoá" in page.text and "Kích hoạt lại tổ chức này" in page.text
    assert '<span class="badge">Đã khoá</span>' in client.get("/admin/organisations").text
    enabled = _post(client, "/admin/organisations/ubnd-viet-yen/disabled", disabled="0")
    assert enabled.status_code == 303
    with sessions() as session:
        assert not organisation_service.get(session, "ubnd-viet-yen").disabled
