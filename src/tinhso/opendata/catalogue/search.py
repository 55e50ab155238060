"""Dataset search, as CKAN's ``package_search`` answers it: q, fq, sort, paging and facets.

Both sides are folded (lower-case ASCII, đ → d), so "bac giang", "Bắc Giang" and
"BAC GIANG" find the same datasets and "dong xuan" finds "Đồng Xuân". The folding is done
once, in Python (``folding.search_column``), into two shadow columns of each dataset:
``search_title`` (name, titles, tags) and ``search_text`` (those again, notes, publisher,
themes, resources). A full-text index over them finds the datasets in which every word of
the query starts a word (a prefix query: "diem du" finds "Điểm du lịch"):

* SQLite: the FTS5 table ``opendata_dataset_fts`` (migration 0038; ``unicode61
  remove_diacritics 2``, 2- and 3-letter prefix indexes), ``title`` and ``body`` columns.
  Triggers on ``opendata_dataset`` keep it in step with the shadow columns, so every write
  (the service's, a bulk insert, a delete) is indexed in the same transaction without the
  service doing anything. Ranked by ``bm25`` with title 3, body 1.
* PostgreSQL: the generated column ``search_vector`` = ``search_title`` weight A ||
  ``search_text`` weight B (``to_tsvector('simple', …)``), GIN-indexed; ``to_tsquery`` with
  ``:*`` prefixes, ranked by ``ts_rank``. The columns are already folded (đ → d included,
  which is the same folding as the query's), so no ``unaccent`` wrapper is needed: the
  configuration ``simple`` only splits words, and ``to_tsvector(regconfig, text)`` is
  immutable as a generated column requires. One folding in Python for both databases is
  simpler and keeps them finding the same datasets.

Typo tolerance (``matching``): when the exact query finds nothing the reader may see, a
typo-tolerant match answers, and the result says so (``corrected``: the query as typed and
the words used; the API's ``search_corrected``, the portal's "Kết quả cho …").

Only the page of results is read and ordered in full: the count and the facets are counted
from the matches' ids over every dataset's facet values kept in the process (``facets``),
and the page is the matches' ``ORDER BY … LIMIT`` in SQL, except for a sort by title, which
Vietnamese readers expect folded ("Đồng" with "Dong"), done in Python over the matches' ids
and titles. The count and facet counts are kept (``COUNTS``, a ``core.generations`` cache
keyed by the words, the filters, the facets asked and the private datasets the reader sees)
until a commit writes a dataset, resource, tag or theme, in this process or any other:
another page or sort of the same search reads only its page, and a page asked before is
kept too (``PAGES``). Each result's dictionary is kept alike (``packages.PACKAGES``), its
publisher filled in afresh: a dataset shown before is not loaded again.

Private datasets are never counted, listed or faceted for a reader who is not a member of
their organisation; with ``include_private`` (default off, as CKAN) members see theirs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial
from itertools import takewhile
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select

from tinhso.core.errors import InvalidInput
from tinhso.core.generations import GenerationCache
from tinhso.core.text import fold
from tinhso.opendata.catalogue.facets import Counted, FacetItem, Page, counted, named_units
from tinhso.opendata.catalogue.folding import search_words
from tinhso.opendata.catalogue.matching import (
    EVERYTHING,
    Match,
    corrected_words,
    full_text,
    fuzzy,
)
from tinhso.opendata.catalogue.packages import organisations_by_id, package_dicts
from tinhso.opendata.models import (
    CATALOGUE_GENERATION,
    DatasetState,
    OpendataDataset,
    OpendataGroup,
    OpendataResource,
    OpendataTag,
    opendata_dataset_group,
    opendata_dataset_tag,
)

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
class SearchResult:
    count: int
    results: list[dict[str, Any]]
    facets: dict[str, list[FacetItem]]
    sort: str
    # the typo-tolerant match answered: {"query": as typed, "used": the words it used
    # (folded), "used_written": those words as the best answer writes them}
    corrected: dict[str, str] | None = None


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


def _conditions(
    reader: Reader, query: SearchQuery, codes: dict[str, int]
) -> tuple[str, list[ColumnElement[bool]], Hashable]:
    """The text of q without its field terms, the conditions of visibility and filters, and
    what they select written as a key (the private datasets seen, the filters' values with
    publishers' codes read as their ids)."""
    dataset = OpendataDataset
    conditions: list[ColumnElement[bool]] = [dataset.state == DatasetState.ACTIVE]
    seen: Hashable
    if query.include_private and reader.member_of is None:
        seen = "all"  # a platform administrator sees every private dataset
    elif query.include_private and reader.member_of:
        conditions.append(or_(~dataset.private, dataset.organisation_id.in_(reader.member_of)))
        seen = tuple(sorted(reader.member_of))
    else:
        conditions.append(~dataset.private)
        seen = ()

    text = query.q.strip()
    if text in {"*:*", "*"}:
        text = ""
    # Field terms written in q (CKAN lets q carry them too) are filters.
    field_terms = [m for m in _FILTER.finditer(text) if m.group(2) in FILTER_FIELDS]
    for term in reversed(field_terms):
        text = text[: term.start()] + " " + text[term.end() :]
    filters = [
        (term.group(1) == "-", term.group(2), term.group(3) or term.group(4) or "")
        for term in field_terms
    ]
    filters += _filters(query.fq, "fq") if query.fq.strip() else []
    selected: list[tuple[bool, str, str | int | None]] = []
    for negated, field_name, value in filters:
        condition = _filter_condition(field_name, value, codes)
        conditions.append(~condition if negated else condition)
        publisher = field_name in {"organization", "owner_org"}
        selected.append(
            (negated, "organization", codes.get(value))
            if publisher
            else (negated, field_name, value)
        )

    return text, conditions, (seen, tuple(selected))


def search(
    session: Session, reader: Reader, query: SearchQuery, site_url: str = ""
) -> SearchResult:
    organisations = organisations_by_id(session)
    codes = {
        organisation.code: organisation_id
        for organisation_id, organisation in organisations.items()
    }
    text, conditions, selected = _conditions(reader, query, codes)
    words = search_words(text)
    nothing = bool(text and not words and fold(text).strip())
    if nothing:
        conditions.append(false())  # only punctuation: nothing can match

    keys = _sort_keys(query.sort)
    dialect = session.get_bind().dialect.name
    fields = tuple(dict.fromkeys(query.facet_fields))
    by_title = any(key is OpendataDataset.title_vi for key, _ in keys)
    page = None if by_title else Page(keys, query.start, query.rows)
    exact = full_text(dialect, words) if words else EVERYTHING
    # the match and page read with the counts, when they were computed (not kept)
    computed: list[tuple[Match, Counted]] = []

    def count() -> Kept:
        match, found = exact, counted(session, exact, conditions, fields, page)
        tolerant = None
        if not found.count and words:
            tolerant = fuzzy(session, dialect, words)
            if tolerant is not None:
                match, found = tolerant, counted(session, tolerant, conditions, fields, page)
        computed.append((match, found))
        facets = tuple((name, _ordered(name, found.facets[name])) for name in fields)
        return Kept(found.count, facets, tolerant is not None)

    question = (dialect, tuple(words), nothing, selected, fields)
    kept = COUNTS.get(session, question, count)
    corrected = {"query": text.strip()} if kept.tolerant and kept.count else None
    matches = [computed[0][0]] if computed else []

    def match_of() -> Match:
        """The match that answered (found again when the counts were kept)."""
        if not matches:
            tolerant = fuzzy(session, dialect, words) if kept.tolerant else None
            matches.append(tolerant if tolerant is not None else exact)
        return matches[0]

    def read_page() -> tuple[str, ...]:
        if not kept.count:
            return ()
        if by_title:
            found = _page_by_title(session, match_of(), conditions, keys, query.start, query.rows)
            return tuple(found)
        if computed:
            return tuple(computed[0][1].page)
        if page is None:
            return ()
        return tuple(counted(session, match_of(), conditions, (), page, count=False).page)

    ids = PAGES.get(session, (question, query.sort, query.start, query.rows), read_page)
    results = package_dicts(session, list(ids), organisations, site_url)
    if corrected is not None:
        best = results[0] if results and not query.start else None
        if best is None:  # not on this page: the first match
            first = (
                _page_by_title(session, match_of(), conditions, keys, 0, 1)
                if by_title
                else counted(session, match_of(), conditions, (), Page(keys, 0, 1)).page
            )
            best = package_dicts(session, first, organisations, site_url)[0]
        used, written = corrected_words(words, [best["title"], best["notes"] or ""])
        corrected.update(used=used, used_written=written)
    counts = dict(kept.facets)
    facets = {
        name: _facet(session, name, counts[name], query, organisations)
        for name in query.facet_fields
    }
    return SearchResult(
        kept.count, results, facets, query.sort or "score desc, metadata_modified desc", corrected
    )


@dataclass(frozen=True)
class Kept:
    """A search's count and facet counts (value, label, count; in the order shown, see
    ``_ordered``; unlimited), and whether the typo-tolerant match answered: what a new page
    or sort of it reads again."""

    count: int
    facets: tuple[tuple[str, tuple[tuple[str, str, int], ...]], ...]
    tolerant: bool

    def __len__(self) -> int:  # its weight in the cache: the facet values it holds
        return 1 + sum(len(values) for _, values in self.facets)


# Counts kept per question (the words, the filters, the private datasets seen, the facets
# asked) while the catalogue does not change: paging or sorting a search again reads only its
# page. Bounded by the facet values kept (a value is ~150 bytes: ~75 MB per process at most).
COUNTS: GenerationCache[Kept] = GenerationCache((CATALOGUE_GENERATION,), max_weight=500_000)
# The ids of a page of a question (its sort, start and rows), kept alike: asking a search
# again reads no match at all. Bounded by the ids kept (~40 bytes each).
PAGES: GenerationCache[tuple[str, ...]] = GenerationCache(
    (CATALOGUE_GENERATION,), max_weight=200_000
)


def _page_by_title(
    session: Session,
    match: Match,
    conditions: list[ColumnElement[bool]],
    keys: list[tuple[Any, bool]],
    start: int,
    rows: int,
) -> list[str]:
    """A sort by title: every match's id, name and keys, ordered in Python (folded text)."""
    dataset = OpendataDataset
    matched = session.execute(
        select(
            dataset.id,
            dataset.name,
            *(
                (match.score if key is None else key).label(f"k{position}")
                for position, (key, _) in enumerate(keys)
            ),
        )
        .select_from(match.source())
        .where(match.condition, *conditions)
    ).all()
    ordered = sorted(matched, key=lambda row: str(row[1]))
    for position in reversed(range(len(keys))):
        ordered.sort(key=partial(_key_at, _FIRST_KEY + position), reverse=keys[position][1])
    return [row[0] for row in ordered[start : start + rows]]


_FIRST_KEY = 2  # the matched rows: id, name, keys


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


def _key_at(index: int, row: Any) -> Any:
    return _sortable(row[index])


def _sortable(value: Any) -> Any:
    if isinstance(value, str):
        return (0, fold(value), value)
    return (0 if value is not None else 1, value if value is not None else 0, "")


def _ordered(name: str, counts: list[tuple[str, str, int]]) -> tuple[tuple[str, str, int], ...]:
    """A facet's counts in the order shown (most first, then by the name shown), except the
    publishers', whose name (the organisation's code) is read afresh on every search."""
    if name == "organization":
        return tuple(counts)
    # by the name shown ("set:code" for units: set names never hold ":" nor start one
    # another, so (set, code) orders as that text), then most first (a stable sort keeps
    # that order among equal counts); itemgetter keys, as a broad search has thousands
    ordered = sorted(counts, key=itemgetter(0, 1) if name == "unit" else itemgetter(0))
    ordered.sort(key=itemgetter(2), reverse=True)
    return tuple(ordered)


def _facet(
    session: Session,
    name: str,
    counts: tuple[tuple[str, str, int], ...],
    query: SearchQuery,
    organisations: dict[int, Any],
) -> list[FacetItem]:
    limit = None if query.facet_limit < 0 else query.facet_limit
    if name == "organization":
        items = [
            FacetItem(organisations[int(key)].code, organisations[int(key)].name_vi, count)
            for key, _, count in counts
            if count >= query.facet_mincount and key.isdigit() and int(key) in organisations
        ]
        items.sort(key=lambda item: (-item.count, item.name))
        return items[:limit]
    shown = list(takewhile(lambda item: item[2] >= query.facet_mincount, counts))[:limit]
    if name == "unit":
        return named_units(  # named once limited
            session,
            [FacetItem(f"{unit_set}:{code}", code, count) for unit_set, code, count in shown],
        )
    if name == "groups":
        return [FacetItem(key, label, count) for key, label, count in shown]
    # tags, res_format, license_id
    return [FacetItem(key, key, count) for key, _, count in shown]
