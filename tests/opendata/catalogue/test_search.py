"""Full-text search of the catalogue (SQLite FTS5, PostgreSQL tsvector + pg_trgm): folding on
both sides, ranking, prefixes, typos, private datasets, the index following every write, odd
queries, and the migration that builds the index from the rows already there."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
from alembic import command
from sqlalchemy import delete, inspect, select, text

from tinhso.core import migrations
from tinhso.opendata.access import ANONYMOUS, PLATFORM, Reader
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.packages import organisations_by_id
from tinhso.opendata.catalogue.reference import load_reference
from tinhso.opendata.catalogue.search import SearchQuery, search
from tinhso.opendata.models import OpendataDataset
from tinhso.registry.organisations import organisation_service

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

PUBLISHER = "so-tttt"
OTHER = "so-yte"


@pytest.fixture
def publish(
    sessions: sessionmaker[Session], province_tree: dict[str, str]
) -> Any:  # the function below
    with sessions.begin() as session:
        load_reference(session)

    def create(title: str, **fields: Any) -> dict[str, str]:
        with sessions.begin() as session:
            body = {"title": title, "owner_org": PUBLISHER, **fields}
            dataset = dataset_service.create(session, PLATFORM, body)
            return {"id": dataset.id, "name": dataset.name}

    return create


def _found(
    sessions: sessionmaker[Session], q: str, reader: Reader = ANONYMOUS, **options: Any
) -> list[str]:
    with sessions() as session:
        result = search(session, reader, SearchQuery(q=q, rows=100, **options))
    assert result.count == len(result.results)
    return [item["name"] for item in result.results]


def _member_of(sessions: sessionmaker[Session], code: str) -> Reader:
    with sessions() as session:
        organisation = organisation_service.get(session, code)
        return Reader(principal=None, member_of=frozenset({organisation.id}))


def test_diacritics_d_and_case_do_not_matter_on_either_side(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    publish("Chợ Đồng Xuân", notes="Chợ đầu mối lớn nhất", tags=[{"name": "ĐẶC SẢN"}])
    publish("Dong Xuan market stalls", name="dong-xuan-market")  # written without marks
    publish("Giá đất Hà Nội")
    both = ["cho-dong-xuan", "dong-xuan-market"]
    for q in ("dong xuan", "Đồng Xuân", "ĐỒNG XUÂN", "DONG xuân", "đồng XUAN"):
        assert sorted(_found(sessions, q)) == both, q
    assert _found(sessions, "dac san") == ["cho-dong-xuan"]  # a tag, folded
    assert _found(sessions, "Đặc Sản") == ["cho-dong-xuan"]
    assert _found(sessions, "DAU MOI") == ["cho-dong-xuan"]  # the notes
    assert _found(sessions, "ha noi") == ["gia-dat-ha-noi"]


def test_a_title_or_tag_match_ranks_above_a_notes_match(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    publish("Bệnh viện công lập", notes="Danh sách cơ sở khám chữa bệnh")
    publish("Cơ sở khám chữa", notes="Gồm phòng khám", tags=[{"name": "bệnh viện"}])
    # the newest, so it would come first if the score did not tell them apart
    publish("Danh mục cơ sở y tế", notes="Trạm y tế, phòng khám và bệnh viện tư nhân")
    ranked = _found(sessions, "benh vien")
    assert set(ranked[:2]) == {"benh-vien-cong-lap", "co-so-kham-chua"}
    assert ranked[2] == "danh-muc-co-so-y-te"
    by_name = _found(sessions, "benh vien", sort="name asc")
    assert by_name == ["benh-vien-cong-lap", "co-so-kham-chua", "danh-muc-co-so-y-te"]


def test_each_word_matches_the_start_of_a_word(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    publish("Trường học phổ thông", notes="Các trường trung học")
    publish("Điểm du lịch")
    assert _found(sessions, "truo") == ["truong-hoc-pho-thong"]
    assert _found(sessions, "tr ho ph") == ["truong-hoc-pho-thong"]
    assert _found(sessions, "Đi") == ["diem-du-lich"]
    assert _found(sessions, "diem du l") == ["diem-du-lich"]
    assert _found(sessions, "uong") == []  # inside a word, not at its start
    assert _found(sessions, "truong lich") == []  # every word, not any


def test_one_typo_still_finds_the_dataset(publish: Any, sessions: sessionmaker[Session]) -> None:
    publish("Trường học", notes="Danh sách trường mầm non")
    publish("Giáo dục và Đào tạo", notes="Số liệu ngành giáo dục")
    publish("Bắc Giang", notes="Tỉnh Bắc Giang")
    publish("Giá đất Hà Nội")
    assert _found(sessions, "truong hco") == ["truong-hoc"]
    assert _found(sessions, "Trường hcọ") == ["truong-hoc"]
    assert _found(sessions, "giao duc dao tap") == ["giao-duc-va-dao-tao"]
    assert _found(sessions, "giao duc dao tao") == ["giao-duc-va-dao-tao"]
    assert _found(sessions, "truongg") == ["truong-hoc"]
    # exact matches are not mixed with near ones
    assert _found(sessions, "ha noi") == ["gia-dat-ha-noi"]
    # far from every word: nothing
    assert _found(sessions, "giang hanoi") == []
    assert _found(sessions, "xyzzy") == []
    assert _found(sessions, "benh vien") == []


def test_a_corrected_search_names_the_words_it_used(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    publish("Trường học", notes="Danh sách trường mầm non")
    publish("Giáo dục và Đào tạo", notes="Số liệu ngành giáo dục")
    publish("Giá đất Hà Nội")

    def corrected(q: str, **options: Any) -> dict[str, str] | None:
        with sessions() as session:
            return search(session, ANONYMOUS, SearchQuery(q=q, **options)).corrected

    assert corrected("truong hco") == {
        "query": "truong hco",
        "used": "truong hoc",
        "used_written": "trường học",
    }
    assert corrected("Giao duc dao tap") == {
        "query": "Giao duc dao tap",
        "used": "giao duc dao tao",
        "used_written": "giáo dục đào tạo",
    }
    # the best answer is not on the page asked for: still named
    assert corrected("truong hco", start=5)["used"] == "truong hoc"  # type: ignore[index]
    assert corrected("truong hco", sort="title asc")["used"] == "truong hoc"  # type: ignore[index]
    assert corrected("truong hoc") is None  # exact
    assert corrected("giang hanoi") is None  # nothing, corrected or not
    assert corrected("") is None


def test_the_page_count_and_facets_follow_the_sort_and_paging(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    for number in range(7):
        publish(f"Số liệu trường học {number}", tags=[{"name": f"nhóm {number % 2}"}])
    publish("Giá đất Hà Nội", tags=[{"name": "nhóm 0"}])
    names = [f"so-lieu-truong-hoc-{number}" for number in range(7)]
    assert _found(sessions, "truong hoc", sort="name desc") == names[::-1]
    with sessions() as session:
        paged = search(
            session,
            ANONYMOUS,
            SearchQuery(q="truong hoc", rows=3, start=2, sort="name asc", facet_fields=("tags",)),
        )
    assert paged.count == 7
    assert [item["name"] for item in paged.results] == names[2:5]
    assert [(item.name, item.count) for item in paged.facets["tags"]] == [
        ("nhóm 0", 4),
        ("nhóm 1", 3),
    ]


def test_private_datasets_are_never_matched_for_outsiders(
    publish: Any, sessions: sessionmaker[Session]
) -> None:
    publish("Hồ sơ mật Bắc Giang", private=True, tags=[{"name": "nội bộ"}])
    publish("Danh bạ Bắc Giang")
    outsiders = [ANONYMOUS, _member_of(sessions, OTHER)]
    for reader in outsiders:
        for include_private in (False, True):
            for q in ("ho so mat", "HỒ SƠ", "noi bo", "ho so maat", "bac giang"):
                found = _found(sessions, q, reader, include_private=include_private)
                assert "ho-so-mat-bac-giang" not in found, (q, reader)
            with sessions() as session:
                faceted = search(
                    session,
                    reader,
                    SearchQuery(q="bac giang", facet_fields=("tags",), include_private=True),
                )
            assert faceted.count == 1
            assert faceted.facets["tags"] == []
    member = _member_of(sessions, PUBLISHER)
    assert _found(sessions, "ho so mat", member) == []  # include_private is off by default
    assert _found(sessions, "ho so mat", member, include_private=True) == ["ho-so-mat-bac-giang"]
    assert _found(sessions, "ho so maat", member, include_private=True) == ["ho-so-mat-bac-giang"]


def test_the_index_follows_every_write(
    publish: Any, sessions: sessionmaker[Session], engine: Engine
) -> None:
    created = publish("Bãi đỗ xe", name="ds-0001", notes="Các bãi đỗ xe công cộng")
    assert _found(sessions, "bai do") == ["ds-0001"]

    with sessions.begin() as session:
        dataset_service.update(
            session,
            PLATFORM,
            {"id": created["id"], "title": "Điểm sạc xe điện", "notes": "Trạm sạc"},
        )
    assert _found(sessions, "bai do") == []
    assert _found(sessions, "sac xe dien") == ["ds-0001"]

    with sessions.begin() as session:
        resource = dataset_service.add_resource(
            session,
            PLATFORM,
            {"package_id": created["id"], "name": "Vị trí trạm", "url": "https://e.org/a.csv"},
        )
        resource_id = resource.id
    assert _found(sessions, "vi tri tram") == ["ds-0001"]
    with sessions.begin() as session:
        dataset_service.delete_resource(session, PLATFORM, resource_id)
    assert _found(sessions, "vi tri tram") == []

    with sessions.begin() as session:
        dataset_service.patch(
            session,
            PLATFORM,
            {"id": created["id"], "tags": [{"name": "giao thông"}]},
            organisations_by_id(session),
        )
    assert _found(sessions, "giao thong") == ["ds-0001"]

    with sessions.begin() as session:
        dataset_service.delete(session, PLATFORM, created["id"])
    assert _found(sessions, "sac xe dien") == []
    assert _found(sessions, "sac xe dein") == []  # nor by the typo-tolerant pass

    publish("Bãi đỗ xe mới")
    with sessions.begin() as session:  # rows removed outright leave the index too
        session.execute(delete(OpendataDataset))
    assert _found(sessions, "bai do") == []
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            left = connection.scalar(text("SELECT count(*) FROM opendata_dataset_fts"))
        assert left == 0


ODD_QUERIES = [
    '"',
    '""',
    '"truong',
    "*",
    "**",
    "truong*",
    "*truong",
    "NEAR",
    "NEAR(truong hoc)",
    "truong NEAR hoc",
    "truong NEAR/2 hoc",
    "AND",
    "OR",
    "NOT",
    "truong OR",
    "NOT truong",
    "-",
    "--",
    "-truong",
    "truong -hoc",
    ":",
    "::",
    "title:truong",
    "truong:*",
    "a:b:c",
    "body:hoc",
    "^truong",
    "(",
    ")",
    "(truong",
    "{truong}",
    "truong & hoc",
    "truong | !hoc",
    "truong <-> hoc",
    "'",
    "\\",
    "%",
    "_",
    "trư%ờng_",
    "🙂",
    "🙂 trường",
    "北京",
    "ﬁ",  # a ligature: folds to "fi"
    "Ⅻ",
    "\u200btruong\u200b",
    "truong\thoc\n",
    "truong " * 140,  # the API takes q up to 1,000 characters
    "hco " * 30,
    "a",
    "0",
    "00",
    "2025",
    "1e10",
    "0x1f",
    "3.5",
    "v2.0",
    "truong:* & hoc:*",
    "x" * 1000,
]


def test_sqlite_finds_a_datasets_full_text_row_by_key_not_by_scanning(
    publish: Any, sessions: sessionmaker[Session], engine: Engine
) -> None:
    """Migration 0047: each dataset's full-text row has the integer of its key row as rowid,
    and the triggers reach it through that key (FTS5 does not index ``dataset_id``: reaching
    it by that column read the whole table on every change)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the FTS5 table is SQLite's")
    kept = publish("Bãi đỗ xe", name="bai-do-xe")
    gone = publish("Trạm sạc", name="tram-sac")
    publish("Chợ đầu mối", name="cho-dau-moi")
    with sessions.begin() as session:
        dataset_service.update(session, PLATFORM, {"id": kept["id"], "title": "Điểm đỗ xe"})
        session.execute(delete(OpendataDataset).where(OpendataDataset.id == gone["id"]))
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT k.dataset_id, f.dataset_id FROM opendata_dataset_fts AS f "
                "LEFT JOIN opendata_dataset_fts_key AS k ON k.id = f.rowid"
            )
        ).all()
        keys = connection.scalar(text("SELECT count(*) FROM opendata_dataset_fts_key"))
        triggers = " ".join(
            connection.scalars(
                text(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'opendata_dataset_fts%'"
                )
            )
        )
    assert sorted(key for key, _own in rows) == sorted([kept["id"], _id(sessions, "cho-dau-moi")])
    assert all(key == own for key, own in rows)
    assert keys == 2
    assert "opendata_dataset_fts WHERE dataset_id" not in " ".join(triggers.split())
    assert _found(sessions, "diem do xe") == ["bai-do-xe"]
    assert _found(sessions, "tram sac") == []


