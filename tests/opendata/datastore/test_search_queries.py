"""What one ``datastore_search`` sends to the database (issue 16): the resource, its dataset,
the reader's access and the table's fields in one statement, then the page, then the total of
the filtered rows (counted once per table load and filter: a loaded table never changes),
whatever the page's size and offset and however many rows the table holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from ckanapi import NotFound
from sqlalchemy import text

from tests.opendata.datastore.test_datastore_api import _dataset, _upload
from tests.registry.queries import counted_queries
from tinhso.opendata.datastore import tables
from tinhso.opendata.datastore.search import TOTALS
from tinhso.opendata.datastore.service import fields_of
from tinhso.opendata.models import OpendataDatastore

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from tests.opendata.conftest import Catalogue
    from tests.registry.queries import QueryBudget


def _table(rows: int, indicators: int = 3) -> bytes:
    """``rows`` rows: a commune, an indicator (of ``indicators``) and a value."""
    lines = ["ma_xa,chi_so,gia_tri"]
    lines += [
        f"{7200 + n % 50:05d},ct{n % indicators:02d},{(n * 37) % 1000}.5" for n in range(rows)
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def _expected(rows: int, indicator: str, indicators: int = 3) -> list[int]:
    """The _ids of an indicator's rows by value descending (then _id descending)."""
    found = [
        (((n * 37) % 1000) + 0.5, n + 1)
        for n in range(rows)
        if f"ct{n % indicators:02d}" == indicator
    ]
    return [row_id for _, row_id in sorted(found, reverse=True)]


@pytest.fixture
def table(catalogue: Catalogue, tmp_path: Path) -> dict[str, Any]:
    dataset = _dataset(catalogue, "Giá trị chỉ số theo xã")
    return _upload(catalogue.officer, tmp_path, "gia-tri.csv", _table(60), package_id=dataset["id"])


def test_one_search_sends_three_statements_whatever_its_page_or_the_rows(
    catalogue: Catalogue, table: dict[str, Any], tmp_path: Path, query_budget: QueryBudget
) -> None:
    search, rid = catalogue.anonymous.action.datastore_search, table["id"]
    rows = {"count": 60}

    def fetch(limit: int, offset: int) -> None:
        found = search(
            resource_id=rid,
            filters={"chi_so": "ct01"},
            sort="gia_tri desc",
            limit=limit,
            offset=offset,
        )
        expected = _expected(rows["count"], "ct01")
        assert found["total"] == len(expected)
        assert [row["_id"] for row in found["records"]] == expected[offset : offset + limit]

    def grow() -> None:
        rows["count"] = 3_000
        _upload(catalogue.officer, tmp_path, "gia-tri.csv", _table(3_000), id=rid)

    def page(limit: int, offset: int) -> Callable[[], None]:
        return lambda: fetch(limit, offset)

    pages = {
        f"{limit}@{offset}": page(limit, offset) for limit, offset in ((1, 0), (5, 3), (100, 15))
    }
    statements = query_budget.flat_each(pages, grow, dict.fromkeys(pages, 3))
    # the same statements for a deep offset in the larger table
    assert query_budget.count(lambda: fetch(100, 900)).count == 3
    assert set(statements.values()) == {(3, 3)}
    # no filter: the total is the table's row count, read with the table (2 statements)
    unfiltered = query_budget.count(lambda: search(resource_id=rid, offset=2_000, limit=50))
    assert unfiltered.count == 2


def test_a_total_is_counted_once_per_table_load_and_filter(
    catalogue: Catalogue, table: dict[str, Any], tmp_path: Path, query_budget: QueryBudget
) -> None:
    search, rid = catalogue.anonymous.action.datastore_search, table["id"]
    ct02 = {"chi_so": "ct02"}
    TOTALS.clear()
    with counted_queries(query_budget.engine) as log:
        assert search(resource_id=rid, filters=ct02)["total"] == 20
    assert len(log.touching("count(")) == 1
    with counted_queries(query_budget.engine) as log:
        again = search(resource_id=rid, filters=ct02, offset=5, limit=3)
    assert again["total"] == 20 and log.count == 2 and not log.touching("count(")
    # another filter is counted on its own
    assert search(resource_id=rid, filters={"chi_so": ["ct00", "ct02"]})["total"] == 40

    # a new upload: the new table's total
    _upload(catalogue.officer, tmp_path, "gia-tri.csv", _table(90, indicators=2), id=rid)
    assert search(resource_id=rid, filters=ct02)["total"] == 0
    assert search(resource_id=rid, filters={"chi_so": "ct01"})["total"] == 45

    # the table dropped and loaded again: its generation starts at 1 again, so the table
    # has the first one's name; the total is the new rows'
    catalogue.officer.action.datastore_delete(resource_id=rid, force=True)
    with pytest.raises(NotFound):
        search(resource_id=rid, filters=ct02)
    _upload(catalogue.officer, tmp_path, "gia-tri.csv", _table(30), id=rid)
    info = catalogue.anonymous.action.datastore_info(id=rid)
    assert info["meta"]["generation"] == 1
    assert search(resource_id=rid, filters=ct02)["total"] == 10


def test_a_search_reads_only_what_the_reader_may_see(
    catalogue: Catalogue, table: dict[str, Any]
) -> None:
    rid = table["id"]
    catalogue.officer.action.package_patch(id=table["package_id"], private=True)
    for remote in (catalogue.anonymous, catalogue.other):
        with pytest.raises(NotFound) as raised:
            remote.action.datastore_search(resource_id=rid)
        assert str(raised.value) == f"Không tìm thấy tài nguyên {rid}"
    found = catalogue.viewer.action.datastore_search(resource_id=rid, filters={"chi_so": "ct00"})
    assert found["total"] == 20
    with pytest.raises(NotFound) as raised:
        catalogue.anonymous.action.datastore_search(resource_id="khong-co")
    assert str(raised.value) == "Không tìm thấy tài nguyên khong-co"
    catalogue.officer.action.datastore_delete(resource_id=rid, force=True)
    with pytest.raises(NotFound) as raised:
        catalogue.viewer.action.datastore_info(id=rid)
    assert str(raised.value) == f"Tài nguyên {rid} không có dữ liệu trong kho dữ liệu"


def test_a_loaded_table_is_all_visible_and_read_through_one_object(
    catalogue: Catalogue, table: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    """PostgreSQL: the rows are written frozen (COPY FREEZE), so index-only scans fetch no
    table page from the first search on; every search reads through one table object (its
    statements compiled once)."""
    with sessions() as session:
        store = session.get(OpendataDatastore, table["id"])
        assert store is not None
        fields = fields_of(store)
        assert tables.readable(store.table_name, fields) is tables.readable(
            store.table_name, fields_of(store)
        )
        if session.get_bind().dialect.name != "postgresql":
            return
        pages, visible = session.execute(
            text("SELECT relpages, relallvisible FROM pg_class WHERE relname = :name"),
            {"name": store.table_name},
        ).one()
    assert pages > 0 and visible == pages
