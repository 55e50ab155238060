"""Exchange JSON API (control plane) under /api/v1/exchange: the service catalogue
(`catalogue/api.py`), connection requests and grants (`connections/api.py`) and client
credentials (`oauth/credential_api.py`); the OAuth2 token endpoint and JWKS come from oauth.py.
"""

from __future__ import annotations

from fastapi import APIRouter

from tinhso.exchange.catalogue.api import router as catalogue_router
from tinhso.exchange.connections.api import router as connection_router
from tinhso.exchange.oauth.api import router as oauth_router
from tinhso.exchange.oauth.credential_api import router as credential_router

router = APIRouter()
router.include_router(catalogue_router)
router.include_router(connection_router)
router.include_router(credential_router)
router.include_router(oauth_router)
