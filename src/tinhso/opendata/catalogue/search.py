"""Dataset search, as CKAN's ``package_search`` answers it: q, fq, sort, paging and facets.

Both sides are folded (lower-case ASCII, đ → d), so "bac giang", "Bắc Giang" and
"BAC GIANG" find the same datasets and "dong xuan" finds "Đồng Xuân". Each word of the
query must start a word of the dataset's ``search_text`` (LIKE on the folded shadow column,
the same on SQLite and PostgreSQL); a word found in the title, the name or a tag
(``search_title``) scores 3, elsewhere (notes, publisher, themes, resources) 1.
Full-text indexes (SQLite FTS5, PostgreSQL unaccent + tsvector + pg_trgm) are a later step:
this scans the catalogue's rows, which is fine for the thousands of datasets of a province.

Private datasets are never counted, listed or faceted for a reader who is not a member of
their organisation; with ``include_private`` (default off, as CKAN) members see theirs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, or_, select

from tinhso.core.errors import InvalidInput, NotFound
from tinhso.core.text import fold
from tinhso.opendata.catalogue.datasets import (
    load_datasets,
    organisations_by_id,
    package_dict,
)
from tinhso.opendata.catalogue.folding import search_words
from tinhso.opendata.models import (
    DatasetState,
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

    from tinhso.opendata.access import Reader

ROWS_DEFAULT = 10
ROWS_MAX = 1000
FACET_LIMIT_DEFAULT = 50
FACET_FIELDS = ("organization", "groups", "tags", "res_format", "license_id", "unit")
FILTER_FIELDS = (*FACET_FIELDS, "name", "id", "owner_org")
_FILTER = re.compile(r'([+-]?)(\w+):(?:"([^"]*)"|(\S+))')


class SearchQueryError(InvalidInput):
    """A query, filter or sort the search cannot read (CKAN's "Search Query Error", 400)."""

    status = 400
    code = "search_query_error"


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    fq: str = ""
    rows: int = ROWS_DEFAULT
    start: int = 0
    sort: str = ""
    facet_fields: tuple[str, ...] = ()
    facet_limit: int = FACET_LIMIT_DEFAULT
    facet_mincount: int = 1
    include_private: bool = False


@dataclass(frozen=True)
class FacetItem:
    name: str
    display_name: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    count: int
    results: list[dict[str, Any]]
    facets: dict[str, list[FacetItem]]
    sort: str


def _bad(vi: str, en: str, name: str) -> SearchQueryError:
    return SearchQueryError(vi, en, field=name)


def _filters(text: str, name: str) -> list[tuple[bool, str, str]]:
    """``field:value`` terms (with an optional leading - to exclude), AND between them."""
    found: list[tuple[bool, str, str]] = []
    rest = _FILTER.sub(" ", text)
    leftover = [word for word in rest.split() if word.upper() not in {"AND", "+"}]
    if leftover:
        raise _bad(
            f"Không đọc được điều kiện lọc: {' '.join(leftover)[:100]}",
            f"Cannot read the filter: {' '.join(leftover)[:100]}",
            name,
        )
    for match in _FILTER.finditer(text):
        sign, field_name, quoted, bare = match.groups()
        if field_name not in FILTER_FIELDS:
            raise _bad(
                f"Không lọc được theo trường {field_name} (được: {', '.join(FILTER_FIELDS)})",
                f"Cannot filter on {field_name} (allowed: {', '.join(FILTER_FIELDS)})",
                name,
            )
        found.append((sign == "-", field_name, quoted if quoted is not None else bare))
    return found


def _tagged(value: str) -> ColumnElement[bool]:
    return OpendataDataset.id.in_(
        select(opendata_dataset_tag.c.dataset_id)
        .join(OpendataTag, OpendataTag.id == opendata_dataset_tag.c.tag_id)
        .where(OpendataTag.name == value)
    )


def _grouped(value: str) -> ColumnElement[bool]:
    return OpendataDataset.id.in_(
        select(opendata_dataset_group.c.dataset_id)
        .join(OpendataGroup, OpendataGroup.id == opendata_dataset_group.c.group_id)
        .where(OpendataGroup.name == value)
    )


def _formatted(value: str) -> ColumnElement[bool]:
    return OpendataDataset.id.in_(
        select(OpendataResource.dataset_id).where(
            func.upper(OpendataResource.format) == value.upper()
        )
    )


def _in_unit(value: str) -> ColumnElement[bool]:
    """``unit:"current:24"``: datasets covering that unit (set and code: codes repeat)."""
    unit_set, _, code = value.partition(":")
    return and_(
        OpendataDataset.spatial_unit_set == unit_set, OpendataDataset.spatial_unit_code == code
    )


_CONDITIONS: dict[str, Callable[[str], ColumnElement[bool]]] = {
    "unit": _in_unit,
    "name": lambda value: OpendataDataset.name == value,
    "id": lambda value: OpendataDataset.id == value,
    "license_id": lambda value: OpendataDataset.licence_id == value,
    "tags": _tagged,
    "groups": _grouped,
    "res_format": _formatted,
}


def _filter_condition(field_name: str, value: str, codes: dict[str, int]) -> ColumnElement[bool]:
    if field_name in {"organization", "owner_org"}:
        organisation_id = codes.get(value)
        return OpendataDataset.organisation_id == organisation_id if organisation_id else false()
    return _CONDITIONS[field_name](value)


_SORTS = {
    "score": None,
    "metadata_modified": OpendataDataset.updated_at,
    "metadata_created": OpendataDataset.created_at,
    "name": OpendataDataset.name,
    "title": OpendataDataset.title_vi,
    "title_string": OpendataDataset.title_vi,
}


def search(
    session: Session, reader: Reader, query: SearchQuery, site_url: str = ""
) -> SearchResult:
    dataset = OpendataDataset
    organisations = organisations_by_id(session)
    codes = {
        organisation.code: organisation_id
        for organisation_id, organisation in organisations.items()
    }
    conditions: list[ColumnElement[bool]] = [dataset.state == DatasetState.ACTIVE]
    if query.include_private and reader.member_of is None:
        pass  # a platform administrator sees every private dataset
    elif query.include_private and reader.member_of:
        conditions.append(or_(~dataset.private, dataset.organisation_id.in_(reader.member_of)))
    else:
        conditions.append(~dataset.private)

    text = query.q.strip()
    if text in {"*:*", "*"}:
        text = ""
    # Field terms written in q (CKAN lets q carry them too) are filters.
    field_terms = [m for m in _FILTER.finditer(text) if m.group(2) in FILTER_FIELDS]
    for match in reversed(field_terms):
        text = text[: match.start()] + " " + text[match.end() :]
    filters = [
        (match.group(1) == "-", match.group(2), match.group(3) or match.group(4) or "")
        for match in field_terms
    ]
    filters += _filters(query.fq, "fq") if query.fq.strip() else []
    for negated, field_name, value in filters:
        condition = _filter_condition(field_name, value, codes)
        conditions.append(~condition if negated else condition)

    score: ColumnElement[int] = literal(0)
    for word in search_words(text):
        pattern = f"% {word}%"
        conditions.append(dataset.search_text.like(pattern))
        score = score + case((dataset.search_title.like(pattern), 3), else_=1)
    if text and not search_words(text) and fold(text).strip():
        conditions.append(false())  # only punctuation: nothing can match

    # One pass over the catalogue: every match with what ordering and three facets need; the
    # other facets count over these matches.
    keys = _sort_keys(query.sort)
    matched = session.execute(
        select(
            dataset.id,
            dataset.organisation_id,
            dataset.licence_id,
            dataset.name,
            dataset.spatial_unit_set,
            dataset.spatial_unit_code,
            *(
                (score if column is None else column).label(f"k{position}")
                for position, (column, _) in enumerate(keys)
            ),
        ).where(and_(*conditions))
    ).all()
    ordered = _ordered(matched, keys)
    ids = [row[0] for row in ordered[query.start : query.start + query.rows]]
    results = [
        package_dict(found, organisations, site_url) for found in load_datasets(session, ids)
    ]
    # A few matches: their ids; many: the conditions as a semi-join (a long list of bound ids
    # costs PostgreSQL more to plan than the indexed conditions cost to run again).
    matching: list[str] | Any = (
        [row[0] for row in matched]
        if len(matched) <= _ID_LIST_MAX
        else select(dataset.id).where(and_(*conditions))
    )
    facets = {
        name: _facet(session, name, matching, matched, query, organisations)
        for name in query.facet_fields
    }
    return SearchResult(
        len(matched), results, facets, query.sort or "score desc, metadata_modified desc"
    )


_ID_LIST_MAX = 1_000
_FIRST_KEY = 6  # the matched rows: id, publisher, licence, name, unit set, unit code, keys


def _sort_keys(sort: str) -> list[tuple[Any, bool]]:
    """(column, or None for the score; descending) of each term of the sort."""
    keys: list[tuple[Any, bool]] = []
    for part in (sort or "score desc, metadata_modified desc").split(","):
        words = part.split()
        if not words:
            continue
        field_name, direction = words[0], (words[1].lower() if len(words) > 1 else "asc")
        if field_name not in _SORTS or direction not in {"asc", "desc"} or len(words) > 2:
            raise _bad(
                f"Không sắp xếp được theo: {part.strip()[:100]} (được: {', '.join(_SORTS)})",
                f"Cannot sort by: {part.strip()[:100]} (allowed: {', '.join(_SORTS)})",
                "sort",
            )
        keys.append((_SORTS[field_name], direction == "desc"))
    return keys


def _ordered(matched: Sequence[Any], keys: list[tuple[Any, bool]]) -> list[Any]:
    """The matches in the sort's order, then by name: stable sorts, the last key first.
    Text sorts as Vietnamese readers expect (folded: "Đồng" with "Dong", not after "Z")."""
    rows = sorted(matched, key=lambda row: str(row[3]))
    for position in reversed(range(len(keys))):
        rows.sort(key=partial(_key_at, _FIRST_KEY + position), reverse=keys[position][1])
    return rows


def _key_at(index: int, row: Any) -> Any:
    return _sortable(row[index])


def _sortable(value: Any) -> Any:
    if isinstance(value, str):
        return (0, fold(value), value)
    return (0 if value is not None else 1, value if value is not None else 0, "")


def _unit_name(session: Session, unit_set: str, code: str) -> str:
    try:
        unit = unit_service.get(session, UnitSet(unit_set), code)
    except (NotFound, ValueError):
        return code
    return unit.name if unit_set == UnitSet.CURRENT.value else f"{unit.name} (trước 01/07/2025)"


def _counted(
    session: Session,
    matching: list[str] | Any,
    column: Any,
    statement: Callable[[ColumnElement[bool]], Any],
) -> Counter[tuple[Any, ...]]:
    """A facet's counts over the matches (their ids, or the select of them)."""
    counts: Counter[tuple[Any, ...]] = Counter()
    for row in session.execute(statement(column.in_(matching))):
        counts[tuple(row[:-1])] += int(row[-1])
    return counts


def _facet(
    session: Session,
    name: str,
    matching: list[str] | Any,
    matched: Sequence[Any],
    query: SearchQuery,
    organisations: dict[int, Any],
) -> list[FacetItem]:
    if name == "organization":
        counts = Counter(row[1] for row in matched)
        items = [
            FacetItem(organisations[key].code, organisations[key].name_vi, count)
            for key, count in counts.items()
            if key in organisations
        ]
    elif name == "license_id":
        counts = Counter(row[2] for row in matched if row[2] is not None)
        items = [FacetItem(key, key, count) for key, count in counts.items()]
    elif name == "unit":
        units = Counter((row[4], row[5]) for row in matched if row[4] and row[5])
        items = [
            FacetItem(f"{unit_set}:{code}", _unit_name(session, unit_set, code), count)
            for (unit_set, code), count in units.items()
        ]
    elif name == "tags":
        tagged = opendata_dataset_tag.c.dataset_id
        items = [
            FacetItem(key[0], key[0], count)
            for key, count in _counted(
                session,
                matching,
                tagged,
                lambda ids: (
                    select(OpendataTag.name, func.count(func.distinct(tagged)))
                    .join(opendata_dataset_tag, OpendataTag.id == opendata_dataset_tag.c.tag_id)
                    .where(ids)
                    .group_by(OpendataTag.name)
                ),
            ).items()
        ]
    elif name == "groups":
        grouped = opendata_dataset_group.c.dataset_id
        items = [
            FacetItem(key[0], key[1], count)
            for key, count in _counted(
                session,
                matching,
                grouped,
                lambda ids: (
                    select(
                        OpendataGroup.name,
                        OpendataGroup.title_vi,
                        func.count(func.distinct(grouped)),
                    )
                    .join(
                        opendata_dataset_group,
                        OpendataGroup.id == opendata_dataset_group.c.group_id,
                    )
                    .where(ids)
                    .group_by(OpendataGroup.name, OpendataGroup.title_vi)
                ),
            ).items()
        ]
    else:  # res_format
        formatted = func.upper(OpendataResource.format)
        owner = OpendataResource.dataset_id
        items = [
            FacetItem(key[0], key[0], count)
            for key, count in _counted(
                session,
                matching,
                owner,
                lambda ids: (
                    select(formatted, func.count(func.distinct(owner)))
                    .where(ids, OpendataResource.format != "")
                    .group_by(formatted)
                ),
            ).items()
        ]
    items = [item for item in items if item.count >= query.facet_mincount]
    items.sort(key=lambda item: (-item.count, item.name))
    return items if query.facet_limit < 0 else items[: query.facet_limit]
