"""A search's count and facet counts kept until the catalogue changes (``search.COUNTS``):
another page or sort of the same search reads only its page, every write is seen by the next
search (in this process or from another one), and the private datasets a reader sees are part
of what is kept. The datasets' facet values the counts are made from (``facets.FACET_INDEXES``)
are read once per catalogue generation, whatever the question."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import selectinload

import tinhso
from tinhso.core import generations
from tinhso.opendata.access import ANONYMOUS, PLATFORM, Reader
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.facets import FACET_INDEXES, FacetIndex, facet_index
from tinhso.opendata.catalogue.packages import organisations_by_id
from tinhso.opendata.catalogue.reference import load_reference
from tinhso.opendata.catalogue.search import COUNTS, FACET_FIELDS, SearchQuery, search
from tinhso.opendata.models import OpendataDataset, OpendataLicence
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tinhso.opendata.catalogue.search import SearchResult

PUBLISHER = "so-tttt"


@pytest.fixture
def publish(sessions: sessionmaker[Session], province_tree: dict[str, str]) -> Any:
    with sessions.begin() as session:
        load_reference(session)

    def create(title: str, **fields: Any) -> str:
        with sessions.begin() as session:
            body = {"title": title, "owner_org": PUBLISHER, **fields}
            return dataset_service.create(session, PLATFORM, body).id

    return create


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    found: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        found.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def _search(
    sessions: sessionmaker[Session], q: str = "", reader: Reader = ANONYMOUS, **options: Any
) -> SearchResult:
    with sessions() as session:
        return search(session, reader, SearchQuery(q=q, facet_fields=FACET_FIELDS, **options))


def _computed(
    sessions: sessionmaker[Session], q: str = "", reader: Reader = ANONYMOUS, **options: Any
) -> SearchResult:
    with generations.computing_everything():
        return _search(sessions, q, reader, **options)


def _shown(result: SearchResult) -> tuple[Any, ...]:
    return (
        result.count,
        [item["name"] for item in result.results],
        {
            name: [(i.name, i.display_name, i.count) for i in items]
            for name, items in result.facets.items()
        },
        result.corrected,
    )


def _facet(result: SearchResult, name: str) -> dict[str, int]:
    return {item.name: item.count for item in result.facets[name]}


def _many(publish: Any) -> None:
    for number in range(5):
        publish(
            f"Trường học cấp {number}",
            name=f"truong-hoc-{number}",
            tags=[{"name": "giáo dục"}, {"name": f"cấp {number % 2}"}],
            resources=[{"url": f"https://example.gov.vn/{number}.csv", "format": "CSV"}],
        )
    publish("Bệnh viện tuyến tỉnh", name="benh-vien", tags=[{"name": "y tế"}])


def test_another_page_or_sort_of_a_search_reads_only_its_page(
    publish: Any, sessions: sessionmaker[Session], statements: list[str]
) -> None:
    _many(publish)
    first = _search(sessions, "truong hoc", rows=2)
    assert first.count == 5
    assert _facet(first, "tags") == {"giáo dục": 5, "cấp 0": 3, "cấp 1": 2}
    pages = ((2, ""), (4, ""), (0, "name desc"), (0, "title asc"), (2, "name asc"))
    computed = [
        _computed(sessions, "truong hoc", rows=2, start=start, sort=sort) for start, sort in pages
    ]  # (computing everything empties the caches)
    _search(sessions, "truong hoc", rows=2)
    hits = COUNTS.hits
    for (start, sort), again in zip(pages, computed, strict=True):
        kept = _search(sessions, "truong hoc", rows=2, start=start, sort=sort)
        assert _shown(kept) == _shown(again), (start, sort)
    assert COUNTS.hits == hits + len(pages)
    # the kept searches counted nothing: a page not asked before reads only its page, and a
    # page asked before reads no match at all (its ids are kept too)
    for start, expected in ((3, 1), (2, 0), (3, 0)):
        with sessions() as session:
            statements.clear()
            search(
                session,
                ANONYMOUS,
                SearchQuery(q="truong hoc", rows=2, start=start, facet_fields=FACET_FIELDS),
            )
        over_matches = [statement for statement in statements if "matched" in statement]
        assert len(over_matches) == expected, (start, over_matches)
        # the page's ORDER BY … LIMIT, nothing else
        assert all("count(" not in statement.lower() for statement in over_matches)
        assert not any("GROUP BY" in statement for statement in statements)


def test_every_write_is_seen_by_the_next_search(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    _many(publish)
    assert _search(sessions, "truong hoc").count == 5
    hits = COUNTS.hits
    assert _search(sessions, "truong hoc").count == 5
    assert COUNTS.hits == hits + 1  # kept

    added = publish("Trường học mới", name="truong-hoc-moi", tags=[{"name": "mầm non"}])
    found = _search(sessions, "truong hoc")
    assert found.count == 6
    assert _shown(found) == _shown(_computed(sessions, "truong hoc"))

    _search(sessions, "truong hoc")  # kept, until the write
    with sessions.begin() as session:  # a tag changed
        dataset_service.patch(
            session,
            PLATFORM,
            {"id": added, "tags": [{"name": "tiểu học"}]},
            organisations_by_id(session),
        )
    found = _search(sessions, "truong hoc")
    assert _shown(found) == _shown(_computed(sessions, "truong hoc"))
    assert any("tiểu học" in name or "tieu" in name for name in _facet(found, "tags"))

    _search(sessions, "truong hoc")  # kept, until the write
    with sessions.begin() as session:  # a resource added: the format facet
        dataset_service.add_resource(
            session,
            PLATFORM,
            {"package_id": added, "url": "https://example.gov.vn/moi.json", "format": "JSON"},
        )
    found = _search(sessions, "truong hoc")
    assert _facet(found, "res_format") == {"CSV": 5, "JSON": 1}

    _search(sessions, "truong hoc")  # kept, until the write
    with sessions.begin() as session:  # made private: gone for an anonymous reader
        dataset_service.patch(
            session, PLATFORM, {"id": added, "private": True}, organisations_by_id(session)
        )
    assert _search(sessions, "truong hoc").count == 5

    _search(sessions, "truong hoc")  # kept, until the write
    with sessions.begin() as session:
        dataset_service.delete(session, PLATFORM, "truong-hoc-0")
    found = _search(sessions, "truong hoc")
    assert found.count == 4
    assert _shown(found) == _shown(_computed(sessions, "truong hoc"))


def test_the_private_datasets_a_reader_sees_are_part_of_what_is_kept(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    _many(publish)
    publish("Trường học nội bộ", name="truong-hoc-noi-bo", private=True)
    with sessions() as session:
        member = Reader(None, frozenset({organisation_service.get(session, PUBLISHER).id}))
        outsider = Reader(None, frozenset({organisation_service.get(session, "so-yte").id}))
    readers = [
        (ANONYMOUS, False, 5),
        (member, True, 6),
        (outsider, True, 5),
        (PLATFORM, True, 6),
        (member, False, 5),
        (ANONYMOUS, True, 5),
    ]
    for _round in range(2):  # computed, then kept
        for reader, include_private, expected in readers:
            found = _search(sessions, "truong hoc", reader, include_private=include_private)
            assert found.count == expected, (reader, include_private)
            assert len(found.results) == expected
            assert _facet(found, "organization") == {PUBLISHER: expected}


def test_filters_by_publisher_are_kept_by_what_they_select(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    _many(publish)
    publish("Trường học y tế", name="truong-hoc-y-te", owner_org="so-yte")
    for _round in range(2):
        assert _search(sessions, "truong hoc", fq=f'organization:"{PUBLISHER}"').count == 5
        assert _search(sessions, "truong hoc", fq='organization:"so-yte"').count == 1
        assert _search(sessions, "truong hoc", fq='-organization:"so-yte"').count == 5
        assert _search(sessions, "truong hoc", fq='organization:"khong-co"').count == 0


def test_the_typo_tolerant_answer_is_kept_with_its_correction(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    _many(publish)
    first = _search(sessions, "truong hco", rows=2)
    assert first.count == 5
    assert first.corrected is not None
    for start in (0, 2, 4):
        kept = _search(sessions, "truong hco", rows=2, start=start)
        assert _shown(kept) == _shown(_computed(sessions, "truong hco", rows=2, start=start))
    assert _search(sessions, "khong co gi ca").count == 0
    assert _search(sessions, "khong co gi ca").results == []


def test_a_write_from_another_process_is_seen(
    publish: Any, sessions: sessionmaker[Session], database_url: str
) -> None:
    _many(publish)
    hits = COUNTS.hits
    assert _search(sessions, "truong hoc").count == 5
    assert _search(sessions, "truong hoc").count == 5
    assert COUNTS.hits == hits + 1  # the second was kept
    script = textwrap.dedent(
        f"""
        import tinhso.models
        from tinhso.core.db import build_engine, make_sessionmaker
        from tinhso.opendata.access import PLATFORM
        from tinhso.opendata.catalogue.datasets import dataset_service

        engine = build_engine({database_url!r})
        with make_sessionmaker(engine).begin() as session:
            body = {{"title": "Trường học khác", "name": "truong-hoc-khac", "owner_org": "{PUBLISHER}"}}
            dataset_service.create(session, PLATFORM, body)
        engine.dispose()
        """
    )
    source = str(Path(tinhso.__file__).resolve().parents[1])
    environment = {**os.environ, "PYTHONPATH": source}
    subprocess.run([sys.executable, "-c", script], check=True, env=environment, timeout=120)
    found = _search(sessions, "truong hoc")
    assert found.count == 6
    assert "truong-hoc-khac" in [item["name"] for item in found.results]


def test_facet_values_are_read_once_per_catalogue_generation(
    publish: Any, sessions: sessionmaker[Session], statements: list[str]
) -> None:
    _many(publish)
    _search(sessions, "truong hoc")
    misses = FACET_INDEXES.misses
    statements.clear()
    other = _search(sessions, "benh vien")  # another question: counted over the kept values
    assert FACET_INDEXES.misses == misses
    assert other.count == 1
    assert _facet(other, "tags") == {"y tế": 1}
    assert not any("GROUP BY" in statement for statement in statements)

    publish("Bệnh viện huyện", name="benh-vien-huyen", tags=[{"name": "y tế"}, {"name": "huyện"}])
    found = _search(sessions, "benh vien")
    assert FACET_INDEXES.misses == misses + 1  # read again for the new generation
    assert _facet(found, "tags") == {"y tế": 2, "huyện": 1}
    assert _shown(found) == _shown(_computed(sessions, "benh vien"))


def _tags_of(sessions: sessionmaker[Session]) -> dict[str, list[str]]:
    with sessions() as session:
        return {
            dataset.name: [tag.name for tag in dataset.tags]
            for dataset in session.scalars(
                select(OpendataDataset).options(selectinload(OpendataDataset.tags))
            )
        }


def test_a_match_the_facet_values_do_not_know_is_never_counted_from_them(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    _many(publish)
    with sessions() as session:
        index = facet_index(session)
    added = publish("Trường học mới", name="truong-hoc-moi", tags=[{"name": "mầm non"}])
    known = list(index.rows)
    # values read before the dataset's commit cannot count it: the caller reads them again
    assert index.count([*known, added], ("tags",)) is None
    with sessions() as session:
        fresh = facet_index(session)
    counted_now = fresh.count([*known, added], ("tags",))
    assert counted_now is not None
    assert {value: times for value, _, times in counted_now["tags"]}["mầm non"] == 1
    # a match deleted since is left out when asked to (known_only)
    left_out = index.count(["no-such-dataset", known[0]], ("tags",), known_only=True)
    assert left_out is not None
    assert left_out == index.count([known[0]], ("tags",))
    assert isinstance(index, FacetIndex)
    # every dataset's values counted once, whatever the order asked
    every = list(fresh.rows)
    fields = ("tags", "license_id", "no-such-facet")
    everything = fresh.count(every, fields)
    assert everything is not None
    assert everything["no-such-facet"] == []
    assert everything == fresh.count(list(reversed(every)), fields)
    tags: dict[str, int] = {}
    for names in _tags_of(sessions).values():
        for name in names:
            tags[name] = tags.get(name, 0) + 1
    assert {value: times for value, _, times in everything["tags"]} == tags


def test_the_results_are_kept_and_follow_the_dataset_its_licence_and_its_publisher(
    publish: Any, sessions: sessionmaker[Session], statements: list[str]
) -> None:
    _many(publish)
    with sessions() as session:
        licence = session.scalars(select(OpendataLicence.id)).first()
    assert licence is not None
    changed = publish("Trường học có giấy phép", name="truong-hoc-gp", license_id=licence)
    expected = _computed(sessions, "truong hoc")  # (computing everything empties the caches)
    first = _search(sessions, "truong hoc")
    assert first.results == expected.results
    statements.clear()
    # another page of the same search: its datasets were shown, so none is loaded again
    again = _search(sessions, "truong hoc", rows=2, start=2)
    assert again.results == first.results[2:4]
    assert not any("opendata_resource" in statement for statement in statements)
    _search(sessions, "truong hoc")  # kept, until the next write

    def shown() -> dict[str, Any]:
        found = _search(sessions, "truong hoc")
        assert found.results == _computed(sessions, "truong hoc").results
        _search(sessions, "truong hoc")  # kept again, until the next write
        return next(item for item in found.results if item["id"] == changed)

    with sessions.begin() as session:  # the dataset's title
        dataset_service.patch(
            session,
            PLATFORM,
            {"id": changed, "title": "Trường học đã đổi tên"},
            organisations_by_id(session),
        )
    assert shown()["title"] == "Trường học đã đổi tên"
    with sessions.begin() as session:  # its licence's title
        kept_licence = session.get(OpendataLicence, licence)
        assert kept_licence is not None
        kept_licence.title_vi = "Giấy phép đã đổi tên"
    assert shown()["license_title"] == "Giấy phép đã đổi tên"
    with sessions.begin() as session:  # its publisher's name: not the catalogue's generation
        organisation_service.get(session, PUBLISHER).name_vi = "Sở đã đổi tên"
    assert shown()["organization"]["title"] == "Sở đã đổi tên"
