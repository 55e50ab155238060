"""Exchange JSON API (control plane) under /api/v1/exchange: the service catalogue
(`catalogue_api.py`), connection requests and grants (`connection_api.py`) and client
credentials (`credential_api.py`); the OAuth2 token endpoint and JWKS come from oauth.py.
"""

from __future__ import annotations

from fastapi import APIRouter

from tinhso.exchange.catalogue_api import router as catalogue_router
from tinhso.exchange.connection_api import router as connection_router
from tinhso.exchange.credential_api import router as credential_router
from tinhso.exchange.oauth import router as oauth_router

router = APIRouter()
router.include_router(catalogue_router)
router.include_router(connection_router)
router.include_router(credential_router)
router.include_router(oauth_router)
