"""A search's count and facet counts, in one statement over its matches.

The matches (their id, publisher, licence and unit) are a materialised CTE, computed once;
each facet is a ``GROUP BY`` over it (joined to the tag, theme and resource tables through
their primary keys or the ``(dataset_id, format)`` index of migration 0044), and the count
is one more branch of the same ``UNION ALL``: what comes back is one row per facet value,
never the matching datasets, however many they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, cast, func, literal, null, select, union_all

from tinhso.opendata.models import (
    OpendataDataset,
    OpendataGroup,
    OpendataResource,
    OpendataTag,
    opendata_dataset_group,
    opendata_dataset_tag,
)
from tinhso.registry.models import AdministrativeUnit, UnitSet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.opendata.catalogue.matching import Match

_COUNT = ""  # the branch of the count (no facet has that name)


@dataclass(frozen=True)
class FacetItem:
    name: str
    display_name: str
    count: int


@dataclass(frozen=True)
class Counted:
    count: int
    facets: dict[str, list[tuple[str, str, int]]]  # value, label, count (unsorted, unlimited)
    page: list[str]  # the ids of the page's matches, in order (when one was asked for)


@dataclass(frozen=True)
class Page:
    """The page to read with the counts: the order (keys: None for the score; descending)."""

    keys: list[tuple[Any, bool]]
    start: int
    rows: int


_PAGE = "\x01"  # the branch of the page (a facet's name never starts so)


def counted(
    session: Session,
    match: Match,
    conditions: Sequence[ColumnElement[bool]],
    fields: Sequence[str],
    page: Page | None,
    *,
    count: bool = True,
) -> Counted:
    """The number of matches (unless not ``count``: 0), each facet's values with their counts
    and (``page``) the ids of a page of matches in the page's order, then by name (code
    points)."""
    dataset = OpendataDataset
    keys = page.keys if page is not None else []
    matched = (
        select(
            dataset.id.label("id"),
            dataset.name.label("name"),
            dataset.organisation_id.label("organisation_id"),
            dataset.licence_id.label("licence_id"),
            dataset.spatial_unit_set.label("unit_set"),
            dataset.spatial_unit_code.label("unit_code"),
            *(
                (match.score if key is None else key).label(f"k{position}")
                for position, (key, _) in enumerate(keys)
            ),
        )
        .select_from(match.source())
        .where(match.condition, *conditions)
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    text = String()
    branches: list[Any] = []
    if count:
        branches.append(
            select(
                literal(_COUNT), null().label("value"), null().label("label"), func.count()
            ).select_from(matched)
        )
    if page is not None and page.rows > 0:
        branches.append(_page_branch(session, matched, page))
    branches.extend(_facet_branch(name, matched, text) for name in dict.fromkeys(fields))
    number_found = 0
    facets: dict[str, list[tuple[str, str, int]]] = {name: [] for name in fields}
    ranked: list[tuple[int, str]] = []
    if not branches:
        return Counted(0, facets, [])
    statement: Any = union_all(*branches) if len(branches) > 1 else branches[0]
    for facet, value, label, number in session.execute(statement):
        if facet == _COUNT:
            number_found = int(number)
        elif facet == _PAGE:
            ranked.append((int(number), str(value)))
        else:
            facets[facet].append((str(value), label, int(number)))
    return Counted(number_found, facets, [found for _, found in sorted(ranked)])


def _page_branch(session: Session, matched: Any, page: Page) -> Any:
    """The page's ids, ranked (the ``ORDER BY … LIMIT`` of the matches, then numbered)."""
    postgresql = session.get_bind().dialect.name == "postgresql"

    def order(source: Any) -> list[Any]:
        found = [
            source.c[f"k{position}"].desc() if descending else source.c[f"k{position}"].asc()
            for position, (_, descending) in enumerate(page.keys)
        ]
        # code point order, as Python's (the database's collation may not be)
        name = source.c.name.collate("C") if postgresql else source.c.name
        return [*found, name.asc()]

    columns = [matched.c.id, matched.c.name]
    columns += [matched.c[f"k{position}"] for position in range(len(page.keys))]
    chosen = (
        select(*columns).order_by(*order(matched)).limit(page.rows).offset(page.start).subquery()
    )
    return select(
        literal(_PAGE), chosen.c.id, null(), func.row_number().over(order_by=order(chosen))
    )


def _facet_branch(name: str, matched: Any, text: String) -> Any:
    if name == "organization":
        value: Any = cast(matched.c.organisation_id, text)
        return select(literal(name), value, null(), func.count()).group_by(value)
    if name == "license_id":
        return (
            select(literal(name), matched.c.licence_id, null(), func.count())
            .where(matched.c.licence_id.is_not(None))
            .group_by(matched.c.licence_id)
        )
    if name == "unit":
        return (
            select(literal(name), matched.c.unit_set, matched.c.unit_code, func.count())
            .where(matched.c.unit_set.is_not(None), matched.c.unit_code.is_not(None))
            .where(matched.c.unit_set != "", matched.c.unit_code != "")
            .group_by(matched.c.unit_set, matched.c.unit_code)
        )
    if name == "tags":
        # a dataset has a tag once (the primary key) and tag names are unique: count(*)
        tagged = opendata_dataset_tag
        return (
            select(literal(name), OpendataTag.name, null(), func.count())
            .select_from(matched)
            .join(tagged, tagged.c.dataset_id == matched.c.id)
            .join(OpendataTag, OpendataTag.id == tagged.c.tag_id)
            .group_by(OpendataTag.name)
        )
    if name == "groups":
        grouped = opendata_dataset_group  # as tags: one row per dataset and theme
        return (
            select(literal(name), OpendataGroup.name, OpendataGroup.title_vi, func.count())
            .select_from(matched)
            .join(grouped, grouped.c.dataset_id == matched.c.id)
            .join(OpendataGroup, OpendataGroup.id == grouped.c.group_id)
            .group_by(OpendataGroup.name, OpendataGroup.title_vi)
        )
    # res_format: a dataset counted once per format, however many resources have it
    formats = (
        select(matched.c.id, func.upper(OpendataResource.format).label("format"))
        .select_from(matched)
        .join(OpendataResource, OpendataResource.dataset_id == matched.c.id)
        .where(OpendataResource.format != "")
        .distinct()
        .subquery()
    )
    return select(literal(name), formats.c.format, null(), func.count()).group_by(formats.c.format)


def named_units(session: Session, items: list[FacetItem]) -> list[FacetItem]:
    """The unit facet's items named (one query per unit set, for the items shown only);
    a unit the registry does not know keeps its code."""
    names: dict[str, str] = {}
    for unit_set in UnitSet:
        codes = {
            item.name.partition(":")[2]
            for item in items
            if item.name.partition(":")[0] == unit_set.value
        }
        if not codes:
            continue
        found = session.execute(
            select(AdministrativeUnit.code, AdministrativeUnit.name).where(
                AdministrativeUnit.unit_set == unit_set, AdministrativeUnit.code.in_(codes)
            )
        )
        for code, name in found:
            legacy = unit_set is not UnitSet.CURRENT
            names[f"{unit_set.value}:{code}"] = f"{name} (trước 01/07/2025)" if legacy else name
    return [
        FacetItem(item.name, names.get(item.name, item.display_name), item.count) for item in items
    ]
