"""A category's extra questions (Open311 service definition attributes) and the answers a
report gives to them, checked against their datatype.

Datatypes are Open311's six: ``string``, ``number``, ``datetime``, ``text``,
``singlevaluelist`` and ``multivaluelist``. A number is read only when it can mean one thing:
"1.5" (a point and no comma) or "1,5" (a comma and no point) are 1.5; "1.234" or "1,234"
could be a thousand or a fraction and are refused with both readings.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tinhso.core.errors import FieldError, InvalidInput, Message

DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
_AMBIGUOUS = re.compile(r"^-?\d{1,3}[.,]\d{3}$")


def _number(code: str, raw: str) -> FieldError | str:
    text = raw.strip().replace(" ", "")
    if _AMBIGUOUS.match(text) and not text.lstrip("-").startswith("0"):
        whole = text.replace(".", "").replace(",", "")
        fraction = text.replace(",", ".")
        return FieldError(
            f"attribute[{code}]",
            Message(
                f"“{raw}” có thể là {whole} hoặc {fraction}; hãy viết rõ (ví dụ {fraction})",
                f"“{raw}” could be {whole} or {fraction}; please write it unambiguously",
            ),
        )
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        return FieldError(
            f"attribute[{code}]", Message(f"“{raw}” không phải là số", f"“{raw}” is not a number")
        )
    return str(value)


def _one(attribute: dict[str, Any], raw: Any) -> FieldError | str | list[str]:  # noqa: PLR0911
    code = attribute["code"]
    datatype = attribute["datatype"]
    where = f"attribute[{code}]"
    keys = {str(value["key"]) for value in attribute.get("values", [])}
    if datatype == "multivaluelist":
        chosen = [str(item) for item in (raw if isinstance(raw, list) else [raw])]
        unknown = [item for item in chosen if item not in keys]
        if unknown:
            return FieldError(
                where,
                Message(
                    f"Lựa chọn không có: {', '.join(unknown)}",
                    f"Unknown choice: {', '.join(unknown)}",
                ),
            )
        return chosen
    if isinstance(raw, list):
        if len(raw) != 1:
            return FieldError(where, Message("Chỉ được một giá trị", "Only one value is allowed"))
        raw = raw[0]
    text = str(raw)
    if datatype == "singlevaluelist" and text not in keys:
        return FieldError(where, Message(f"Lựa chọn không có: {text}", f"Unknown choice: {text}"))
    if datatype == "number":
        return _number(code, text)
    if datatype == "datetime":
        try:
            datetime.fromisoformat(text)
        except ValueError:
            return FieldError(
                where,
                Message(
                    f"“{text}” không phải thời điểm ISO 8601",
                    f"“{text}” is not an ISO 8601 date and time",
                ),
            )
    limit = 4000 if datatype == "text" else 500
    if len(text) > limit:
        return FieldError(
            where, Message(f"Dài quá {limit} ký tự", f"Longer than {limit} characters")
        )
    return text


def checked_attributes(definition: list[dict[str, Any]], given: dict[str, Any]) -> dict[str, Any]:
    """The answers, checked and normalised; every problem is reported at once."""
    known = {attribute["code"]: attribute for attribute in definition}
    problems: list[FieldError] = [
        FieldError(
            f"attribute[{code}]",
            Message(
                f"Loại phản ánh này không có câu hỏi “{code}”", f"This category has no “{code}”"
            ),
        )
        for code in given
        if code not in known
    ]
    answers: dict[str, Any] = {}
    for code, attribute in known.items():
        raw = given.get(code)
        if raw in (None, "", []):
            if attribute.get("required") and attribute.get("variable", True):
                problems.append(
                    FieldError(
                        f"attribute[{code}]",
                        Message(
                            f"Cần trả lời “{attribute.get('description', code)}”",
                            f"“{attribute.get('description', code)}” is required",
                        ),
                    )
                )
            continue
        checked = _one(attribute, raw)
        if isinstance(checked, FieldError):
            problems.append(checked)
        else:
            answers[code] = checked
    if problems:
        raise InvalidInput(
            "Thông tin bổ sung chưa hợp lệ",
            "Some answers to the category's questions are not valid",
            errors=problems,
        )
    return answers
