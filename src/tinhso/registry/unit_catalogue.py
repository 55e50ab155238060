"""Catalogue of Vietnamese administrative units, read from ``vietnamadminunits``.

The source is the PyPI package ``vietnamadminunits`` (pinned to ``1.0.4``,
MIT licence, data compiled from danhmuchanhchinh.gso.gov.vn and
sapnhap.bando.com.vn). This module does not call the package's address
parser; it reads the files the package ships, which takes well under a second:

* ``data/dataset.db`` (SQLite) -- table ``admin_units`` holds the current
  two-level set (34 provinces, 3,321 communes) and ``admin_units_legacy`` the
  three-level set in force until the 2025 reform (63 provinces, 696 districts,
  10,035 communes). Each table has one row per commune, with the province
  and district columns repeated on every row.
* ``data/converter_2025.json`` -- the legacy -> current mapping. The package
  keys it by slugs, not by codes (``"tinhbacgiang_thixavietyen_phuongbichdong"``
  for a legacy commune, ``("tinhbacninh", "phuongvietyen")`` for a current
  one). Here those slugs are resolved to codes through the ``*Key`` columns of
  the SQLite tables.

Codes
-----
Codes are the official GSO codes as the package ships them: two digits for a
province, three for a district and five for a commune. Because the three
levels have different lengths, a code is unique within a unit set without
any prefix. This is checked when the data is loaded. Codes are *not* unique
across the two sets. The GSO reused codes in 2025. For example, ``"24"`` is
legacy Bắc Giang but current Bắc Ninh, and ``"00004"`` is legacy Phường Trúc
Bạch but current Phường Ba Đình. Always key a unit by ``(unit_set, code)``.

Mapping
-------
The mapping has one row for each pair of a legacy unit and a current commune
that share territory. Its source unit is a legacy commune. The exception is
five legacy island districts that had no communes (Bạch Long Vĩ, Cồn Cỏ,
Hoàng Sa, Lý Sơn, Côn Đảo). Each of those maps from the district itself to
its new *đặc khu*. A legacy unit that went wholly into one current commune
gives one row with ``is_partial=False``. A legacy commune that was split
gives one row for each current commune it went into (from two to five),
each with ``is_partial=True``. Exactly one of those rows has
``is_default=True``: this is the package's choice of "most appropriate" new
commune, used when an address has no street-level detail. The package has
no area or population share for a split, so none is exposed. A merger needs
no extra flag: it is simply several legacy codes with the same
``current_code``. No commune crosses a province boundary, because the 2025
reform merged whole provinces.

Names and kinds
---------------
``name`` is the full official name (``"Phường Hồng Hà"``, ``"Tỉnh Bắc
Ninh"``). ``kind`` is the leading type word of that name. The package has
no type column for provinces. For communes it has one, but in seven rows
the type disagrees with the name (for example, legacy ``27046 Phường 5`` is
typed ``Xã``), and in every such case the name is the correct one. So
``kind`` is always taken from the name. The capitalisation of that prefix is
also normalised (``"Thị Xã Việt Yên"`` -> ``"Thị xã Việt Yên"``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "CURRENT_VALID_FROM",
    "LEGACY_VALID_TO",
    "SOURCE_PACKAGE",
    "SOURCE_VERSION",
    "CatalogueUnit",
    "Level",
    "UnitMapping",
    "UnitSet",
    "current_units",
    "installed_source_version",
    "legacy_to_current_mappings",
    "legacy_units",
]

SOURCE_PACKAGE = "vietnamadminunits"
SOURCE_VERSION = "1.0.4"  # The version the counts in the tests were taken from.

# The package does not document dates. The two-level local government (no
# districts) took effect on 01/07/2025 (Law on Organisation of Local Government
# 2025 and the commune-arrangement resolutions of the NA Standing Committee).
# Resolution 202/2025/QH15 on the provinces was adopted on 12/06/2025, but the
# merged provinces started operating on 01/07/2025, so one date is used for
# both levels.
CURRENT_VALID_FROM = date(2025, 7, 1)
LEGACY_VALID_TO = date(2025, 6, 30)

Level = Literal["province", "district", "commune"]
UnitSet = Literal["current", "legacy"]

# The type words a unit name may start with (followed by a space), per level.
_KINDS: dict[Level, tuple[str, ...]] = {
    "province": ("Thành phố", "Tỉnh"),
    "district": ("Thành phố", "Thị xã", "Huyện", "Quận"),
    "commune": ("Thị trấn", "Đặc khu", "Phường", "Xã"),
}


@dataclass(frozen=True, slots=True)
class CatalogueUnit:
    """One administrative unit of either set."""

    code: str
    name: str
    level: Level
    parent_code: str | None
    unit_set: UnitSet
    kind: str
    valid_from: date | None
    valid_to: date | None


@dataclass(frozen=True, slots=True)
class UnitMapping:
    """Territory of a legacy unit that went (wholly or partly) into a current commune.

    ``legacy_level`` is ``"commune"``, except for the five legacy island
    districts that had no communes (see the module docstring).
    """

    legacy_code: str
    current_code: str
    legacy_level: Literal["district", "commune"]
    is_partial: bool
    is_default: bool


@dataclass(frozen=True, slots=True)
class _Catalogue:
    current: tuple[CatalogueUnit, ...]
    legacy: tuple[CatalogueUnit, ...]
    mappings: tuple[UnitMapping, ...]


def current_units() -> Iterator[CatalogueUnit]:
    """Yield the 34 provinces, then the 3,321 communes, each group in code order."""
    yield from _catalogue().current


def legacy_units() -> Iterator[CatalogueUnit]:
    """Yield the legacy provinces, then the districts, then the communes, in code order."""
    yield from _catalogue().legacy


def legacy_to_current_mappings() -> Iterator[UnitMapping]:
    """Yield the legacy -> current mapping rows, ordered by legacy unit and then current code."""
    yield from _catalogue().mappings


def installed_source_version() -> str:
    """Return the installed version of the source package (compare with ``SOURCE_VERSION``)."""
    return importlib.metadata.version(SOURCE_PACKAGE)


def _data_dir() -> Path:
    # find_spec on a top-level package locates it without importing it; importing
    # it would load its address parser, shapely and geopy for nothing.
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        msg = f"{SOURCE_PACKAGE}=={SOURCE_VERSION} is not installed"
        raise RuntimeError(msg)
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _split_kind(full_name: str, level: Level) -> tuple[str, str]:
    """Return ``(kind, name)``, with the capitalisation of the name's prefix normalised."""
    for kind in _KINDS[level]:
        if full_name[: len(kind) + 1].casefold() == f"{kind} ".casefold():
            return kind, kind + full_name[len(kind) :]
    msg = f"unknown {level} type in name {full_name!r}"
    raise ValueError(msg)


