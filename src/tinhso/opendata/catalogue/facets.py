"""A search's count and facet counts.

The matches (their id, and the page's sort keys) are a materialised CTE, computed once; one
statement returns the count or the ids of every match, and the page's ids in order. The
facets are then counted in this process from the ids, over :class:`FacetIndex`: each
dataset's facet values (publisher, licence, unit, tags, themes, resource formats), read once
per catalogue generation (``core.generations``: any commit writing a dataset, resource, tag,
theme or their links moves it on), as Solr counts facets over its in-memory field values.
Counting there costs a few milliseconds for the whole catalogue, where grouping the matches
joined to the tag, theme and resource tables cost tens of milliseconds per search.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, func, literal, null, select, union_all

from tinhso.core.generations import GenerationCache
from tinhso.opendata.models import (
    CATALOGUE_GENERATION,
    OpendataDataset,
    OpendataGroup,
    OpendataResource,
    OpendataTag,
    opendata_dataset_group,
    opendata_dataset_tag,
)
from tinhso.registry.models import UnitSet
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.opendata.catalogue.matching import Match

_COUNT = ""  # the branch of the count (no facet has that name)
_PAGE = "\x01"  # the branch of the page (a facet's name never starts so)
_MATCHED = "\x02"  # the branch of every match's id


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


FacetValue = tuple[str, str, str | None]  # facet, value, label


@dataclass(frozen=True)
class FacetIndex:
    """Every dataset's facet values, numbered: ``values[n]`` is (facet, value, label); each
    dataset has a row (``rows[dataset id]``), and each pair of a dataset and one of its
    values is ``owners[k]`` (the row) and ``numbers[k]`` (the value). Values:

    * ``organization``: the publisher's id; ``license_id``: the licence's id;
    * ``unit``: the spatial coverage's unit set, with the unit's code as label (both given);
    * ``tags``: the tag's name; ``groups``: the theme's name, with its Vietnamese title;
    * ``res_format``: a resource format in upper case, once however many resources have it.

    Counting is two array operations (the matched rows' pairs, then a ``bincount``), as a
    search engine counts facets over its columns of values: a broad search's thousands of
    matches cost well under a millisecond. Shared by every request of a process (frozen, its
    arrays read-only: never changed once built)."""

    values: tuple[FacetValue, ...]
    rows: dict[str, int]
    owners: npt.NDArray[np.int32]
    numbers: npt.NDArray[np.int32]
    by_facet: dict[str, npt.NDArray[np.int32]]  # facet -> the numbers of its values

    @classmethod
    def of(cls, values: Sequence[FacetValue], pairs: dict[str, list[int]]) -> FacetIndex:
        """From each dataset's value numbers (``values[n]`` numbered by position)."""
        rows = {dataset_id: row for row, dataset_id in enumerate(pairs)}
        owners = np.fromiter(
            chain.from_iterable([row] * len(found) for row, found in enumerate(pairs.values())),
            dtype=np.int32,
        )
        numbers = np.fromiter(chain.from_iterable(pairs.values()), dtype=np.int32)
        facets: dict[str, list[int]] = {}
        for number, (facet, _, _) in enumerate(values):
            facets.setdefault(facet, []).append(number)
        by_facet = {name: np.array(found, dtype=np.int32) for name, found in facets.items()}
        for array in (owners, numbers, *by_facet.values()):
            array.flags.writeable = False
        return cls(tuple(values), rows, owners, numbers, by_facet)

    def __len__(self) -> int:  # its weight in the cache
        return len(self.rows) + len(self.values)

    def count(
        self, ids: Iterable[str], fields: Sequence[str], *, known_only: bool = False
    ) -> dict[str, list[tuple[str, str, int]]] | None:
        """Each of ``fields``' values among ``ids``, counted (value, label, count; unsorted);
        None if a dataset is not in the index (it was built before that dataset's commit),
        unless ``known_only`` (then such a dataset, deleted since, counts for nothing)."""
        rows = self.rows
        if known_only:
            picked = [rows[found] for found in ids if found in rows]
        else:
            try:
                picked = list(map(rows.__getitem__, ids))
            except KeyError:
                return None
        chosen = np.zeros(len(rows), dtype=bool)
        chosen[picked] = True
        counts = np.bincount(self.numbers[chosen[self.owners]], minlength=len(self.values))
        found: dict[str, list[tuple[str, str, int]]] = {}
        for name in fields:
            numbers = self.by_facet.get(name)
            if numbers is None:
                found[name] = []
                continue
            counted_numbers = numbers[counts[numbers] > 0].tolist()
            found[name] = [
                (self.values[number][1], self.values[number][2], int(counts[number]))
                for number in counted_numbers
            ]
        return found


def facet_index(session: Session) -> FacetIndex:
    """Read every dataset's facet values (four statements)."""
    dataset, resource = OpendataDataset, OpendataResource
    numbers: dict[FacetValue, int] = {}
    of: dict[str, list[int]] = {}

    def add(dataset_id: str, value: FacetValue) -> None:
        number = numbers.setdefault(value, len(numbers))
        found = of.setdefault(dataset_id, [])
        if number not in found:
            found.append(number)

    columns = (
        dataset.id,
        dataset.organisation_id,
        dataset.licence_id,
        dataset.spatial_unit_set,
        dataset.spatial_unit_code,
    )
    for dataset_id, organisation_id, licence_id, unit_set, unit_code in session.execute(
        select(*columns)
    ).all():
        of.setdefault(dataset_id, [])
        if organisation_id is not None:
            add(dataset_id, ("organization", str(organisation_id), None))
        if licence_id is not None:
            add(dataset_id, ("license_id", str(licence_id), None))
        if unit_set and unit_code:
            add(dataset_id, ("unit", str(unit_set), str(unit_code)))
    tagged, grouped = opendata_dataset_tag, opendata_dataset_group
    for dataset_id, name in session.execute(
        select(tagged.c.dataset_id, OpendataTag.name).join(
            OpendataTag, OpendataTag.id == tagged.c.tag_id
        )
    ).all():
        add(dataset_id, ("tags", name, None))
    for dataset_id, name, title in session.execute(
        select(grouped.c.dataset_id, OpendataGroup.name, OpendataGroup.title_vi).join(
            OpendataGroup, OpendataGroup.id == grouped.c.group_id
        )
    ).all():
        add(dataset_id, ("groups", name, title))
    for dataset_id, format_name in session.execute(
        select(resource.dataset_id, func.upper(resource.format))
        .where(resource.format != "")
        .distinct()
    ).all():
        add(dataset_id, ("res_format", format_name, None))
    return FacetIndex.of(sorted(numbers, key=numbers.__getitem__), of)


# One index per process and catalogue generation (a catalogue of 100,000 datasets with 10
# values each is ~30 MB).
FACET_INDEXES: GenerationCache[FacetIndex] = GenerationCache(
    (CATALOGUE_GENERATION,), max_weight=10_000_000
)


def counted(
    session: Session,
    match: Match,
    conditions: Sequence[ColumnElement[bool]],
    fields: Sequence[str],
    page: Page | None,
    *,
    count: bool = True,
) -> Counted:
    """The number of matches (unless not ``count`` and no facet is asked: 0), each facet's
    values with their counts and (``page``) the ids of a page of matches in the page's
    order, then by name (code points)."""
    dataset = OpendataDataset
    keys = page.keys if page is not None else []
    fields = tuple(dict.fromkeys(fields))
    matched = (
        select(
            dataset.id.label("id"),
            dataset.name.label("name"),
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
    branches: list[Any] = []
    postgresql = session.get_bind().dialect.name == "postgresql"
    if fields:  # every match's id: the count, and the facets counted over the index
        # in one text (ids never hold a comma): thousands of rows cost more to fetch
        joined = (
            func.string_agg(matched.c.id, literal(","))
            if postgresql
            else func.group_concat(matched.c.id, ",")
        )
        branches.append(select(literal(_MATCHED), joined, null(), null()).select_from(matched))
    elif count:
        branches.append(
            select(
                literal(_COUNT), null().label("value"), null().label("label"), func.count()
            ).select_from(matched)
        )
    if page is not None and page.rows > 0:
        branches.append(_page_branch(matched, page, postgresql=postgresql))
    if not branches:
        return Counted(0, {}, [])
    statement: Any = union_all(*branches) if len(branches) > 1 else branches[0]
    number_found = 0
    ids: list[str] = []
    ranked: list[tuple[int, str]] = []
    for branch, value, _label, number in session.execute(statement).all():
        if branch == _MATCHED:
            ids = value.split(",") if value else []
        elif branch == _PAGE:
            ranked.append((int(number), str(value)))
        else:
            number_found = int(number)
    facets: dict[str, list[tuple[str, str, int]]] = {}
    if fields:
        number_found = len(ids)
        index = FACET_INDEXES.get(session, "datasets", lambda: facet_index(session))
        found = index.count(ids, fields)
        if found is None:  # a dataset committed after the index was read: read it again
            found = facet_index(session).count(ids, fields, known_only=True)
        facets = found or {}
    return Counted(number_found, facets, [found_id for _, found_id in sorted(ranked)])


def _page_branch(matched: Any, page: Page, *, postgresql: bool) -> Any:
    """The page's ids, ranked (the ``ORDER BY … LIMIT`` of the matches, then numbered)."""

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


def named_units(session: Session, items: list[FacetItem]) -> list[FacetItem]:
    """The unit facet's items named (the registry's names of each set, kept until the units
    change); a unit the registry does not know keeps its code."""
    named: list[FacetItem] = []
    names: dict[str, Mapping[str, str]] = {}
    for item in items:
        set_name, _, code = item.name.partition(":")
        if set_name not in names:
            known = set_name in UnitSet._value2member_map_
            names[set_name] = (
                unit_service.names_by_code(session, UnitSet(set_name)) if known else {}
            )
        name = names[set_name].get(code)
        if name is not None and set_name != UnitSet.CURRENT.value:
            name = f"{name} (trước 01/07/2025)"
        named.append(FacetItem(item.name, name or item.display_name, item.count))
    return named
