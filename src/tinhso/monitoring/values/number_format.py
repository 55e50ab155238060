"""Numbers as people write them: Vietnamese (``1.380,5``) or English (``1,380.5``).

A number is read one way only when it can mean only one thing. ``47,85``, ``0.125``,
``1.234.567`` and ``1.380,5`` can each be read only one way: a thousands group has exactly
three digits, a number does not start with a ``0`` group, a decimal separator appears
once. ``1.234`` and ``1,234`` (one separator followed by exactly three digits, after one
to three digits that do not start with 0) can be read both ways: they are read as the
declared `NumberFormat` says (a file's headers declare it, see `transfer`); without one,
an integer element reads the thousands (the decimal reading is a fraction, which it
refuses), a percentage the decimal (the thousands reading is over 100), and any other
element refuses the text with both readings in the message.

Writing (`format_number`) gives text that reads back, in the same format, to exactly the
same number: no thousands groups, the format's decimal separator, ``repr``'s digits.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from decimal import Decimal

from tinhso.core.errors import Message
from tinhso.monitoring.models import ValueType


class NumberFormat(enum.StrEnum):
    VI = "vi"  # 1.380,5: dot groups thousands, comma is the decimal separator
    EN = "en"  # 1,380.5: comma groups thousands, dot is the decimal point


_SPACES = re.compile(r"[\s\u00a0\u2007\u202f]")
_PLAIN = re.compile(r"^\d+([eE][+-]?\d+)?$")
_SCIENTIFIC = re.compile(r"^(\d+[.,]\d*|[.,]\d+)[eE][+-]?\d+$")


@dataclass(frozen=True)
class Reading:
    """What a text can mean: one number, or (``ambiguous``) a thousands and a decimal reading."""

    text: str
    value: float
    decimal: float | None = None  # set when ambiguous: the decimal reading (value: thousands)
    separator: str = ""

    @property
    def ambiguous(self) -> bool:
        return self.decimal is not None

    def resolve(self, value_type: ValueType | None) -> tuple[float | None, Message | None]:
        """The number for an element of ``value_type``, or the message showing both readings."""
        if self.decimal is None:
            return self.value, None
        if value_type is ValueType.INTEGER:
            return self.value, None  # the decimal reading is a fraction: refused by the type
        if value_type is ValueType.PERCENTAGE and self.value > 100 >= abs(self.decimal):
            return self.decimal, None
        return None, self.both_readings()

    def both_readings(self) -> Message:
        grouped, decimal = _plain(self.value), _plain(self.decimal or 0.0)
        sep = self.separator
        return Message(
            f"«{self.text}» có thể là {grouped} (nếu «{sep}» phân cách hàng nghìn) hoặc "
            f"{decimal.replace('.', ',')} (nếu «{sep}» là dấu thập phân): hãy khai báo định "
            "dạng số của tệp (tiêu đề tiếng Việt: 1.380,5; tiếng Anh: 1,380.5) hoặc viết số "
            "không có dấu phân cách hàng nghìn",
            f"«{self.text}» can be read as {grouped} (if «{sep}» groups thousands) or "
            f"{decimal} (if «{sep}» is the decimal separator): declare the file's number "
            "format (Vietnamese headers: 1.380,5; English headers: 1,380.5) or write the "
            "number without thousands separators",
        )


def _plain(number: float) -> str:
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


def _grouped(body: str, separator: str) -> bool:
    """``1.234.567`` with ``.``: one to three digits (not a lone 0), then groups of three."""
    pattern = rf"^[1-9]\d{{0,2}}(\{separator}\d{{3}})+$"
    return re.match(pattern, body) is not None


def read_number(  # noqa: PLR0911 - one return per form of number
    raw: str, declared: NumberFormat | None = None
) -> Reading | None:
    """What ``raw`` means as a number (a trailing ``%`` is dropped), or None if it is none."""
    text = _SPACES.sub("", raw).removesuffix("%")
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:] if text[:1] in {"+", "-"} else text
    if not body:
        return None
    if _PLAIN.match(body):
        return _finite(raw, sign * float(body))
    if _SCIENTIFIC.match(body):
        return _finite(raw, sign * float(body.replace(",", ".")))
    if not re.match(r"^[\d.,]+$", body):
        return None
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        decimal = "." if body.rfind(".") > body.rfind(",") else ","
        grouping = "," if decimal == "." else "."
        whole, _, fraction = body.rpartition(decimal)
        if not fraction.isdigit() or not _grouped(whole, grouping):
            return None
        return _finite(raw, sign * float(whole.replace(grouping, "") + "." + fraction))
    separator = "." if dots else ","
    if body.count(separator) > 1:
        if not _grouped(body, separator):
            return None
        return _finite(raw, sign * float(body.replace(separator, "")))
    whole, _, fraction = body.partition(separator)
    if not fraction.isdigit() and not (fraction == "" and whole.isdigit()):
        return None
    decimal_reading = sign * float(f"{whole or '0'}.{fraction or '0'}")
    if not _grouped(body, separator):
        return _finite(raw, decimal_reading)  # "47,85", "0.125", "1234.5": one meaning only
    thousands = sign * float(whole + fraction)
    if declared is not None:
        groups_thousands = separator == ("." if declared is NumberFormat.VI else ",")
        return _finite(raw, thousands if groups_thousands else decimal_reading)
    return Reading(raw.strip(), thousands, decimal_reading, separator)


def _finite(raw: str, number: float) -> Reading | None:
    return Reading(raw.strip(), number) if math.isfinite(number) else None


def read_value(
    raw: str, declared: NumberFormat | None, value_type: ValueType | None
) -> tuple[float | None, Message | None]:
    """A typed text as the element's number, or why it cannot be read as one."""
    reading = read_number(raw, declared)
    if reading is None:
        return None, Message(
            f"«{raw.strip()[:40]}» không phải là số", f"«{raw.strip()[:40]}» is not a number"
        )
    return reading.resolve(value_type)


def format_number(number: float, fmt: NumberFormat) -> str:
    """Text that `read_number` reads back, in ``fmt``, to exactly ``number``."""
    text = _plain(number)
    return text.replace(".", ",") if fmt is NumberFormat.VI else text


def percent_of_fraction(number: float) -> float:
    """A spreadsheet's percentage cell (0.855 shown as 85,5 %) as the number it shows (85.5)."""
    return float(Decimal(repr(number)) * 100)
