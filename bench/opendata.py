"""The open data catalogue at a province's scale, through the product's own HTTP API.

For each database (SQLite, then a private PostgreSQL server), in one run:

* **load**: the registry's organisations and the reference lists, then ``--datasets``
  datasets (default 10,000) with Vietnamese titles and notes made from real unit names
  (``tinhso.registry.unit_catalogue``) and the seed indicators' names, 3 tags and 1-2 themes
  each, ``--resources`` link resources (default 30,000), written with the product's own
  shadow-column builder (``opendata.folding.search_column``), then (PostgreSQL) ``ANALYZE``,
  as autovacuum does within a minute of such a bulk write; and one CSV of ``--rows`` rows
  (default 1,000,000) uploaded through the product's resource path, so it is loaded into the
  datastore as an upload is;
* **package_search through HTTP**: ``tinhso serve`` (uvicorn, the product's app) on
  loopback, one keep-alive client sending a mix of queries, with and without diacritics,
  upper case, filters, every facet on; p50/p95 of the time to the whole answer, and apart
  the first request of each distinct question and the repeated ones (the search keeps a
  question's counts until the catalogue changes: the first request shows what a cache cannot
  hide; the warm-up asks other questions);
* **datastore_search through HTTP**: a filter on one column, a sort on another and an
  offset anywhere in the filtered rows (deep offsets included), 100 rows;
* **the floor**: the SQL each of those requests runs, captured from the product's search
  code (SQLAlchemy's ``before_cursor_execute``) and replayed on a raw DBAPI cursor in this
  process, the same query mix; the ratio HTTP / floor is what the API, the envelope and the
  Python around the SQL cost. For datastore_search that is the resource's one-read lookup
  (``find_datastore``) and the search's statements; a filter's total is counted once per
  table and filter (``datastore.search.TOTALS``) in the server and in this process alike.

Writes ``bench/results/opendata-<date>.json`` and ``.txt`` with the machine noted; the last
line printed is ``package_search p95: X ms, datastore_search p95: Y ms`` (the slower of the
two databases). ``--scale 0.01`` runs 1 % of everything for a quick check.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import event, insert, select, text

from bench.machine import describe_machine
from bench.serving import database, database_version, free_port, migrate, product_env, served
from tinhso.core.db import build_engine, make_sessionmaker, utcnow
from tinhso.core.storage import DiskStore
from tinhso.opendata.access import ANONYMOUS, PLATFORM
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.folding import search_column
from tinhso.opendata.catalogue.metadata import FileUpload
from tinhso.opendata.catalogue.reference import load_reference
from tinhso.opendata.catalogue.search import FACET_FIELDS, SearchQuery, search
from tinhso.opendata.catalogue.storage import AREA
from tinhso.opendata.datastore.search import DatastoreQuery, search_rows
from tinhso.opendata.models import (
    DatasetState,
    OpendataDataset,
    OpendataGroup,
    OpendataLicence,
    OpendataResource,
    OpendataTag,
    opendata_dataset_group,
    opendata_dataset_tag,
)
from tinhso.registry.demo import load_registry_demo
from tinhso.registry.organisations import organisation_service
from tinhso.registry.unit_catalogue import current_units

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SEEDS = REPO / "src" / "tinhso" / "monitoring" / "demo" / "seed_figures.yaml"
FORMATS = ("CSV", "XLSX", "JSON", "PDF", "GEOJSON")
FREQUENCIES = ("monthly", "quarterly", "annual", "irregular")
FACETS = json.dumps(list(FACET_FIELDS))
INDICATORS = ("ct01", "ct02", "ct03", "ct04", "ct05", "ct06", "ct07", "ct08", "ct09", "ct10")
BATCH = 2_000


# -- data -------------------------------------------------------------------------------------


def _topics() -> list[str]:
    """The seed indicators' Vietnamese names (real phrases of a province's reports)."""
    data = yaml.safe_load(SEEDS.read_text(encoding="utf-8"))
    return [item["name_vi"] for item in data["indicators"]]


def _dataset_rows(
    count: int, organisations: list[tuple[int, str, str]], rng: random.Random
) -> Iterator[tuple[dict[str, Any], list[str], list[int]]]:
    """Each dataset's row, its tags and its theme positions."""
    units = list(current_units())
    topics = _topics()
    tags = [topic.split()[0].lower() + " " + topic.split()[-1].lower() for topic in topics]
    tags += [unit.name.split(" ", 1)[-1].lower() for unit in units[:34]]
    tags = sorted(set(tags))
    now = utcnow()
    for number in range(count):
        unit = rng.choice(units)
        topic = rng.choice(topics)
        year = rng.randint(2018, 2026)
        title = f"{topic} — {unit.name} năm {year}"
        notes = (
            f"Số liệu {topic.lower()} của {unit.name} năm {year}, do "
            f"{rng.choice(organisations)[2]} tổng hợp từ báo cáo của các đơn vị; "
            f"kỳ cập nhật {rng.choice(('tháng', 'quý', 'năm'))}."
        )
        organisation_id, code, name = rng.choice(organisations)
        chosen_tags = rng.sample(tags, 3)
        themes = rng.sample(range(12), rng.randint(1, 2))
        search_title = search_column(f"bo du lieu {number:05d}", title, *chosen_tags)
        row = {
            "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "name": f"bo-du-lieu-{number:05d}",
            "title_vi": title[:500],
            "title_en": None,
            "notes_vi": notes,
            "notes_en": None,
            "organisation_id": organisation_id,
            "licence_id": rng.choice(("cc-by-4.0", "odc-by", "vn-open-data")),
            "private": rng.random() < 0.05,
            "state": DatasetState.ACTIVE,
            "update_frequency": rng.choice(FREQUENCIES),
            "spatial_unit_set": "current",
            "spatial_unit_code": unit.code,
            "contact_point": "",
            "version": "",
            "created_at": now,
            "updated_at": now,
            "search_title": search_title,
            "search_text": search_column(search_title, notes, name, code),
        }
        yield row, chosen_tags, themes


