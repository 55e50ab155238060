"""The report categories operators keep (Open311 services): create one, change it, retire
it and bring it back, without a restart.

A category's code is its Open311 ``service_code``: applications keep it, so it is chosen
once and never changed. Retiring a category (``active = False``) takes it out of the form and
of ``services.json`` and refuses new reports of it; the reports already sent keep it. The
extra questions are checked as a whole (:func:`checked_definition`) and every problem is
reported at once, each at its own field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tinhso.core.errors import Conflict, FieldError, InvalidInput, Message, NotFound
from tinhso.core.text import control_character
from tinhso.reports.models import ReportCategory, Severity
from tinhso.reports.open311.attributes import DATATYPES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LIST_TYPES = ("singlevaluelist", "multivaluelist")
MOST_QUESTIONS = 20
MOST_CHOICES = 50


@dataclass
class CategoryDraft:
    """What an operator writes about a category (the code only when creating)."""

    name_vi: str
    name_en: str
    severity: Severity
    description_vi: str = ""
    description_en: str = ""
    group_vi: str = ""
    keywords: str = ""
    duplicate_radius_m: int = 100
    active: bool = True
    attributes: list[dict[str, Any]] = field(default_factory=list)


def _problem(where: str, vi: str, en: str) -> FieldError:
    return FieldError(where, Message(vi, en))


def _control(where: str, control: str) -> FieldError:
    return _problem(
        where,
        f"Văn bản chứa ký tự điều khiển {control}, không được phép",
        f"The text holds the control character {control}, which is not allowed",
    )


def _text_problems(draft: CategoryDraft) -> list[FieldError]:
    problems = []
    for name, value, limit in (
        ("name_vi", draft.name_vi, 200),
        ("name_en", draft.name_en, 200),
        ("group_vi", draft.group_vi, 200),
        ("keywords", draft.keywords, 500),
        ("description_vi", draft.description_vi, 4000),
        ("description_en", draft.description_en, 4000),
    ):
        control = control_character(value, multiline=name.startswith("description"))
        if control is not None:
            problems.append(_control(name, control))
        elif name in ("name_vi", "name_en") and not value.strip():
            problems.append(_problem(name, "Cần điền trường này", "This field is required"))
        elif len(value) > limit:
            problems.append(
                _problem(name, f"Dài quá {limit} ký tự", f"Longer than {limit} characters")
            )
    if not 0 <= draft.duplicate_radius_m <= 5000:
        problems.append(
            _problem(
                "duplicate_radius_m",
                "Bán kính tìm phản ánh trùng phải từ 0 đến 5.000 m",
                "The duplicate radius must be between 0 and 5,000 m",
            )
        )
    return problems


def _choices(where: str, values: object) -> tuple[list[dict[str, str]], list[FieldError]]:
    if not isinstance(values, list) or not values:
        return [], [
            _problem(
                f"{where}.values",
                "Câu hỏi chọn từ danh sách cần ít nhất một lựa chọn",
                "A question answered from a list needs at least one choice",
            )
        ]
    if len(values) > MOST_CHOICES:
        return [], [
            _problem(
                f"{where}.values",
                f"Nhiều nhất {MOST_CHOICES} lựa chọn",
                f"At most {MOST_CHOICES} choices",
            )
        ]
    found: list[dict[str, str]] = []
    problems: list[FieldError] = []
    for value in values:
        key = str(value.get("key", "")).strip() if isinstance(value, dict) else ""
        name = str(value.get("name", "")).strip() if isinstance(value, dict) else ""
        control = control_character(name)
        if control is not None:
            problems.append(_control(f"{where}.values", control))
        elif not _KEY.match(key) or not name or len(name) > 200:
            problems.append(
                _problem(
                    f"{where}.values",
                    f"Lựa chọn “{key or name}” cần một mã (chữ, số, - hoặc _) và một tên",
                    f"The choice “{key or name}” needs a key (letters, digits, - or _) and a name",
                )
            )
        elif key in {choice["key"] for choice in found}:
            problems.append(
                _problem(f"{where}.values", f"Mã “{key}” lặp lại", f"The key “{key}” is repeated")
            )
        else:
            found.append({"key": key, "name": name})
    return found, problems


def _question(
    where: str, given: dict[str, Any], order: int
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    code = str(given.get("code", "")).strip()
    datatype = str(given.get("datatype", ""))
    description = str(given.get("description", "")).strip()
    description_en = str(given.get("description_en", "")).strip()
    problems = []
    if not _CODE.match(code):
        problems.append(
            _problem(
                f"{where}.code",
                "Mã câu hỏi gồm chữ thường không dấu, số, - hoặc _ (tối đa 64 ký tự)",
                "A question's code is lower-case letters, digits, - or _ (at most 64)",
            )
        )
    if datatype not in DATATYPES:
        problems.append(
            _problem(
                f"{where}.datatype",
                f"Kiểu trả lời phải là một trong: {', '.join(DATATYPES)}",
                f"The answer type must be one of: {', '.join(DATATYPES)}",
            )
        )
    control = control_character(description) or control_character(description_en)
    if control is not None:
        problems.append(_control(f"{where}.description", control))
    elif not description or len(description) > 500 or len(description_en) > 500:
        problems.append(
            _problem(
                f"{where}.description",
                "Câu hỏi cần nội dung (tối đa 500 ký tự)",
                "A question needs its text (at most 500 characters)",
            )
        )
    question: dict[str, Any] = {
        "code": code,
        "datatype": datatype,
        "required": bool(given.get("required", False)),
        "variable": True,
        "order": order,
        "description": description,
    }
    if description_en:
        question["description_en"] = description_en
    if datatype in LIST_TYPES:
        question["values"], more = _choices(where, given.get("values"))
        problems.extend(more)
    return (None if problems else question), problems


def checked_definition(
    given: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[FieldError]]:
    """The questions as stored (numbered in the order given) and every problem found."""
    if len(given) > MOST_QUESTIONS:
        return [], [
            _problem(
                "attributes",
                f"Nhiều nhất {MOST_QUESTIONS} câu hỏi",
                f"At most {MOST_QUESTIONS} questions",
            )
        ]
    questions: list[dict[str, Any]] = []
    problems: list[FieldError] = []
    seen: set[str] = set()
    for number, item in enumerate(given, start=1):
        where = f"attributes[{number - 1}]"
        given_item = item if isinstance(item, dict) else {}
        question, found = _question(where, given_item, number)
        problems.extend(found)
        code = str(given_item.get("code", "")).strip()
        if code and code in seen:
            problems.append(
                _problem(
                    f"{where}.code",
                    f"Mã câu hỏi “{code}” lặp lại",
                    f"The question code “{code}” is repeated",
                )
            )
        elif question is not None:
            questions.append(question)
        seen.add(code)
    return questions, problems


def _checked(draft: CategoryDraft, extra: list[FieldError]) -> list[dict[str, Any]]:
    questions, problems = checked_definition(draft.attributes)
    problems = extra + _text_problems(draft) + problems
    if problems:
        raise InvalidInput(
            "Loại phản ánh chưa hợp lệ", "The report category is not valid", errors=problems
        )
    return questions


def _apply(category: ReportCategory, draft: CategoryDraft, questions: list[dict[str, Any]]) -> None:
    category.name_vi = draft.name_vi.strip()
    category.name_en = draft.name_en.strip()
    category.description_vi = draft.description_vi.strip()
    category.description_en = draft.description_en.strip()
    category.group_vi = draft.group_vi.strip()
    category.keywords = draft.keywords.strip()
    category.severity = draft.severity
    category.duplicate_radius_m = draft.duplicate_radius_m
    category.active = draft.active
    category.attributes = questions


def listed(session: Session) -> list[ReportCategory]:
    """Every category, retired ones included, by group and name."""
    return list(
        session.scalars(
            select(ReportCategory).order_by(ReportCategory.group_vi, ReportCategory.name_vi)
        )
    )


def found(session: Session, code: str) -> ReportCategory:
    """A category by its code, retired or not."""
    category = session.scalar(select(ReportCategory).where(ReportCategory.code == code))
    if category is None:
        raise NotFound(f"Không có loại phản ánh “{code}”", f"There is no report category “{code}”")
    return category


def create(session: Session, code: str, draft: CategoryDraft) -> ReportCategory:
    code = code.strip()
    extra = []
    if not _CODE.match(code):
        extra.append(
            _problem(
                "code",
                "Mã loại phản ánh gồm chữ thường không dấu, số, - hoặc _ (tối đa 64 ký tự)",
                "A category's code is lower-case letters, digits, - or _ (at most 64)",
            )
        )
    questions = _checked(draft, extra)
    if session.scalar(select(ReportCategory.id).where(ReportCategory.code == code)) is not None:
        raise Conflict(
            f"Đã có loại phản ánh mã “{code}”",
            f"A report category with the code “{code}” exists",
            field="code",
        )
    category = ReportCategory(code=code)
    _apply(category, draft, questions)
    session.add(category)
    session.flush()
    return category


def change(session: Session, code: str, draft: CategoryDraft) -> ReportCategory:
    category = found(session, code)
    questions = _checked(draft, [])
    _apply(category, draft, questions)
    session.flush()
    return category
