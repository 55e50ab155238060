"""Values: entry with validation, corrections with history, provenance.

A batch is all-or-nothing: every value is checked first (type, bounds, period, unit,
validation rules against the other values of the same unit and period, including the
batch's own), and if any fails nothing is written and the error lists each failing
value with the rule it broke, in Vietnamese and English.

Writing a value where one is stored is a correction: the previous value and its
provenance go to ``data_value_correction`` and the version goes up. Writing the same
number again changes nothing (imports are idempotent).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from tinhso.core.db import utcnow
from tinhso.core.errors import Conflict, FieldError, InvalidInput, Message, NotFound
from tinhso.core.jobs.runner import make_due_after_commit
from tinhso.monitoring import repository
from tinhso.monitoring.alerts import ALERTS_JOB
from tinhso.monitoring.computation import formula as formulas
from tinhso.monitoring.models import (
    Comparison,
    DataElement,
    DataValue,
    DataValueCorrection,
    ValueSource,
)
from tinhso.monitoring.submissions import locked_cells
from tinhso.monitoring.values.checks import (
    CheckedValue,
    checked_item,
    today_in_vietnam,
    value_label,
)
from tinhso.registry.models import UnitSet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tinhso.monitoring.schemas import ValueIn

_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.LE: lambda a, b: a <= b + 1e-9,
    Comparison.LT: lambda a, b: a < b,
    Comparison.GE: lambda a, b: a + 1e-9 >= b,
    Comparison.GT: lambda a, b: a > b,
    Comparison.EQ: lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9),
}


@dataclass(frozen=True)
class Provenance:
    """Who wrote a batch and how; per-value fields (source, reference) override."""

    entered_by_id: int | None
    source: ValueSource | None = None  # None: each value's own source


@dataclass(frozen=True)
class RecordResult:
    inserted: int
    corrected: int
    unchanged: int
    values: list[DataValue]


@dataclass
class _Writes:
    """A batch's writes. New values and correction records are written with one multi-row
    INSERT each (the ORM would send one INSERT per row on SQLite); new rows are read back
    after, by key, in ``written``."""

    new_rows: list[dict[str, object]] = field(default_factory=list)
    correction_rows: list[dict[str, object]] = field(default_factory=list)
    written: list[DataValue | tuple[int, int, str]] = field(default_factory=list)
    inserted: int = 0
    corrected: int = 0
    unchanged: int = 0


def _new_value_row(
    c: CheckedValue, source: ValueSource, provenance: Provenance, now: datetime
) -> dict[str, object]:
    return {
        "data_element_id": c.element.id,
        "unit_id": c.unit_id,
        "period": c.period,
        "year": c.year,
        "value": c.value,
        "qualifier": c.item.qualifier,
        "source": source,
        "source_reference": c.item.source_reference,
        "audit_record_id": c.item.audit_record_id,
        "comment": c.item.comment or None,
        "entered_by_id": provenance.entered_by_id,
        "entered_at": now,
        "version": 1,
    }


class ValueService:
    def get(self, session: Session, value_id: int) -> DataValue:
        value = session.get(DataValue, value_id)
        if value is None:
            raise NotFound(
                f"Không tìm thấy số liệu {value_id}", f"Value {value_id} not found", field="id"
            )
        return value

    def check(
        self,
        session: Session,
        items: Sequence[ValueIn],
        field_prefix: str = "values",
        provenance_source: ValueSource | None = None,
    ) -> list[CheckedValue]:
        """Check a batch; raise InvalidInput listing every failing value (nothing is written)."""
        errors: list[FieldError] = []
        elements = repository.elements_by_codes(session, {item.element_code for item in items})
        units = repository.unit_ids_by_ref(
            session, {(UnitSet(item.unit.unit_set), item.unit.code) for item in items}
        )
        today = today_in_vietnam()
        checked: list[CheckedValue] = []
        seen: dict[tuple[int, int, str], int] = {}
        for position, item in enumerate(items):
            where = f"{field_prefix}.{position}" if field_prefix else ""

            def fail(name: str, vi: str, en: str, where: str = where, item: ValueIn = item) -> None:
                errors.append(
                    FieldError(
                        f"{where}.{name}" if where else name,
                        Message(f"{value_label(item)}: {vi}", f"{value_label(item)}: {en}"),
                    )
                )

            outcome = checked_item(item, position, elements, units, today, provenance_source, seen)
            if isinstance(outcome, CheckedValue):
                checked.append(outcome)
            else:
                fail(*outcome)
        if not errors:
            errors.extend(self._check_rules(session, checked, field_prefix))
        if errors:
            listed = "; ".join(error.message.vi for error in errors[:5])
            listed_en = "; ".join(error.message.en for error in errors[:5])
            more = f" (+{len(errors) - 5})" if len(errors) > 5 else ""
            raise InvalidInput(
                f"Số liệu không hợp lệ, không có gì được ghi: {listed}{more}",
                f"Invalid values, nothing was written: {listed_en}{more}",
                errors=errors,
            )
        return checked

    def _check_rules(
        self, session: Session, checked: list[CheckedValue], field_prefix: str
    ) -> list[FieldError]:
        rules = repository.all_rules(session)
        if not rules or not checked:
            return []
        parsed = [
            (rule, formulas.parse(rule.left_expression), formulas.parse(rule.right_expression))
            for rule in rules
        ]
        written = {c.element.code for c in checked}
        relevant = [
            (rule, left, right)
            for rule, left, right in parsed
            if (left.elements | right.elements) & written
        ]
        if not relevant:
            return []
        codes = set().union(*(left.elements | right.elements for _, left, right in relevant))
        elements = repository.elements_by_codes(session, codes)
        code_of = {element.id: code for code, element in elements.items()}
        cells = {(c.unit_id, c.period) for c in checked}
        stored = repository.values_for_cells(session, code_of, cells)
        table: dict[tuple[int, str], dict[str, float | None]] = {}
        for (element_id, unit_id, period), number in stored.items():
            table.setdefault((unit_id, period), {})[code_of[element_id]] = number
        for c in checked:
            table.setdefault((c.unit_id, c.period), {})[c.element.code] = c.value
        found: list[tuple[int, FieldError]] = []
        reported: set[tuple[int, int, str]] = set()
        # A broken rule is reported once per unit and period, on the batch's last value
        # that takes part in it.
        for position in range(len(checked) - 1, -1, -1):
            c = checked[position]
            values = table[(c.unit_id, c.period)]
            for rule, left, right in relevant:
                if c.element.code not in left.elements | right.elements:
                    continue
                if (rule.id, c.unit_id, c.period) in reported:
                    continue
                reported.add((rule.id, c.unit_id, c.period))
                a, b = formulas.evaluate(left, values), formulas.evaluate(right, values)
                if a is None or b is None or _COMPARE[rule.comparison](a, b):
                    continue
                label = value_label(c.item)
                text = (
                    f"{rule.left_expression} {rule.comparison.value} {rule.right_expression}"
                    f" ({a:g} {rule.comparison.value} {b:g})"
                )
                found.append(
                    (
                        position,
                        FieldError(
                            f"{field_prefix}.{position}.value" if field_prefix else "value",
                            Message(
                                f"{label}: vi phạm quy tắc {rule.code} «{rule.name_vi}»: {text} không đúng",
                                f"{label}: breaks rule {rule.code} «{rule.name_en or rule.name_vi}»: "
                                f"{text} is false",
                            ),
                        ),
                    )
                )
        return [error for _, error in sorted(found, key=lambda item: item[0])]

    def record_many(
        self,
        session: Session,
        items: Sequence[ValueIn],
        provenance: Provenance,
        field_prefix: str = "values",
        authorise: Callable[[int, str, str], None] | None = None,
    ) -> RecordResult:
        """Check then write a batch (all or nothing). ``authorise(unit_id, label, field)``
        may raise Forbidden for a unit the writer may not touch."""
        checked = self.check(session, items, field_prefix, provenance.source)
        if authorise is not None:
            for position, c in enumerate(checked):
                where = f"{field_prefix}.{position}.unit" if field_prefix else "unit"
                authorise(c.unit_id, f"{c.item.unit.code} ({c.item.unit.unit_set.value})", where)
        self._refuse_locked(session, checked, field_prefix)
        existing = repository.values_at(
            session, [(c.element.id, c.unit_id, c.period) for c in checked]
        )
        writes = self._plan_writes(checked, existing, provenance, utcnow())
        try:
            if writes.new_rows:
                session.execute(insert(DataValue), writes.new_rows)
            if writes.correction_rows:
                session.execute(insert(DataValueCorrection), writes.correction_rows)
            session.flush()
        except IntegrityError as error:
            raise Conflict(
                "Số liệu vừa được người khác ghi cùng lúc; hãy tải lại và thử lại",
                "The values were written by someone else at the same time; reload and retry",
                field=field_prefix or "value",
            ) from error
        if writes.new_rows or writes.correction_rows:
            make_due_after_commit(session, ALERTS_JOB)  # the worker evaluates the rules next
        created = repository.values_at(
            session, [entry for entry in writes.written if isinstance(entry, tuple)]
        )
        values = [created[entry] if isinstance(entry, tuple) else entry for entry in writes.written]
        return RecordResult(writes.inserted, writes.corrected, writes.unchanged, values)

    @staticmethod
    def _refuse_locked(
        session: Session, checked: Sequence[CheckedValue], field_prefix: str
    ) -> None:
        """No value of a unit's period whose report is submitted or approved is written."""
        locked = locked_cells(session, [(c.unit_id, c.period) for c in checked])
        if not locked:
            return
        errors = [
            FieldError(
                f"{field_prefix}.{position}.period" if field_prefix else "period",
                Message(
                    f"{value_label(c.item)}: báo cáo kỳ này của đơn vị đã gửi duyệt hoặc đã duyệt",
                    f"{value_label(c.item)}: the unit's report for this period is submitted or approved",
                ),
            )
            for position, c in enumerate(checked)
            if (c.unit_id, c.period) in locked
        ]
        raise Conflict(
            "Không ghi được: báo cáo kỳ này đã gửi duyệt hoặc đã duyệt; cần trả lại trước khi sửa",
            "Nothing was written: the period's report is submitted or approved; it must be "
            "sent back before a change",
            errors=errors,
        )

    def _plan_writes(
        self,
        checked: list[CheckedValue],
        existing: dict[tuple[int, int, str], DataValue],
        provenance: Provenance,
        now: datetime,
    ) -> _Writes:
        """What a checked batch changes: rows to insert for new values, stored values
        corrected in place (with the record of what they were), the rest unchanged."""
        writes = _Writes()
        for c in checked:
            source = provenance.source or c.item.source
            key = (c.element.id, c.unit_id, c.period)
            current = existing.get(key)
            if current is None:
                writes.new_rows.append(_new_value_row(c, source, provenance, now))
                writes.inserted += 1
                writes.written.append(key)
                continue
            comment = current.comment if c.item.comment is None else (c.item.comment or None)
            if math.isclose(current.value, c.value, rel_tol=0, abs_tol=0) and (
                current.qualifier == c.item.qualifier
            ):
                if comment == current.comment:
                    writes.unchanged += 1
                else:  # only the comment changes: corrected in place, no new version
                    current.comment = comment
                    writes.corrected += 1
                writes.written.append(current)
                continue
            current.comment = comment
            writes.correction_rows.append(
                self._correct(
                    current,
                    c.value,
                    c.item.qualifier,
                    source,
                    c.item.source_reference,
                    c.item.audit_record_id,
                    provenance.entered_by_id,
                    c.item.reason,
                    now,
                )
            )
            writes.corrected += 1
            writes.written.append(current)
        return writes

    def _correct(
        self,
        current: DataValue,
        value: float,
        qualifier: str | None,
        source: ValueSource,
        source_reference: str | None,
        audit_record_id: str | None,
        user_id: int | None,
        reason: str | None,
        now: object,
    ) -> dict[str, object]:
        """Apply a correction to the stored value; return the record of what it was."""
        record: dict[str, object] = {
            "data_value_id": current.id,
            "version": current.version,
            "previous_value": current.value,
            "previous_source": current.source,
            "previous_source_reference": current.source_reference,
            "previous_audit_record_id": current.audit_record_id,
            "previous_entered_by_id": current.entered_by_id,
            "previous_entered_at": current.entered_at,
            "new_value": value,
            "corrected_by_id": user_id,
            "corrected_at": now,
            "reason": reason,
        }
        current.value = value
        current.qualifier = qualifier
        current.source = source
        current.source_reference = source_reference
        current.audit_record_id = audit_record_id
        current.entered_by_id = user_id
        current.entered_at = now  # type: ignore[assignment]
        current.version += 1
        return record

    def correct(
        self,
        session: Session,
        current: DataValue,
        raw: object,
        reason: str,
        user_id: int | None,
        qualifier: str | None = None,
        source: ValueSource = ValueSource.FORM,
        source_reference: str | None = None,
        comment: str | None = None,
    ) -> DataValue:
        """Correct one stored value (checked like a new one, with the rules); ``comment``
        None keeps the stored comment, ``""`` clears it."""
        from tinhso.monitoring.schemas import ValueIn  # noqa: PLC0415 - runtime model

        element = session.get(DataElement, current.data_element_id)
        units = repository.unit_rows(session, [current.unit_id])
        if element is None or current.unit_id not in units:  # pragma: no cover - FK guarantees
            raise NotFound("Không tìm thấy số liệu", "Value not found", field="id")
        unit_set, code, _, _ = units[current.unit_id]
        item = ValueIn.model_validate(
            {
                "element_code": element.code,
                "unit": {"unit_set": unit_set.value, "code": code},
                "period": current.period,
                "value": raw,
                "qualifier": qualifier,
                "source": source,
                "source_reference": source_reference,
                "comment": comment,
                "reason": reason,
            }
        )
        self.record_many(
            session, [item], Provenance(entered_by_id=user_id, source=source), field_prefix=""
        )
        session.refresh(current)
        return current


value_service = ValueService()
