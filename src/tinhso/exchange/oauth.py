"""The OAuth2 token endpoint (client credentials) and the platform's JWKS."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import JSONResponse

from tinhso.core.config import Settings
from tinhso.core.db import DbSession
from tinhso.exchange.credentials import OAuthError, token_service
from tinhso.exchange.keys import signing_key_service
from tinhso.exchange.schemas import TokenOut


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]
router = APIRouter()
OAUTH: list[str | Enum] = ["exchange: OAuth2"]


@router.post(
    "/oauth/token",
    tags=OAUTH,
    response_model=TokenOut,
    summary="OAuth2 client credentials grant: client_secret_basic or private_key_jwt (registered systems)",
    responses={400: {"description": "RFC 6749 error"}, 401: {"description": "invalid_client"}},
)
def oauth_token(
    session: DbSession,
    settings: AppSettings,
    grant_type: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    client_assertion_type: Annotated[str | None, Form()] = None,
    client_assertion: Annotated[str | None, Form()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    form = {
        name: value
        for name, value in {
            "grant_type": grant_type,
            "scope": scope,
            "client_id": client_id,
            "client_secret": client_secret,
            "client_assertion_type": client_assertion_type,
            "client_assertion": client_assertion,
        }.items()
        if value is not None
    }
    try:
        issued = token_service.issue(session, settings, form, authorization)
    except OAuthError as error:
        session.rollback()  # a failed attempt writes nothing
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers())
    body = TokenOut(
        access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@router.get(
    "/.well-known/jwks.json",
    tags=OAUTH,
    summary="The platform's public signing keys: active, next and recently retired (public)",
)
def jwks(session: DbSession) -> JSONResponse:
    return JSONResponse(
        signing_key_service.jwks(session),
        headers={"Cache-Control": "public, max-age=60"},
    )
