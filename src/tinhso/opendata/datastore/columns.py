"""Column types of a datastore table, inferred from the cells and converted cell by cell.

Types are CKAN's names: ``int``, ``numeric``, ``date``, ``timestamp`` and ``text``. A column
is a number only when every cell is one; a code with a leading zero (``00004``) or a sign
(``+84…``) stays text, as Excel would lose it. A number that can be read two ways
(``1.234``: one thousand two hundred and thirty-four, or 1.234) follows, in this order,
the format the publisher declares, the column's other cells (``12,5`` shows a decimal
comma), the file's other columns; when nothing settles it the upload is refused showing
both readings. Dates are ``yyyy-mm-dd`` or ``dd/mm/yyyy`` (the Vietnamese order, never
mm/dd); timestamps the same followed by ``HH:MM[:SS]``.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from tinhso.core.errors import Message
from tinhso.monitoring.values.number_format import NumberFormat, Reading, read_number


class FieldType(enum.StrEnum):
    INT = "int"
    NUMERIC = "numeric"
    DATE = "date"
    TIMESTAMP = "timestamp"
    TEXT = "text"


INT_LIMIT = 2**63 - 1
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATE_VI = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_WHOLE = re.compile(r"^-?\d+$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class CellProblem(Exception):
    """A cell that cannot be read as its column's type."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.en)
        self.message = message


def _not_a(kind_vi: str, kind_en: str, text: str) -> CellProblem:
    shown = text[:40]
    return CellProblem(Message(f"«{shown}» không phải {kind_vi}", f"«{shown}» is not {kind_en}"))


def read_date(text: str) -> date | None:
    found = _DATE_ISO.match(text)
    try:
        if found:
            return date(int(found[1]), int(found[2]), int(found[3]))
        found = _DATE_VI.match(text)
        if found:
            return date(int(found[3]), int(found[2]), int(found[1]))
    except ValueError:
        return None
    return None


def read_timestamp(text: str) -> datetime | None:
    day, separator, clock = text.replace("T", " ", 1).partition(" ")
    if not separator:
        return None
    found_day, found_time = read_date(day), _TIME.match(clock.strip())
    if found_day is None or found_time is None:
        return None
    try:
        return datetime(  # noqa: DTZ001 - a timestamp as the file writes it, no zone
            found_day.year,
            found_day.month,
            found_day.day,
            int(found_time[1]),
            int(found_time[2]),
            int(found_time[3] or 0),
        )
    except ValueError:
        return None


def _keeps_text(text: str) -> bool:
    """A code rather than a number: a sign written as ``+``, or a leading zero (``0912``)."""
    body = text.lstrip("-")
    return text.startswith("+") or (len(body) > 1 and body[0] == "0" and body[1].isdigit())


def _separator_role(reading: Reading) -> NumberFormat | None:
    """The format an unambiguous text shows by its separators, if it shows one."""
    text = reading.text
    if reading.ambiguous or ("." not in text and "," not in text):
        return None
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        return NumberFormat.EN if text.rfind(".") > text.rfind(",") else NumberFormat.VI
    if dots > 1:
        return NumberFormat.VI
    if commas > 1:
        return NumberFormat.EN
    return NumberFormat.EN if dots else NumberFormat.VI


@dataclass
class ColumnEvidence:
    """What the cells of one column seen so far allow it to be."""

    candidates: set[FieldType] = field(
        default_factory=lambda: {
            FieldType.INT,
            FieldType.NUMERIC,
            FieldType.DATE,
            FieldType.TIMESTAMP,
        }
    )
    formats: set[NumberFormat] = field(default_factory=set)
    ambiguous: tuple[int, Reading] | None = None  # the first ambiguous cell: row, reading
    ambiguous_separators: set[str] = field(default_factory=set)  # "." and/or ","
    filled: int = 0

    def see(self, row: int, cell: object) -> None:
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return
        self.filled += 1
        if isinstance(cell, bool):
            self.candidates.clear()
        elif isinstance(cell, int):
            self.candidates &= {FieldType.INT, FieldType.NUMERIC}
        elif isinstance(cell, float):
            self.candidates &= {FieldType.NUMERIC}
        elif isinstance(cell, datetime):
            keep = {FieldType.TIMESTAMP}
            if cell.time() == datetime.min.time():
                keep.add(FieldType.DATE)
            self.candidates &= keep
        elif isinstance(cell, date):
            self.candidates &= {FieldType.DATE, FieldType.TIMESTAMP}
        else:
            self._see_text(row, str(cell).strip())

    def _see_text(self, row: int, text: str) -> None:
        if FieldType.DATE in self.candidates and read_date(text) is None:
            self.candidates.discard(FieldType.DATE)
        if (
            FieldType.TIMESTAMP in self.candidates
            and read_timestamp(text) is None
            and read_date(text) is None
        ):
            self.candidates.discard(FieldType.TIMESTAMP)
        if not self.candidates & {FieldType.INT, FieldType.NUMERIC}:
            return
        reading = None if _keeps_text(text) else read_number(text)
        if reading is None:
            self.candidates -= {FieldType.INT, FieldType.NUMERIC}
            return
        role = _separator_role(reading)
        if role is not None:
            self.formats.add(role)
        if reading.ambiguous:
            self.ambiguous_separators.add(reading.separator)
            if self.ambiguous is None:
                self.ambiguous = (row, reading)
        elif not reading.value.is_integer() or abs(reading.value) > INT_LIMIT:
            self.candidates.discard(FieldType.INT)

    def settled_format(self) -> NumberFormat | None:
        return next(iter(self.formats)) if len(self.formats) == 1 else None


