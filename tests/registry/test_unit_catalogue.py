"""Tests of the administrative-unit catalogue read from ``vietnamadminunits`` 1.0.4."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from functools import cache

from tinhso.registry.unit_catalogue import (
    SOURCE_VERSION,
    CatalogueUnit,
    UnitMapping,
    current_units,
    installed_source_version,
    legacy_to_current_mappings,
    legacy_units,
)


@cache
def _current() -> dict[str, CatalogueUnit]:
    return {u.code: u for u in current_units()}


@cache
def _legacy() -> dict[str, CatalogueUnit]:
    return {u.code: u for u in legacy_units()}


@cache
def _mappings() -> tuple[UnitMapping, ...]:
    return tuple(legacy_to_current_mappings())


def _current_codes_of(legacy_code: str) -> dict[str, UnitMapping]:
    return {m.current_code: m for m in _mappings() if m.legacy_code == legacy_code}


def _legacy_codes_into(current_code: str) -> set[str]:
    return {m.legacy_code for m in _mappings() if m.current_code == current_code}


def _province_of(code: str, units: dict[str, CatalogueUnit]) -> CatalogueUnit:
    unit = units[code]
    while unit.parent_code is not None:
        unit = units[unit.parent_code]
    return unit


def test_installed_package_is_the_pinned_version() -> None:
    assert installed_source_version() == SOURCE_VERSION == "1.0.4"


def test_current_set_counts() -> None:
    units = list(current_units())
    assert Counter(u.level for u in units) == {"province": 34, "commune": 3321}
    assert Counter((u.level, u.kind) for u in units) == {
        ("province", "Tỉnh"): 28,
        ("province", "Thành phố"): 6,
        ("commune", "Xã"): 2621,
        ("commune", "Phường"): 687,
        ("commune", "Đặc khu"): 13,
    }


def test_legacy_set_counts() -> None:
    units = list(legacy_units())
    assert Counter(u.level for u in units) == {
        "province": 63,
        "district": 696,
        "commune": 10035,
    }
    assert Counter(u.kind for u in units if u.level == "district") == {
        "Huyện": 508,
        "Thành phố": 87,
        "Thị xã": 52,
        "Quận": 49,
    }


def test_codes_are_unique_within_each_set() -> None:
    for units in (list(current_units()), list(legacy_units())):
        codes = [u.code for u in units]
        assert len(codes) == len(set(codes))


def test_parents_resolve_and_come_first() -> None:
    expected_parent = {
        ("current", "province"): None,
        ("current", "commune"): "province",
        ("legacy", "province"): None,
        ("legacy", "district"): "province",
        ("legacy", "commune"): "district",
    }
    for units in (list(current_units()), list(legacy_units())):
        seen: dict[str, CatalogueUnit] = {}
        for unit in units:
            if unit.parent_code is None:
                assert expected_parent[(unit.unit_set, unit.level)] is None
            else:
                parent = seen[unit.parent_code]  # KeyError: missing or yielded too late
                assert parent.level == expected_parent[(unit.unit_set, unit.level)]
            seen[unit.code] = unit


def test_validity_dates() -> None:
    assert {(u.valid_from, u.valid_to) for u in current_units()} == {(date(2025, 7, 1), None)}
    assert {(u.valid_from, u.valid_to) for u in legacy_units()} == {(None, date(2025, 6, 30))}


def test_names_start_with_their_kind() -> None:
    for unit in [*current_units(), *legacy_units()]:
        assert unit.name.startswith(f"{unit.kind} "), unit
    # The package spells this one "Thị Xã Việt Yên"; the prefix is normalised.
    assert _legacy()["222"].name == "Thị xã Việt Yên"
    # The package types this one "Xã"; the kind follows the name.
    assert _legacy()["27046"].kind == "Phường"


def test_codes_are_reused_across_sets() -> None:
    assert _legacy()["24"].name == "Tỉnh Bắc Giang"
    assert _legacy()["27"].name == "Tỉnh Bắc Ninh"
    assert _current()["24"].name == "Tỉnh Bắc Ninh"
    assert _legacy()["06"].name == "Tỉnh Bắc Kạn"
    assert _legacy()["19"].name == _current()["19"].name == "Tỉnh Thái Nguyên"


def test_bac_giang_legacy_districts() -> None:
    districts = {u.code: u.name for u in legacy_units() if u.parent_code == "24"}
    assert districts == {
        "213": "Thành phố Bắc Giang",
        "215": "Huyện Yên Thế",
        "216": "Huyện Tân Yên",
        "217": "Huyện Lạng Giang",
        "218": "Huyện Lục Nam",
        "219": "Huyện Lục Ngạn",
        "220": "Huyện Sơn Động",
        "222": "Thị xã Việt Yên",
        "223": "Huyện Hiệp Hòa",
        "224": "Thị xã Chũ",
    }


def test_mapping_codes_exist_and_cover_both_sets() -> None:
    current, legacy = _current(), _legacy()
    mappings = _mappings()
    assert len(mappings) == 10602
    assert len(set(mappings)) == len(mappings)
    for m in mappings:
        assert current[m.current_code].level == "commune"
        assert legacy[m.legacy_code].level == m.legacy_level
    assert {m.current_code for m in mappings} == {
        c for c, u in current.items() if u.level == "commune"
    }
    mapped_legacy = {m.legacy_code for m in mappings}
    legacy_communes = {c for c, u in legacy.items() if u.level == "commune"}
    island_districts = {m.legacy_code for m in mappings if m.legacy_level == "district"}
    assert island_districts == {"318", "471", "498", "536", "755"}
    assert mapped_legacy == legacy_communes | island_districts


def test_mapping_flags() -> None:
    counts = Counter((m.legacy_level, m.is_partial, m.is_default) for m in _mappings())
    assert counts == {
        ("commune", False, True): 9564,
        ("commune", True, True): 471,
        ("commune", True, False): 562,
        ("district", False, True): 5,
    }
    by_legacy: defaultdict[str, list[UnitMapping]] = defaultdict(list)
    for m in _mappings():
        by_legacy[m.legacy_code].append(m)
    for rows in by_legacy.values():
        assert sum(m.is_default for m in rows) == 1
        assert all(m.is_partial for m in rows) == (len(rows) > 1)


def test_each_legacy_province_goes_into_one_current_province() -> None:
    current, legacy = _current(), _legacy()
    targets: defaultdict[str, set[str]] = defaultdict(set)
    for m in _mappings():
        targets[_province_of(m.legacy_code, legacy).code].add(
            _province_of(m.current_code, current).code
        )
    assert len(targets) == 63
    assert all(len(t) == 1 for t in targets.values())
    assert targets["24"] == targets["27"] == {"24"}  # Bắc Giang + Bắc Ninh -> Bắc Ninh
    assert targets["06"] == targets["19"] == {"19"}  # Bắc Kạn + Thái Nguyên -> Thái Nguyên


def test_bac_giang_commune_now_in_bac_ninh() -> None:
    current, legacy = _current(), _legacy()
    # Phường Bích Động, Thị xã Việt Yên, Tỉnh Bắc Giang -> Phường Việt Yên, Tỉnh Bắc Ninh.
    bich_dong = legacy["07777"]
    assert bich_dong.name == "Phường Bích Động"
    assert bich_dong.parent_code == "222"
    assert _province_of("07777", legacy).name == "Tỉnh Bắc Giang"
    assert _current_codes_of("07777") == {
        "07777": UnitMapping("07777", "07777", "commune", is_partial=False, is_default=True)
    }
    viet_yen = current["07777"]
    assert viet_yen.name == "Phường Việt Yên"
    assert viet_yen.parent_code == "24"
    assert current["24"].name == "Tỉnh Bắc Ninh"
    # The reverse: the legacy communes that make up the current Phường Việt Yên.
    parts = _legacy_codes_into("07777")
    assert {code: legacy[code].name for code in parts} == {
        "07765": "Xã Nghĩa Trung",
        "07768": "Xã Minh Đức",
        "07777": "Phường Bích Động",
        "07783": "Phường Hồng Thái",
    }
    assert {legacy[code].parent_code for code in parts} == {"222"}


def test_bac_kan_commune_now_in_thai_nguyen() -> None:
    current, legacy = _current(), _legacy()
    # Phường Phùng Chí Kiên, Thành phố Bắc Kạn, Tỉnh Bắc Kạn
    # -> Phường Bắc Kạn, Tỉnh Thái Nguyên.
    assert legacy["01843"].name == "Phường Phùng Chí Kiên"
    assert legacy[legacy["01843"].parent_code or ""].name == "Thành phố Bắc Kạn"
    assert set(_current_codes_of("01843")) == {"01843"}
    assert current["01843"].name == "Phường Bắc Kạn"
    assert current["01843"].parent_code == "19"
    assert {code: legacy[code].name for code in _legacy_codes_into("01843")} == {
        "01837": "Phường Sông Cầu",
        "01843": "Phường Phùng Chí Kiên",
        "01852": "Xã Nông Thượng",
        "01855": "Phường Xuất Hóa",
    }


def test_split_commune() -> None:
    current, legacy = _current(), _legacy()
    # Phường Long Tuyền (Quận Bình Thủy, Cần Thơ) was split between two new communes.
    assert legacy["31183"].name == "Phường Long Tuyền"
    rows = _current_codes_of("31183")
    assert {code: current[code].name for code in rows} == {
        "31183": "Phường Long Tuyền",
        "31150": "Phường An Bình",
    }
    assert rows["31183"].is_partial
    assert rows["31183"].is_default
    assert rows["31150"].is_partial
    assert not rows["31150"].is_default


def test_island_district_maps_to_special_zone() -> None:
    assert _legacy()["755"].name == "Huyện Côn Đảo"
    assert _current_codes_of("755") == {
        "26732": UnitMapping("755", "26732", "district", is_partial=False, is_default=True)
    }
    assert _current()["26732"].name == "Đặc khu Côn Đảo"
    assert _current()["26732"].kind == "Đặc khu"
