"""What routes declare they need: the database, the accounts, the signed-in user.

Each is a coroutine, even those that never wait: FastAPI runs a plain function in a worker
thread, a round trip that costs far more than the attribute it reads.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from livechat.accounts.auth import SESSION_COOKIE, Accounts
from livechat.accounts.models import User
from livechat.db import Database
from livechat.inputs import MAX_ID
from livechat.realtime.tree import Realtime
from livechat.settings import Settings


class LoginRequired(Exception):
    """Raised for a signed-out visitor on a members-only page; answered with a redirect."""


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


async def get_realtime(request: Request) -> Realtime:
    realtime: Realtime = request.app.state.realtime
    return realtime


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def current_user(
    request: Request, accounts: Annotated[Accounts, Depends(get_accounts)]
) -> User | None:
    user = await accounts.user_for_token(request.cookies.get(SESSION_COOKIE))
    request.state.user = user
    return user


async def require_user(user: Annotated[User | None, Depends(current_user)]) -> User:
    if user is None:
        raise LoginRequired
    return user


DB = Annotated[Database, Depends(get_db)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RealtimeDep = Annotated[Realtime, Depends(get_realtime)]
MaybeUser = Annotated[User | None, Depends(current_user)]
CurrentUser = Annotated[User, Depends(require_user)]

# An id in a query string or a path; anything else is a 400 naming the parameter, never
# a number too large for the database.
OptionalQueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
