"""Report categories for operators (platform administrators): the list, retired ones
included; a new category; and a category's page where its names, severity, duplicate radius,
questions and state are changed without a restart. The rules are the API's
(:mod:`tinhso.reports.handling.categories`); a refused form keeps what was typed, marks each
problem at its field and stores nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from tinhso.core.errors import DomainError
from tinhso.core.i18n import gettext as _
from tinhso.core.text import fold
from tinhso.core.web import DbSession
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render
from tinhso.portal.reports.citizen import say
from tinhso.portal.reports.operators import operator_only
from tinhso.reports.handling import categories
from tinhso.reports.models import ReportCategory, Severity
from tinhso.reports.open311.attributes import DATATYPES

if TYPE_CHECKING:
    from starlette.datastructures import FormData

router = APIRouter()

_TEXTS = ("name_vi", "name_en", "description_vi", "description_en", "group_vi", "keywords")
_BLANK_QUESTIONS = 2  # empty question rows offered under the existing ones
_MOST_ROWS = categories.MOST_QUESTIONS + _BLANK_QUESTIONS
_WHERE = re.compile(r"^attributes\[(\d+)\]\.(\w+)$")


def _severities() -> list[tuple[str, str]]:
    return [
        (Severity.URGENT.value, _("Urgent")),
        (Severity.NORMAL.value, _("Normal")),
        (Severity.COMPLEX.value, _("Complex")),
    ]


def _datatypes() -> list[tuple[str, str]]:
    labels = {
        "string": _("Short text"),
        "text": _("Long text"),
        "number": _("Number"),
        "datetime": _("Date and time"),
        "singlevaluelist": _("One choice from a list"),
        "multivaluelist": _("Several choices from a list"),
    }
    return [(datatype, labels[datatype]) for datatype in DATATYPES]


@dataclass
class CategoryForm:
    """The form as typed: texts, and question rows with their choices one per line."""

    code: str = ""
    values: dict[str, str] = field(default_factory=lambda: dict.fromkeys(_TEXTS, ""))
    severity: str = Severity.NORMAL.value
    duplicate_radius_m: str = "100"
    active: bool = True
    questions: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # Problems of a question, by its row in ``questions`` and then by its part ("code"...).
    question_errors: dict[int, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, category: ReportCategory) -> CategoryForm:
        return cls(
            code=category.code,
            values={name: str(getattr(category, name)) for name in _TEXTS},
            severity=category.severity.value,
            duplicate_radius_m=str(category.duplicate_radius_m),
            active=category.active,
            questions=[
                {
                    "code": question["code"],
                    "datatype": question["datatype"],
                    "required": "on" if question.get("required") else "",
                    "description": question.get("description", ""),
                    "description_en": question.get("description_en", ""),
                    "values": "\n".join(
                        f"{choice['key']} = {choice['name']}"
                        for choice in question.get("values", [])
                    ),
                }
                for question in sorted(category.attributes, key=lambda q: int(q.get("order", 0)))
            ],
        )

    @classmethod
    def read(cls, form: FormData) -> CategoryForm:
        def text(name: str) -> str:
            value = form.get(name, "")
            return value if isinstance(value, str) else ""

        questions = []
        for row in range(_MOST_ROWS):
            question = {
                part: text(f"q-{row}-{part}")
                for part in ("code", "datatype", "required", "description", "description_en")
            }
            question["values"] = text(f"q-{row}-values")
            question["remove"] = text(f"q-{row}-remove")
            questions.append(question)
        return cls(
            code=text("code").strip(),
            values={name: text(name) for name in _TEXTS},
            severity=text("severity"),
            duplicate_radius_m=text("duplicate_radius_m").strip(),
            active=text("active") == "on",
            questions=questions,
        )

    def rows(self) -> list[tuple[dict[str, str], dict[str, str]]]:
        """The question rows to show, each with its problems: the kept ones (renumbered from
        0 on the page) and two empty ones for new questions."""
        kept = [
            (question, self.question_errors.get(index, {}))
            for index, question in enumerate(self.questions)
            if _filled(question) or index in self.question_errors
        ]
        return kept + [({}, {}) for _ in range(_BLANK_QUESTIONS)]


def _filled(question: dict[str, str]) -> bool:
    if question.get("remove") == "on":
        return False
    return any(question.get(part, "").strip() for part in ("code", "description", "values"))


def _choices(text: str) -> list[dict[str, str]]:
    """One choice a line, "key = name"; a line with only a name gets its key from the name."""
    found = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, name = line.partition("=")
        if not sep:
            name = key
            key = "-".join(re.findall(r"[a-z0-9]+", fold(name)))
        found.append({"key": key.strip(), "name": name.strip()})
    return found


def _draft(form: CategoryForm) -> tuple[categories.CategoryDraft | None, list[int]]:
    """The draft the form stands for, and which form row each question came from."""
    rows = [index for index, q in enumerate(form.questions) if _filled(q)]
    questions: list[dict[str, Any]] = []
    for index in rows:
        row = form.questions[index]
        question: dict[str, Any] = {
            "code": row["code"].strip(),
            "datatype": row["datatype"],
            "required": row["required"] == "on",
            "description": row["description"],
            "description_en": row["description_en"],
        }
        if row["datatype"] in categories.LIST_TYPES:
            question["values"] = _choices(row["values"])
        questions.append(question)
    if form.severity not in {s.value for s in Severity}:
        form.errors["severity"] = _("Choose a severity from the list.")
    if not form.duplicate_radius_m.isdigit():
        form.errors["duplicate_radius_m"] = _("Write a whole number of metres.")
    if form.errors:
        return None, rows
    draft = categories.CategoryDraft(
        **{name: form.values.get(name, "") for name in _TEXTS},
        severity=Severity(form.severity),
        duplicate_radius_m=int(form.duplicate_radius_m),
        active=form.active,
        attributes=questions,
    )
    return draft, rows


def _place_errors(form: CategoryForm, error: DomainError, rows: list[int]) -> None:
    for problem in error.errors:
        where = _WHERE.match(problem.field)
        if where:
            row = rows[int(where.group(1))]
            form.question_errors.setdefault(row, {}).setdefault(
                where.group(2), say(problem.message)
            )
        else:
            form.errors.setdefault(problem.field, say(problem.message))
    if not form.errors and not form.question_errors:
        form.errors["code"] = say(error.message)


def _form_page(
    request: Request, form: CategoryForm, *, creating: bool, status: int = 200
) -> Response:
    return render(
        request,
        "reports/category.html",
        {
            "form": form,
            "rows": form.rows(),
            "creating": creating,
            "severities": _severities(),
            "datatypes": _datatypes(),
            "list_types": categories.LIST_TYPES,
        },
        status_code=status,
    )


@router.get(
    "/reports/operators/categories", summary="Report categories, retired included (operators)"
)
def category_list(request: Request, session: DbSession, principal: PortalUser) -> Response:
    operator_only(principal)
    return render(
        request,
        "reports/categories.html",
        {"categories": categories.listed(session), "severities": dict(_severities())},
    )


@router.get("/reports/operators/categories/new", summary="A new report category (operators)")
def new_category(request: Request, principal: PortalUser) -> Response:
    operator_only(principal)
    return _form_page(request, CategoryForm(), creating=True)


@router.post(
    "/reports/operators/categories/new", summary="Create a report category (operators, CSRF)"
)
async def create_category(request: Request, session: DbSession, principal: PortalUser) -> Response:
    operator_only(principal)
    form = CategoryForm.read(await request.form())
    draft, rows = _draft(form)
    if draft is None:
        return _form_page(request, form, creating=True, status=422)
    try:
        created = categories.create(session, form.code, draft)
    except DomainError as error:
        session.rollback()
        _place_errors(form, error, rows)
        return _form_page(request, form, creating=True, status=error.status)
    session.commit()
    return RedirectResponse(f"/reports/operators/categories/{created.code}?saved=1", 303)


@router.get("/reports/operators/categories/{code}", summary="A report category's page (operators)")
def category_page(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    code: str = Path(max_length=64),
) -> Response:
    operator_only(principal)
    form = CategoryForm.of(categories.found(session, code))
    return _form_page(request, form, creating=False)


@router.post(
    "/reports/operators/categories/{code}", summary="Change a report category (operators, CSRF)"
)
async def change_category(
    request: Request,
    session: DbSession,
    principal: PortalUser,
    code: str = Path(max_length=64),
) -> Response:
    operator_only(principal)
    category = categories.found(session, code)
    form = CategoryForm.read(await request.form())
    form.code = category.code
    draft, rows = _draft(form)
    if draft is None:
        return _form_page(request, form, creating=False, status=422)
    try:
        categories.change(session, code, draft)
    except DomainError as error:
        session.rollback()
        _place_errors(form, error, rows)
        return _form_page(request, form, creating=False, status=error.status)
    session.commit()
    return RedirectResponse(f"/reports/operators/categories/{code}?saved=1", 303)
