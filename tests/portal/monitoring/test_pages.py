"""Monitoring pages render with demo data, show the statuses the monitoring service
computes, say which unit tree they show, and need a login."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import TEST_PASSWORD
from tests.portal.monitoring.support import (
    AS_OF,
    DEMO_PLAN,
    EXPECTED_STATUS,
    PLAN,
    PLAN_NUMBER,
    SOURCE,
    load_test_plan,
    record_revised_payment_share,
)
from tinhso.monitoring import repository
from tinhso.monitoring.progress.service import progress_service
from tinhso.monitoring.schemas import ValueIn
from tinhso.monitoring.values.service import Provenance, value_service
from tinhso.portal.monitoring import overview

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import MakeOfficial

ROW = re.compile(r'data-indicator="([a-z0-9_]+)" data-year="(\d{4})" data-status="([a-z_]+)"')


def login(client: TestClient, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/login",
        data={"username": username, "password": TEST_PASSWORD, "csrf_token": token[1], "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303


@pytest.fixture
def data(sessions: sessionmaker[Session]) -> None:
    load_test_plan(sessions)


@pytest.fixture
def viewer(client: TestClient, make_official: MakeOfficial) -> TestClient:
    login(client, make_official(username="xem-so-lieu").username)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/monitoring",
        "/monitoring/indicators/households_fibre_rate",
        "/monitoring/rankings",
        "/monitoring/index",
        "/monitoring/entry",
        "/monitoring/import",
    ],
)
def test_pages_need_a_login(client: TestClient, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/monitoring")


def test_overview_defaults_to_plan_324_with_the_services_statuses(
    viewer: TestClient, data: None, sessions: sessionmaker[Session]
) -> None:
    answer = viewer.get(f"/monitoring?as_of={AS_OF}")
    assert answer.status_code == 200
    html = answer.text
    assert "324/KH-UBND" in html
    assert 'href="/monitoring" aria-current="page"' in html  # nav item of the portal shell
    with sessions() as session:
        plan = repository.plan_by_code(session, DEMO_PLAN)
        assert plan is not None
        computed = progress_service.plan_progress(session, plan, AS_OF)
    expected = Counter((a.indicator_code, str(a.year), a.status) for a in computed)
    assert Counter(ROW.findall(html)) == expected
    assert len(computed) == 18
    assert '<script type="application/json" id="status-chart-data">' in html
    assert "<script>" not in html  # no inline script (CSP)


def test_overview_badges_show_each_status_as_text_and_colour(
    viewer: TestClient, data: None
) -> None:
    html = viewer.get(f"/monitoring?plan={PLAN}&as_of={AS_OF}").text
    assert PLAN_NUMBER in html
    assert {code: status for code, _year, status in ROW.findall(html)} == EXPECTED_STATUS
    for css, text in (
        ("status-achieved", "Đạt"),
        ("status-not-achieved", "Không đạt"),
        ("status-behind", "Chậm tiến độ"),
        ("status-on-track", "Đúng tiến độ"),
        ("status-unknown", "Chưa có số liệu"),
    ):
        assert re.search(
            rf'class="status-badge {css}"><span aria-hidden="true">[^<]+</span> {text}<', html
        )
    assert "45,5" in html  # Vietnamese decimal comma
    assert "91,0\u00a0%" in html  # achievement 45,5 / 50
    assert SOURCE in html  # the latest value's source


def test_overview_in_english(viewer: TestClient, data: None) -> None:
    viewer.cookies.set("tinhso_lang", "en")
    html = viewer.get(f"/monitoring?plan={PLAN}&as_of={AS_OF}").text
    for text in ("Achieved", "Not achieved", "Behind schedule", "On track", "No data"):
        assert f"</span> {text}<" in html
    assert "Latest value" in html


def test_unknown_plan_is_404(viewer: TestClient, data: None) -> None:
    assert viewer.get("/monitoring?plan=khong_co").status_code == 404


def test_indicator_detail_chart_targets_and_provenance(viewer: TestClient, data: None) -> None:
    answer = viewer.get("/monitoring/indicators/kt_cap_quang?tree=legacy&unit=24")
    assert answer.status_code == 200
    html = answer.text
    assert 'id="indicator-chart"' in html
    chart = re.search(r'id="indicator-chart-data">(.*?)</script>', html, re.DOTALL)
    assert chart is not None
    assert '"value": 80.0' in chart[1] or '"value":80.0' in chart[1]  # the target line
    assert SOURCE in html  # provenance of the recorded values
    assert 'data-tree="legacy"' in html
    assert "Theo địa giới hành chính cũ" in html  # the view says which tree it is


def test_indicator_detail_on_the_current_tree_reaggregates(viewer: TestClient, data: None) -> None:
    html = viewer.get("/monitoring/indicators/iot_devices_per_100_people?tree=current").text
    assert 'data-tree="current"' in html
    assert "Theo địa giới hành chính hiện hành" in html
    assert "Bắc Ninh" in html  # legacy Bắc Giang's values re-aggregated onto current 24
    assert "tổng hợp lại từ đơn vị cũ" in html


def test_unknown_indicator_is_404(viewer: TestClient, data: None) -> None:
    assert viewer.get("/monitoring/indicators/khong_co").status_code == 404


def test_rankings_of_units_on_an_indicator(viewer: TestClient, data: None) -> None:
    answer = viewer.get(
        "/monitoring/rankings?indicator=kt_thanh_toan&period=2024&tree=legacy&level=province"
    )
    assert answer.status_code == 200
    table = re.search(r'id="ranking">(.*?)</table>', answer.text, re.DOTALL)
    assert table is not None
    assert "Tỉnh Bắc Giang" in table[1]
    assert "45,5" in table[1]
    # One province has a value: "first of one" is not a rank.
    assert "Chưa đủ đơn vị để xếp hạng: cần số liệu của ít nhất 3 đơn vị, hiện có 1." in answer.text
    assert ">Hạng<" not in table[1]


def test_ranks_are_shown_once_enough_units_have_values(
    viewer: TestClient, data: None, sessions: sessionmaker[Session]
) -> None:
    # Thái Nguyên (19) and Hà Nội (01) report too: three provinces, ranks mean something.
    items = [
        ValueIn.model_validate(
            {
                "element_code": "kt_thanh_toan_pct",
                "unit": {"unit_set": "legacy", "code": code},
                "period": "2024",
                "value": value,
            }
        )
        for code, value in (("19", 60), ("01", 30))
    ]
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))
    answer = viewer.get(
        "/monitoring/rankings?indicator=kt_thanh_toan&period=2024&tree=legacy&level=province"
    )
    table = re.search(r'id="ranking">(.*?)</table>', answer.text, re.DOTALL)
    assert table is not None
    assert ">Hạng<" in table[1]
    assert "Chưa đủ đơn vị" not in answer.text
    order = re.findall(r"<strong>(\d+)</strong></td>\s*<td><a [^>]*>([^<]+)</a>", table[1])
    assert order == [("1", "Tỉnh Thái Nguyên"), ("2", "Tỉnh Bắc Giang"), ("3", "Thành phố Hà Nội")]


def test_a_published_rank_is_shown_as_a_reported_figure_not_re_ranked(
    viewer: TestClient, data: None
) -> None:
    answer = viewer.get("/monitoring/rankings?indicator=dti_ranking&tree=legacy&level=province")
    assert answer.status_code == 200
    assert "thứ hạng do nơi khác công bố" in answer.text
    table = re.search(r'id="ranking">(.*?)</table>', answer.text, re.DOTALL)
    assert table is not None
    assert ">Hạng<" not in table[1]


def test_index_page_renders_a_methodology(viewer: TestClient, data: None) -> None:
    answer = viewer.get("/monitoring/index?tree=legacy")
    assert answer.status_code == 200
    assert 'name="methodology"' in answer.text
    assert "DTI" in answer.text
    table = re.search(r'id="index-table">(.*?)</table>', answer.text, re.DOTALL)
    assert table is not None
    # The demo's DTI methodology has data for Bắc Giang alone: no rank among one.
    assert len(re.findall(r'class="unit-cell"', table[1])) == 1
    assert "Chưa đủ đơn vị để xếp hạng" in answer.text
    assert ">Hạng<" not in table[1]


def test_indicator_page_says_which_value_it_shows_when_recorded_and_legacy_values_meet(
    viewer: TestClient, data: None, sessions: sessionmaker[Session]
) -> None:
    """2025 spans 1 July 2025: values recorded under legacy Bắc Giang (24) and under the
    current Bắc Ninh (24) for the same year. The page shows the recorded one and says why."""
    rows = [
        ("iot_devices", "legacy", "24", 1_000),
        ("population", "legacy", "24", 1_900_000),
        ("iot_devices", "current", "24", 5_000),
        ("population", "current", "24", 3_600_000),
    ]
    items = [
        ValueIn.model_validate(
            {
                "element_code": code,
                "unit": {"unit_set": unit_set, "code": unit},
                "period": "2025",
                "value": value,
            }
        )
        for code, unit_set, unit, value in rows
    ]
    with sessions.begin() as session:
        value_service.record_many(session, items, Provenance(entered_by_id=None))
    html = viewer.get("/monitoring/indicators/iot_devices_per_100_people?tree=current&unit=24").text
    assert 'id="basis-note"' in html
    assert "không dùng số liệu của đơn vị cũ cho kỳ này" in html  # the row's basis
    assert "Trang hiển thị số liệu nhập" in html  # which one it shows, and why
    legacy = viewer.get("/monitoring/indicators/iot_devices_per_100_people?tree=legacy&unit=24")
    assert 'id="basis-note"' not in legacy.text


def test_the_unit_picker_finds_units_without_diacritics(viewer: TestClient, data: None) -> None:
    options = viewer.get("/units/options", params={"set": "legacy", "q": "viet yen"})
    assert options.status_code == 200
    found = re.findall(r'<option value="(\d+)">([^<]+)</option>', options.text)
    assert ("222", "Thị xã Việt Yên (222)") in found
    assert found[0][0] == "222"  # the district before communes of the same name
    assert viewer.get("/units/options", params={"q": "v"}).text.strip() == ""  # too short


def test_rankings_within_a_unit_typed_by_name_one_reading_or_both_shown(
    viewer: TestClient, data: None
) -> None:
    base = "/monitoring/rankings?indicator=kt_thanh_toan&period=2024&tree=legacy&level=district"
    one = viewer.get(base + "&parent=thanh pho bac giang")
    assert one.status_code == 200
    assert 'value="213"' in one.text and 'id="parent-error"' not in one.text
    by_code = viewer.get(base + "&parent=24")
    assert 'value="24"' in by_code.text and 'id="parent-error"' not in by_code.text
    province_or_city = viewer.get(base + "&parent=bac giang")
    assert "Tỉnh Bắc Giang (24)" in province_or_city.text
    assert "Thành phố Bắc Giang (213)" in province_or_city.text
    several = viewer.get(base + "&parent=Việt Yên")
    assert several.status_code == 200
    assert "có thể là nhiều đơn vị" in several.text
    assert "Thị xã Việt Yên (222)" in several.text and "Xã Việt Yên (12091)" in several.text
    assert 'id="ranking"' not in several.text  # nothing ranked on a guess
    unknown = viewer.get(base + "&parent=khong ton tai")
    assert "Không có đơn vị hành chính nào tên" in unknown.text


def test_overview_shows_a_page_of_targets_with_the_counts_of_all(
    viewer: TestClient, data: None, sessions: sessionmaker[Session], monkeypatch: Any
) -> None:
    """A plan of many targets x units is shown a page at a time (a plan on every commune of
    a province was a 782 KiB page): the status counts are of every row, each row is on
    exactly one page, in the order of the whole list, and a page past the last shows the
    last; nothing else asked of the page is refused with a 500."""
    monkeypatch.setattr(overview, "PAGE_SIZE", 5)
    with sessions() as session:
        plan = repository.plan_by_code(session, DEMO_PLAN)
        assert plan is not None
        computed = progress_service.plan_progress(session, plan, AS_OF)
    assert len(computed) == 18  # 4 pages of 5
    every = Counter((a.indicator_code, str(a.year), a.status) for a in computed)
    whole: Counter[tuple[str, str, str]] = Counter()
    order: list[tuple[str, str, str]] = []
    for number in range(1, 5):
        html = viewer.get(f"/monitoring?as_of={AS_OF}&page={number}").text
        rows = ROW.findall(html)
        assert len(rows) == (5 if number < 4 else 3), number
        whole.update(rows)
        order.extend(rows)
        assert f"Trang {number} / 4" in html
        assert f"mục tiêu {(number - 1) * 5 + 1}–{min(number * 5, 18)} trên tổng số 18" in html
        assert ('rel="prev"' in html) == (number > 1)
        assert ('rel="next"' in html) == (number < 4)
        # the status tiles count every target, not the page's
        counts = re.findall(r'<span class="status-stat-value">(\d+)</span>', html)
        assert sum(int(c) for c in counts) == 18
    assert whole == every
    # the pages in turn are the whole list in the order one page showed it
    monkeypatch.setattr(overview, "PAGE_SIZE", 50)
    assert ROW.findall(viewer.get(f"/monitoring?as_of={AS_OF}").text) == order
    monkeypatch.setattr(overview, "PAGE_SIZE", 5)
    last = viewer.get(f"/monitoring?as_of={AS_OF}&page=4").text
    assert ROW.findall(viewer.get(f"/monitoring?as_of={AS_OF}&page=99").text) == ROW.findall(last)
    for odd in ("0", "-1", "abc", "1e3", "999999"):
        answer = viewer.get(f"/monitoring?as_of={AS_OF}&page={odd}")
        assert answer.status_code in {200, 422}, (odd, answer.status_code)
    # the export still holds every target
    book = viewer.get(f"/monitoring/progress.xlsx?as_of={AS_OF}")
    assert book.status_code == 200


def test_the_overview_kept_for_everyone_shows_a_new_value_after_its_commit(
    viewer: TestClient, data: None, sessions: sessionmaker[Session]
) -> None:
    """The plan overview (its tables' HTML) is kept per plan, year, page and language: asked
    again it is not built again; a value committed since shows at once; each language its own."""
    from tinhso.portal.monitoring import pages  # noqa: PLC0415

    path = f"/monitoring?plan={PLAN}&as_of={AS_OF}"
    first = viewer.get(path).text
    assert "45,5" in first and "47,25" not in first
    hits = pages._OVERVIEWS.hits
    assert viewer.get(path).text.count("45,5") == first.count("45,5")
    assert pages._OVERVIEWS.hits == hits + 1  # kept, not built again
    record_revised_payment_share(sessions)
    after = viewer.get(path).text
    assert "47,25" in after  # the new value
    assert "94,5\u00a0%" in after  # its achievement: 47,25 / 50
    viewer.cookies.set("tinhso_lang", "en")
    english = viewer.get(path).text
    assert "Latest value" in english and "94.5%" in english
    viewer.cookies.set("tinhso_lang", "vi")
    assert "94,5\u00a0%" in viewer.get(path).text