def load_catalogue(url: str, datasets: int, resources: int, seed: int) -> dict[str, Any]:
    """The registry, reference lists, datasets, their tags, themes and link resources."""
    rng = random.Random(seed)
    engine = build_engine(url)
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    with sessions.begin() as session:
        load_registry_demo(session, "bench-mat-khau-1234")
        load_reference(session)
    with sessions.begin() as session:
        organisations = [(o.id, o.code, o.name_vi) for o in organisation_service.list_all(session)]
        groups = list(session.scalars(select(OpendataGroup.id).order_by(OpendataGroup.name)))
        licences = set(session.scalars(select(OpendataLicence.id)))
        tag_ids: dict[str, int] = {}
        dataset_batch: list[dict[str, Any]] = []
        links: list[tuple[str, str]] = []
        ids: list[str] = []
        for row, tags, themes in _dataset_rows(datasets, organisations, rng):
            if row["licence_id"] not in licences:
                raise RuntimeError(f"no licence {row['licence_id']}")
            dataset_batch.append(row)
            ids.append(row["id"])
            for tag in tags:
                if tag not in tag_ids:
                    tag_ids[tag] = session.execute(
                        insert(OpendataTag).values(name=tag).returning(OpendataTag.id)
                    ).scalar_one()
                links.append(("tag", f"{row['id']}|{tag_ids[tag]}"))
            links.extend(("group", f"{row['id']}|{groups[theme]}") for theme in themes)
            if len(dataset_batch) >= BATCH:
                session.execute(insert(OpendataDataset), dataset_batch)
                dataset_batch = []
        if dataset_batch:
            session.execute(insert(OpendataDataset), dataset_batch)
        session.execute(
            insert(opendata_dataset_tag),
            [
                {"dataset_id": pair.split("|")[0], "tag_id": int(pair.split("|")[1])}
                for kind, pair in links
                if kind == "tag"
            ],
        )
        session.execute(
            insert(opendata_dataset_group),
            [
                {"dataset_id": pair.split("|")[0], "group_id": int(pair.split("|")[1])}
                for kind, pair in links
                if kind == "group"
            ],
        )
        batch: list[dict[str, Any]] = []
        for number in range(resources):
            dataset_id = ids[number % len(ids)]
            resource_format = rng.choice(FORMATS)
            batch.append(
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "dataset_id": dataset_id,
                    "position": number // len(ids),
                    "name": f"Tệp {number}",
                    "description": "",
                    "url": f"https://opendata.example.gov.vn/f/{number}.{resource_format.lower()}",
                    "stored_path": "",
                    "format": resource_format,
                    "size": rng.randint(1_000, 5_000_000),
                    "sha256": "",
                    "created_at": utcnow(),
                    "datastore_active": False,
                }
            )
            if len(batch) >= BATCH:
                session.execute(insert(OpendataResource), batch)
                batch = []
        if batch:
            session.execute(insert(OpendataResource), batch)
    if engine.dialect.name == "postgresql":
        # What autovacuum does within a minute or so of a bulk write: without it, the first
        # minute's plans are made on an empty table's statistics (p50 ~2.5x slower here).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"datasets": datasets, "resources": resources, "seconds": round(seconds, 1)}