def _copy_dataset(engine: Engine, source: str, name: str, title: str, folded: str) -> None:
    """A new dataset made in SQL from another one's row, with its own id, name and title."""
    changed = {
        "id": ":id",
        "name": ":name",
        "title_vi": ":title",
        "search_title": ":folded",
        "search_text": ":folded",
    }
    columns = [c["name"] for c in inspect(engine).get_columns("opendata_dataset")]
    columns = [c for c in columns if c != "search_vector"]  # PostgreSQL's generated column
    picked = ", ".join(changed.get(c, c) for c in columns)
    with engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO opendata_dataset ({', '.join(columns)}) "  # noqa: S608 - names from the schema
                f"SELECT {picked} FROM opendata_dataset WHERE name = :source"
            ),
            {
                "id": str(uuid.uuid4()),
                "name": name,
                "title": title,
                "folded": folded,
                "source": source,
            },
        )


def _id(sessions: sessionmaker[Session], name: str) -> str:
    with sessions() as session:
        return session.scalars(select(OpendataDataset.id).where(OpendataDataset.name == name)).one()


@pytest.mark.parametrize("q", ODD_QUERIES, ids=range(len(ODD_QUERIES)))
def test_odd_queries_never_fail(
    q: str, publish: Any, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    publish("Trường học", notes="Các trường học của tỉnh, năm 2025", tags=[{"name": "giáo dục"}])
    for params in (
        {"q": q},
        {"q": q, "facet.field": '["tags", "organization", "res_format"]', "sort": "score desc"},
    ):
        answer = client.get("/api/3/action/package_search", params=params)
        assert answer.status_code == 200, (q, answer.text[:300])
        assert answer.json()["success"] is True
    page = client.get("/opendata", params={"q": q})
    assert page.status_code in {200, 422}, q  # the page refuses a q over 200 characters


def test_the_migration_builds_the_index_from_existing_rows(
    publish: Any, sessions: sessionmaker[Session], engine: Engine
) -> None:
    publish("Chợ Đồng Xuân", notes="Chợ đầu mối")
    config = migrations.alembic_config(engine)
    command.downgrade(config, "0037")
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                left = connection.scalar(
                    text(
                        "SELECT count(*) FROM sqlite_master WHERE name LIKE 'opendata_dataset_ft%'"
                    )
                )
            else:
                left = connection.scalar(
                    text(
                        "SELECT count(*) FROM information_schema.columns "
                        "WHERE table_name = 'opendata_dataset' AND column_name = 'search_vector'"
                    )
                )
        assert left == 0
        # written while there is no index, in SQL: the models are those of the newest schema
        _copy_dataset(engine, "cho-dong-xuan", "diem-du-lich", "Điểm du lịch", "diem du lich")
    finally:
        migrations.upgrade(engine)
    assert migrations.is_up_to_date(engine)
    assert _found(sessions, "dong xuan") == ["cho-dong-xuan"]
    assert _found(sessions, "diem du") == ["diem-du-lich"]
    with sessions() as session:
        assert len(session.scalars(select(OpendataDataset.id)).all()) == 2
