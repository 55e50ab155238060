"""Issue 12, items 3-6 on both databases: periods that have not ended, non-negative
elements and bounds on every path; unit sets that follow the period across 1 July 2025;
control characters refused, comments correctable, exports that neither break nor run
formulas."""

from __future__ import annotations

import csv
import importlib
import inspect
import io
import pkgutil
from typing import TYPE_CHECKING, Annotated, Any

import pytest
from openpyxl import load_workbook
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import select, text

from tests.monitoring.support import API
from tests.monitoring.transfer.test_transfer import VI_HEADER, catalogue, csv_bytes, upload
from tinhso import monitoring
from tinhso.monitoring.models import DataValue
from tinhso.monitoring.transfer.export import write_table, write_template
from tinhso.monitoring.transfer.tables import values_table
from tinhso.monitoring.values.checks import today_in_vietnam
from tinhso.registry.models import AdministrativeUnit, UnitSet

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import Official

__all__ = ["catalogue"]  # the fixture, shared with the file import tests


def post_value(client: TestClient, admin: Official, **fields: Any) -> Any:
    body = {"element_code": "households", "period": "2024", "value": 10, **fields}
    body.setdefault("unit", {"unit_set": "legacy", "code": "07759"})
    return client.post(f"{API}/values", headers=admin.headers, json=body)


