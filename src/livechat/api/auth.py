"""Who is calling: a personal access token or a bot's, sent as ``Authorization: Bearer``.
Cookies open no door here, so a page elsewhere cannot make a signed-in browser call the
API, and the API needs no CSRF token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from livechat.accounts import tokens
from livechat.accounts.tokens import Grant
from livechat.api.errors import Unauthorized
from livechat.chat.access import unknown_room
from livechat.db import Database
from livechat.errors import Forbidden

_bearer = HTTPBearer(
    auto_error=False,
    description="A personal access token (from your profile page) or a bot's token.",
)


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Grant:
    if credentials is None:
        raise Unauthorized("Send a token as Authorization: Bearer <token>.")
    db: Database = request.app.state.db
    grant = await tokens.authenticate(db, credentials.credentials)
    if grant is None:
        raise Unauthorized("This token is not valid: it is unknown, or was revoked.")
    return grant


Caller = Annotated[Grant, Depends(_caller)]


async def _writer(grant: Caller) -> Grant:
    if not grant.can_write:
        raise Forbidden("This token may only read; make one that may read and write.")
    return grant


Writer = Annotated[Grant, Depends(_writer)]


def reach(grant: Grant, room_id: int) -> None:
    """Refuse a room the token is limited away from, as if it did not exist: a token for
    one room tells nothing of the others."""
    if not grant.reaches(room_id):
        raise unknown_room()
