"""The unit picker: type part of a unit's name, with or without diacritics, and pick it from
the list (a ``<datalist>`` filled by HTMX), instead of typing an official unit code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tinhso.core.web import DbSession
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render
from tinhso.registry.models import UnitSet
from tinhso.registry.units import unit_service

router = APIRouter()

Typed = Annotated[str | None, Query(max_length=100)]


@router.get(
    "/units/options",
    summary="Administrative units matching typed text, as <option>s for a picker (officials)",
)
def unit_options(
    request: Request,
    session: DbSession,
    _principal: PortalUser,
    unit_set: Annotated[UnitSet, Query(alias="set")] = UnitSet.CURRENT,
    q: Typed = None,
    parent: Typed = None,
) -> Response:
    """``q`` or, from a form's ``parent`` field, ``parent``: what was typed so far."""
    typed = (q or parent or "").strip()
    units = unit_service.search(session, unit_set, typed) if len(typed) >= 2 else []
    return render(request, "partials/unit_options.html", {"units": units})
