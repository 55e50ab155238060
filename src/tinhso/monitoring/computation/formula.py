"""Indicator formulas: parsed with Python's ``ast`` under a strict whitelist.

A formula is an arithmetic expression over data-element codes::

    iot_devices / population * 100
    (dossiers_online + coalesce(dossiers_postal, 0)) / dossiers_received * 100
    min(households_fibre / households * 100, 100)

Allowed: element codes, numbers, ``+ - * /``, unary ``-``/``+``, parentheses and the
functions ``min``, ``max``, ``coalesce``, ``abs``. Nothing else parses (no attributes,
subscripts, comparisons, strings, keywords, lambdas...), so a formula can neither run
code nor inject SQL.

A formula compiles to one SQL expression (`to_sql`) that runs unchanged on SQLite,
PostgreSQL and DuckDB, and evaluates in Python (`evaluate`) with the same meaning:
missing data gives NULL (never 0), and a zero denominator gives NULL.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tinhso.core.errors import InvalidInput

MAX_LENGTH = 2000
MAX_NODES = 400
ELEMENT_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
FUNCTIONS = frozenset({"min", "max", "coalesce", "abs"})
_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
}


@dataclass(frozen=True)
class Formula:
    """A checked formula and the element codes it reads."""

    text: str
    tree: ast.expr
    elements: frozenset[str]


def _invalid(field: str, vi: str, en: str) -> InvalidInput:
    return InvalidInput(f"Công thức không hợp lệ: {vi}", f"Invalid formula: {en}", field=field)


def parse(text: str, field: str = "formula") -> Formula:
    """Parse and check a formula; raise InvalidInput (vi/en, naming the problem) if it is not one."""
    source = text.strip()
    if not source:
        raise _invalid(field, "công thức trống", "the formula is empty")
    if len(source) > MAX_LENGTH:
        raise _invalid(field, f"dài quá {MAX_LENGTH} ký tự", f"longer than {MAX_LENGTH} characters")
    try:
        module = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise _invalid(
            field,
            f"sai cú pháp ở vị trí {error.offset or 0}",
            f"syntax error at position {error.offset or 0}",
        ) from error
    nodes = list(ast.walk(module))
    if len(nodes) > MAX_NODES:
        raise _invalid(field, "quá phức tạp", "too complex")
    elements: set[str] = set()
    _check(module.body, field, elements)
    return Formula(text=source, tree=module.body, elements=frozenset(elements))


def _check(node: ast.expr, field: str, elements: set[str]) -> None:  # noqa: PLR0912
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise _invalid(
                field, f"hằng số không phải số: {node.value!r}", f"not a number: {node.value!r}"
            )
        if not math.isfinite(float(node.value)):
            raise _invalid(field, "số không hữu hạn", "number is not finite")
        return
    if isinstance(node, ast.Name):
        if (
            not ELEMENT_CODE.match(node.id)
            or node.id in FUNCTIONS
            or keyword.issoftkeyword(node.id)
        ):
            raise _invalid(
                field,
                f"tên chỉ tiêu dữ liệu không hợp lệ: {node.id}",
                f"invalid data element code: {node.id}",
            )
        elements.add(node.id)
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _OPERATORS:
            raise _invalid(
                field,
                "chỉ được dùng các phép + - * /",
                "only the operators + - * / are allowed",
            )
        _check(node.left, field, elements)
        _check(node.right, field, elements)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise _invalid(
                field, "chỉ được dùng dấu + hoặc - đứng trước", "only unary + or - is allowed"
            )
        _check(node.operand, field, elements)
        return
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS or node.keywords:
            raise _invalid(
                field,
                f"chỉ được dùng các hàm {', '.join(sorted(FUNCTIONS))}",
                f"only the functions {', '.join(sorted(FUNCTIONS))} are allowed",
            )
        minimum = 1 if name in {"abs", "coalesce"} else 2
        if len(node.args) < minimum or (name == "abs" and len(node.args) != 1):
            raise _invalid(
                field,
                f"hàm {name} nhận sai số đối số",
                f"wrong number of arguments for {name}",
            )
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise _invalid(field, "không được dùng *", "starred arguments are not allowed")
            _check(argument, field, elements)
        return
    raise _invalid(
        field,
        f"thành phần không được phép: {type(node).__name__}",
        f"element not allowed: {type(node).__name__}",
    )


def _number(node: ast.Constant) -> float:
    value = node.value
    if not isinstance(value, int | float):  # parse() admits only numbers
        msg = f"unchecked constant {value!r}"
        raise TypeError(msg)
    return float(value)


def sql_number(value: float) -> str:
    """A numeric literal every dialect reads as a non-integer number (no integer division)."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        return f"CAST({text} AS DOUBLE PRECISION)"
    return text


def to_sql(formula: Formula, column: Callable[[str], str]) -> str:
    """The formula as one SQL expression; ``column(code)`` names the column holding an element."""
    return _sql(formula.tree, column)


def _sql(node: ast.expr, column: Callable[[str], str]) -> str:  # noqa: PLR0911
    if isinstance(node, ast.Constant):
        return sql_number(_number(node))
    if isinstance(node, ast.Name):
        return column(node.id)
    if isinstance(node, ast.BinOp):
        left, right = _sql(node.left, column), _sql(node.right, column)
        if isinstance(node.op, ast.Div):
            return f"({left} / NULLIF({right}, 0))"
        return f"({left} {_OPERATORS[type(node.op)]} {right})"
    if isinstance(node, ast.UnaryOp):
        operand = _sql(node.operand, column)
        return f"(-{operand})" if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        arguments = [_sql(argument, column) for argument in node.args]
        name = node.func.id
        if name == "coalesce":
            return f"COALESCE({', '.join(arguments)})" if len(arguments) > 1 else arguments[0]
        if name == "abs":
            return f"ABS({arguments[0]})"
        # min/max: NULL if any argument is NULL (LEAST/GREATEST would skip NULLs on
        # PostgreSQL and DuckDB but not on SQLite), written as CASE to mean the same everywhere.
        result = arguments[0]
        keep = "<=" if name == "min" else ">="
        for argument in arguments[1:]:
            result = (
                f"(CASE WHEN {result} IS NULL OR {argument} IS NULL THEN NULL "
                f"WHEN {result} {keep} {argument} THEN {result} ELSE {argument} END)"
            )
        return result
    msg = f"unchecked formula node {type(node).__name__}"  # parse() rejects these
    raise TypeError(msg)


def evaluate(formula: Formula, values: Mapping[str, float | None]) -> float | None:
    """The formula's value in Python, with the SQL meaning of NULL."""
    return _evaluate(formula.tree, values)


def _evaluate(node: ast.expr, values: Mapping[str, float | None]) -> float | None:  # noqa: PLR0911, PLR0912
    if isinstance(node, ast.Constant):
        return _number(node)
    if isinstance(node, ast.Name):
        return values.get(node.id)
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return None if right == 0 else left / right
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        arguments = [_evaluate(argument, values) for argument in node.args]
        name = node.func.id
        if name == "coalesce":
            return next((a for a in arguments if a is not None), None)
        if any(a is None for a in arguments):
            return None
        present = [a for a in arguments if a is not None]
        if name == "abs":
            return abs(present[0])
        return min(present) if name == "min" else max(present)
    msg = f"unchecked formula node {type(node).__name__}"
    raise TypeError(msg)