def table_csv(rows: int, communes: list[str], rng: random.Random) -> bytes:
    """``rows`` values: commune code, month, indicator, value (dot decimals, 2 places)."""
    out = io.StringIO()
    out.write("ma_xa,ky,chi_so,gia_tri\n")
    months = [f"{year}-{month:02d}" for year in (2025, 2026) for month in range(1, 13)]
    for _ in range(rows):
        out.write(
            f"{rng.choice(communes)},{rng.choice(months)},{rng.choice(INDICATORS)},"
            f"{rng.uniform(0, 100_000):.2f}\n"
        )
    return out.getvalue().encode()


def load_table(url: str, data_dir: Path, rows: int, seed: int) -> dict[str, Any]:
    """A dataset with one CSV uploaded through the product's resource path (datastore load)."""
    rng = random.Random(seed + 1)
    communes = [unit.code for unit in current_units() if unit.level == "commune"]
    content = table_csv(rows, communes, rng)
    engine = build_engine(url)
    started = time.perf_counter()
    with make_sessionmaker(engine).begin() as session:
        organisation = organisation_service.list_all(session)[0]
        dataset = dataset_service.create(
            session,
            PLATFORM,
            {
                "name": "gia-tri-chi-so-theo-xa",
                "title": "Giá trị chỉ số theo xã, phường",
                "owner_org": organisation.code,
            },
        )
        resource = dataset_service.attach_file(
            session,
            PLATFORM,
            dataset.id,
            # the composite index a publisher declares for this table's usual query
            # (datastore_create's ``indexes``): filter by indicator, sort by value
            FileUpload(
                "gia-tri-theo-xa.csv", content, format="CSV", indexes=[["chi_so", "gia_tri"]]
            ),
            DiskStore(data_dir, AREA),
        )
        resource_id = resource.id
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "rows": rows,
        "bytes": len(content),
        "seconds": round(seconds, 1),
        "resource_id": resource_id,
    }


# -- queries ----------------------------------------------------------------------------------


def search_queries(count: int, rng: random.Random) -> list[dict[str, str]]:
    """A mix: unit names with and without diacritics, upper case, topics, filters."""
    units = [unit.name.split(" ", 1)[-1] for unit in current_units()]
    topics = [" ".join(topic.split()[:2]) for topic in _topics()]
    from tinhso.core.text import fold  # noqa: PLC0415

    queries: list[dict[str, str]] = []
    for number in range(count):
        kind = number % 5
        if kind == 0:
            q = rng.choice(units)
        elif kind == 1:
            q = fold(rng.choice(units))
        elif kind == 2:
            q = rng.choice(units).upper()
        elif kind == 3:
            q = fold(rng.choice(topics))
        else:
            q = rng.choice(topics)
        params = {"q": q, "facet.field": FACETS, "rows": "10"}
        if number % 7 == 0:
            params["fq"] = 'res_format:"CSV"'
        queries.append(params)
    return queries


def datastore_queries(count: int, total: int, rng: random.Random) -> list[dict[str, Any]]:
    """A filter on the indicator, a sort on the value, an offset anywhere (deep included)."""
    per_indicator = total // len(INDICATORS)
    return [
        {
            "filters": {"chi_so": rng.choice(INDICATORS)},
            "sort": "gia_tri desc",
            "offset": rng.randint(0, max(0, per_indicator - 200)),
            "limit": 100,
        }
        for _ in range(count)
    ]


def first_and_repeated(bodies: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """The positions of each distinct question's first request, and of the others."""
    seen: set[str] = set()
    first: list[int] = []
    again: list[int] = []
    for position, body in enumerate(bodies):
        key = json.dumps(body, sort_keys=True)
        (again if key in seen else first).append(position)
        seen.add(key)
    return first, again


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "n": len(ordered),
    }


def http_times(
    client: httpx.Client, path: str, bodies: list[dict[str, Any]], *, json_body: bool
) -> list[float]:
    times: list[float] = []
    for body in bodies:
        started = time.perf_counter()
        answer = client.post(path, json=body) if json_body else client.get(path, params=body)
        answer.read()
        times.append(time.perf_counter() - started)
        if answer.status_code != 200 or not answer.json()["success"]:
            raise RuntimeError(f"{path} {body}: {answer.status_code} {answer.text[:300]}")
    return times


