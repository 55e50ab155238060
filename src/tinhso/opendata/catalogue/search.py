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

Typo tolerance, only when the exact query finds nothing the reader may see:

* PostgreSQL: ``pg_trgm``: the folded query's ``word_similarity`` with a continuous extent of
  ``search_text`` at least 0.7 (``<%`` finds the candidates through the trigram index of
  migration 0035), ranked by that similarity (title counted twice): "truong hco" finds
  "Trường học", "giao duc dao tap" finds "Giáo dục và Đào tạo"; "uong" (inside "truong")
  and "giang hanoi" find nothing.
* SQLite: each word of the query (3 letters or more) may also be any word of the index one
  typo away (two for 8 letters or more: a letter missing, extra, changed, or two swapped;
  the FTS5 vocabulary ``opendata_dataset_fts_vocab`` read and compared in Python), then the
  FTS5 query runs again with those alternatives: "truong hco" finds "Trường học", "giao duc
  dao tap" finds "Giáo dục và Đào tạo"; "giang hanoi" still finds nothing.

Every query word is quoted (FTS5) or reduced to ``[a-z0-9]`` (tsquery) before it reaches
the index, so FTS syntax in q (quotes, ``*``, ``NEAR``, ``-``, ``:``) is only text.

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

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    true,
)

from tinhso.core.errors import InvalidInput
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
from tinhso.registry.models import AdministrativeUnit, UnitSet

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
    for term in reversed(field_terms):
        text = text[: term.start()] + " " + text[term.end() :]
    filters = [
        (term.group(1) == "-", term.group(2), term.group(3) or term.group(4) or "")
        for term in field_terms
    ]
    filters += _filters(query.fq, "fq") if query.fq.strip() else []
    for negated, field_name, value in filters:
        condition = _filter_condition(field_name, value, codes)
        conditions.append(~condition if negated else condition)

    words = search_words(text)
    if text and not words and fold(text).strip():
        conditions.append(false())  # only punctuation: nothing can match

    # One pass over the catalogue: every match with what ordering and three facets need; the
    # other facets count over these matches.
    keys = _sort_keys(query.sort)
    dialect = session.get_bind().dialect.name
    match = _full_text(dialect, words) if words else _EVERYTHING
    matched = _matched(session, match, conditions, keys)
    if not matched and words:
        fuzzy = _fuzzy(session, dialect, words)
        if fuzzy is not None:
            match = fuzzy
            matched = _matched(session, match, conditions, keys)
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
        else select(dataset.id).select_from(match.source()).where(match.condition, *conditions)
    )
    facets = {
        name: _facet(session, name, matching, matched, query, organisations)
        for name in query.facet_fields
    }
    return SearchResult(
        len(matched), results, facets, query.sort or "score desc, metadata_modified desc"
    )


@dataclass(frozen=True)
class _Match:
    """How the text of the query matches: what to join, the condition and the score."""

    joined: Callable[[], FromClause] | None
    condition: ColumnElement[bool]
    score: ColumnElement[Any]

    def source(self) -> FromClause:
        return self.joined() if self.joined is not None else OpendataDataset.__table__


_EVERYTHING = _Match(None, true(), literal(0))
_FTS_NAME = "opendata_dataset_fts"
_FTS = table(_FTS_NAME, column("dataset_id"), column("title"), column("body"))
_FTS_VOCABULARY = table(f"{_FTS_NAME}_vocab", column("term"))
_TITLE_WEIGHT = 3.0  # SQLite bm25: a word in the title (name, titles, tags) against the body
_SEARCH_VECTOR: ColumnElement[Any] = literal_column("opendata_dataset.search_vector")
_SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")
_FUZZY_WORDS_MAX = 8  # longer queries are not corrected (the closest words of each cost time)
_CLOSE_WORDS = 5  # the closest words of the index tried for a word (SQLite)
# pg_trgm's word_similarity of the folded query with a stretch of the text: "truong hco" ~
# "truong hoc" 0.73, "giao duc dao tap" ~ "giao duc va dao tao" 0.81; not "uong" in "truong"
# (0.6, the operator's default threshold) nor "truong lich" (0.67) nor "giang hanoi" (0.5).
_SIMILAR_ENOUGH = 0.7
_TYPO_WORD_MIN = 3
_TWO_TYPOS_WORD_MIN = 8


def _joined_index() -> FromClause:
    return OpendataDataset.__table__.join(_FTS, _FTS.c.dataset_id == OpendataDataset.id)


