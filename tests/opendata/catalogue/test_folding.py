"""Vietnamese folded for names and search: marks removed, đ → d, on both sides."""

from __future__ import annotations

import pytest

from tinhso.core.text import fold
from tinhso.opendata.catalogue.folding import NAME_PATTERN, search_column, search_words, slug


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Trường học", "truong-hoc"),
        ("Đồng Xuân", "dong-xuan"),
        ("Danh sách xã, phường sau 01/07/2025", "danh-sach-xa-phuong-sau-01-07-2025"),
        ("  Điểm   du lịch -- Yên Dũng  ", "diem-du-lich-yen-dung"),
        ("ĐẶC SẢN Ưng Hòa", "dac-san-ung-hoa"),
    ],
)
def test_a_title_folds_to_an_ascii_name(title: str, name: str) -> None:
    assert slug(title) == name
    assert NAME_PATTERN.fullmatch(slug(title))


def test_a_long_title_is_cut_to_a_valid_name() -> None:
    name = slug("Bộ dữ liệu " * 30)
    assert len(name) <= 100
    assert NAME_PATTERN.fullmatch(name)
    assert not name.endswith("-")


def test_search_folds_case_marks_and_d_the_same_way() -> None:
    assert search_words("Bắc Giang") == search_words("bac giang") == search_words("BAC GIANG")
    assert search_words("Đồng Xuân") == ["dong", "xuan"]
    assert fold("đĐ") == "dd"
    assert search_column("Đồng Xuân", "Phố cổ") == " dong xuan pho co "
