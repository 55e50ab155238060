"""The catalogue's documents: OpenAPI text read with the line of its first error, the data
standard flattened into readable operations and fields, and the folded search text kept for
services stored before migration 0025."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from sqlalchemy import text

from tinhso.core import migrations
from tinhso.core.db import build_engine
from tinhso.exchange.catalogue.documents import DocumentProblem, as_json, as_yaml, read_openapi
from tinhso.exchange.catalogue.reading import contact, operations, schema_fields

if TYPE_CHECKING:
    from pathlib import Path

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Đất đai", "version": "1", "contact": {"email": "tnmt@example.vn"}},
    "paths": {
        "/thua-dat": {
            "parameters": [{"$ref": "#/components/parameters/Trang"}],
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Thua"}}
                    }
                },
                "responses": {
                    "201": {
                        "description": "Đã tạo",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Thua"},
                                }
                            }
                        },
                    }
                },
            },
        }
    },
    "components": {
        "parameters": {
            "Trang": {"name": "trang", "in": "query", "schema": {"type": "integer", "minimum": 1}}
        },
        "schemas": {
            "Thua": {
                "allOf": [
                    {"$ref": "#/components/schemas/Goc"},
                    {
                        "type": "object",
                        "required": ["so_to"],
                        "properties": {
                            "so_to": {"type": "integer", "description": "Số tờ bản đồ"},
                            "muc_dich": {"oneOf": [{"type": "string"}, {"type": "null"}]},
                            "cha": {"$ref": "#/components/schemas/Thua"},
                        },
                    },
                ]
            },
            "Goc": {
                "type": "object",
                "properties": {"ma": {"type": "string", "format": "uuid"}},
                "required": ["ma"],
            },
        },
    },
}


def test_a_document_reads_back_and_downloads_the_same_as_json_and_yaml() -> None:
    for written in (json.dumps(DOCUMENT, ensure_ascii=False, indent=1), as_yaml(DOCUMENT)):
        assert read_openapi(written) == DOCUMENT
    assert json.loads(as_json(DOCUMENT)) == DOCUMENT
    assert yaml.safe_load(as_yaml(DOCUMENT)) == DOCUMENT


@pytest.mark.parametrize(
    ("mistake", "wanted"),
    [
        ('"in": "query"', '"in": "body"'),  # not an allowed location
        ('"openapi": "3.1.0"', '"openapi": "2.0"'),
        ('"minimum": 1', '"minimum": 1,'),  # JSON syntax
    ],
)
def test_an_error_names_the_line_of_the_faulty_key(mistake: str, wanted: str) -> None:
    written = json.dumps(DOCUMENT, indent=1)
    assert written.count(mistake) == 1
    broken = written.replace(mistake, wanted)
    line = next(number for number, text in enumerate(broken.splitlines(), 1) if wanted in text)
    with pytest.raises(DocumentProblem) as refused:
        read_openapi(broken)
    # a JSON syntax error shows where the parser stopped: the line or the one after
    assert refused.value.line in {line, line + 1}, refused.value.message


def test_a_yaml_error_and_an_empty_or_foreign_document_are_refused_with_a_reason() -> None:
    with pytest.raises(DocumentProblem) as refused:
        read_openapi("openapi: 3.1.0\ninfo:\n  title: [x\n")
    assert refused.value.line is not None and refused.value.line >= 3
    for written in ("", "   ", "- a\n- b\n", "swagger: '2.0'\n", "{}"):
        with pytest.raises(DocumentProblem):
            read_openapi(written)
    with pytest.raises(DocumentProblem) as refused:
        read_openapi(as_yaml({**DOCUMENT, "paths": {"/x": {"$ref": "#/nowhere"}}}))
    assert "không hợp lệ" in refused.value.message.vi


def test_the_data_standard_reads_as_operations_and_fields() -> None:
    [operation] = operations(DOCUMENT)
    assert (operation.method, operation.path) == ("POST", "/thua-dat")
    [(where, parameter)] = operation.parameters
    assert (where, parameter.name, parameter.type, parameter.constraint) == (
        "query",
        "trang",
        "integer",
        "minimum: 1",
    )
    assert operation.request is not None
    fields = {row.name: row for row in operation.request.fields}
    assert fields["ma"].required and fields["ma"].constraint == "format: uuid"
    assert fields["so_to"].required and fields["so_to"].description == "Số tờ bản đồ"
    assert fields["muc_dich"].type == "string | null" and not fields["muc_dich"].required
    assert "cha.ma" in fields and "cha.cha.ma" in fields  # recursion, cut at the depth limit
    assert max(row.depth for row in operation.request.fields) < 6
    [created] = operation.responses
    assert created.label == "201" and {row.name for row in created.fields} >= {"[].ma"}
    assert contact(DOCUMENT) == {"email": "tnmt@example.vn"}
    assert operations(None) == [] and schema_fields({}, None) == []


def test_the_migration_folds_the_services_already_stored(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'before-0025.sqlite3'}")
    try:
        migrations.upgrade(engine, "0021")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organisation (id, code, name_vi, kind, created_at, updated_at) "
                    "VALUES (1, 'so-yte', 'Sở Y tế', 'department', '2026-01-01', '2026-01-01')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO information_system (id, organisation_id, code, name_vi, "
                    "is_consumer, is_provider, status, created_at, updated_at) VALUES "
                    "(1, 1, 'his', 'HIS', 1, 1, 'active', '2026-01-01', '2026-01-01')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO exchange_service (provider_system_id, code, version, name_vi, "
                    "base_url, description_vi, classification, timeout_ms, max_request_bytes, "
                    "max_response_bytes, status, created_at, updated_at) VALUES (1, 'hs', 'v1', "
                    "'Hồ sơ Sức khỏe', 'https://10.0.0.1', 'Đăng ký khám', 'internal', 1000, 1, "
                    "1, 'draft', '2026-01-01', '2026-01-01')"
                )
            )
        migrations.upgrade(engine)
        with engine.connect() as connection:
            folded = connection.scalar(text("SELECT search_text FROM exchange_service"))
        assert folded == "hs ho so suc khoe dang ky kham"
    finally:
        engine.dispose()


def test_aliases_and_deep_nesting_are_refused_not_expanded() -> None:
    laughs = "openapi: 3.1.0\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a]\n"
    with pytest.raises(DocumentProblem) as refused:
        read_openapi(laughs)
    assert refused.value.line == 3 and "aliases" in refused.value.message.en
    for deep in ("[" * 5000 + "]" * 5000, "a:\n" + "".join(" " * i + "- \n" for i in range(3000))):
        with pytest.raises(DocumentProblem):
            read_openapi(deep)


def test_a_schema_that_refers_to_itself_reads_as_a_finite_table() -> None:
    document: dict[str, Any] = {
        "components": {
            "schemas": {
                "Vong": {"allOf": [{"$ref": "#/components/schemas/Vong"}], "type": "object"},
                "Mang": {"type": "array", "items": {"$ref": "#/components/schemas/Mang"}},
                "Mot": {"oneOf": [{"$ref": "#/components/schemas/Mot"}]},
            }
        }
    }
    for name in ("Vong", "Mang", "Mot"):
        schema = {"type": "object", "properties": {"x": {"$ref": f"#/components/schemas/{name}"}}}
        rows = schema_fields(document, schema)
        assert rows[0].name == "x" and len(rows) <= 200