def _fts5_match(expression: str) -> _Match:
    index: ColumnElement[Any] = literal_column(_FTS_NAME)
    return _Match(
        _joined_index,
        index.op("MATCH")(literal(expression)),
        -func.bm25(index, 0.0, _TITLE_WEIGHT, 1.0),
    )


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _full_text(dialect: str, words: list[str]) -> _Match:
    """Every word starts a word of the dataset's title or text (its folded columns)."""
    if dialect == "postgresql":
        tsquery = func.to_tsquery(_SIMPLE, literal(" & ".join(f"{word}:*" for word in words)))
        return _Match(None, _SEARCH_VECTOR.op("@@")(tsquery), func.ts_rank(_SEARCH_VECTOR, tsquery))
    return _fts5_match(" ".join(f"{_quoted(word)}*" for word in words))


def _fuzzy(session: Session, dialect: str, words: list[str]) -> _Match | None:
    """The typo-tolerant match, tried when the exact one finds nothing (None: no attempt)."""
    if len(words) > _FUZZY_WORDS_MAX:
        return None
    if dialect == "postgresql":
        folded = " ".join(words)
        return _Match(
            None,
            and_(
                literal(folded).op("<%")(OpendataDataset.search_text),  # the trigram index
                func.word_similarity(folded, OpendataDataset.search_text) >= _SIMILAR_ENOUGH,
            ),
            func.word_similarity(folded, OpendataDataset.search_title)
            + func.word_similarity(folded, OpendataDataset.search_text),
        )
    vocabulary = list(session.scalars(select(_FTS_VOCABULARY.c.term)))
    alternatives: list[str] = []
    for word in words:
        starts = any(term.startswith(word) for term in vocabulary)
        close = [_quoted(term) for term in _close_words(word, vocabulary)]
        options = ([f"{_quoted(word)}*"] if starts else []) + close
        if not options:
            return None  # a word like no word of the catalogue: nothing can match
        alternatives.append(options[0] if len(options) == 1 else f"({' OR '.join(options)})")
    return _fts5_match(" AND ".join(alternatives))  # FTS5 wants AND before a "("


def _close_words(word: str, vocabulary: list[str]) -> list[str]:
    """The index's words one typo away from ``word`` (a letter missing, extra, changed or two
    swapped: "hco" → "hoc", "tap" → "tao"); two typos for words of 8 letters or more; none
    for words shorter than 3 letters (one typo would make them any word)."""
    if len(word) < _TYPO_WORD_MIN:
        return []
    most = 1 if len(word) < _TWO_TYPOS_WORD_MIN else 2
    found = [
        term
        for term in vocabulary
        if abs(len(term) - len(word)) <= most and term != word and _typos(word, term, most) <= most
    ]
    return sorted(
        found, key=lambda term: (_typos(word, term, most), abs(len(term) - len(word)), term)
    )[:_CLOSE_WORDS]


def _typos(first: str, second: str, most: int) -> int:
    """Edits (insert, delete, change, swap two neighbours) from one word to the other: the
    optimal string alignment distance, given up (most + 1) once it must exceed ``most``."""
    before: list[int] | None = None
    previous = list(range(len(second) + 1))
    for i, left in enumerate(first, 1):
        current = [i] + [0] * len(second)
        for j, right in enumerate(second, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right))
            if (
                before is not None
                and i > 1
                and j > 1
                and left == second[j - 2]
                and first[i - 2] == right
            ):
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > most:
            return most + 1
        before, previous = previous, current
    return previous[-1]


def _matched(
    session: Session,
    match: _Match,
    conditions: list[ColumnElement[bool]],
    keys: list[tuple[Any, bool]],
) -> Sequence[Any]:
    dataset = OpendataDataset
    return session.execute(
        select(
            dataset.id,
            dataset.organisation_id,
            dataset.licence_id,
            dataset.name,
            dataset.spatial_unit_set,
            dataset.spatial_unit_code,
            *(
                (match.score if key is None else key).label(f"k{position}")
                for position, (key, _) in enumerate(keys)
            ),
        )
        .select_from(match.source())
        .where(match.condition, *conditions)
    ).all()


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


def _named_units(session: Session, items: list[FacetItem]) -> list[FacetItem]:
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
        items = [  # named below, once limited
            FacetItem(f"{unit_set}:{code}", code, count)
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
    items = items if query.facet_limit < 0 else items[: query.facet_limit]
    return _named_units(session, items) if name == "unit" else items
