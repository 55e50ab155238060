"""The unit picker: type part of a unit's name, with or without diacritics, and pick it from
the list (a ``<datalist>`` filled by HTMX), instead of typing an official unit code."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tinhso.core.errors import NotFound
from tinhso.core.i18n import gettext as _
from tinhso.core.web import DbSession
from tinhso.portal.auth import PortalUser
from tinhso.portal.rendering import render
from tinhso.registry.models import UnitSet
from tinhso.registry.units import unit_service

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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


def unit_typed(session: Session, unit_set: UnitSet, typed: str | None) -> tuple[str | None, str]:
    """The unit a picker field names: its code, or a name (diacritics optional) that fits one
    unit only. A name that fits several is refused with every reading; never guessed."""
    text = (typed or "").strip()
    if not text:
        return None, ""
    with suppress(NotFound):
        return unit_service.get(session, unit_set, text).code, ""
    candidates = unit_service.named(session, unit_set, text)[:8] or unit_service.search(
        session, unit_set, text, limit=8
    )
    if len(candidates) == 1:
        return candidates[0].code, ""
    if not candidates:
        return None, _("No administrative unit is named “%(text)s”.") % {"text": text[:100]}
    readings = "; ".join(f"{u.name} ({u.code})" for u in candidates)
    return None, _(
        "“%(text)s” could mean several units: %(readings)s. Choose one from the list."
    ) % {
        "text": text[:100],
        "readings": readings,
    }
