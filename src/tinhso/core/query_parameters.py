"""Query parameters of the JSON API: none empty, none longer than a code, a period or a
search ever is.

An empty ``?element=`` or a 10,000-character ``?q=`` is a mistake in the caller's URL,
never a filter: it is refused (422, problem+json naming the parameter) before the route
runs, instead of matching nothing, everything, or reaching the database. Only the
parameters the route declares are checked (others are ignored, as before). The
OpenAPI document states the same bounds (`tinhso.core.openapi`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.routing import APIRoute

from tinhso.core.errors import FieldError, InvalidInput, Message

if TYPE_CHECKING:
    from fastapi.dependencies.models import Dependant

QUERY_VALUE_MAX_LENGTH = 200

_DECLARED: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


def declared_query_names(route: APIRoute) -> frozenset[str]:
    names = _DECLARED.get(id(route))
    if names is None:
        names = _DECLARED[id(route)] = frozenset(_query_names(route.dependant))
    return names


def check_query_parameters(request: Request) -> None:
    """Refuse empty and over-long values of the route's query parameters (router dependency)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.url.query:
        return
    declared = declared_query_names(route)
    errors: list[FieldError] = []
    for name, value in request.query_params.multi_items():
        if name not in declared:
            continue
        if not value:
            errors.append(FieldError(name, Message("Không được để trống", "Must not be empty")))
        elif "\x00" in value:  # no database text holds it (PostgreSQL refuses it)
            errors.append(FieldError(name, Message("Chứa ký tự NUL", "Contains a NUL character")))
        elif len(value) > QUERY_VALUE_MAX_LENGTH:
            errors.append(
                FieldError(
                    name,
                    Message(
                        f"Dài quá {QUERY_VALUE_MAX_LENGTH} ký tự",
                        f"Longer than {QUERY_VALUE_MAX_LENGTH} characters",
                    ),
                )
            )
    if errors:
        fields = ", ".join(dict.fromkeys(error.field for error in errors))
        raise InvalidInput(
            f"Tham số truy vấn không hợp lệ: {fields}",
            f"Query parameter not valid: {fields}",
            errors=errors,
        )