def _unit(
    code: str, full_name: str, level: Level, parent_code: str | None, unit_set: UnitSet
) -> CatalogueUnit:
    kind, name = _split_kind(full_name, level)
    current = unit_set == "current"
    return CatalogueUnit(
        code=code,
        name=name,
        level=level,
        parent_code=parent_code,
        unit_set=unit_set,
        kind=kind,
        valid_from=CURRENT_VALID_FROM if current else None,
        valid_to=None if current else LEGACY_VALID_TO,
    )


def _ordered(units: dict[str, CatalogueUnit]) -> tuple[CatalogueUnit, ...]:
    rank: dict[Level, int] = {"province": 0, "district": 1, "commune": 2}
    return tuple(sorted(units.values(), key=lambda u: (rank[u.level], u.code)))


def _add(units: dict[str, CatalogueUnit], unit: CatalogueUnit) -> None:
    known = units.setdefault(unit.code, unit)
    if known != unit:
        msg = f"code {unit.code} names two {unit.unit_set} units: {known.name!r}, {unit.name!r}"
        raise ValueError(msg)


@cache
def _catalogue() -> _Catalogue:
    data = _data_dir()
    uri = f"{(data / 'dataset.db').as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        current_rows = conn.execute(
            "SELECT provinceCode, province, wardCode, ward, provinceKey, wardKey FROM admin_units"
        ).fetchall()
        legacy_rows = conn.execute(
            "SELECT provinceCode, province, districtCode, district, wardCode, ward,"
            " provinceKey, districtKey, wardKey FROM admin_units_legacy"
        ).fetchall()

    current: dict[str, CatalogueUnit] = {}
    current_by_key: dict[tuple[str, str], str] = {}
    for p_code, p_name, w_code, w_name, p_key, w_key in current_rows:
        _add(current, _unit(p_code, p_name, "province", None, "current"))
        _add(current, _unit(w_code, w_name, "commune", p_code, "current"))
        current_by_key[(p_key, w_key)] = w_code

    legacy: dict[str, CatalogueUnit] = {}
    legacy_by_key: dict[str, tuple[str, Literal["district", "commune"]]] = {}
    for p_code, p_name, d_code, d_name, w_code, w_name, p_key, d_key, w_key in legacy_rows:
        _add(legacy, _unit(p_code, p_name, "province", None, "legacy"))
        _add(legacy, _unit(d_code, d_name, "district", p_code, "legacy"))
        if w_code is None:  # Island district without communes; mapped as a whole.
            legacy_by_key[f"{p_key}_{d_key}_"] = (d_code, "district")
        else:
            _add(legacy, _unit(w_code, w_name, "commune", d_code, "legacy"))
            legacy_by_key[f"{p_key}_{d_key}_{w_key}"] = (w_code, "commune")

    with (data / "converter_2025.json").open(encoding="utf-8") as f:
        converter = json.load(f)
    mappings: list[UnitMapping] = []
    whole: dict[str, list[str]]
    for p_key, whole in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for w_key, legacy_keys in whole.items():
            for legacy_key in legacy_keys:
                legacy_code, legacy_level = legacy_by_key[legacy_key]
                current_code = current_by_key[(p_key, w_key)]
                mappings.append(
                    UnitMapping(
                        legacy_code=legacy_code,
                        current_code=current_code,
                        legacy_level=legacy_level,
                        is_partial=False,
                        is_default=True,
                    )
                )
    split: dict[str, list[dict[str, object]]]
    for p_key, split in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for legacy_key, parts in split.items():
            legacy_code, legacy_level = legacy_by_key[legacy_key]
            for part in parts:
                current_code = current_by_key[(p_key, str(part["newWardKey"]))]
                mappings.append(
                    UnitMapping(
                        legacy_code=legacy_code,
                        current_code=current_code,
                        legacy_level=legacy_level,
                        is_partial=True,
                        is_default=part["isDefaultNewWard"] is True,
                    )
                )

    legacy_units_ordered = _ordered(legacy)
    position = {u.code: i for i, u in enumerate(legacy_units_ordered)}
    mappings.sort(key=lambda m: (position[m.legacy_code], m.current_code))
    return _Catalogue(_ordered(current), legacy_units_ordered, tuple(mappings))