@contextlib.contextmanager
def captured(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def floor_times(
    url: str, bodies: list[dict[str, Any]], run: Callable[[Any, dict[str, Any]], None]
) -> list[float]:
    """Each request's SQL, captured from the product's code, replayed on a raw cursor."""
    engine = build_engine(url)
    sessions = make_sessionmaker(engine)
    plans: list[list[tuple[str, Any]]] = []
    for body in bodies:
        with sessions() as session, captured(engine) as statements:
            run(session, body)
        plans.append(list(statements))
    times: list[float] = []
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for plan in plans:
            started = time.perf_counter()
            for statement, parameters in plan:
                cursor.execute(statement, parameters)
                cursor.fetchall()
            times.append(time.perf_counter() - started)
        connection.rollback()
    finally:
        connection.close()
        engine.dispose()
    return times


def run_search(session: Any, body: dict[str, str]) -> None:
    search(
        session,
        ANONYMOUS,
        SearchQuery(
            q=body["q"],
            fq=body.get("fq", ""),
            rows=int(body["rows"]),
            facet_fields=tuple(json.loads(body["facet.field"])),
        ),
        "http://127.0.0.1",
    )


def run_datastore(resource_id: str) -> Callable[[Any, dict[str, Any]], None]:
    def run(session: Any, body: dict[str, Any]) -> None:
        store = dataset_service.find_datastore(session, ANONYMOUS, resource_id)
        search_rows(
            session,
            store,
            DatastoreQuery(
                filters=body["filters"],
                q="",
                limit=body["limit"],
                offset=body["offset"],
                sort=body["sort"],
                fields=None,
                include_total=True,
                records_format="objects",
            ),
            "/api/3/action/datastore_search",
        )

    return run


# -- one database -----------------------------------------------------------------------------


def measure_database(
    name: str, url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    migrate(url)
    data_dir = workdir / f"data-{name}"
    report: dict[str, Any] = {"database": database_version(url)}
    report["catalogue"] = load_catalogue(url, args.datasets, args.resources, args.seed)
    report["datastore_table"] = load_table(url, data_dir, args.rows, args.seed)
    resource_id = report["datastore_table"]["resource_id"]
    rng = random.Random(args.seed + 2)
    searches = search_queries(args.requests, rng)
    tables = [
        {"resource_id": resource_id, **body}
        for body in datastore_queries(args.requests, args.rows, rng)
    ]
    env = product_env(url, data_dir)
    # warmed with other questions (one facet asked: another key of the kept counts), so the
    # first request of each measured question is as cold as the first after a change
    warming = [{**body, "facet.field": json.dumps(["license_id"])} for body in searches[:20]]
    with served(env, free_port()) as base, httpx.Client(base_url=base, timeout=60) as client:
        http_times(client, "/api/3/action/package_search", warming, json_body=False)
        http_times(client, "/api/3/action/datastore_search", tables[:20], json_body=True)
        search_http = http_times(client, "/api/3/action/package_search", searches, json_body=False)
        table_http = http_times(client, "/api/3/action/datastore_search", tables, json_body=True)
    search_floor = floor_times(url, searches, run_search)
    table_floor = floor_times(url, tables, run_datastore(resource_id))
    first, again = first_and_repeated(searches)
    # the first requests of the questions asked again: the same questions as the repeated ones
    # (those that repeat are the broad topics more often than the rest), cold then kept
    asked_again = {json.dumps(searches[i], sort_keys=True) for i in again}
    first_of_again = [i for i in first if json.dumps(searches[i], sort_keys=True) in asked_again]
    report["package_search"] = {
        "http": percentiles(search_http),
        "floor": percentiles(search_floor),
        # each distinct question's first request (its counts computed) and the repeated ones
        # (the counts kept by the search, only the page read): a cache cannot hide the first
        "distinct_questions": len(first),
        "http_first": percentiles([search_http[i] for i in first]),
        "http_repeated": percentiles([search_http[i] for i in again]) if again else None,
        "floor_first": percentiles([search_floor[i] for i in first]),
        "floor_repeated": percentiles([search_floor[i] for i in again]) if again else None,
        "http_first_of_repeated": (
            percentiles([search_http[i] for i in first_of_again]) if first_of_again else None
        ),
    }
    report["datastore_search"] = {
        "http": percentiles(table_http),
        "floor": percentiles(table_floor),
    }
    for key in ("package_search", "datastore_search"):
        part = report[key]
        part["ratio_p50"] = round(part["http"]["p50_ms"] / max(part["floor"]["p50_ms"], 0.01), 2)
        part["ratio_p95"] = round(part["http"]["p95_ms"] / max(part["floor"]["p95_ms"], 0.01), 2)
    return report


# -- the run ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return describe_machine()


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of every size")
    parser.add_argument("--requests", type=int, default=400, help="requests per measurement")
    parser.add_argument("--seed", type=int, default=20251205)
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument("--name", default="", help="suffix of the result files")
    args = parser.parse_args(argv)
    args.datasets = max(10, int(10_000 * args.scale))
    args.resources = max(30, int(30_000 * args.scale))
    args.rows = max(1_000, int(1_000_000 * args.scale))
    return args


def _first_and_repeated_line(part: dict[str, Any]) -> str:
    first, again = part["http_first"], part["http_repeated"]
    line = (
        f"    first request of each of {part['distinct_questions']} distinct questions: HTTP "
        f"p50 {first['p50_ms']} ms, p95 {first['p95_ms']} ms (SQL floor p95 "
        f"{part['floor_first']['p95_ms']} ms)"
    )
    if again is None:
        return line + "; no question repeated"
    line += (
        f"; {again['n']} repeated: HTTP p50 {again['p50_ms']} ms, p95 {again['p95_ms']} ms "
        f"(SQL floor p95 {part['floor_repeated']['p95_ms']} ms)"
    )
    same = part.get("http_first_of_repeated")
    if same:
        line += (
            f"; the first requests of those {same['n']} questions: HTTP p50 {same['p50_ms']} ms,"
            f" p95 {same['p95_ms']} ms"
        )
    return line


def summary(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        (
            f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, kernel "
            f"{m['kernel']}, Python {m['python']}, 1-min load at start "
            f"{m['load_average_1min_at_start']}"
        ),
        f"scale {report['scale']}: {report['sizes']}",
    ]
    for name, found in report["databases"].items():
        lines.append(
            f"{name} ({found['database']}): loaded {found['catalogue']['datasets']:,} datasets "
            f"in {found['catalogue']['seconds']} s, a {found['datastore_table']['rows']:,}-row "
            f"CSV ({found['datastore_table']['bytes'] / 1e6:.1f} MB) through the upload path "
            f"in {found['datastore_table']['seconds']} s"
        )
        for key in ("package_search", "datastore_search"):
            part = found[key]
            lines.append(
                f"  {key}: HTTP p50 {part['http']['p50_ms']} ms, p95 {part['http']['p95_ms']} ms;"
                f" SQL floor p50 {part['floor']['p50_ms']} ms, p95 {part['floor']['p95_ms']} ms;"
                f" HTTP/floor {part['ratio_p50']}x (p50), {part['ratio_p95']}x (p95)"
            )
            if "http_first" in part:
                lines.append(_first_and_repeated_line(part))
    worst_search = max(f["package_search"]["http"]["p95_ms"] for f in report["databases"].values())
    worst_first = max(
        f["package_search"]["http_first"]["p95_ms"] for f in report["databases"].values()
    )
    worst_table = max(f["datastore_search"]["http"]["p95_ms"] for f in report["databases"].values())
    lines.append(
        "targets: package_search p95 < 50 ms, datastore_search p95 < 100 ms (the slower "
        "database is reported below); the machine is shared and noisy, compare ratios"
    )
    lines.append(
        f"package_search p95: {worst_search} ms (first requests: {worst_first} ms), "
        f"datastore_search p95: {worst_table} ms"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = arguments(argv)
    report: dict[str, Any] = {
        "machine": machine(),
        "scale": args.scale,
        "sizes": {
            "datasets": args.datasets,
            "resources": args.resources,
            "datastore_rows": args.rows,
            "requests": args.requests,
        },
        "databases": {},
    }
    with tempfile.TemporaryDirectory(prefix="tinhso-bench-opendata-") as tmp:
        workdir = Path(tmp)
        for name in args.databases.split(","):
            with database(name, workdir) as url:
                report["databases"][name] = measure_database(name, url, workdir, args)
    text_report = summary(report)
    print(text_report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"opendata-{dt.datetime.now(dt.UTC).date().isoformat()}{'-' + args.name if args.name else ''}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    (RESULTS / f"{stem}.txt").write_text(text_report + "\n")
    return report


if __name__ == "__main__":
    main()