@dataclass(frozen=True)
class Field:
    """One column of a datastore table: the header's text, its type and its physical name."""

    id: str
    type: FieldType
    column: str  # c0, c1, …: headers may be any text, physical names never are
    number_format: NumberFormat | None = None


def whole_numbers_in(evidence: ColumnEvidence, number_format: NumberFormat) -> bool:
    """Whether the column's ambiguous cells are whole numbers when read in ``number_format``
    (``42,028`` is 42.028 in Vietnamese: not whole; 42028 in English)."""
    decimal = "," if number_format is NumberFormat.VI else "."
    return decimal not in evidence.ambiguous_separators


def infer_type(evidence: ColumnEvidence) -> FieldType:
    """The narrowest type every cell fits (text when the column has no cell at all)."""
    if not evidence.filled:
        return FieldType.TEXT
    if len(evidence.formats) > 1:
        evidence.candidates -= {FieldType.INT, FieldType.NUMERIC}
    for kind in (FieldType.INT, FieldType.NUMERIC, FieldType.DATE, FieldType.TIMESTAMP):
        if kind in evidence.candidates:
            return kind
    return FieldType.TEXT


Value = int | float | date | datetime | str | None


def convert(cell: object, kind: FieldType, number_format: NumberFormat | None) -> Value:  # noqa: PLR0911, PLR0912 - one branch per type
    """The cell as a value of ``kind`` (None for an empty cell), or CellProblem."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if kind is FieldType.TEXT:
        if isinstance(cell, datetime):
            return cell.isoformat()
        if isinstance(cell, date):
            return cell.isoformat()
        if isinstance(cell, float) and cell.is_integer():
            return str(int(cell))
        return str(cell).strip()
    if kind in (FieldType.INT, FieldType.NUMERIC):
        return _number(cell, kind, number_format)
    if kind is FieldType.DATE:
        if isinstance(cell, datetime) and cell.time() == datetime.min.time():
            return cell.date()
        if isinstance(cell, date) and not isinstance(cell, datetime):
            return cell
        found = read_date(str(cell).strip()) if isinstance(cell, str) else None
        if found is None:
            raise _not_a("ngày (dd/mm/yyyy)", "a date (dd/mm/yyyy)", str(cell))
        return found
    if isinstance(cell, datetime):
        return cell
    if isinstance(cell, date):
        return datetime(cell.year, cell.month, cell.day)  # noqa: DTZ001 - no zone in a file
    text = str(cell).strip()
    stamp = read_timestamp(text)
    if stamp is None:
        day = read_date(text)
        if day is None:
            raise _not_a("thời điểm (dd/mm/yyyy HH:MM)", "a timestamp (dd/mm/yyyy HH:MM)", text)
        stamp = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - no zone in a file
    return stamp


def _number(cell: object, kind: FieldType, number_format: NumberFormat | None) -> int | float:
    if isinstance(cell, bool | date):
        raise _not_a("số", "a number", str(cell))
    if isinstance(cell, int | float):
        number = float(cell)
    else:
        text = str(cell).strip()
        if kind is FieldType.INT and _WHOLE.match(text) and not _keeps_text(text):
            whole = int(text)  # exactly, where a float would round beyond 2**53
            if abs(whole) > INT_LIMIT:
                raise _not_a("số nguyên 64 bit", "a 64-bit whole number", text)
            return whole
        reading = None if _keeps_text(text) else read_number(text, number_format)
        if reading is None:
            raise _not_a("số", "a number", text)
        if reading.ambiguous:
            raise CellProblem(reading.both_readings())
        number = reading.value
    if not math.isfinite(number):
        raise _not_a("số", "a number", str(cell))
    if kind is FieldType.INT:
        if not number.is_integer() or abs(number) > INT_LIMIT:
            raise _not_a("số nguyên", "a whole number", str(cell))
        return int(cell) if isinstance(cell, int) else int(number)
    return number
