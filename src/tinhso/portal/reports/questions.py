"""A category's extra questions on the citizens' form, and their answers on the officers'
page.

The form shows the questions of the chosen category (rendered with the page, and swapped in
by HTMX when the category changes); the answers are sent as ``attribute[code]``, as Open311
names them, so a problem comes back at its question. Officers read the answers with each
question's text and each choice's name, not codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tinhso.core.errors import NotFound
from tinhso.core.i18n import current_locale
from tinhso.core.web import DbSession
from tinhso.portal.rendering import render
from tinhso.reports.service import report_service

if TYPE_CHECKING:
    from starlette.datastructures import FormData

    from tinhso.reports.models import ReportCategory

router = APIRouter()

LIST_TYPES = ("singlevaluelist", "multivaluelist")


@dataclass(frozen=True)
class Question:
    code: str
    label: str
    datatype: str
    required: bool
    choices: list[tuple[str, str]]
    value: str | list[str]
    error: str

    @property
    def name(self) -> str:
        return f"attribute[{self.code}]"

    @property
    def id(self) -> str:
        return f"rep-attribute-{self.code}"


def _label(question: dict[str, Any]) -> str:
    if current_locale.get() != "vi" and question.get("description_en"):
        return str(question["description_en"])
    return str(question.get("description") or question["code"])


def _ordered(category: ReportCategory) -> list[dict[str, Any]]:
    return sorted(category.attributes, key=lambda question: int(question.get("order", 0)))


def asked(
    category: ReportCategory | None,
    answers: dict[str, str | list[str]],
    errors: dict[str, str],
) -> list[Question]:
    """The category's questions with what was answered and any problem, for the form."""
    if category is None:
        return []
    return [
        Question(
            code=question["code"],
            label=_label(question),
            datatype=question["datatype"],
            required=bool(question.get("required")),
            choices=[(str(c["key"]), str(c["name"])) for c in question.get("values", [])],
            value=answers.get(question["code"], [] if question["datatype"] in LIST_TYPES else ""),
            error=errors.get(f"attribute[{question['code']}]", ""),
        )
        for question in _ordered(category)
    ]


def sent_answers(form: FormData, category: ReportCategory | None) -> dict[str, str | list[str]]:
    """The answers to the chosen category's questions (a question of another category, left
    from before the category was changed, is not sent on)."""
    if category is None:
        return {}
    answers: dict[str, str | list[str]] = {}
    for question in category.attributes:
        given = [str(v) for v in form.getlist(f"attribute[{question['code']}]") if str(v)]
        if not given:
            continue
        answers[question["code"]] = given if question["datatype"] == "multivaluelist" else given[0]
    return answers


def chosen(session: Any, code: str) -> ReportCategory | None:
    """The category chosen on the form, or None when none (or no longer one) is chosen."""
    if not code:
        return None
    try:
        return report_service.category(session, code, "category")
    except NotFound:
        return None


def answered(category: ReportCategory, answers: dict[str, Any]) -> list[tuple[str, str]]:
    """(question, answer) pairs to read: choices by their names; answers to questions the
    category no longer asks keep their code."""
    questions = {question["code"]: question for question in category.attributes}
    shown = []
    for code, value in answers.items():
        question = questions.get(code)
        if question is None:
            shown.append((code, value if isinstance(value, str) else ", ".join(value)))
            continue
        names = {str(c["key"]): str(c["name"]) for c in question.get("values", [])}
        values = value if isinstance(value, list) else [value]
        shown.append((_label(question), ", ".join(names.get(str(v), str(v)) for v in values)))
    return shown


@router.get("/reports/new/questions", summary="A category's extra questions (public, HTMX)")
def questions(
    request: Request,
    session: DbSession,
    category: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    return render(
        request,
        "reports/_questions.html",
        {"questions": asked(chosen(session, category), {}, {})},
    )
