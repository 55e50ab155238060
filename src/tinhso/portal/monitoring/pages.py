"""Portal pages of digital-transformation monitoring (IOC) (see the contract in ``tinhso.portal.pages``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
