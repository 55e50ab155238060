"""Registry JSON API under /api/v1: administrative units (`unit_api.py`), organisations
(`organisation_api.py`), information systems (`system_api.py`) and officials' tokens,
accounts and roles (`account_api.py`).
"""

from __future__ import annotations

from fastapi import APIRouter

from tinhso.registry.account_api import router as account_router
from tinhso.registry.organisation_api import router as organisation_router
from tinhso.registry.system_api import router as system_router
from tinhso.registry.unit_api import router as unit_router

router = APIRouter()
router.include_router(unit_router)
router.include_router(organisation_router)
router.include_router(system_router)
router.include_router(account_router)