def first_error(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return dict(response.json()["errors"][0]["message"])


def stored_units(sessions: sessionmaker[Session]) -> list[tuple[str, str, str, float]]:
    with sessions() as session:
        query = select(
            AdministrativeUnit.unit_set, AdministrativeUnit.code, DataValue.period, DataValue.value
        ).join(AdministrativeUnit, AdministrativeUnit.id == DataValue.unit_id)
        return sorted((s.value, code, p, v) for s, code, p, v in session.execute(query))


# --- item 3: periods, sign and bounds ---------------------------------------------------------


def test_periods_that_have_not_ended_take_no_actual_values(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    this_year = str(today_in_vietnam().year)
    next_year = str(today_in_vietnam().year + 1)
    current = {"unit_set": "current", "code": "24"}
    message = first_error(post_value(client, admin, period=this_year, unit=current))
    assert "has not ended" in message["en"]
    assert "chưa kết thúc" in message["vi"]
    message = first_error(post_value(client, admin, period=next_year, unit=current))
    assert "has not started" in message["en"]
    # An element that allows estimates takes the current period, never one not started.
    answer = client.patch(
        f"{API}/elements/households", headers=admin.headers, json={"allows_estimates": True}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["allows_estimates"] is True
    assert post_value(client, admin, period=this_year, unit=current).status_code == 201
    assert (
        "has not started"
        in first_error(post_value(client, admin, period=next_year, unit=current))["en"]
    )
    assert stored_units(sessions) == [("current", "24", this_year, 10.0)]


def test_periods_that_have_not_ended_are_refused_from_files_and_dhis2_too(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    this_year = str(today_in_vietnam().year)
    next_year = str(today_in_vietnam().year + 1)
    rows = [
        ["households", "24", "hiện hành", this_year, "10"],
        ["households", "24", "hiện hành", next_year, "10"],
    ]
    file = upload(client, admin, "chua-het-ky.csv", csv_bytes(rows, VI_HEADER[:5]))
    assert file.status_code == 422, file.text
    messages = [error["message"]["en"] for error in file.json()["errors"]]
    assert any("has not ended" in m for m in messages), messages
    assert any("has not started" in m for m in messages), messages
    dhis2 = client.post(
        f"{API}/dhis2/dataValueSets",
        headers=admin.headers,
        json={
            "dataValues": [
                {"dataElement": "households", "period": p, "orgUnit": "current:24", "value": "10"}
                for p in (this_year, next_year)
            ]
        },
    )
    # DHIS2's rule: values in conflict are ignored and reported; nothing else was sent.
    assert dhis2.status_code == 200, dhis2.text
    assert dhis2.json()["importCount"]["ignored"] == 2
    conflicts = " ".join(str(c["value"]) for c in dhis2.json()["conflicts"])
    assert "has not ended" in conflicts and "has not started" in conflicts, conflicts
    assert stored_units(sessions) == []


def test_negative_values_are_refused_for_non_negative_elements_on_every_path(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    answer = client.post(
        f"{API}/elements",
        headers=admin.headers,
        json={
            "code": "devices",
            "name_vi": "Thiết bị",
            "unit_of_measure": "thiết bị",
            "value_type": "number",
            "aggregation": "sum",
            "period_type": "year",
            "non_negative": True,
        },
    )
    assert answer.status_code == 201, answer.text
    assert (
        "non-negative"
        in first_error(post_value(client, admin, element_code="devices", value=-1))["en"]
    )
    file = upload(
        client,
        admin,
        "am.csv",
        csv_bytes([["devices", "07759", "cũ", "2024", "-1,5"]], VI_HEADER[:5]),
    )
    assert file.status_code == 422, file.text
    assert "non-negative" in file.json()["errors"][0]["message"]["en"]
    dhis2 = client.post(
        f"{API}/dhis2/dataValueSets",
        headers=admin.headers,
        json={
            "dataValues": [
                {
                    "dataElement": "devices",
                    "period": "2024",
                    "orgUnit": "legacy:07759",
                    "value": "-3",
                }
            ]
        },
    )
    # DHIS2's rule: a value in conflict is ignored (reported), the rest imported.
    assert dhis2.status_code == 200, dhis2.text
    assert dhis2.json()["importCount"]["ignored"] == 1
    assert post_value(client, admin, element_code="devices", value=0).status_code == 201
    assert [v for *_, v in stored_units(sessions)] == [0.0]


# --- item 4: the unit set follows the period ---------------------------------------------------


def test_a_row_without_a_unit_set_takes_the_set_of_its_period(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    # 07210 is a legacy ward and a current ward: for 2024 it is the legacy one.
    response = upload(
        client,
        admin,
        "khong-bo.csv",
        csv_bytes([["households", "07210", "", "2024", "100"]], VI_HEADER[:5]),
    )
    assert response.status_code == 200, response.text
    assert post_value(client, admin, unit={"code": "07210"}, period="2023").status_code == 201
    dhis2 = client.post(
        f"{API}/dhis2/dataValueSets",
        headers=admin.headers,
        json={
            "dataValues": [
                {"dataElement": "households", "period": "2022", "orgUnit": "07210", "value": "7"}
            ]
        },
    )
    assert dhis2.status_code == 200, dhis2.text
    assert stored_units(sessions) == [
        ("legacy", "07210", "2022", 7.0),
        ("legacy", "07210", "2023", 10.0),
        ("legacy", "07210", "2024", 100.0),
    ]


def test_a_code_missing_from_the_periods_set_is_refused_naming_the_set(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        legacy = select(AdministrativeUnit.code).where(
            AdministrativeUnit.unit_set == UnitSet.LEGACY
        )
        only_current = session.scalar(
            select(AdministrativeUnit.code)
            .where(
                AdministrativeUnit.unit_set == UnitSet.CURRENT,
                AdministrativeUnit.code.not_in(legacy),
            )
            .limit(1)
        )
    assert only_current is not None
    response = upload(
        client,
        admin,
        "bo-theo-ky.csv",
        csv_bytes([["households", only_current, "", "2024", "100"]], VI_HEADER[:5]),
    )
    assert response.status_code == 422, response.text
    message = response.json()["errors"][0]["message"]
    assert "legacy set" in message["en"] and "2024" in message["en"]
    assert "bộ đơn vị cũ" in message["vi"]
    assert stored_units(sessions) == []


def test_units_are_refused_for_periods_outside_their_validity(
    client: TestClient, catalogue: None, admin: Official
) -> None:
    message = first_error(
        post_value(client, admin, unit={"unit_set": "legacy", "code": "07759"}, period="2026")
    )
    assert "until 30/06/2025" in message["en"]
    message = first_error(
        post_value(client, admin, unit={"unit_set": "current", "code": "07210"}, period="2024")
    )
    assert "from 01/07/2025" in message["en"]
    # 2025 spans the change: both sets take it.
    assert (
        post_value(
            client, admin, unit={"unit_set": "legacy", "code": "07759"}, period="2025"
        ).status_code
        == 201
    )
    assert (
        post_value(
            client, admin, unit={"unit_set": "current", "code": "07210"}, period="2025"
        ).status_code
        == 201
    )


# --- item 5: control characters, comments ------------------------------------------------------


@pytest.mark.parametrize("field", ["comment", "source_reference", "reason"])
def test_control_characters_are_refused_in_text_fields(
    client: TestClient, catalogue: None, admin: Official, field: str
) -> None:
    answer = post_value(client, admin, **{field: "số liệu\x07 điều tra"})
    assert answer.status_code == 422, answer.text
    assert "U+0007" in answer.text
    element = client.post(
        f"{API}/elements",
        headers=admin.headers,
        json={"code": "x_y", "name_vi": "Tên\x1b[31m", "unit_of_measure": "cái",
              "value_type": "number", "aggregation": "sum", "period_type": "year"},
    )  # fmt: skip
    assert element.status_code == 422, element.text


def test_tabs_and_line_breaks_are_kept_in_comments(
    client: TestClient, catalogue: None, admin: Official
) -> None:
    answer = post_value(client, admin, comment="dòng 1\ndòng 2\tcột")
    assert answer.status_code == 201, answer.text
    assert answer.json()["comment"] == "dòng 1\ndòng 2\tcột"


def test_a_csv_comment_with_a_control_character_is_refused(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    content = csv_bytes([["households", "07759", "cũ", "2024", "5", "ghi\x00chú"]])
    response = upload(client, admin, "dieu-khien.csv", content)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["column"] == "Ghi chú"
    assert stored_units(sessions) == []


def test_comments_are_corrected_through_the_api_and_by_re_import(
    client: TestClient, catalogue: None, admin: Official, sessions: sessionmaker[Session]
) -> None:
    created = post_value(client, admin, comment="ghi chu sai")
    assert created.status_code == 201, created.text
    value_id = created.json()["id"]
    corrected = client.put(
        f"{API}/values/{value_id}",
        headers=admin.headers,
        json={"value": 10, "reason": "sửa ghi chú", "comment": "ghi chú đúng"},
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["comment"] == "ghi chú đúng"
    assert corrected.json()["value"] == 10
    content = csv_bytes([["households", "07759", "cũ", "2024", "10", "ghi chú từ tệp"]])
    response = upload(client, admin, "ghi-chu.csv", content)
    assert response.status_code == 200, response.text
    assert response.json()["corrected"] == 1
    assert client.get(f"{API}/values/{value_id}", headers=admin.headers).json()["comment"] == (
        "ghi chú từ tệp"
    )
    same = upload(client, admin, "ghi-chu.csv", content)
    assert same.json()["unchanged"] == 1  # re-importing the same file changes nothing


def test_stored_control_characters_never_break_an_export_or_the_template(
    client: TestClient, catalogue: None, admin: Official, session: Session
) -> None:
    assert post_value(client, admin, comment="sạch").status_code == 201
    # Text stored before input was checked (or by another tool) holds control characters
    # (PostgreSQL text holds no NUL; the others it does).
    comment = "cũ\x01\x0b\x1f ghi chú"
    session.execute(text("UPDATE data_value SET comment = :c"), {"c": comment})
    session.execute(text("UPDATE data_element SET name_vi = :n"), {"n": "Hộ\x02 gia đình"})
    session.flush()
    for lang in ("vi", "en"):
        table = values_table(session, lang)
        workbook = load_workbook(io.BytesIO(write_table(table, "xlsx", lang)))
        sheet = workbook.worksheets[0]
        assert sheet.cell(row=2, column=6).value == "cũ ghi chú"  # what XLSX cannot hold: dropped
        assert "cũ\x01\x0b\x1f ghi chú" in write_table(
            values_table(session, lang), "csv", lang
        ).decode("utf-8-sig")
        template = load_workbook(io.BytesIO(write_template(session, "xlsx", lang)))
        names = [row[1] for row in template.worksheets[2].iter_rows(min_row=2, values_only=True)]
        if lang == "vi":
            assert "Hộ gia đình" in names


# --- item 6: formula-like text cells are neutralised -------------------------------------------

FORMULAS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"]


@pytest.mark.parametrize("comment", FORMULAS)
def test_formula_like_text_is_neutralised_in_csv_and_xlsx_and_numbers_stay_numbers(
    client: TestClient, catalogue: None, admin: Official, session: Session, comment: str
) -> None:
    answer = post_value(client, admin, element_code="fibre_share", value=-0.0, comment=comment)
    assert answer.status_code == 201, answer.text
    session.execute(text("UPDATE data_value SET value = -5"))  # a negative number stays a number
    session.flush()
    table = values_table(session, "vi")
    rows = list(csv.reader(io.StringIO(write_table(table, "csv", "vi").decode("utf-8-sig"))))
    assert rows[1][4] == "-5"
    assert rows[1][5] == "'" + comment
    workbook = load_workbook(io.BytesIO(write_table(values_table(session, "vi"), "xlsx", "vi")))
    sheet = workbook.worksheets[0]
    value, note = sheet.cell(row=2, column=5), sheet.cell(row=2, column=6)
    assert (value.value, value.data_type) == (-5, "n")
    assert note.data_type == "s"  # text, never a formula
    assert str(note.value).replace("\r", "\n") == comment.replace("\r", "\n")  # XML keeps LF
    assert note.quotePrefix


def test_a_neutralised_comment_imports_back_as_it_was_stored(
    client: TestClient, catalogue: None, admin: Official, session: Session
) -> None:
    created = post_value(client, admin, comment='=HYPERLINK("http://x")')
    assert created.status_code == 201, created.text
    exported = client.get(f"{API}/exports/values", headers=admin.headers, params={"format": "csv"})
    assert exported.status_code == 200, exported.text
    assert "'=HYPERLINK" in exported.content.decode("utf-8-sig")
    again = upload(client, admin, "so-lieu.csv", exported.content)
    assert again.status_code == 200, again.text
    assert again.json()["unchanged"] == 1


# The monitoring domain's request bodies are named so (its answers are *Out, *Page, ...).
INPUT_MODEL_ENDINGS = ("Create", "Update", "In", "Correction", "Settings", "Service")
# Read by the number and period readers, which refuse what is not a number or a period.
PARSED_LATER = {"value", "period"}


def _input_models() -> list[type[BaseModel]]:
    """Every pydantic model the monitoring domain reads request bodies with."""
    found: dict[str, type[BaseModel]] = {}
    for info in pkgutil.walk_packages(monitoring.__path__, "tinhso.monitoring."):
        if not info.name.endswith("schemas"):
            continue
        module = importlib.import_module(info.name)
        for name, model in vars(module).items():
            if (
                inspect.isclass(model)
                and issubclass(model, BaseModel)
                and model.__module__ == module.__name__
                and name.endswith(INPUT_MODEL_ENDINGS)
            ):
                found[f"{module.__name__}.{name}"] = model
    return list(found.values())


def _text_fields(model: type[BaseModel]) -> list[tuple[str, Any]]:
    """(field, its type with its constraints) for the fields that take a text or text values."""
    fields: list[tuple[str, Any]] = []
    for name, info in model.model_fields.items():
        if name in PARSED_LATER and model.__name__.startswith("Value"):
            continue
        if "str" in repr(info.annotation) and "Any" not in repr(info.annotation):
            annotation: Any = info.annotation
            if info.metadata:
                annotation = Annotated[annotation, *info.metadata]
            fields.append((name, annotation))
    return fields


@pytest.mark.parametrize("model", _input_models(), ids=lambda model: model.__name__)
def test_no_text_field_of_any_monitoring_input_takes_a_control_character(
    model: type[BaseModel],
) -> None:
    """Item 5 for the whole domain, the inputs added later (alert rules, collection sources)
    included: no text field, nor a text value of a mapping, takes a control character."""
    taken = []
    for name, annotation in _text_fields(model):
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        for candidate in ("ab\x07cd", {"ab": "cd\x07ef"}, ["ab\x07cd"]):
            try:
                adapter.validate_python(candidate)
            except ValidationError:
                continue
            taken.append(f"{name}: {candidate!r}")
    assert not taken, f"{model.__name__} takes control characters in {taken}"
